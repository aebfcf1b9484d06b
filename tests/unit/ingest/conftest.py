"""Shared fixtures for ingest unit tests: a lake on the local filesystem, the real data folder."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO.parent / "shared" / "data"
FIXTURES = REPO / "tests" / "fixtures"


class LocalLake:
    def __init__(self, root: Path):
        self.fs = pafs.LocalFileSystem()
        self.catalogs_root = str(root / "catalogs")
        self.raw_root = str(root / "raw")

    def kwargs(self) -> dict:
        return {"fs": self.fs, "catalogs_root": self.catalogs_root, "raw_root": self.raw_root}

    def base(self, name: str) -> str:
        return f"{self.catalogs_root}/{name}"


@pytest.fixture
def lake(tmp_path: Path) -> LocalLake:
    return LocalLake(tmp_path / "lake")


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep user survey definitions and the wheel cache of the developer's state dir out of tests."""
    monkeypatch.setenv("RADIOLAKE_HOME", str(tmp_path / "state"))
