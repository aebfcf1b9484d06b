"""The run report's candidate table (sortable without a script, links to Gaia and SIMBAD), the single-epoch
stars listed instead of plotted, and light-curve axes a person would choose."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from radiolake.reports import candidates as cand
from radiolake.reports import plots
from radiolake.reports.prepare import light_curves, split_by_epochs
from radiolake.reports.summary import RunCounts, build_run_summary

ROWS = [
    {"radio_id": "r1", "star_id": "gaia_dr3:4472832130942575872", "association_probability": 0.91, "grade": "A",
     "separation_arcsec": 0.8, "distance_pc": 12.5, "flux_mjy": 1.2, "freq_mhz": 887.5, "radio_ra_deg": 10.0,
     "radio_dec_deg": -5.0},
    {"radio_id": "r2", "star_id": "hip2:12345", "association_probability": 0.55, "grade": "B",
     "separation_arcsec": 2.1, "distance_pc": None, "flux_mjy": 8.0, "freq_mhz": 1400.0},
    {"radio_id": "r3", "star_id": "synthetic:7", "association_probability": 0.99, "grade": "A",
     "separation_arcsec": 0.2, "distance_pc": 3.1, "flux_mjy": 0.4, "freq_mhz": 887.5, "radio_ra_deg": 200.0,
     "radio_dec_deg": 30.0},
]


def _view_order(page: str, view: str) -> list[str]:
    block = re.search(rf'<div class="cand-view[^"]*" id="{view}">(.*?)</div>', page, re.S).group(1)
    return re.findall(r"<tr><td>(r\d)</td>", block)


def test_every_sort_order_is_rendered_and_headers_link_to_them():
    page = cand.candidate_table_html(ROWS, total=3)
    assert _view_order(page, "cand-association_probability-desc") == ["r3", "r1", "r2"]
    assert _view_order(page, "cand-distance_pc-asc") == ["r3", "r1", "r2"]  # unknown distance last
    assert _view_order(page, "cand-distance_pc-desc") == ["r1", "r3", "r2"]  # ... in either order
    assert _view_order(page, "cand-flux_mjy-desc") == ["r2", "r1", "r3"]
    assert _view_order(page, "cand-grade-asc") == ["r1", "r3", "r2"]
    assert 'href="#cand-distance_pc-asc"' in page and 'href="#cand-grade-desc"' in page
    # The default order is the last copy, so a targeted copy earlier in the page hides it (CSS ~).
    assert page.rindex('id="cand-grade-asc"') > page.rindex('id="cand-flux_mjy-desc"')
    assert "<script" not in page


def test_stars_link_to_the_gaia_archive_and_simbad():
    page = cand.candidate_table_html(ROWS)
    assert "gea.esac.esa.int" in page and "4472832130942575872" in page
    assert "simbad.cds.unistra.fr" in page and "HIP+12345" in page
    gaia_rows = page.count(">Gaia</a>")
    views = page.count('class="cand-view')
    assert gaia_rows == views  # one Gaia star, one link per rendered copy of the table


def test_the_table_is_cut_to_its_rows_and_says_so():
    many = [{**ROWS[0], "radio_id": f"x{i:04d}"} for i in range(cand.TABLE_ROWS + 20)]
    page = cand.candidate_table_html(many, total=5000)
    assert f"the best {cand.TABLE_ROWS:,} of 5,000" in page
    assert len(re.findall(r"<tr><td>x\d+</td>", page)) == cand.TABLE_ROWS * page.count('class="cand-view')


def test_the_summary_carries_the_table_and_single_epoch_stars():
    counts = RunCounts(rows_in={"racs": 10}, candidates_by_grade={"A": 2, "B": 1})
    single = [{"star_id": "gaia_dr3:1", "survey": "racs_low", "epoch_jyear": 2019.4, "freq_mhz": 887.5,
               "flux_mjy": 2.5}]
    md, page = build_run_summary("run-1", counts, {"sky_map": b""}, candidates=ROWS, single_detections=single)
    assert "## Candidates" in md and "| r3 |" in md
    assert "<h2>Candidates</h2>" in page and "single radio epoch" in page and "2019.40" in page
    md0, page0 = build_run_summary("run-1", counts, {"sky_map": b""})
    assert "Candidates" not in page0  # callers without a table keep the old page


def test_single_epoch_stars_are_not_plotted():
    det = pd.DataFrame({"star_id": ["a", "a", "b", "c", "c"], "epoch_jyear": [2019.5, 2021.0, 2020.0, 2020.2, 2020.2],
                        "freq_mhz": [887.5, 887.5, 887.5, 887.5, 1400.0], "flux_mjy": [1.0, 2.0, 3.0, 1.0, 0.5]})
    plotted, single = split_by_epochs(light_curves(det))
    assert [c.star_id for c in plotted] == ["a"]
    assert sorted(c.star_id for c in single) == ["b", "c"]  # c: two frequencies, one epoch


@pytest.mark.parametrize(("epochs", "width"), [([2020.0], 1.0), ([2020.0, 2020.1], 1.0), ([2019.0, 2024.0], 5.8)])
def test_light_curve_axes_span_the_epochs_not_centuries(epochs, width):
    lo, hi = plots.epoch_limits(epochs)
    assert lo < min(epochs) and hi > max(epochs)
    assert hi - lo == pytest.approx(width, rel=0.01)
    assert plots.epoch_limits([np.nan]) == (2000.0, 2001.0)
