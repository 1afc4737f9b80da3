#!/usr/bin/env python3
"""DDI fuzzing against the real server: gunicorn with the production configuration.

Starts gunicorn (goosebit_project/gunicorn_conf.py) on a free loopback port with a throwaway
SQLite database (or a throwaway PostgreSQL database with ``--pg``), creates a device with a
running update, one with a cancel under way and a stored package, then sends ``--requests``
hostile DDI requests (tests/ddi/fuzzing.py: every endpoint, odd methods, headers, tenants and
ids, hostile JSON and raw bytes) from a seeded generator over kept-alive connections, plus
chunked bodies. It prints the count per status code and every 5xx with its request, stops what
it started, and exits 1 on any 5xx or on a 4xx JSON body that is not hawkBit's error shape.

    python bench/fuzz_ddi.py                         # 10,000 requests on SQLite
    python bench/fuzz_ddi.py --requests 40000 --seed 7 --pg postgres://postgres@127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ddi.fuzzing import FuzzRequest, Target, fuzz_request, problems  # noqa: E402
from tests.e2e.helpers import (  # noqa: E402
    ServerFailed,
    free_port,
    spawn_gunicorn,
    stop_process_group,
    wait_until_healthy,
)

SETUP_CODE = r"""
import hashlib
from django.core.files.base import ContentFile
from devices.models import Device, Hardware
from rollouts.models import Action
from software.services import software_create_from_file

hardware, _ = Hardware.objects.get_or_create(model="board", revision="1")

def software(version):
    content = f"fuzz package {version}".encode() * 100
    # A release of one module holding the file (a raw artifact: the bytes are no real package).
    return software_create_from_file(
        file=ContentFile(content, name=f"fuzz-{version}.swu"), filename=f"fuzz-{version}.swu",
        version=version, compatibility=[hardware],
    )

def device(controller_id, package, status, state):
    dev = Device.objects.create(controller_id=controller_id, hardware=hardware, sw_version="1.0.0",
                                attributes={"hw_boardname": "board", "hw_revision": "1"},
                                update_mode="assigned", assigned_software=package, state=state)
    return Action.objects.create(device=dev, software=package, reason="assigned", status=status)

