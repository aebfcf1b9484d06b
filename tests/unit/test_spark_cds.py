"""The driver JVM's class-data-sharing archive: when its option is added, and that a real one is used.

The real JVM test trains an archive in a temporary folder and starts Spark with `-Xshare:on`, under which a
JVM refuses to start rather than ignore an archive it cannot map: so a passing run proves the archive is
valid for this JDK and Spark's class path, not just present.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from radiolake.config import get_settings
from radiolake.spark import cds as spark_cds
from radiolake.spark.session import DEFAULT_DRIVER_JAVA_OPTIONS, spark_options


@pytest.fixture
def cds_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("RADIOLAKE_SPARK_CDS_DIR", str(tmp_path))
    monkeypatch.delenv("RADIOLAKE_SPARK_CDS", raising=False)
    monkeypatch.delenv("RADIOLAKE_SPARK_DRIVER_JAVA_OPTIONS", raising=False)
    return tmp_path


def test_no_archive_leaves_the_options_alone(cds_dir):
    assert spark_cds.archive_path().parent == cds_dir.resolve()
    assert spark_cds.driver_java_options("-Xfoo") == "-Xfoo"


def test_an_archive_of_this_install_is_mapped_by_the_driver(cds_dir, tmp_path):
    path = spark_cds.archive_path()
    path.write_bytes(b"x")
    opts = spark_options("local[2]", get_settings({"RADIOLAKE_HOME": str(tmp_path / "home")}), None)[0]
    assert opts["spark.driver.extraJavaOptions"] == f"{DEFAULT_DRIVER_JAVA_OPTIONS} -XX:SharedArchiveFile={path}"


def test_off_and_explicit_archive_options_win(cds_dir, monkeypatch):
    spark_cds.archive_path().write_bytes(b"x")
    assert spark_cds.driver_java_options("-XX:SharedArchiveFile=/x.jsa") == "-XX:SharedArchiveFile=/x.jsa"
    assert spark_cds.driver_java_options("-XX:ArchiveClassesAtExit=/y.jsa") == "-XX:ArchiveClassesAtExit=/y.jsa"
    monkeypatch.setenv("RADIOLAKE_SPARK_CDS", "off")
    assert spark_cds.archive_path() is None
    assert spark_cds.driver_java_options("-Xfoo") == "-Xfoo"


def test_the_key_follows_spark_jars(cds_dir, tmp_path, monkeypatch):
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "spark-core_2.13-4.2.0.jar").write_bytes(b"")
    monkeypatch.setattr(spark_cds, "_spark_jars", lambda: jars)
    before = spark_cds.archive_key()
    (jars / "spark-core_2.13-4.2.0.jar").rename(jars / "spark-core_2.13-4.2.1.jar")
    assert spark_cds.archive_key() != before  # an upgraded Spark never maps the old archive


def test_a_trained_archive_is_valid_for_this_jdk_and_spark(cds_dir):
    path = spark_cds.build()
    assert path is not None and path.is_file() and path.stat().st_size > 10 << 20
    assert not [p for p in cds_dir.iterdir() if p.name.startswith(".training-")]  # no half-written leftovers
    probe = (
        "import json; from radiolake.spark.session import get_spark_context\n"
        "sc = get_spark_context('cds-probe', 'local[1]')\n"
        "args = list(sc._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())\n"
        "print(json.dumps({'args': args, 'sum': sc.parallelize(range(10), 2).sum()}))\n"
    )
    env = {**os.environ, "RADIOLAKE_SPARK_DRIVER_JAVA_OPTIONS": f"{DEFAULT_DRIVER_JAVA_OPTIONS} -Xshare:on"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["sum"] == 45
    assert f"-XX:SharedArchiveFile={path}" in out["args"] and "-Xshare:on" in out["args"]
    mtime = path.stat().st_mtime_ns
    assert spark_cds.build() == path and path.stat().st_mtime_ns == mtime  # kept, not retrained


def test_a_broken_archive_only_costs_the_gain(cds_dir):
    spark_cds.archive_path().write_bytes(b"not an archive" * 1000)
    probe = ("from radiolake.spark.session import get_spark_context\n"
             "print(get_spark_context('cds-probe', 'local[1]').parallelize(range(10), 2).sum())\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "45"
