"""The demo's candidate table in an 80-column terminal: every id readable, nothing cut (radiolake.app.demo)."""

import uuid

from rich.console import Console

from radiolake.app.demo import SHORT_UUID, candidates_table, short_ids


def _rows(radio_ids, star_ids):
    return [dict(grade="ABC"[i % 3], radio_id=r, star_id=s, separation_arcsec=1.234, separation_sigma=12.3,
                 association_probability=0.987, distance_pc=12345.6, abs_g_mag=-4.56, bp_rp_mag=-1.23,
                 flux_mjy=12345.6) for i, (r, s) in enumerate(zip(radio_ids, star_ids, strict=True))]


def _render(rows) -> list[str]:
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(candidates_table(rows, "manual__2026-12-07T04:00:00+00:00"))
    return console.export_text().splitlines()


def test_gaia_ids_whole_and_uuids_short_in_80_columns():
    radio = [f"racs_low:{uuid.uuid4()}" for _ in range(10)]
    stars = [f"gaia_dr3:{4472832130942575872 + 7919 * i}" for i in range(10)]
    lines = _render(_rows(radio, stars))
    assert max(map(len, lines)) <= 80
    header = next(line for line in lines if "racs_low:" in line)
    assert "gaia_dr3:" in header
    for radio_id, star_id in zip(radio, stars, strict=True):
        row = next(line for line in lines if star_id.split(":")[1] in line)  # the whole 19 digits on one line
        assert f"{radio_id.split(':')[1][:SHORT_UUID]}…" in row
        assert "12345.6" in row and "0.99" in row  # the last columns are not cut either


def test_mixed_surveys_keep_their_prefix_and_fit():
    radio = [f"nvss:{i * 1000}" for i in range(10)]
    stars = [f"gaia_dr3:{4472832130942575872 + i}" if i % 2 else f"hip2:{i}" for i in range(10)]
    lines = _render(_rows(radio, stars))
    assert max(map(len, lines)) <= 80
    text = "\n".join(lines)
    assert all(s in text for s in stars)  # full prefixed ids, none folded or cut
    assert "…" not in text


def test_short_ids():
    assert short_ids(["a:1", "a:22"]) == ("a", ["1", "22"])
    assert short_ids(["a:1", "b:2"]) == (None, ["a:1", "b:2"])
    assert short_ids(["a:1", None]) == (None, ["a:1", ""])
    assert short_ids(["x:12345678-1234-1234-1234-123456789abc"]) == ("x", ["12345678…"])
