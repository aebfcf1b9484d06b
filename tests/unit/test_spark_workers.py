"""How radiolake's Spark processes start: the Python daemon imports the installed pyspark, not Spark's source
zip, and a bare context's scheduler JVM runs with a small reused young generation.

The real test starts a bare context in a child process (a JVM of its own options) and asks its Python workers
where they imported pyspark from."""

from __future__ import annotations

import json
import subprocess
import sys

from radiolake.config import get_settings
from radiolake.spark.daemon import redundant_zips
from radiolake.spark.session import DEFAULT_DRIVER_JAVA_OPTIONS, SCHEDULER_JAVA_OPTIONS, spark_options


def _package(root, files=("__init__.py",)):
    root.mkdir(parents=True, exist_ok=True)
    for f in files:
        (root / f).write_text("")
    return root


def test_zips_of_a_pip_installed_pyspark_are_redundant(tmp_path):
    site = tmp_path / "site-packages"
    pyspark = _package(site / "pyspark", ("__init__.py", "daemon.py"))
    _package(site / "py4j")
    lib = pyspark / "python" / "lib"
    path = [str(lib / "pyspark.zip"), str(lib / "py4j-0.10.9.9-src.zip"), str(site), "/usr/lib/python3.11"]
    assert redundant_zips(path) == path[:2]


def test_a_spark_distributions_zips_are_kept(tmp_path):
    home = tmp_path / "opt" / "spark"  # SPARK_HOME of a distribution: not a Python package
    lib = home / "python" / "lib"
    lib.mkdir(parents=True)
    site = tmp_path / "site-packages"
    _package(site / "py4j")
    assert redundant_zips([str(lib / "pyspark.zip"), str(lib / "py4j-0.10.9.9-src.zip"), str(site)]) == []


def test_py4j_zip_stays_when_py4j_is_installed_nowhere_else(tmp_path):
    site = tmp_path / "site-packages"
    lib = _package(site / "pyspark", ("__init__.py", "daemon.py")) / "python" / "lib"
    path = [str(lib / "pyspark.zip"), str(lib / "py4j-0.10.9.9-src.zip"), str(site)]
    assert redundant_zips(path) == path[:1]


def test_sessions_use_the_daemon_and_only_bare_contexts_the_scheduler_options(tmp_path, monkeypatch):
    monkeypatch.delenv("RADIOLAKE_SPARK_DRIVER_JAVA_OPTIONS", raising=False)
    monkeypatch.setenv("RADIOLAKE_SPARK_CDS", "off")
    settings = get_settings({"RADIOLAKE_HOME": str(tmp_path / "home")})
    sql = spark_options("local[2]", settings, None)[0]
    bare = spark_options("local[2]", settings, None, SCHEDULER_JAVA_OPTIONS)[0]
    assert sql["spark.python.daemon.module"] == bare["spark.python.daemon.module"] == "radiolake.spark.daemon"
    assert sql["spark.driver.extraJavaOptions"] == DEFAULT_DRIVER_JAVA_OPTIONS
    assert "-XX:+UseSerialGC" in bare["spark.driver.extraJavaOptions"]
    monkeypatch.setenv("RADIOLAKE_SPARK_DRIVER_JAVA_OPTIONS", "-Xmx2g")
    assert spark_options("local[2]", settings, None, SCHEDULER_JAVA_OPTIONS)[0][
        "spark.driver.extraJavaOptions"] == "-Xmx2g"  # the user's options win


PROBE = """
import json
from radiolake.spark.session import get_spark_context
sc = get_spark_context("worker-probe", "local[2]")
def where(_):
    import sys, pyspark, pyspark.worker
    return [pyspark.__file__, pyspark.worker.__file__, [p for p in sys.path if p.endswith(".zip")]]
mx = sc._jvm.java.lang.management.ManagementFactory
print(json.dumps({
    "workers": sc.parallelize(range(4), 2).map(where).collect(),
    "gcs": [b.getName() for b in mx.getGarbageCollectorMXBeans()],
}))
"""


def test_workers_import_the_installed_pyspark_and_the_scheduler_runs_serial_gc():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["workers"]) == 4
    for pyspark_file, worker_file, zips in out["workers"]:
        assert ".zip" not in pyspark_file and ".zip" not in worker_file, (pyspark_file, worker_file)
        assert not [z for z in zips if "pyspark" in z]
    assert "Copy" in out["gcs"] and "MarkSweepCompact" in out["gcs"]  # the serial collector's two generations
