"""Mask secrets in anything radiolake prints: DSNs and URLs show `***` where the password was.

`stack up`, `stack status`, `demo` and the CLI's log output go to terminals, screenshots and CI logs; a
DSN printed whole hands out the warehouse owner's password. The printed forms keep everything else (user,
host, port, database), so a reader still sees where things are; `--show-secrets` prints them whole.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# scheme://user:password@host  (the password ends at the last '@' before the host; quoted DSNs have no '@')
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s'\"]*:)(?P<secret>[^@\s'\"]+)(?=@)")
# KEY=value in DSNs, env dumps, command lines and config (and their JSON/YAML forms), case-insensitive:
# any key whose name contains password/passwd/pwd/secret/token/credential (warehouse_password, PGPASSWORD,
# MINIO_ROOT_PASSWORD, spark.authenticate.secret, JWT_SECRET, ..._TOKEN), or ends in a secret kind of key
# (secret_key, api-key, FERNET_KEY, private_key, ...). A bare `key=` (an object key) or an access key id
# (an account name, not a secret) is kept.
_KEY_NAME = (r"[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|credential)[A-Za-z0-9_.-]*"
             r"|[A-Za-z0-9_.-]*(?:secret|private|api|fernet|signing|encryption|auth)[_.-]?key")
_KEY_PASSWORD = re.compile(
    rf"(?P<head>(?<![A-Za-z0-9_.-])(?:{_KEY_NAME})[\"']?[ \t]*[=:][ \t]*[\"']?)(?P<secret>[^\s\"',;&}}]+)",
    re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """`text` with every URL password and `password=`-style value replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    return _KEY_PASSWORD.sub(lambda m: m["head"] + MASK, text)


class MaskingFilter(logging.Filter):
    """A logging filter that masks secrets in each record's final message (attach it to handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_task_secrets(context: object = None) -> None:
    """Register the warehouse, S3 and Spark secrets with Airflow's masker, so a task log shows *** for them even
    when a library prints a DSN or an error quotes one. Used as the DAGs' `on_execute_callback`."""
    from urllib.parse import quote

    from airflow.sdk.log import mask_secret
    from psycopg.conninfo import conninfo_to_dict

    from radiolake.config import get_settings

    settings = get_settings()
    secrets = [settings.s3_secret_key, settings.spark_auth_secret, settings.stack_spark_secret]
    if settings.warehouse_dsn:
        password = str(conninfo_to_dict(settings.warehouse_dsn).get("password") or "")
        secrets += [password, quote(password, safe="")]
    for secret in dict.fromkeys(s for s in secrets if s):
        mask_secret(secret)
