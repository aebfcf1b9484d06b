"""Errors the stack raises: always naming the service and the log file to read."""

from __future__ import annotations

from pathlib import Path


class StackError(RuntimeError):
    """A service could not be started/stopped; the message names it and its log."""

    def __init__(self, service: str, message: str, log_file: Path | None = None, log_tail: str = "") -> None:
        self.service = service
        self.log_file = log_file
        text = f"{service}: {message}"
        if log_file is not None:
            text += f"\n  log: {log_file}"
        if log_tail.strip():
            indented = "\n".join("    " + line for line in log_tail.strip().splitlines())
            text += f"\n  last lines of the log:\n{indented}"
        super().__init__(text)


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