update = software("2.0.0")
running = device("fuzz-dev-1", update, "pending", "pending")
canceling = device("fuzz-dev-2", software("3.0.0"), "canceling", "canceling")
artifact = update.modules.get().artifacts.get()
print("TARGET", running.pk, artifact.module_id, artifact.filename, canceling.pk)
"""


def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


class Server:
    """gunicorn on 127.0.0.1 with its own data dir and database; stopped as a process group."""

    def __init__(self, workdir: Path, db_uri: str, workers: int) -> None:
        self.port = free_port()
        env_file = workdir / "empty.env"
        env_file.write_text("")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GOOSEBIT_")}
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "goosebit_project.settings",
                "GOOSEBIT_ENV_FILE": str(env_file),  # a developer's .env must not leak in
                "GOOSEBIT_DATA_DIR": str(workdir / "data"),
                "GOOSEBIT_SECRET_KEY": "fuzz-only-secret-key",
                "GOOSEBIT_DB_URI": db_uri,
                "GOOSEBIT_BIND": "127.0.0.1",
                "GOOSEBIT_PORT": str(self.port),
                "GOOSEBIT_WORKERS": str(workers),
                "GOOSEBIT_LOG_LEVEL": "ERROR",
            }
        )
        self.log_path = workdir / "gunicorn.log"
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise SystemExit(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self) -> None:
        self.manage("migrate", "--no-input", "--verbosity", "0")
        self.process = spawn_gunicorn(env=self.env, log=self.log_path)
        try:
            wait_until_healthy(self.process, f"http://127.0.0.1:{self.port}", self.log_path)
        except ServerFailed as failure:
            raise SystemExit(str(failure)) from None

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, grace=15)


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.failures: list[str] = []

    def record(self, status: str, failure: str | None = None) -> None:
        with self.lock:
            self.statuses[status] += 1
            if failure:
                self.failures.append(failure)


def _send(
    port: int, connection: http.client.HTTPConnection | None, request: FuzzRequest, timeout: float
) -> tuple[int, str, bytes, http.client.HTTPConnection | None]:
    if connection is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    # Raw UTF-8 in header values, as a broken client sends it (http.client encodes str as latin-1).
    headers = {name: value.encode("utf-8", "surrogatepass") for name, value in request.headers.items()}
    connection.request(request.method, request.path, body=request.body or None, headers=headers)
    response = connection.getresponse()
    content = response.read() if request.method != "HEAD" else b""
    reusable = not response.will_close
    return (
        response.status,
        response.getheader("Content-Type", ""),
        content,
        (connection if reusable else None),
    )


def worker(
    port: int, target: Target, seed: int, count: int, deadline: float, timeout: float, results: Results
) -> None:
    rng = random.Random(seed)
    connection: http.client.HTTPConnection | None = None
    for _ in range(count):
        if time.monotonic() > deadline:
            return
        request = fuzz_request(rng, target)
        try:
            status, content_type, content, connection = _send(port, connection, request, timeout)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # A connection the server closed after an answer it was entitled to give: retry once.
            if connection is not None:
                connection.close()
            connection = None
            try:
                status, content_type, content, connection = _send(port, None, request, timeout)
            except (OSError, ValueError, http.client.HTTPException) as second:
                results.record(
                    f"error:{type(second).__name__}", f"{second!r} ({exc!r}): {request.describe()}"
                )
                continue
        found = problems(status, content_type, content)
        results.record(str(status), f"{found}: {request.describe()} -> {content[:300]!r}" if found else None)
    if connection is not None:
        connection.close()


def check_chunked(port: int, target: Target, results: Results) -> None:
    """Chunked bodies (no Content-Length) are read: configData and a feedback arrive whole."""
    base = f"/DEFAULT/controller/v1/{quote(target.controller_id)}"
    bodies = [
        (
            "PUT",
            f"{base}/configData",
            {"data": {"hw_boardname": "board", "hw_revision": "1", "chunked": "yes"}},
        ),
        (
            "POST",
            f"{base}/deploymentBase/{target.action_id}/feedback",
            {"status": {"execution": "proceeding", "result": {"finished": "none"}, "details": ["chunked"]}},
        ),
    ]
    for method, path, body in bodies:
        raw = json.dumps(body).encode()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request(
            method,
            path,
            body=iter([raw[:10], raw[10:]]),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        content = response.read()
        connection.close()
        failure = (
            None if response.status == 200 else f"chunked {method} {path}: {response.status} {content!r}"
        )
        results.record(f"chunked:{response.status}", failure)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=10_000, help="how many fuzzed requests (default 10,000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generator (default 1)")
    parser.add_argument(
        "--connections", type=int, default=4, help="parallel kept-alive connections (default 4)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--max-seconds", type=float, default=600, help="stop sending after this long (default 600)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30, help="seconds to wait for one answer (default 30)"
    )
    parser.add_argument(
        "--pg", help="PostgreSQL server URI: use a throwaway database on it (dropped at the end)"
    )
    parser.add_argument(
        "--pg-database", default="goosebit_fuzz_ddi", help="its name (default goosebit_fuzz_ddi)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="goosebit-fuzz-") as tmp:
        workdir = Path(tmp)
        db_uri = f"sqlite:///{workdir / 'db.sqlite3'}"
        pg_name = args.pg_database
        if args.pg:
            import psycopg
            from psycopg import sql

            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(pg_name))

            parts = urlsplit(args.pg)
            admin = parts._replace(path="/postgres").geturl()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(drop)
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg_name)))
            db_uri = parts._replace(path=f"/{pg_name}").geturl()
        server = Server(workdir, db_uri, args.workers)
        try:
            server.start()
            line = next(
                row
                for row in server.manage("shell", "-c", SETUP_CODE).splitlines()
                if row.startswith("TARGET")
            )
            _, action_id, software_id, filename, canceling_id = line.split()
            target = Target(
                "fuzz-dev-1", int(action_id), int(software_id), filename, "fuzz-dev-2", int(canceling_id)
            )
            log(f"gunicorn on 127.0.0.1:{server.port} ({'PostgreSQL' if args.pg else 'SQLite'}); {target}")

            results = Results()
            check_chunked(server.port, target, results)
            started = time.monotonic()
            deadline = started + args.max_seconds
            share, extra = divmod(args.requests, args.connections)
            threads = [
                threading.Thread(
                    target=worker,
                    args=(
                        server.port,
                        target,
                        args.seed * 1000 + index,
                        share + (1 if index < extra else 0),
                        deadline,
                        args.timeout,
                        results,
                    ),
                )
                for index in range(args.connections)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            server.stop()
            if args.pg:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(drop)

    sent = sum(count for status, count in results.statuses.items() if not status.startswith("chunked"))
    print(f"{sent} fuzzed requests in {elapsed:.1f} s ({sent / elapsed:.0f}/s), seed {args.seed}")
    for status, count in sorted(results.statuses.items()):
        print(f"  {status:>14}: {count}")
    server_errors = sum(count for status, count in results.statuses.items() if status.startswith("5"))
    print(f"5xx answers: {server_errors}; problems: {len(results.failures)}")
    for failure in results.failures[:50]:
        print("  " + failure[:600])
    if len(results.failures) > 50:
        print(f"  ... and {len(results.failures) - 50} more")
    if sent < args.requests:
        print(f"stopped after --max-seconds: {sent} of {args.requests} requests sent")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
