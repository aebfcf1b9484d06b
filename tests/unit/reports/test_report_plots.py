"""Report pictures: valid, readable PNGs, built from the right points."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from radiolake.reports import plots
from radiolake.reports.prepare import (
    WIDE_FOOTPRINT_DEG2,
    cmd_points,
    footprint_area_deg2,
    ra_cut,
    separation_histogram_data,
    unwrap_ra,
)


def open_png(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(data))
    img.verify()  # raises on a truncated or corrupt file
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG"
    assert 600 <= img.width <= 2000 and 400 <= img.height <= 1500, img.size
    return img


def not_blank(img: Image.Image) -> int:
    """Number of distinct colours: a plot with data, axes and legend has many; a blank canvas has one."""
    return len(img.convert("RGB").getcolors(maxcolors=1 << 20) or [])


def test_sky_map_zoom_is_valid_png(cone_sky, tmp_path):
    png = plots.sky_map(cone_sky["radio"], cone_sky["candidates"], cone_sky["stars"])
    assert not_blank(open_png(png)) > 50
    (tmp_path / "sky_zoom.png").write_bytes(png)


def test_sky_map_switches_to_mollweide_for_wide_footprints(wide_sky, cone_sky):
    assert footprint_area_deg2(wide_sky["radio"]["ra"], wide_sky["radio"]["dec"]) > WIDE_FOOTPRINT_DEG2
    assert footprint_area_deg2(cone_sky["radio"]["ra"], cone_sky["radio"]["dec"]) < WIDE_FOOTPRINT_DEG2
    wide = plots.sky_map(wide_sky["radio"], wide_sky["candidates"], wide_sky["stars"])
    img = open_png(wide)
    assert img.width / img.height > 1.4  # the Mollweide figure is wider than the zoom's 4:3
    assert not_blank(img) > 50


def test_footprint_area_of_a_cone_matches_its_geometry():
    rng = np.random.default_rng(1)
    # Uniform points in a 5° cone: area π(5°)² ≈ 78.5 deg², measured with ~3.4 deg² pixels (edge pixels
    # partly outside, so the pixel count overstates it a little).
    n = 20000
    r = 5.0 * np.sqrt(rng.uniform(0, 1, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    dec = r * np.sin(phi)
    ra = np.mod(r * np.cos(phi), 360.0)
    area = footprint_area_deg2(ra, dec)
    assert 78.5 <= area <= 2.0 * 78.5


@pytest.mark.parametrize(
    ("ra", "lo", "hi"),
    [
        ([355.0, 358.0, 359.9, 0.1, 2.0, 5.0], -5.0, 5.0),  # straddles 0/360
        ([100.0, 110.0, 120.0], 100.0, 120.0),
        ([300.0, 310.0, 320.0], 300.0, 320.0),
        ([0.5, 1.0, 359.5], -0.5, 1.0),
    ],
)
def test_ra_unwrap_keeps_points_contiguous(ra, lo, hi):
    x = unwrap_ra(np.array(ra), ra_cut(np.array(ra)))
    assert x.min() == pytest.approx(lo)
    assert x.max() == pytest.approx(hi)
    assert np.allclose(np.mod(x, 360.0), np.mod(ra, 360.0))  # same sky positions, only relabelled


def test_ra_unwrap_on_a_footprint_across_zero(wrap_sky):
    ra = np.concatenate([wrap_sky["radio"]["ra"], wrap_sky["candidates"]["ra"]])
    assert ra.min() < 1 and ra.max() > 359  # the fixture really straddles the wrap
    x = unwrap_ra(ra, ra_cut(ra))
    assert np.ptp(x) < 11.0  # one 10°-wide block, not two slivers 350° apart
    assert x.min() > -5.01 and x.max() < 5.01
    png = plots.sky_map(wrap_sky["radio"], wrap_sky["candidates"], wrap_sky["stars"])
    assert not_blank(open_png(png)) > 50


def test_cmd_points_drop_low_snr_and_bad_parallaxes():
    df = pd.DataFrame({
        "phot_g_mean_mag": [10.0, 12.0, 8.0, 9.0, 11.0, np.nan],
        "parallax": [10.0, 1.0, -2.0, 100.0, 5.0, 20.0],
        "parallax_error": [0.1, 0.5, 0.1, 0.1, 1.0, 0.1],  # S/N: 100, 2, neg, 1000, 5 (not > 5), no G
        "bp_rp": [1.0, 1.5, 0.5, 2.0, 0.8, 1.0],
    })
    pts = cmd_points(df, min_parallax_snr=5)
    assert pts.n_input == 6
    assert pts.n_plotted == 2
    assert np.allclose(pts.bp_rp, [1.0, 2.0])
    # M_G = G + 5 log10(plx/mas) - 10: 10 mas = 100 pc → M = m - 5; 100 mas = 10 pc → M = m
    assert np.allclose(pts.abs_g, [5.0, 9.0])


def test_cmd_points_take_colour_from_bp_and_rp_when_bp_rp_missing():
    df = pd.DataFrame({"phot_g_mean_mag": [10.0], "parallax": [10.0], "parallax_error": [0.1],
                       "phot_bp_mean_mag": [10.4], "phot_rp_mean_mag": [9.4]})
    pts = cmd_points(df)
    assert np.allclose(pts.bp_rp, [1.0])


def test_cmd_plot_uses_only_good_parallaxes(cone_sky):
    stars = cone_sky["stars"]
    pts = cmd_points(stars)
    snr = stars["parallax"] / stars["parallax_error"]
    assert pts.n_plotted == int(((snr > 5) & (stars["parallax"] > 0)).sum())
    assert 0 < pts.n_plotted < len(stars)  # the synthetic sky has both kinds, so the cut is exercised
    png = plots.cmd(cone_sky["candidates"], stars)
    assert not_blank(open_png(png)) > 50


def test_cmd_with_no_usable_star_still_draws():
    empty = pd.DataFrame({"phot_g_mean_mag": [10.0], "parallax": [0.1], "parallax_error": [1.0], "bp_rp": [1.0]})
    open_png(plots.cmd(empty, empty))


def test_chance_curve_integrates_to_offset_counts_over_n_offsets(rng):
    radius = 10.0
    n_offsets = 8
    # Chance separations grow ∝ r (uniform in the disc); real ones pile up near 0.
    offsets = radius * np.sqrt(rng.uniform(0, 1, 1234))
    pairs = np.concatenate([np.abs(rng.normal(0, 1.0, 200)), radius * np.sqrt(rng.uniform(0, 1, 150))])
    h = separation_histogram_data(pairs, offsets, n_offsets, bins=25, max_arcsec=radius)
    assert h.chance.sum() == pytest.approx(1234 / n_offsets)
    assert h.observed.sum() == 350
    assert np.all(np.diff(h.edges) > 0) and h.edges[-1] == radius
    assert h.observed[0] > h.chance[0]  # the excess of real associations at small separation shows
    png = plots.separation_histogram(pairs, offsets, n_offsets, max_arcsec=radius)
    assert not_blank(open_png(png)) > 50


def test_histogram_refuses_zero_offsets():
    with pytest.raises(ValueError, match="n_offsets"):
        separation_histogram_data([1.0], [1.0], 0)


def test_render_figures_gives_all_three(cone_sky, rng):
    figs = plots.render_figures(cone_sky["radio"], cone_sky["candidates"], cone_sky["stars"],
                                rng.uniform(0, 5, 100), rng.uniform(0, 5, 300), 5)
    assert set(figs) == {"sky_map", "cmd", "separation_histogram"}
    # light_curves come from the marts, reliability only from synthetic runs (they have a truth)
    assert set(figs) < set(plots.FIGURE_CAPTIONS)
    for data in figs.values():
        open_png(data)


def test_reliability_diagram_draws_a_curve():
    curve = {"n": np.array([50.0, 0.0, 20.0]), "mean_predicted": np.array([0.1, np.nan, 0.9]),
             "observed": np.array([0.12, np.nan, 0.85]), "error": np.array([0.04, np.nan, 0.07])}
    open_png(plots.reliability_diagram(curve))


def test_chance_curve_from_persisted_offset_stats_matches_the_offset_pairs(rng):
    """offset_stats (as the cross-match writes it) gives the same chance counts as the raw offset pairs."""
    from radiolake.crossmatch.offsets import offset_stats_frame, radius_grid
    from radiolake.reports.prepare import separation_histogram_from_offset_stats

    n_offsets, search = 6, 8.0
    radio_ids = [f"r{i}" for i in range(300)]
    regions = pd.Series(rng.integers(0, 4, len(radio_ids)), index=radio_ids)
    offset_pairs = pd.DataFrame({
        "offset": rng.integers(1, n_offsets + 1, 900),
        "radio_id": rng.choice(radio_ids, 900),
        "separation_arcsec": search * np.sqrt(rng.uniform(0, 1, 900)),
    })
    stats = offset_stats_frame(offset_pairs, regions, n_offsets, search, 3, "run")
    best = rng.uniform(0, search, 120)
    h = separation_histogram_from_offset_stats(best, stats)
    nearest = offset_pairs.groupby(["offset", "radio_id"])["separation_arcsec"].min()
    radii = sorted(radius_grid(search))
    assert list(h.edges[1:]) == radii
    expected = np.histogram(nearest, bins=[0.0, *radii])[0] / n_offsets
    assert np.allclose(h.chance, expected)
    assert h.chance.sum() == pytest.approx((nearest <= radii[-1]).sum() / n_offsets)
    assert h.observed.sum() == (best <= radii[-1]).sum()
    assert not_blank(open_png(plots.separation_histogram_from_stats(best, stats))) > 50
