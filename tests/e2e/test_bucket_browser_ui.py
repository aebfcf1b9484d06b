"""In a real browser signed in to the Airflow UI: the bucket browser lists, sorts and pages a folder, previews
a Parquet file, an image, a stored report (sandboxed, no script) and a catalogue version's sky coverage, and
refuses everything without a login."""

from __future__ import annotations

import io
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import pytest  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from radiolake.buckets import URL_PREFIX  # noqa: E402
from radiolake.lake import minio_client, put_bytes  # noqa: E402

pytestmark = pytest.mark.e2e

RUN = "e2e-browser-run"
N_MANY = 230
SIZES = {"small.txt": 10, "large.bin": 9000, "medium.csv": 500}


def _png() -> bytes:
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


@pytest.fixture(scope="module")
def lake(stack) -> dict[str, str]:
    s = stack.settings
    reports, catalogs = s.bucket("reports"), s.bucket("catalogs")
    client = minio_client(s)
    page_html = ('<!doctype html><html><body><h1>E2E report</h1><img id="sky" src="sky.png" alt="sky">'
                 '<script>document.title = "script ran"</script></body></html>')
    put_bytes(reports, f"{RUN}/sky.png", _png(), content_type="image/png", client=client)
    put_bytes(reports, f"{RUN}/index.html", page_html.encode(), content_type="text/html; charset=utf-8",
              client=client)
    table = pa.table({"star_id": [f"gaia_dr3:{i}" for i in range(300)], "flux_mjy": [i * 0.5 for i in range(300)]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    put_bytes(reports, f"{RUN}/candidates.parquet", buf.getvalue(), client=client)
    for name, size in SIZES.items():
        put_bytes(reports, f"{RUN}/sizes/{name}", b"x" * size, client=client)
    for i in range(N_MANY):
        put_bytes(reports, f"{RUN}/many/o{i:04d}.txt", b"1", client=client)
    version = "catalogs/e2e_cat/versions/v1/"
    meta = {"name": "e2e_cat", "version": "v1", "n_rows": 777, "n_partitions": 1,
            "partitions": [{"order": 1, "pixel": 10, "rows": 777}], "quarantine": {"rows_quarantined": 3}}
    put_bytes(catalogs, version + "metadata.json", json.dumps(meta).encode(), client=client)
    put_bytes(catalogs, version + "_COMMITTED", b"{}", client=client)
    return {"reports": reports, "catalogs": catalogs, "version": version}


def _folder(stack, bucket: str, prefix: str) -> str:
    return f"{stack.airflow_url}{URL_PREFIX}/b/{bucket}/{prefix}"


def _names(page) -> list[str]:
    return page.locator("#listing tr.entry").evaluate_all("rows => rows.map(r => r.dataset.name)")


def test_logged_in_user_browses_to_a_report_and_sees_its_picture(stack, logged_in, lake):
    page = logged_in.page
    page.goto(_folder(stack, lake["reports"], f"{RUN}/"), wait_until="domcontentloaded")
    expect(page.get_by_role("navigation", name="breadcrumbs")).to_contain_text(lake["reports"])
    page.get_by_role("link", name="index.html", exact=True).click()
    frame = page.frame_locator("#html-preview")
    expect(frame.get_by_role("heading", name="E2E report")).to_be_visible()
    expect(frame.locator("#sky")).to_have_js_property("complete", True)
    assert frame.locator("#sky").evaluate("img => img.naturalWidth") > 0, "the report's picture did not load"
    assert page.title() != "script ran"
    logged_in.screenshot("bucket-browser-report-preview")
    # Opened on its own (the raw object), the stored page still runs no script on the Airflow origin.
    page.goto(f"{stack.airflow_url}{URL_PREFIX}/b/{lake['reports']}/{RUN}/index.html", wait_until="load")
    expect(page.get_by_role("heading", name="E2E report")).to_be_visible()
    assert page.title() != "script ran", "a stored page must not run scripts on the Airflow origin"


def test_a_folder_lists_sorts_and_pages(stack, logged_in, lake):
    page = logged_in.page
    page.goto(_folder(stack, lake["reports"], f"{RUN}/sizes/"), wait_until="domcontentloaded")
    assert _names(page) == sorted(SIZES)
    expect(page.locator("#listing")).to_contain_text("Last modified")
    page.locator("#listing th a[data-sort=size]").click()
    page.wait_for_url(re.compile(r"sort=size&order=asc"))
    assert _names(page) == ["small.txt", "medium.csv", "large.bin"]
    page.locator("#listing th a[data-sort=size]").click()
    page.wait_for_url(re.compile(r"sort=size&order=desc"))
    assert _names(page) == ["large.bin", "medium.csv", "small.txt"]
    logged_in.screenshot("bucket-browser-sorted")

    page.goto(_folder(stack, lake["reports"], f"{RUN}/many/"), wait_until="domcontentloaded")
    first = _names(page)
    assert len(first) == 200 and first[0] == "o0000.txt"
    page.get_by_role("link", name="next page »").click()
    page.wait_for_url(re.compile(r"token="))
    second = _names(page)
    assert len(second) == N_MANY - 200 and second[0] == "o0200.txt"
    expect(page.get_by_role("link", name="next page »")).to_have_count(0)
    page.get_by_role("link", name=f"{RUN}", exact=True).click()  # breadcrumb back up
    expect(page.locator("#listing")).to_contain_text("candidates.parquet")


def test_previews_a_parquet_file_an_image_and_a_catalogue_version(stack, logged_in, lake):
    page = logged_in.page
    page.goto(_folder(stack, lake["reports"], f"{RUN}/"), wait_until="domcontentloaded")
    page.get_by_role("link", name="candidates.parquet", exact=True).click()
    expect(page.locator("#parquet-schema")).to_contain_text("flux_mjy")
    expect(page.locator("#parquet-preview")).to_contain_text("300")  # row count from the footer
    expect(page.locator("#parquet-rows tbody tr")).to_have_count(20)
    expect(page.locator("#download")).to_be_visible()
    logged_in.screenshot("bucket-browser-parquet")

    page.goto(f"{stack.airflow_url}{URL_PREFIX}/v/{lake['reports']}/{RUN}/sky.png", wait_until="load")
    expect(page.locator("#image-preview")).to_have_js_property("complete", True)
    assert page.locator("#image-preview").evaluate("img => img.naturalWidth") > 0

    page.goto(_folder(stack, lake["catalogs"], lake["version"]), wait_until="domcontentloaded")
    expect(page.locator("#catalog-summary")).to_contain_text("777")
    coverage = page.locator("#coverage")
    expect(coverage).to_have_js_property("complete", True, timeout=60_000)
    assert coverage.evaluate("img => img.naturalWidth") > 200, "the coverage map did not load"
    logged_in.screenshot("bucket-browser-catalogue")


def test_refuses_without_login(stack, browser_page, lake):
    page = browser_page.page
    page.context.clear_cookies()  # the profile is shared: sign every earlier test out
    page.goto(_folder(stack, lake["reports"], f"{RUN}/"), wait_until="domcontentloaded")
    page.wait_for_url(re.compile(r"/auth/login"))
    assert "candidates.parquet" not in page.content()
    resp = page.request.get(f"{stack.airflow_url}{URL_PREFIX}/b/{lake['reports']}/{RUN}/sky.png")
    assert resp.status == 401
