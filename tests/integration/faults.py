"""How the fault tests kill a service: SIGKILL, as a crash would, never a clean shutdown."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil


def kill_postgres(data_dir: Path) -> None:
    """SIGKILL the postmaster (a crash, not a shutdown), then wait until no backend of it is left."""
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    postmaster = psutil.Process(pid)
    backends = postmaster.children(recursive=True)
    postmaster.send_signal(signal.SIGKILL)
    _, alive = psutil.wait_procs([postmaster, *backends], timeout=30)
    for proc in alive:
        proc.kill()


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by `pid` (a service and every child it runs), and wait for them."""
    group = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    psutil.wait_procs(group, timeout=30)
