"""In a real browser signed in to the Airflow UI: the bucket browser lists a run's report and shows it with
its picture (same session cookie, stored page under a no-script Content-Security-Policy)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from radiolake.buckets import URL_PREFIX  # noqa: E402
from radiolake.lake import put_bytes  # noqa: E402

pytestmark = pytest.mark.e2e

RUN = "e2e-browser-run"


def _png() -> bytes:
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def test_logged_in_user_browses_to_a_report_and_sees_its_picture(stack, logged_in):
    bucket = stack.settings.bucket("reports")
    page_html = ('<!doctype html><html><body><h1>E2E report</h1><img id="sky" src="sky.png" alt="sky">'
                 '<script>document.title = "script ran"</script></body></html>')
    put_bytes(bucket, f"{RUN}/sky.png", _png(), content_type="image/png")
    put_bytes(bucket, f"{RUN}/index.html", page_html.encode(), content_type="text/html; charset=utf-8")
    page = logged_in.page
    page.goto(f"{stack.airflow_url}{URL_PREFIX}/b/{bucket}/{RUN}/", wait_until="domcontentloaded")
    page.get_by_role("link", name="index.html").click()
    expect(page.get_by_role("heading", name="E2E report")).to_be_visible()
    page.wait_for_function("document.getElementById('sky').complete")
    assert page.evaluate("document.getElementById('sky').naturalWidth") > 0, "the report's picture did not load"
    assert page.title() != "script ran", "a stored page must not run scripts on the Airflow origin"
    logged_in.screenshot("bucket-browser-report")
