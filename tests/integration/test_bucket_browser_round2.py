"""The bucket browser, second round, against the real stack (real api-server with the plugin, real SeaweedFS):
reading is a role's permission; the browser's S3 key cannot write; folders come a page at a time with a
checked token; sorting, previews (Parquet, text), download, and a catalogue version's summary and sky map."""

from __future__ import annotations

import io
import json
import re

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from minio import Minio
from minio.error import S3Error

from radiolake.buckets import URL_PREFIX
from radiolake.buckets.access import browser_credentials
from radiolake.lake import minio_client, put_bytes
from radiolake.stack.airflow import VIEWER_USER

pytestmark = pytest.mark.integration

RUN = "it-browser2"
N_PAGED = 450


def _token(stack, user: str, password: str) -> str:
    resp = httpx.post(f"{stack.airflow_url}/auth/token", timeout=30, json={"username": user, "password": password})
    resp.raise_for_status()
    return resp.json()["access_token"]


@pytest.fixture(scope="module")
def admin(stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(stack, 'admin', stack.stack.secrets['airflow_admin_password'])}"}


@pytest.fixture(scope="module")
def viewer(stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(stack, VIEWER_USER, stack.stack.secrets['airflow_viewer_password'])}"}


@pytest.fixture(scope="module")
def lake(stack) -> dict[str, str]:
    """A report folder with a Parquet file, text and 450 small objects; a catalogue version folder."""
    s = stack.settings
    reports, catalogs = s.bucket("reports"), s.bucket("catalogs")
    client = minio_client(s)
    table = pa.table({"star_id": [f"gaia_dr3:{i}" for i in range(500)], "p_assoc": [i / 500 for i in range(500)]})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=100)
    put_bytes(reports, f"{RUN}/candidates.parquet", buf.getvalue(), client=client)
    put_bytes(reports, f"{RUN}/params.json", b'{"radius_arcsec":5,"note":"x"}', client=client)
    put_bytes(reports, f"{RUN}/big.bin", b"\x00" * 50_000, client=client)
    for i in range(N_PAGED):
        put_bytes(reports, f"{RUN}/many/obj-{i:04d}.txt", f"{i}".encode(), client=client)
    base = "catalogs/it_browser_cat/versions/v1/"
    meta = {"name": "it_browser_cat", "version": "v1", "n_rows": 4321, "n_partitions": 2,
            "epoch_min": 2019.25, "epoch_max": 2020.5, "committed_utc": "2026-12-07T00:00:00+00:00",
            "partitions": [{"order": 1, "pixel": 3, "rows": 4000}, {"order": 2, "pixel": 40, "rows": 321}],
            "quarantine": {"rows_quarantined": 17, "reasons": {"flux_not_positive": 17}},
            "provenance": {"pipeline_version": "it", "raw": [{"name": "it.csv"}]}}
    put_bytes(catalogs, base + "metadata.json", json.dumps(meta).encode(), client=client)
    put_bytes(catalogs, base + "_COMMITTED", b"{}", client=client)
    return {"reports": reports, "catalogs": catalogs, "catalog_prefix": base}


def _names(html: str) -> list[str]:
    return re.findall(r"<tr class='entry' data-name='([^']*)'>", html)


