#!/usr/bin/env python3
"""Fuzz the operator API against a real gunicorn: >= 10,000 requests generated from its schema.

It starts gunicorn with the production configuration on a free loopback port over a throwaway
SQLite database in a temporary folder, creates an operator with every permission and a few devices
to hit, loads
``/api/schema/`` from the server and lets schemathesis generate valid and invalid requests for
every ``/api/v1`` operation, round-robin, until ``--requests`` have been sent (or ``--max-seconds``
have passed). It prints the count per status code, every 5xx with the request that caused it, and
exits 1 on any 5xx (2 when fewer requests than asked could be sent). Everything it started is
stopped, even on Ctrl-C. Needs the test requirements (schemathesis).

    python bench/fuzz_api.py                      # 10,000 requests
    python bench/fuzz_api.py --requests 2000      # a quicker run
"""

from __future__ import annotations

import argparse
import base64
import collections
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.helpers import (  # noqa: E402
    ServerFailed,
    free_port,
    spawn_gunicorn,
    stop_process_group,
    wait_until_healthy,
)

USER = "fuzz-operator"
PASSWORD = "fuzz-operator-password-1"


def _environment(workdir: Path, port: int, workers: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GOOSEBIT_") and key != "DJANGO_SETTINGS_MODULE"
    }
    (workdir / "empty.env").write_text("")
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "goosebit_project.settings",
            "GOOSEBIT_ENV_FILE": str(workdir / "empty.env"),
            "GOOSEBIT_DATA_DIR": str(workdir / "data"),
            "GOOSEBIT_SECRET_KEY": "fuzz-only-secret-key",
            "GOOSEBIT_DB_URI": f"sqlite:///{workdir / 'fuzz.sqlite3'}",
            "GOOSEBIT_BIND": "127.0.0.1",
            "GOOSEBIT_PORT": str(port),
            "GOOSEBIT_WORKERS": str(workers),
            "GOOSEBIT_THREADS": "2",
            "GOOSEBIT_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=300)


def _fuzz(base_url: str, target: int, max_seconds: float) -> tuple[collections.Counter, list[str], int]:
    import requests
    import schemathesis
    from hypothesis import HealthCheck, given, seed, settings

    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/").include(path_regex="^/api/v1/")
    # An operation the schema cannot describe raises here: that is a bug worth stopping for.
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    credentials = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}"}
    session = requests.Session()
    statuses: collections.Counter = collections.Counter()
    server_errors: list[str] = []
    sent = 0
    started = time.monotonic()
    per_operation = max(1, math.ceil(target / len(operations)))

    def send(case: Any) -> None:
        nonlocal sent
        if sent >= target or time.monotonic() - started > max_seconds:
            return
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        sent += 1
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            server_errors.append(
                f"{response.status_code} {case.method} {case.formatted_path} "
                f"query={case.query!r} body={case.body!r}"[:600]
            )

    # Rounds with different seeds until the target is met: an operation without parameters has
    # only a few distinct requests, which hypothesis stops generating early.
    for round_number in range(1000):
        before = sent
        for operation in operations:
            strategy = operation.as_strategy()

            @seed(round_number)
            @settings(
                max_examples=per_operation,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                send(case)

            run()
            if sent >= target or time.monotonic() - started > max_seconds:
                return statuses, server_errors, sent
        if sent == before:
            break
    return statuses, server_errors, sent


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000, help="requests to send (default 10,000)")
    parser.add_argument("--max-seconds", type=float, default=1200, help="stop after this long (default 1200)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="goosebit-fuzz-") as directory:
        workdir = Path(directory)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = _environment(workdir, port, args.workers)
        _manage(env, "migrate", "--no-input", "--verbosity", "0")
        _manage(
            env,
            "shell",
            "--verbosity",
            "0",
            "-c",
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_superuser({USER!r}, password={PASSWORD!r})",
        )
        _manage(env, "seed_devices", "--count", "20", "--prefix", "dev-")
        log = workdir / "gunicorn.log"
        process = spawn_gunicorn(env=env, log=log)
        try:
            try:
                wait_until_healthy(process, base_url, log)
            except ServerFailed as failure:
                sys.exit(str(failure))
            began = time.monotonic()
            statuses, server_errors, sent = _fuzz(base_url, args.requests, args.max_seconds)
            elapsed = time.monotonic() - began
        finally:
            stop_process_group(process, grace=10)

    print(f"sent {sent} requests in {elapsed:.0f} s")
    for status, count in sorted(statuses.items()):
        print(f"  {status}: {count}")
    print(f"5xx answers: {len(server_errors)}")
    for line in server_errors[:50]:
        print(f"  {line}")
    if server_errors:
        return 1
    return 0 if sent >= args.requests else 2


if __name__ == "__main__":
    sys.exit(main())
