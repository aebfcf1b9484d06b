"""The HTTP plumbing the in-process TAP servers of the ingest tests share (test_tap, test_footprint_fetch):
each test's handler decides what to answer; these start the server on a free loopback port and send a VOTable."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from astropy.io.votable.tree import VOTableFile


def send_votable(handler: BaseHTTPRequestHandler, votable: VOTableFile) -> None:
    """Answer 200 with `votable` as TAP's VOTable body."""
    out = io.BytesIO()
    votable.to_xml(out)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/x-votable+xml")
    handler.end_headers()
    handler.wfile.write(out.getvalue())


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """A server on 127.0.0.1 (a free port) running in a daemon thread, and its /tap URL; shut it down after."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/tap"
