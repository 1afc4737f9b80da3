#!/usr/bin/env python3
"""Where a steady DDI poll spends its time: queries and a cProfile, without HTTP or gunicorn.

Creates its own PostgreSQL database (dropped at the end), seeds devices with seed_devices and
a running rollout they are already up to date with (the same state as bench/ddi_bench.py), then
calls the WSGI application in-process for many polls:

- the mean wall time of one poll through Django (middleware, view, queries, JSON);
- the SQL of one poll;
- the top functions of a cProfile over all polls.

    python bench/profile_poll.py --devices 10000 --polls 5000
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from ddi_bench import ACTION_PREFIX, ACTIONS_CODE, POLL_PREFIX, ROLLOUT_CODE, TENANT, Postgres  # noqa: E402


def get_environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "60053",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:60053",
        "HTTP_ACCEPT": "application/hal+json",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }


COMPONENTS = [
    ("psycopg (driver, waiting for PostgreSQL)", ("/psycopg/", "/psycopg_binary/")),
    ("Django ORM (query building, model instances)", ("/django/db/",)),
    ("Django cache backend", ("/django/core/cache/",)),
    ("Django request handling (handler, middleware, URL resolving, responses)", ("/django/",)),
    ("whitenoise", ("/whitenoise/",)),
    ("project code (ddi, devices, rollouts, software, lib)", ("{root}/",)),
]


def print_components(profiler: cProfile.Profile, root: str) -> None:
    """Own time (tottime) summed per component: which layer the poll's time is spent in."""
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # not in typeshed; {(file, line, name): (cc, nc, tottime, cumtime, callers)}
    totals: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.items():
        for label, needles in [*COMPONENTS, ("Python itself (builtins, stdlib)", ("",))]:
            if any(needle.format(root=root) in filename for needle in needles):
                totals[label] = totals.get(label, 0.0) + tottime
                break
    grand = sum(totals.values()) or 1.0
    print("\n--- own time by component (cProfile) ---")
    for label, value in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {100 * value / grand:5.1f}%  {label}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--polls", type=int, default=5000)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--db-name", default="goosebit_profile")
    parser.add_argument("--cache-url", default="", help="GOOSEBIT_CACHE_URL (default: the file cache)")
    parser.add_argument("--top", type=int, default=30, help="profile lines to print")
    parser.add_argument("--rounds", type=int, default=6, help="timing rounds (default 6)")
    parser.add_argument(
        "--updating",
        type=int,
        default=0,
        help="also seed N other devices with a running action, as the benchmark does (default 0)",
    )
    parser.add_argument(
        "--no-health-checks",
        action="store_true",
        help="turn CONN_HEALTH_CHECKS off, to see what the per-request connection check costs",
    )
    args = parser.parse_args(argv)

    db = Postgres(args.pg, args.db_name)
    db.create()
    workdir = tempfile.TemporaryDirectory(prefix="goosebit-profile-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "goosebit_project.settings",
            "GOOSEBIT_ENV_FILE": str(Path(workdir.name) / "empty.env"),
            "GOOSEBIT_DATA_DIR": workdir.name,
            "GOOSEBIT_SECRET_KEY": "profile-only-secret-key",
            "GOOSEBIT_DB_URI": db.uri,
            "GOOSEBIT_LOG_LEVEL": "WARNING",
        }
    )
    if args.cache_url:
        os.environ["GOOSEBIT_CACHE_URL"] = args.cache_url
    Path(os.environ["GOOSEBIT_ENV_FILE"]).write_text("")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.core.wsgi import get_wsgi_application
        from django.db import connection, reset_queries
        from django.test.utils import CaptureQueriesContext

        if args.no_health_checks:
            connection.settings_dict["CONN_HEALTH_CHECKS"] = False
        print(
            f"CONN_MAX_AGE={connection.settings_dict['CONN_MAX_AGE']} "
            f"CONN_HEALTH_CHECKS={connection.settings_dict['CONN_HEALTH_CHECKS']}"
        )
        call_command("migrate", verbosity=0)
        call_command("seed_devices", count=args.devices, prefix=POLL_PREFIX, stdout=io.StringIO())
        # The same fleet state as the benchmark: up to date with a running rollout (and optionally
        # other devices in the middle of an update).
        if args.updating:
            call_command("seed_devices", count=args.updating, prefix=ACTION_PREFIX, stdout=io.StringIO())
            os.environ["BENCH_PARAMS"] = json.dumps({"artifact_size": 1024, "action_prefix": ACTION_PREFIX})
            with contextlib.redirect_stdout(io.StringIO()):
                exec(ROLLOUT_CODE + ACTIONS_CODE, {})
        else:
            exec(ROLLOUT_CODE, {})
        # Seen just now from this address, as in the benchmark: a steady poll writes nothing.
        from django.utils import timezone

        from devices.models import Device

        Device.objects.filter(controller_id__startswith=POLL_PREFIX).update(
            last_seen=timezone.now(), last_ip="127.0.0.1"
        )
        application = get_wsgi_application()
        ids = [f"{POLL_PREFIX}{n:05d}" for n in range(1, args.devices + 1)]

        def get(path: str) -> int:
            status: list[str] = []
            # start_response's return value (a write callable) is never used here.
            body = b"".join(application(get_environ(path), lambda s, h, *_: status.append(s)))  # type: ignore[arg-type]
            assert status[0].startswith("200"), (status, body)
            return len(body)

        def poll(index: int) -> int:
            return get(f"/{TENANT}/controller/v1/{ids[index % len(ids)]}")

        for index in range(min(2000, args.polls)):  # warm-up: imports, connections, caches
            poll(index)
        # Several short rounds, alternating; the minimum is the figure least disturbed by other
        # processes on a shared machine.
        rounds: dict[str, list[float]] = {"poll": [], "healthz": []}
        per_round = max(1, args.polls // args.rounds)
        for _ in range(args.rounds):
            started = time.perf_counter()
            for index in range(per_round):
                poll(index)
            rounds["poll"].append(1e6 * (time.perf_counter() - started) / per_round)
            started = time.perf_counter()
            for _ in range(per_round):
                get("/healthz")
            rounds["healthz"].append(1e6 * (time.perf_counter() - started) / per_round)
        for name, label in (("poll", "steady poll"), ("healthz", "GET /healthz (Django + SELECT 1)")):
            values = sorted(rounds[name])
            print(
                f"{label}, in-process: min {values[0]:.0f} us, median {values[len(values) // 2]:.0f} us "
                f"per request ({args.rounds} rounds of {per_round})"
            )

        with CaptureQueriesContext(connection) as queries:
            poll(12345)
        # Django's connection health check (CONN_HEALTH_CHECKS) runs outside the query log.
        print(f"\nqueries of one steady poll (ORM log): {len(queries.captured_queries)}")
        for query in queries.captured_queries:
            print(f"  [{query['time']} s] {query['sql']}")
        reset_queries()

        profiler = cProfile.Profile()
        profiler.enable()
        for index in range(args.polls):
            poll(index)
        profiler.disable()
        print_components(profiler, str(ROOT))
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
            print(f"\n--- cProfile by {order} ---")
            print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])
        from devices.services import _poll_recorder

        _poll_recorder.flush()  # nothing may be left for the atexit flush once the database is gone
        connection.close()
    finally:
        db.drop()
        workdir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
