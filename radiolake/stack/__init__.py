"""The embedded stack: real PostgreSQL, an S3 server, Airflow 3 — installed and run by the project itself."""

from radiolake.stack.errors import StackError

__all__ = ["StackError"]
