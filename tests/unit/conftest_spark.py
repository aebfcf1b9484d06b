"""One local SparkSession for the whole unit-test session (starting Spark costs seconds).

Imported by the conftest.py of the test folders that need Spark: `from tests.unit.conftest_spark import spark`.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from radiolake.spark.session import get_spark

    session = get_spark("radiolake-unit-tests", "local[2]", shuffle_partitions=4)
    yield session
