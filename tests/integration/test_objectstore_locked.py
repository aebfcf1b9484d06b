"""The embedded SeaweedFS serves nothing without a key: real HTTP requests to each of its ports, as any
local user could send them. Only the S3 API answers, and only to a signed request; the pipeline's identity
reaches the lake's buckets and nothing else."""

from __future__ import annotations

import io
import stat

import httpx
import psutil
import pytest
from minio import Minio
from minio.error import S3Error

from radiolake.lake import minio_client, put_bytes

pytestmark = pytest.mark.integration

SECRET = b"radiolake-locked-object-payload"
KEY = "it-locked/secret.txt"


@pytest.fixture(scope="module")
def stored(stack):
    if stack.stack.objectstore.kind != "seaweedfs":
        pytest.fail("these checks are for the embedded SeaweedFS (RADIOLAKE_S3_SERVER=seaweedfs)")
    bucket = stack.settings.bucket("raw")
    put_bytes(bucket, KEY, SECRET, content_type="text/plain")
    return bucket


def url(stack, port_name: str, path: str) -> str:
    return f"http://127.0.0.1:{stack.stack.ports[port_name]}{path}"


def refused(resp: httpx.Response) -> bool:
    return resp.status_code >= 400 and SECRET not in resp.content and b"it-locked" not in resp.content


def test_filer_http_lists_serves_and_takes_nothing(stack, stored):
    for path in ("/", "/buckets/", f"/buckets/{stored}/", f"/buckets/{stored}/{KEY}", f"/buckets/{stored}/?pretty=y"):
        assert refused(httpx.get(url(stack, "s3_filer", path), timeout=10)), path
    put = httpx.put(url(stack, "s3_filer", f"/buckets/{stored}/planted.txt"), content=b"x", timeout=10)
    post = httpx.post(url(stack, "s3_filer", f"/buckets/{stored}/"), files={"file": ("p.txt", b"x")}, timeout=10)
    assert put.status_code >= 400 and post.status_code >= 400
    assert httpx.delete(url(stack, "s3_filer", f"/buckets/{stored}/{KEY}"), timeout=10).status_code >= 400
    assert minio_client(stack.settings).get_object(stored, KEY).read() == SECRET  # still there


def test_master_http_assigns_submits_and_deletes_nothing(stack, stored):
    for path in ("/dir/assign", "/dir/status", "/vol/status", f"/col/delete?collection={stored}",
                 "/vol/grow?count=1", "/dir/lookup?volumeId=1"):
        assert refused(httpx.get(url(stack, "s3_master", path), timeout=10)), path
    # The master's status page stays (cluster topology: volume counts and sizes), but names no object.
    status_page = httpx.get(url(stack, "s3_master", "/"), timeout=10)
    assert SECRET not in status_page.content and b"it-locked" not in status_page.content
    submit = httpx.post(url(stack, "s3_master", "/submit"), files={"file": ("p.txt", b"x")}, timeout=10)
    assert submit.status_code >= 400
    assert minio_client(stack.settings).get_object(stored, KEY).read() == SECRET


def test_volume_server_reads_writes_and_deletes_nothing_without_a_jwt(stack, stored):
    fid = "1,01637037d6"
    for resp in (httpx.get(url(stack, "s3_volume", f"/{fid}"), timeout=10),
                 httpx.post(url(stack, "s3_volume", f"/{fid}"), files={"file": ("p.txt", b"x")}, timeout=10),
                 httpx.delete(url(stack, "s3_volume", f"/{fid}"), timeout=10),
                 httpx.get(url(stack, "s3_volume", "/ui/index.html"), timeout=10)):
        assert resp.status_code == 401, (resp.request.method, resp.request.url, resp.status_code)


def test_s3_api_needs_a_signature(stack, stored):
    for path in (f"/{stored}/", f"/{stored}/{KEY}"):
        resp = httpx.get(url(stack, "s3", path), timeout=10)  # the error echoes the path, nothing more
        assert resp.status_code == 403 and SECRET not in resp.content and b"<Contents>" not in resp.content
    assert httpx.put(url(stack, "s3", f"/{stored}/planted.txt"), content=b"x", timeout=10).status_code == 403
    wrong = Minio(f"127.0.0.1:{stack.stack.ports['s3']}", access_key=stack.settings.s3_access_key,
                  secret_key="wrong-secret-key-000000", secure=False, region=stack.settings.s3_region)
    with pytest.raises(S3Error):
        wrong.get_object(stored, KEY)


def test_pipeline_identity_has_only_the_rights_it_needs(stack, stored):
    pipeline = minio_client(stack.settings)
    admin = stack.stack.objectstore.admin_client()
    if not admin.bucket_exists("it-not-the-lake"):
        admin.make_bucket("it-not-the-lake")
    with pytest.raises(S3Error) as made:
        pipeline.make_bucket("it-pipeline-made-this")
    assert made.value.code == "AccessDenied"
    for action in (lambda: list(pipeline.list_objects("it-not-the-lake")),
                   lambda: pipeline.put_object("it-not-the-lake", "k", io.BytesIO(b"x"), 1)):
        with pytest.raises(S3Error) as denied:
            action()
        assert denied.value.code == "AccessDenied"
    pipeline.put_object(stored, "it-locked/rw.txt", io.BytesIO(b"rw"), 2)  # its own work: read, write, delete
    assert [o.object_name for o in pipeline.list_objects(stored, prefix="it-locked/rw")] == ["it-locked/rw.txt"]
    pipeline.remove_object(stored, "it-locked/rw.txt")


def test_every_port_binds_loopback_and_key_files_are_private(stack, stored):
    proc = psutil.Process(stack.stack.objectstore.pid())
    listening = [c.laddr for p in [proc, *proc.children(recursive=True)]
                 for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening and {addr.ip for addr in listening} == {"127.0.0.1"}
    for name in ("security.toml", "identities.json"):
        mode = (stack.stack.objectstore.root / name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600, name


@pytest.mark.parametrize("port_name", ["s3_master_grpc", "s3_filer_grpc", "s3_volume_grpc", "s3_grpc"])
def test_grpc_ports_refuse_clients_without_the_server_s_certificate(stack, stored, port_name):
    # gRPC carries no JWT: without mutual TLS, a plaintext gRPC client could list the filer or get write
    # tokens from the master. Plaintext gets nothing; TLS without a client certificate is refused.
    import socket
    import ssl

    port = stack.stack.ports[port_name]
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        plain.sendall(preface)
        try:
            answer = plain.recv(100)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert answer == b"", f"{port_name} answered plaintext HTTP/2: {answer[:20]!r}"
    tls_dir = stack.stack.objectstore.root / "tls"
    context = ssl.create_default_context(cafile=str(tls_dir / "ca.crt"))
    context.check_hostname = False
    context.set_alpn_protocols(["h2"])
    with (pytest.raises((ssl.SSLError, ConnectionResetError)),  # noqa: PT012 - refused on first I/O
          context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) as anonymous):
        anonymous.sendall(preface)
        anonymous.recv(100)
    context.load_cert_chain(tls_dir / "grpc.crt", tls_dir / "grpc.key")  # the server's own: accepted
    with context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10)) as holder:
        holder.sendall(preface)
        assert holder.recv(9)[3:4] == b"\x04", "a SETTINGS frame back"
    assert stat.S_IMODE((tls_dir / "grpc.key").stat().st_mode) == 0o600
