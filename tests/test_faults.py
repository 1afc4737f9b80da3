"""Database faults injected for real: gunicorn talks to PostgreSQL through a proxy we control.

The proxy forwards, then refuses (closes every connection: PostgreSQL stopped), then freezes
(accepts TCP, never answers: a hung database host), then forwards again. Devices, the API and
/healthz must answer 503 with Retry-After within a few seconds throughout, recover without a
restart, and the log must say once that the database went away and once that it is back.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.helpers import Server, free_port, postgres_drop, postgres_recreate

PG_URI = "postgres://postgres@127.0.0.1:5432/postgres"
DB_NAME = f"goosebit_faults_{os.getpid()}"


class FaultProxy:
    """A TCP proxy to PostgreSQL in one of three modes: forward, refuse, freeze."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.mode = "forward"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
            elif self.mode == "freeze":
                self._track(client)  # held open, never read from or answered
            else:
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                self._track(client)
                self._track(upstream)
                threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
                threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _pipe(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError:
            pass
        for sock in (source, destination):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def set_mode(self, mode: str) -> None:
        """Switching away from forward cuts every open connection, as a stopped server does."""
        if mode == self.mode:
            return
        self.mode = mode
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._stopped = True
        self._listener.close()
        self.set_mode("closed")


@pytest.fixture(scope="module")
def proxied_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, FaultProxy]]:
    uri = postgres_recreate(PG_URI, DB_NAME)
    proxy = FaultProxy(("127.0.0.1", 5432))
    proxied_uri = urlsplit(uri)._replace(netloc=f"postgres@127.0.0.1:{proxy.port}").geturl()
    directory = tmp_path_factory.mktemp("faults")
    server = Server(
        directory,
        db_uri=proxied_uri,
        workers=1,
        extra_env={"GOOSEBIT_DB_CONNECT_TIMEOUT": "2", "GOOSEBIT_DB_STATEMENT_TIMEOUT": "5"},
    )
    # A file a worker killed mid-upload left behind: the gunicorn master removes it at start.
    uploads = directory / "data" / "tmp" / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "tmp-left-by-a-killed-worker.upload.swu").write_bytes(b"partial")
    try:
        server.start()
        yield server, proxy
    finally:
        server.stop()
        proxy.close()
        postgres_drop(PG_URI, DB_NAME)


def request(url: str, *, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes, float]:
    started = time.monotonic()
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as response:
            return response.status, dict(response.headers), response.read(), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read(), time.monotonic() - started


API_AUTH = {"Authorization": "Basic " + base64.b64encode(b"nobody:wrong").decode()}


def assert_unavailable(server: Server, *, within: float) -> None:
    status, headers, body, elapsed = request(server.ddi_url("dev-1"))
    assert (status, headers.get("Retry-After")) == (503, "10"), body
    assert elapsed < within
    assert json.loads(body) == {
        "exceptionClass": "org.springframework.dao.DataAccessResourceFailureException",
        "errorCode": "hawkbit.server.error.serviceUnavailable",
        "message": "The database is unavailable; try again later.",
    }

    status, headers, body, elapsed = request(f"{server.base_url}/api/v1/software/", headers=API_AUTH)
    assert (status, headers.get("Retry-After")) == (503, "10"), body
    assert json.loads(body) == {"detail": "The database is unavailable; try again later."}
    assert elapsed < within

    status, headers, body, elapsed = request(f"{server.base_url}/healthz")
    assert (status, headers.get("Retry-After"), json.loads(body)) == (
        503,
        "10",
        {"status": "error", "database": "unreachable"},
    )
    assert elapsed < within


def test_an_outage_answers_503_with_retry_after_logs_once_and_recovers_without_restart(
    proxied_server: tuple[Server, FaultProxy],
) -> None:
    server, proxy = proxied_server
    assert request(server.ddi_url("dev-1"))[0] == 200

    proxy.set_mode("refuse")
    for _ in range(3):
        assert_unavailable(server, within=3)

    proxy.set_mode("freeze")
    for _ in range(2):
        # connect_timeout is 2 s here: a hung database costs each request about that, not forever.
        assert_unavailable(server, within=6)

    proxy.set_mode("forward")
    assert request(server.ddi_url("dev-1"))[0] == 200
    status, _, body, _ = request(f"{server.base_url}/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok", "database": "ok"})
    assert server.process is not None and server.process.poll() is None

    log = Path(server.log).read_text(errors="replace")
    assert len(server.log_lines("database unavailable, answering 503")) == 1, log
    assert len(server.log_lines("database is back")) == 1, log
    assert "Traceback" not in log


def test_the_server_start_removes_stale_upload_temp_files(proxied_server: tuple[Server, FaultProxy]) -> None:
    server, _ = proxied_server
    assert list((server.directory / "data" / "tmp" / "uploads").iterdir()) == []
    assert len(server.log_lines("removed 1 stale upload temp file(s)")) == 1


def test_a_client_that_disconnects_mid_upload_leaves_no_temp_file_and_no_row(
    proxied_server: tuple[Server, FaultProxy],
) -> None:
    server, proxy = proxied_server
    proxy.set_mode("forward")
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.filter(username='uploader').exists() or "
        "User.objects.create_superuser('uploader', password='pw-for-faults')",
    )
    boundary = "faultsboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.swu"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    announced = 8 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            (
                "POST /api/v1/software/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Basic {base64.b64encode(b'uploader:pw-for-faults').decode()}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {announced}\r\n\r\n"
            ).encode()
            + head
        )
        for _ in range(3):  # 3 MiB of an announced 8 MiB, then the client is gone
            sock.sendall(b"x" * 1024 * 1024)
        time.sleep(0.5)
    uploads = server.directory / "data" / "tmp" / "uploads"

    def settled() -> bool:
        return list(uploads.iterdir()) == [] and bool(server.log_lines("POST /api/v1/software/"))

    deadline = time.monotonic() + 10
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(uploads.iterdir()) == []
    assert server.log_lines('"POST /api/v1/software/ HTTP/1.1" 400'), server.diagnostics()
    count = server.manage(
        "shell", "-c", "from software.models import Software; print(Software.objects.count())"
    )
    assert count.strip().splitlines()[-1] == "0"
