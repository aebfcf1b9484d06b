"""Bucket browsing behind the Airflow login, against the real stack: the plugin in the real api-server,
reading the real object store with the pipeline's keys. No login, no listing and no object."""

from __future__ import annotations

import httpx
import pytest

from radiolake.buckets import URL_PREFIX
from radiolake.lake import put_bytes

pytestmark = pytest.mark.integration

RUN = "it-browser-run"
PAGE = b'<!doctype html><html><body><h1>run report</h1><img src="sky.png"></body></html>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def report(stack):
    bucket = stack.settings.bucket("reports")
    put_bytes(bucket, f"{RUN}/sky.png", PNG, content_type="image/png")
    put_bytes(bucket, f"{RUN}/index.html", PAGE, content_type="text/html; charset=utf-8")
    return f"{stack.airflow_url}{URL_PREFIX}/b/{bucket}/{RUN}/"


@pytest.fixture(scope="module")
def token(stack) -> str:
    resp = httpx.post(f"{stack.airflow_url}/auth/token", timeout=30, json={
        "username": "admin", "password": stack.stack.secrets["airflow_admin_password"]})
    resp.raise_for_status()
    return resp.json()["access_token"]


def test_status_prints_the_login_protected_browser_not_the_filer(stack):
    endpoints = stack.stack.endpoints()
    assert endpoints["Bucket browser"].startswith(f"{stack.airflow_url}{URL_PREFIX}/")
    filer = str(stack.stack.ports["s3_filer"])
    assert not any(f":{filer}" in value for value in endpoints.values())


@pytest.mark.parametrize("path", ["/", "/b/reports/", f"/b/reports/{RUN}/index.html", f"/b/reports/{RUN}/sky.png"])
def test_without_login_nothing_is_served(stack, report, path):
    url = f"{stack.airflow_url}{URL_PREFIX}{path}"
    api = httpx.get(url, timeout=30)
    assert api.status_code == 401 and b"run report" not in api.content and PNG not in api.content
    forged = httpx.get(url, timeout=30, headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    cookie = httpx.get(url, timeout=30, cookies={"_token": "forged"})
    assert cookie.status_code == 401
    browser = httpx.get(url, timeout=30, headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303 and "/auth/login" in browser.headers["location"]
    assert "next=" in browser.headers["location"]


def test_with_the_airflow_login_the_browser_lists_and_serves_a_report(stack, report, token):
    auth = {"Authorization": f"Bearer {token}"}
    index = httpx.get(f"{stack.airflow_url}{URL_PREFIX}/", timeout=30, headers=auth)
    assert index.status_code == 200
    assert all(f"{URL_PREFIX}/b/{b}/" in index.text for b in stack.settings.buckets.values())
    listing = httpx.get(report, timeout=30, headers=auth)
    assert listing.status_code == 200 and "index.html" in listing.text and "sky.png" in listing.text
    page = httpx.get(f"{report}index.html", timeout=30, headers=auth)
    assert page.status_code == 200 and page.content == PAGE
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script
    assert "default-src 'none'" in page.headers["content-security-policy"]
    # The page's relative image resolves inside the browser, with the UI's session cookie (no header).
    image = httpx.get(f"{report}sky.png", timeout=30, cookies={"_token": token})
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"


def test_only_the_lake_s_buckets_and_existing_objects(stack, report, token):
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{stack.airflow_url}{URL_PREFIX}/b/not-a-lake-bucket/", timeout=30,
                     headers=auth).status_code == 404
    assert httpx.get(f"{report}missing.png", timeout=30, headers=auth).status_code == 404
