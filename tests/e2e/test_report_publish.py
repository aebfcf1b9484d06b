"""Publishing a run report to the real S3 server of the stack: index last, reruns overwrite in place."""

from __future__ import annotations

import numpy as np
import pytest

from radiolake.lake import ensure_buckets, get_bytes, list_keys, minio_client
from radiolake.reports import RunCounts, build_run_summary, publish_report, render_figures
from tests.unit.reports.skies import sky_frames


class RecordingClient:
    """The real MinIO client, noting the order of the keys it writes (to check index.html comes last)."""

    def __init__(self, client):
        self._client = client
        self.written: list[str] = []

    def put_object(self, bucket, key, *args, **kwargs):
        self.written.append(key)
        return self._client.put_object(bucket, key, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.mark.integration
def test_publish_report_writes_index_last_and_reruns_idempotently(stack):
    settings = stack.settings
    ensure_buckets(settings)
    sky = sky_frames("cone:200,10,3", n_stars=1500)
    rng = np.random.default_rng(5)
    figures = render_figures(sky["radio"], sky["candidates"], sky["stars"], rng.uniform(0, 4, 80),
                             4 * np.sqrt(rng.uniform(0, 1, 400)), 5)
    counts = RunCounts(rows_in={"synthetic_radio": len(sky["radio"]), "synthetic_stars": len(sky["stars"])},
                       n_pairs=80, n_best=60, candidates_by_grade={"A": 5, "B": 7}, expected_false_matches=1.5)
    summary = build_run_summary("e2e-report-run", counts, figures)
    client = RecordingClient(minio_client(settings))
    uris = publish_report("e2e-report-run", figures, summary, settings, client=client)

    bucket = settings.bucket("reports")
    assert client.written[-1] == "e2e-report-run/index.html"
    assert uris[-1] == f"s3://{bucket}/e2e-report-run/index.html"
    keys = sorted(list_keys(bucket, "e2e-report-run/", client=client._client))
    expected = sorted(["e2e-report-run/index.html", "e2e-report-run/summary.md"]
                      + [f"e2e-report-run/{n}.png" for n in figures])
    assert keys == expected
    for name, data in figures.items():
        assert get_bytes(bucket, f"e2e-report-run/{name}.png", client=client._client) == data
    assert get_bytes(bucket, "e2e-report-run/summary.md", client=client._client).decode() == summary[0]

    publish_report("e2e-report-run", figures, summary, settings)  # rerun: same keys, nothing added
    assert sorted(list_keys(bucket, "e2e-report-run/", client=client._client)) == expected
