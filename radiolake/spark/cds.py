"""A class-data-sharing archive for the Spark driver JVM: Spark's classes mapped from one file at start-up
instead of being read from 250 jars, verified and linked again by every process.

Why: on two cores the driver JVM's start and its first job (the scheduler, block manager, PythonRDD and their
classes) were about 4 s of a 10 s cross-match. A dynamic AppCDS archive (JDK 13+), written once by a short
training run at `make setup`, saves 1-1.5 s of every Spark start: the CLI, each Airflow task, each test.

Safe by construction: the JVM checks the archive against its own JDK and class path and, when they differ,
ignores it (one warning line) and starts as before, so a stale archive costs only the gain. The archive is
keyed by the JDK binary, pyspark's version and Spark's jar names, so an upgrade gets a new one at the next
setup. `RADIOLAKE_SPARK_CDS=off` disables it; `RADIOLAKE_SPARK_CDS_DIR` moves it (default: inside the
virtual environment that holds pyspark's jars, which is what it describes).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: The driver JVM only schedules (tasks run in Python workers): a C1-only JIT halves its start-up on 2 cores.
#: Declared here, below the session (radiolake.spark.session uses it): the archive is trained with it.
DEFAULT_DRIVER_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1"
#: JDK option that writes a dynamic archive of every class loaded, when the JVM exits.
DUMP_OPTION = "-XX:ArchiveClassesAtExit="
#: JDK option that maps an archive (with the default -Xshare:auto, a mismatch only disables sharing).
USE_OPTION = "-XX:SharedArchiveFile="


def enabled() -> bool:
    return os.environ.get("RADIOLAKE_SPARK_CDS", "on").strip().lower() not in {"off", "0", "false", "no"}


def _java() -> Path | None:
    """The java spark-submit runs (spark-class: $JAVA_HOME/bin/java, else java on PATH)."""
    home = os.environ.get("JAVA_HOME", "").strip()
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).exists() else None


def _spark_jars() -> Path:
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home()) / "jars"


def archive_key() -> str | None:
    """What the archive depends on, hashed: the JDK binary and Spark's jars. None without a JDK."""
    import pyspark

    java = _java()
    if java is None:
        return None
    jars = _spark_jars()
    stat = java.stat()
    names = sorted(os.listdir(jars)) if jars.is_dir() else []
    text = "\n".join([str(java), str(stat.st_size), str(stat.st_mtime_ns), pyspark.__version__, str(jars), *names])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def archive_dir() -> Path:
    raw = os.environ.get("RADIOLAKE_SPARK_CDS_DIR", "").strip()
    return Path(raw).expanduser() if raw else Path(sys.prefix) / "var" / "radiolake" / "spark-cds"


def archive_path() -> Path | None:
    """Where this install's archive lives (whether or not it exists); None when disabled or unusable."""
    if not enabled():
        return None
    key = archive_key()
    if key is None:
        return None
    path = archive_dir().resolve() / f"spark-driver-{key}.jsa"
    return None if any(c.isspace() for c in str(path)) else path  # Spark splits java options on blanks


def driver_java_options(base: str) -> str:
    """`base` plus the archive option when this install's archive exists (and the caller set none)."""
    if "SharedArchiveFile" in base or "ArchiveClassesAtExit" in base:
        return base
    path = archive_path()
    return f"{base} {USE_OPTION}{path}".strip() if path is not None and path.is_file() else base


def build(force: bool = False, timeout_s: float = 600) -> Path | None:
    """Write this install's archive by a training run in a child process; returns its path (None: disabled,
    no JDK). Idempotent: an existing archive is kept unless `force`. Written to a temporary name and renamed,
    so a concurrent start never maps half an archive."""
    path = archive_path()
    if path is None:
        return None
    if path.is_file() and not force:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".training-", suffix=".jsa", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # the JVM creates it at exit
    base = os.environ.get("RADIOLAKE_SPARK_DRIVER_JAVA_OPTIONS", DEFAULT_DRIVER_JAVA_OPTIONS)
    env = {**os.environ, "RADIOLAKE_SPARK_CDS": "off",  # a dynamic archive cannot be dumped on top of another
           "RADIOLAKE_SPARK_DRIVER_JAVA_OPTIONS": f"{base} {DUMP_OPTION}{tmp} -Xlog:cds=error"}
    try:
        done = subprocess.run([sys.executable, "-m", "radiolake.spark.cds_training"], env=env,
                              capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0 or not Path(tmp).is_file():
            raise RuntimeError(f"the Spark class-data-sharing training run failed (exit {done.returncode}):\n"
                               f"{done.stderr[-2000:]}")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the Spark driver's class-data-sharing archive.")
    parser.add_argument("--force", action="store_true", help="rewrite it even if it exists")
    args = parser.parse_args()
    path = build(force=args.force)
    print(f"Spark class-data-sharing archive: {path}" if path else "Spark class-data-sharing archive: disabled")


if __name__ == "__main__":
    main()
