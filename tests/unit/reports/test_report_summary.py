"""Run summary: every figure linked, every count listed, names that cannot escape the run's folder."""

from __future__ import annotations

import re

import pytest

from radiolake.reports.summary import RunCounts, build_run_summary, report_keys

COUNTS = RunCounts(
    rows_in={"racs_low": 12345, "gaia_dr3": 987654},
    quarantined={"racs_low": 17, "gaia_dr3": 3},
    n_pairs=4321,
    n_best=2100,
    candidates_by_grade={"A": 12, "B": 30, "C": 55},
    expected_false_matches=6.25,
)
FIGURES = {"sky_map": b"png1", "cmd": b"png2", "separation_histogram": b"png3"}


def test_markdown_lists_every_figure_and_count():
    md, page = build_run_summary("run-42", COUNTS, FIGURES, params={"radius_arcsec": 3.0, "order": 8})
    for name in FIGURES:
        assert re.search(rf"!\[[^\]]+\]\({name}\.png\)", md), name
        assert f'src="{name}.png"' in page
    for text in ["12,345", "987,654", "17", "4,321", "2,100", "6.25", "grade A | 12", "grade B | 30",
                 "grade C | 55", "all grades | 97", "radius_arcsec", "`3.0`", "run-42"]:
        assert text in md, text
    for text in ["12,345", "987,654", "4,321", "6.25", "97", "run-42"]:
        assert text in page, text
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_html_escapes_parameter_values():
    _, page = build_run_summary("r1", COUNTS, FIGURES, params={"region": "<script>x</script>"})
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_custom_figure_gets_a_readable_caption():
    md, _ = build_run_summary("r1", COUNTS, {"flux_hist": b""})
    assert "### flux hist" in md and "(flux_hist.png)" in md


@pytest.mark.parametrize("bad", ["../other", "a/b", "", ".hidden", "x y"])
def test_unsafe_names_are_refused(bad):
    with pytest.raises(ValueError, match="object key"):
        build_run_summary(bad, COUNTS, FIGURES)
    with pytest.raises(ValueError, match="object key"):
        report_keys("ok", [bad])


def test_index_is_the_last_key_written():
    keys = report_keys("run-7", list(FIGURES))
    assert keys[-1] == "run-7/index.html" and keys[-2] == "run-7/summary.md"
    assert set(keys[:-2]) == {f"run-7/{n}.png" for n in FIGURES}
