"""When the embedded Airflow counts as started: every component healthy with a heartbeat after the start.

Airflow's health endpoint says "healthy" for a heartbeat up to 30 s old, so right after the metadata
database restarted it still vouched for a scheduler that had lost it; `Stack.up()` returned and the stack
was unhealthy moments later (seen once in CI, test_faults). The rule is pure logic on the endpoint's JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from radiolake.stack.airflow import Airflow

START = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


def health(beats: dict[str, datetime | str | None], status: str = "healthy", db: str = "healthy") -> dict:
    def text(beat):
        return beat.isoformat() if isinstance(beat, datetime) else beat

    return {"metadatabase": {"status": db},
            **{part: {"status": status, f"latest_{part}_heartbeat": text(beat)} for part, beat in beats.items()}}


def started(monkeypatch: pytest.MonkeyPatch, answer: dict) -> bool:
    airflow = Airflow(state=None, ports={}, secrets={}, pg=None)  # only health() is used, and it is replaced
    monkeypatch.setattr(airflow, "health", lambda: answer)
    return airflow._all_healthy(START)


PARTS = ("scheduler", "triggerer", "dag_processor")
AFTER = START + timedelta(seconds=3)


def test_every_component_beating_after_the_start_is_started(monkeypatch):
    assert started(monkeypatch, health(dict.fromkeys(PARTS, AFTER)))


@pytest.mark.parametrize("part", PARTS)
def test_a_healthy_component_whose_last_beat_is_older_than_the_start_is_not(monkeypatch, part):
    beats = {**dict.fromkeys(PARTS, AFTER), part: START - timedelta(seconds=10)}
    assert not started(monkeypatch, health(beats))


def test_missing_beat_unhealthy_part_or_database_is_not_started(monkeypatch):
    assert not started(monkeypatch, health({**dict.fromkeys(PARTS, AFTER), "triggerer": None}))
    assert not started(monkeypatch, health(dict.fromkeys(PARTS, AFTER), status="unhealthy"))
    assert not started(monkeypatch, health(dict.fromkeys(PARTS, AFTER), db="unhealthy"))
    assert not started(monkeypatch, {"metadatabase": {"status": "healthy"}})


def test_a_beat_without_time_zone_is_read_as_utc(monkeypatch):
    naive = (START + timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert started(monkeypatch, health(dict.fromkeys(PARTS, naive)))
    stale = (START - timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert not started(monkeypatch, health(dict.fromkeys(PARTS, stale)))
