"""The Python worker daemon of radiolake's Spark sessions (`spark.python.daemon.module`): pyspark's own daemon,
importing pyspark from its compiled install rather than from source.

Why: Spark puts `$SPARK_HOME/python/lib/pyspark.zip` (and py4j's zip) first on the workers' PYTHONPATH. With a
pip-installed pyspark, SPARK_HOME is the installed package itself and those zips hold the same sources without
bytecode, so the daemon compiled pyspark from source on every Spark start: ~1 CPU-s instead of ~0.2 s, with
the driver waiting for its first task. A zip that lies inside an importable pyspark package is that package's
own copy and is dropped from sys.path; a real Spark distribution (SPARK_HOME=/opt/spark, as under docker
compose) keeps its zips, whose pyspark must match its JVM.
"""

from __future__ import annotations

import sys
from pathlib import Path


def redundant_zips(path: list[str]) -> list[str]:
    """Entries of `path` that are zips shipped inside a pip-installed pyspark (<package>/python/lib/*.zip)
    whose package is also installed: pyspark.zip always (the package is its own install), py4j's zip when a
    py4j package lies in a directory of `path`."""
    dirs = [Path(e) for e in path if e and not e.endswith(".zip")]
    out = []
    for entry in path:
        p = Path(entry)
        if p.suffix != ".zip" or len(p.parents) < 3 or p.parent.name != "lib" or p.parent.parent.name != "python":
            continue
        package = p.parents[2]
        if not ((package / "__init__.py").is_file() and (package / "daemon.py").is_file()):
            continue  # a Spark distribution's zip: the only copy
        name = p.name.split("-", 1)[0].removesuffix(".zip")  # pyspark.zip, py4j-0.10.9.9-src.zip
        if name == "pyspark" or any((d / name / "__init__.py").is_file() for d in dirs):
            out.append(entry)
    return out


def main() -> None:
    for entry in redundant_zips(sys.path):
        sys.path.remove(entry)
    from pyspark.daemon import manager

    manager()


if __name__ == "__main__":
    main()
