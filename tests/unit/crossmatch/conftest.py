"""Fixtures of the cross-match unit tests: the shared SparkSession."""

from tests.unit.conftest_spark import spark  # noqa: F401  (re-exported fixture)
