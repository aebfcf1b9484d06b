"""The bucket browser's logic without a server: paging, page tokens, sorting, previews, roles, the catalogue
card and the read-only identity's rights (the object store and Airflow are exercised in the integration and
e2e tests)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radiolake.buckets import access, catalog_view, listing, pages, preview
from radiolake.config import ConfigError, Settings
from radiolake.stack.objectstore import browser_actions, pipeline_actions


def _entries(n: int, prefix: str = "p/") -> list[listing.Entry]:
    return [listing.Entry(f"{prefix}k{i:05d}", False, i, datetime(2026, 1, 1, tzinfo=UTC)) for i in range(n)]


def test_a_page_holds_at_most_the_page_size_and_points_to_the_next():
    page = listing.take_page(iter(_entries(450)), "p/", None, size=200)
    assert len(page.entries) == 200 and page.entries[0].name == "p/k00000"
    assert page.next_token == "p/k00199"
    last = listing.take_page(iter(_entries(450)[400:]), "p/", "p/k00399", size=200)
    assert len(last.entries) == 50 and last.next_token is None


def test_a_page_skips_the_folder_itself_and_a_folder_repeated_after_its_own_name():
    items = [listing.Entry("p/", True), listing.Entry("p/a/", True), listing.Entry("p/b", False, 1)]
    page = listing.take_page(iter(items), "p/", "p/a/", size=10)
    assert [e.name for e in page.entries] == ["p/b"]


def test_the_page_token_must_lie_inside_the_folder():
    assert listing.check_token("p/k1", "p/") == "p/k1"
    assert listing.check_token("", "p/") is None
    for bad in ("q/k1", "p/", "p/\x00", "p/" + "x" * 2000, "../p/k"):
        with pytest.raises(listing.BadRequest):
            listing.check_token(bad, "p/")


def test_folder_paths_are_checked():
    assert listing.check_prefix("") == "" and listing.check_prefix("a/b/") == "a/b/"
    for bad in ("a/b", "a//", "a/../", "./", "a/\n/"):
        with pytest.raises(listing.BadRequest):
            listing.check_prefix(bad)


def test_sorting_keeps_folders_first_and_orders_objects_by_the_chosen_column():
    t = [datetime(2026, 1, d, tzinfo=UTC) for d in (3, 1, 2)]
    entries = [listing.Entry("b.parquet", False, 30, t[0]), listing.Entry("z/", True),
               listing.Entry("a.png", False, 10, t[1]), listing.Entry("c.json", False, 20, t[2]),
               listing.Entry("a/", True)]
    by = {k: [e.name for e in listing.sort_entries(entries, k)] for k in listing.SORT_KEYS}
    assert by["name"] == ["a/", "z/", "a.png", "b.parquet", "c.json"]
    assert by["size"] == ["a/", "z/", "a.png", "c.json", "b.parquet"]
    assert by["modified"] == ["a/", "z/", "a.png", "c.json", "b.parquet"]
    assert by["type"] == ["a/", "z/", "c.json", "b.parquet", "a.png"]  # JSON < Parquet < PNG image
    assert [e.name for e in listing.sort_entries(entries, "size", descending=True)][2:] == \
        ["b.parquet", "c.json", "a.png"]
    with pytest.raises(listing.BadRequest):
        listing.sort_entries(entries, "owner")


def test_types_sizes_and_breadcrumbs_people_read():
    assert listing.type_label("x/y.parquet") == "Parquet" and listing.type_label("r/index.html") == "HTML"
    assert listing.type_label("a/b.yaml") == "YAML" and listing.type_label("CURRENT") == "file"
    assert listing.human_size(512) == "512 B" and listing.human_size(3 * 1024 * 1024) == "3.0 MiB"
    assert listing.breadcrumbs("catalogs", "a/b/") == [("catalogs", ""), ("a", "a/"), ("b", "a/b/")]


def test_the_listing_html_links_sort_columns_and_the_next_page_and_escapes_names():
    page = listing.Page("p/", [listing.Entry("p/<b>.png", False, 5, datetime(2026, 1, 1, tzinfo=UTC))], "p/<b>.png")
    html = pages.listing_table("reports", page, "size", False, None) + pages.pager("reports", page, "size", False, None)
    assert "<b>.png" not in html and "&lt;b&gt;.png" in html
    assert "sort=size&amp;order=desc" in html  # the active column flips its order
    assert "sort=name&amp;order=asc" in html
    assert 'data-sort="size"' in html and 'class="btn"' in html
    assert "token=p%2F%3Cb%3E.png" in html and "next page" in html
    assert "/buckets/v/reports/p/%3Cb%3E.png" in html and "download=1" in html


def test_preview_kinds():
    assert preview.preview_kind("a/sky.png") == "image" and preview.preview_kind("r/index.html") == "html"
    assert preview.preview_kind("c/v/dataset/Norder=3/Dir=0/Npix=1.parquet") == "parquet"
    assert {preview.preview_kind(k) for k in ("m.json", "d.yaml", "t.csv", "c/CURRENT")} == {"text"}
    assert preview.preview_kind("blob.bin") is None


def test_text_preview_pretty_prints_whole_json_and_cuts_at_a_line_when_truncated():
    whole = preview.text_preview(b'{"a":1,"b":[1,2]}', "m.json", 17)
    assert not whole.truncated and '"a": 1' in whole.text
    cut = preview.text_preview(b"line1\nline2\nhalf-li", "log.txt", 10_000)
    assert cut.truncated and cut.text == "line1\nline2\n"
    table = preview.text_preview(b"ra,dec\n1,2\n3,4\n", "t.csv", 15)
    assert table.rows == [["ra", "dec"], ["1", "2"], ["3", "4"]]


def test_parquet_preview_reads_footer_and_first_rows_of_the_first_row_group():
    table = pa.table({"ra": [float(i) for i in range(1000)], "name": [f"s{i}" for i in range(1000)]})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=100)
    buf.seek(0)
    pv = preview.parquet_preview(pa.BufferReader(buf.getvalue()), n_rows=5)
    assert pv.num_rows == 1000 and pv.num_row_groups == 10
    assert pv.schema == [("ra", "double"), ("name", "string")]
    assert pv.rows == [[0.0, "s0"], [1.0, "s1"], [2.0, "s2"], [3.0, "s3"], [4.0, "s4"]]
    assert preview.cell(1 / 3) == "0.333333" and preview.cell(None) == ""


def _meta() -> dict:
    return {"name": "racs", "version": "v1", "n_rows": 1234, "n_partitions": 2, "epoch_min": 2019.3,
            "epoch_max": 2021.1, "partitions": [{"order": 2, "pixel": 5, "rows": 1000},
                                                {"order": 3, "pixel": 100, "rows": 234}],
            "quarantine": {"rows_quarantined": 7, "reasons": {"dec_out_of_range": 7}, "path": "q.parquet"},
            "provenance": {"pipeline_version": "3", "raw": [{"name": "racs.csv"}]}}


def test_catalogue_version_summary_and_coverage_picture():
    assert catalog_view.is_version_folder("catalogs/racs/versions/v1/")
    assert not catalog_view.is_version_folder("catalogs/racs/versions/")
    s = catalog_view.summarise(_meta(), committed=True)
    assert (s.n_rows, s.n_partitions, s.healpix_orders, s.quarantined) == (1234, 2, [2, 3], 7)
    assert s.provenance["pipeline_version"] == "3"
    png = catalog_view.cached_coverage("catalogs", "racs/versions/v1/", "etag-1", _meta())
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert catalog_view.cached_coverage("catalogs", "racs/versions/v1/", "etag-1", {}) is png  # from memory


class _Manager:
    def __init__(self, allow: bool) -> None:
        self.allow = allow

    def is_authorized_custom_view(self, *, method: str, resource_name: str, user) -> bool:
        assert method == "GET" and resource_name == access.RESOURCE
        return self.allow


def test_reading_buckets_is_a_permission_of_a_role():
    admin, viewer = SimpleNamespace(role="admin"), SimpleNamespace(role="viewer")
    roles = access.allowed_roles({})
    assert roles == {"admin", "op", "user"}
    assert access.may_read_buckets(admin, _Manager(True), roles)
    assert not access.may_read_buckets(viewer, _Manager(True), roles)  # simple auth grants every custom view
    assert not access.may_read_buckets(admin, _Manager(False), roles)  # the auth manager says no
    fab_user = SimpleNamespace(roles=[SimpleNamespace(name="Op")])
    assert access.may_read_buckets(fab_user, _Manager(True), roles)
    assert access.allowed_roles({access.ROLES_ENV: "admin"}) == {"admin"}
    assert not access.may_read_buckets(SimpleNamespace(role=None), _Manager(True), roles)


def _settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, s3_endpoint="http://127.0.0.1:1", s3_access_key="PIPE", s3_secret_key="pipe")


def test_the_browser_never_reads_with_the_pipeline_key(tmp_path):
    with pytest.raises(ConfigError, match="no read-only S3 identity"):
        access.browser_credentials(_settings(tmp_path), {})
    with pytest.raises(ConfigError, match="pipeline's key"):
        access.browser_credentials(_settings(tmp_path), {access.ACCESS_KEY_ENV: "PIPE", access.SECRET_KEY_ENV: "x"})
    (tmp_path / "secrets.json").write_text(json.dumps({"s3_browser_access_key": "RO", "s3_browser_secret_key": "s"}))
    assert access.browser_credentials(_settings(tmp_path), {}) == ("RO", "s")


def test_the_browser_identity_may_read_and_list_but_not_write():
    buckets = ["catalogs", "reports"]
    assert set(browser_actions(buckets)) == {"Read:catalogs", "List:catalogs", "Read:reports", "List:reports"}
    assert not any(a.startswith(("Write", "Admin", "Tagging")) for a in browser_actions(buckets))
    assert set(browser_actions(buckets)) < set(pipeline_actions(buckets))


def test_embedded_minio_gives_the_browser_the_compose_read_only_policy():
    import os
    import subprocess

    from radiolake.config import DEFAULT_BUCKETS, repo_root
    from radiolake.stack.objectstore import MINIO_BROWSER_POLICY, minio_browser_policy, provision_minio_browser

    env = {"PATH": os.environ["PATH"], **{f"RADIOLAKE_BUCKET_{k.upper()}": f"b-{k}" for k in DEFAULT_BUCKETS}}
    out = subprocess.run(["sh", str(repo_root() / "docker" / "minio" / "init.sh"), "--print-browser-policy"],
                         env=env, capture_output=True, text=True, check=True).stdout
    buckets = [f"b-{k}" for k in ("raw", "catalogs", "xmatch", "reports")]
    assert json.loads(out) == minio_browser_policy(buckets)

    calls: list[tuple] = []
    admin = SimpleNamespace(policy_add=lambda name, policy=None: calls.append(("policy_add", name)),
                            user_add=lambda key, secret: calls.append(("user_add", key)),
                            policy_set=lambda name, user=None: calls.append(("policy_set", name, user)))
    provision_minio_browser(admin, {"s3_browser_access_key": "RO", "s3_browser_secret_key": "x"}, buckets)
    assert calls == [("policy_add", MINIO_BROWSER_POLICY), ("user_add", "RO"),
                     ("policy_set", MINIO_BROWSER_POLICY, "RO")]