def _next(html: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" class="btn" rel="next">', html)
    return m.group(1).replace("&amp;", "&") if m else None


def test_the_browser_s3_key_reads_and_lists_but_cannot_write_or_delete(stack, lake):
    s = stack.settings
    access, secret = browser_credentials(s)
    assert access != s.s3_access_key
    ro = Minio(s.s3_hostport, access_key=access, secret_key=secret, secure=False, region=s.s3_region)
    assert ro.get_object(lake["reports"], f"{RUN}/params.json").read().startswith(b"{")
    assert any(o.object_name.endswith("params.json") for o in ro.list_objects(lake["reports"], prefix=f"{RUN}/"))
    with pytest.raises(S3Error) as put:
        ro.put_object(lake["reports"], f"{RUN}/written-by-browser.txt", io.BytesIO(b"no"), 2)
    assert put.value.code == "AccessDenied"
    with pytest.raises(S3Error) as delete:
        ro.remove_object(lake["reports"], f"{RUN}/params.json")
    assert delete.value.code == "AccessDenied"
    assert minio_client(s).stat_object(lake["reports"], f"{RUN}/params.json").size > 0  # still there


@pytest.mark.parametrize("path", ["/", "/b/reports/", f"/b/reports/{RUN}/params.json", f"/v/reports/{RUN}/params.json"])
def test_a_logged_in_user_without_the_role_gets_403(stack, lake, admin, viewer, path):
    url = f"{stack.airflow_url}{URL_PREFIX}{path}"
    refused = httpx.get(url, timeout=30, headers=viewer)
    assert refused.status_code == 403, refused.text
    assert "radius_arcsec" not in refused.text and lake["reports"] + "/" not in refused.text
    assert httpx.get(url, timeout=30, headers=admin).status_code == 200


def test_a_folder_of_450_objects_comes_in_pages_of_200_with_a_checked_token(stack, lake, admin):
    url = f"{stack.airflow_url}{URL_PREFIX}/b/{lake['reports']}/{RUN}/many/"
    seen: list[str] = []
    pages = 0
    while url:
        resp = httpx.get(url, timeout=60, headers=admin)
        assert resp.status_code == 200
        names = _names(resp.text)
        assert len(names) <= 200
        seen += names
        pages += 1
        nxt = _next(resp.text)
        url = f"{stack.airflow_url}{nxt}" if nxt else None
    assert pages == 3 and len(seen) == N_PAGED and len(set(seen)) == N_PAGED
    assert seen == sorted(seen)
    outside = httpx.get(f"{stack.airflow_url}{URL_PREFIX}/b/{lake['reports']}/{RUN}/many/",
                        params={"token": f"{RUN}/other/x"}, timeout=30, headers=admin)
    assert outside.status_code == 400


def test_sorting_by_size_and_the_object_page_previews(stack, lake, admin):
    base = f"{stack.airflow_url}{URL_PREFIX}"
    by_size = httpx.get(f"{base}/b/{lake['reports']}/{RUN}/", params={"sort": "size", "order": "desc"},
                        timeout=30, headers=admin)
    assert by_size.status_code == 200
    names = _names(by_size.text)
    assert names[0] == "many/" and names[1] == "big.bin"  # folders first, then the largest object
    assert httpx.get(f"{base}/b/{lake['reports']}/{RUN}/", params={"sort": "owner"}, timeout=30,
                     headers=admin).status_code == 400
    parquet = httpx.get(f"{base}/v/{lake['reports']}/{RUN}/candidates.parquet", timeout=60, headers=admin)
    assert parquet.status_code == 200
    assert "id='parquet-schema'" in parquet.text and "p_assoc" in parquet.text and "500" in parquet.text
    assert "gaia_dr3:0" in parquet.text and "gaia_dr3:499" not in parquet.text  # first rows only
    text = httpx.get(f"{base}/v/{lake['reports']}/{RUN}/params.json", timeout=30, headers=admin)
    assert "&quot;radius_arcsec&quot;: 5" in text.text  # pretty-printed, escaped
    assert "script-src" not in text.headers["content-security-policy"]
    download = httpx.get(f"{base}/b/{lake['reports']}/{RUN}/big.bin", params={"download": "1"}, timeout=30,
                         headers=admin)
    assert download.headers["content-disposition"].startswith("attachment") and len(download.content) == 50_000


def test_a_catalogue_version_shows_its_summary_and_its_sky(stack, lake, admin):
    base = f"{stack.airflow_url}{URL_PREFIX}"
    folder = httpx.get(f"{base}/b/{lake['catalogs']}/{lake['catalog_prefix']}", timeout=30, headers=admin)
    assert folder.status_code == 200
    assert "id='catalog-summary'" in folder.text and "4,321" in folder.text and "17" in folder.text
    assert "2019.25" in folder.text and "committed" in folder.text
    sky = httpx.get(f"{base}/sky/{lake['catalogs']}/{lake['catalog_prefix']}", timeout=60, headers=admin)
    assert sky.status_code == 200 and sky.headers["content-type"] == "image/png" and sky.content[:4] == b"\x89PNG"
    assert httpx.get(f"{base}/sky/{lake['catalogs']}/{lake['catalog_prefix']}", timeout=30).status_code == 401
