"""How much memory does a big upload cost the server? Prints the figures, changes nothing.

It generates a .swu of ``--size-mb`` megabytes (default 400) in a temporary directory, starts
gunicorn (one worker) on 127.0.0.1 with a temporary SQLite database and data directory, creates
a superuser, uploads the package through ``POST /api/v1/software/`` with HTTP Basic auth while
streaming the request body from disk, and reports the worker's resident memory before the
upload and its peak (``VmHWM`` from /proc) afterwards. Everything it started is stopped and
every file it wrote is removed.

    python bench/upload_memory.py [--size-mb 400]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.packages import _cpio_entry, sw_description  # noqa: E402

BOUNDARY = "----goosebit-bench-boundary"
BLOCK = 1024 * 1024
PASSWORD = "bench-password-not-secret"
GUNICORN_CONF = ROOT / "goosebit_project" / "gunicorn_conf.py"


def build_large_swu(path: Path, size_mb: int) -> None:
    """A valid .swu with one image entry of ``size_mb`` MiB, written without holding it in memory."""
    description = sw_description(
        {
            "software": {
                "version": "1.0.0",
                "bench": {
                    "hardware-compatibility": ["1"],
                    "files": [{"filename": "rootfs.img", "type": "rawfile", "path": "out/rootfs.img"}],
                },
            }
        }
    )
    image_size = size_mb * BLOCK
    block = os.urandom(BLOCK)
    with path.open("wb") as out:
        out.write(_cpio_entry("sw-description", description, ino=1, crc=False))
        # The header of the big entry, then its data block by block, then cpio padding + trailer.
        header = _cpio_entry("rootfs.img", b"", ino=2, crc=False)
        name_part = header[110:]
        fields = bytearray(header[:110])
        fields[54:62] = b"%08X" % image_size
        out.write(bytes(fields) + name_part)
        for _ in range(size_mb):
            out.write(block)
        out.write(b"\0" * (-image_size % 4))
        out.write(_cpio_entry("TRAILER!!!", b"", ino=0, crc=False))
        out.write(b"\0" * (-out.tell() % 512))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def memory_kb(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux >= 4.0, same user)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def request(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


SESSION_SCRIPT = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.get(username="bench")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def session_headers(manage: list[str], env: dict[str, str]) -> dict[str, str]:
    """A logged-in session made directly in the database (the admin login page needs static
    files collected); requests with it authenticate without a password check."""
    command = [*manage, "shell", "-c", SESSION_SCRIPT]
    result = subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    csrf = secrets.token_hex(16)  # 32 characters: a valid unmasked CSRF secret
    return {"Cookie": f"csrftoken={csrf}; sessionid={result.stdout.split()[-1]}", "X-CSRFToken": csrf}


def upload(port: int, path: Path, headers: dict[str, str]) -> tuple[int, bytes]:
    """multipart/form-data with the file streamed from disk in 1 MiB blocks."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.putrequest("POST", "/api/v1/software/")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
        connection.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
        connection.endheaders()
        connection.send(head)
        with path.open("rb") as source:
            while chunk := source.read(BLOCK):
                connection.send(chunk)
        connection.send(tail)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=400)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="goosebit-bench-"))
    server = None
    try:
        package = workdir / "large.swu"
        build_large_swu(package, args.size_mb)
        size = package.stat().st_size

        port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "goosebit_project.settings",
            "GOOSEBIT_DATA_DIR": str(workdir / "data"),
            "GOOSEBIT_DB_URI": f"sqlite:///{workdir / 'db.sqlite3'}",
            "GOOSEBIT_SECRET_KEY": "bench-only",
            "GOOSEBIT_STORAGE__BACKEND": "filesystem",
            "GOOSEBIT_MAX_UPLOAD_SIZE": str(size * 2),
            "GOOSEBIT_BIND": "127.0.0.1",
            "GOOSEBIT_PORT": str(port),
            "GOOSEBIT_WORKERS": "1",
            "GOOSEBIT_THREADS": "2",
            "GOOSEBIT_LOG_LEVEL": "WARNING",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
            "TMPDIR": str(workdir / "tmp"),
        }
        (workdir / "tmp").mkdir()
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True)
        subprocess.run(
            [*manage, "createsuperuser", "--no-input", "--username", "bench", "--email", "b@example.com"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "goosebit_project.wsgi", "-c", str(GUNICORN_CONF)],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        auth = "Basic " + base64.b64encode(f"bench:{PASSWORD}".encode()).decode()
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(port, "GET", "/healthz", {})[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("gunicorn did not come up")
            time.sleep(0.2)
        workers = children(server.pid)
        if len(workers) != 1:
            raise SystemExit(f"expected one gunicorn worker, found {workers}")
        worker = workers[0]
        basic = {"Authorization": auth}
        # Warm up: import every module an upload touches.
        assert request(port, "GET", "/api/v1/software/", basic)[0] == 200
        session = session_headers(manage, env)
        with package.open("rb") as source:
            digest = hashlib.file_digest(source, "sha256").hexdigest()

        def measured_upload(headers: dict[str, str]) -> tuple[int, float, int]:
            reset_peak(worker)
            before = memory_kb(worker)["VmRSS"]
            started = time.monotonic()
            status, body = upload(port, package, headers)
            elapsed = time.monotonic() - started
            if status != 201:
                raise SystemExit(f"upload failed: {status} {body[:500]!r}")
            created = json.loads(body)
            assert created["sha256"] == digest, "stored package differs"
            growth = memory_kb(worker)["VmHWM"] - before
            # Delete it again so the next upload of the same bytes is not a duplicate.
            assert request(port, "DELETE", f"/api/v1/software/{created['id']}/", basic)[0] == 204
            return before, elapsed, growth

        rss, elapsed, session_growth = measured_upload(session)
        _, _, basic_growth = measured_upload(basic)

        print(f"package size:                        {size / 1e6:9.1f} MB")
        print(f"upload time:                         {elapsed:9.1f} s ({size / 1e6 / elapsed:.0f} MB/s)")
        print(f"worker RSS before the upload:        {rss / 1024:9.1f} MiB")
        print(
            f"peak RSS growth, session auth:       {session_growth / 1024:9.1f} MiB "
            f"= {session_growth * 1024 / size:.2%} of the file"
        )
        print(
            f"peak RSS growth, HTTP Basic auth:    {basic_growth / 1024:9.1f} MiB "
            "(argon2 checks the password on every Basic request: ~100 MiB, whatever the size)"
        )
        return 0
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
