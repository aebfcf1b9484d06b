"""Bucket browser benchmark: a folder of 10,000 objects listed through the app (the api-server's plugin).

Puts `--objects` small objects under `reports/bench-browser/` (once; a rerun finds them), signs in as the
admin, and times through HTTP: the first page (200 entries), the same page sorted by size, and walking every
page with the "next" token; next to it, one S3 listing of the whole folder with the browser's key. The
issue asks the first page to answer within a second or two on this machine.

Usage: python benchmarks/bucket_browser.py [--objects 10000] [--repeat 3]
Needs the embedded stack with Airflow: `radiolake stack up`.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx

from radiolake.buckets import URL_PREFIX
from radiolake.buckets.access import browser_client
from radiolake.config import get_settings
from radiolake.lake import minio_client, put_bytes

PREFIX = "bench-browser/"


def ensure_objects(settings, n: int) -> None:
    bucket = settings.bucket("reports")
    client = minio_client(settings)
    have = sum(1 for _ in client.list_objects(bucket, prefix=PREFIX, recursive=True))
    if have >= n:
        return
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: put_bytes(bucket, f"{PREFIX}obj-{i:06d}.json", b'{"i": %d}' % i, client=client),
                      range(n)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    if not settings.airflow_url:
        raise SystemExit("no Airflow: start the embedded stack (`radiolake stack up`)")
    password = json.loads((settings.home / "secrets.json").read_text())["airflow_admin_password"]
    t0 = time.perf_counter()
    ensure_objects(settings, args.objects)
    print(f"objects ready under reports/{PREFIX} in {time.perf_counter() - t0:.1f} s")
    bucket = settings.bucket("reports")
    with httpx.Client(base_url=settings.airflow_url, timeout=120) as http:
        token = http.post("/auth/token", json={"username": "admin", "password": password}).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        folder = f"{URL_PREFIX}/b/{bucket}/{PREFIX}"

        def timed(url: str, **params) -> tuple[float, str]:
            start = time.perf_counter()
            resp = http.get(url, params=params)
            resp.raise_for_status()
            return time.perf_counter() - start, resp.text

        first = [timed(folder)[0] for _ in range(args.repeat)]
        by_size = [timed(folder, sort="size", order="desc")[0] for _ in range(args.repeat)]
        start, pages, url, params = time.perf_counter(), 0, folder, {}
        while True:
            _, text = timed(url, **params)
            pages += 1
            nxt = re.search(r'href="([^"]+)" class="btn" rel="next"', text)
            if not nxt:
                break
            params = {k: v[0] for k, v in parse_qs(urlsplit(html.unescape(nxt.group(1))).query).items()}
        walk = time.perf_counter() - start
    start = time.perf_counter()
    n = sum(1 for _ in browser_client(settings).list_objects(bucket, prefix=PREFIX))
    s3_all = time.perf_counter() - start
    print(f"first page of {args.objects:,} objects (200 rows) through the app: median "
          f"{statistics.median(first):.3f} s (min {min(first):.3f}, {args.repeat} runs)")
    print(f"first page sorted by size, descending: median {statistics.median(by_size):.3f} s")
    print(f"every page with the next token: {pages} pages in {walk:.2f} s ({walk / pages:.3f} s a page)")
    print(f"one S3 listing of all {n:,} keys with the browser's key (no app): {s3_all:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
