#!/usr/bin/env python3
"""DDI load benchmark: the real server under gunicorn on PostgreSQL, measured with wrk.

For each fleet size (default 10,000 and 100,000 devices) it creates a throwaway PostgreSQL
database, migrates it, seeds the devices with ``manage.py seed_devices``, starts gunicorn with
the production configuration (goosebit_project/gunicorn_conf.py) on a free loopback port and
measures, each for a bounded time with wrk:

- GET /healthz at 64 connections: Django, gunicorn and one SELECT, the floor a poll can approach;
- steady polls over every device at 16 and 64 kept-alive connections (req/s, p50, p99), and at
  16 connections with a new connection per request, as devices that poll every minute do;
- first-contact registration (every poll a new controller id);
- configData PUT, deploymentBase GET, feedback POST and artifact download for devices that
  have a running action.

It stops everything it started (gunicorn, the database) even when interrupted, and prints a
table plus one JSON line per measurement (prefix ``BENCH_JSON``). Needs wrk (Debian ``wrk``) and
a PostgreSQL reachable with ``--pg`` (default postgres://postgres@127.0.0.1:5432).

    python bench/ddi_bench.py                       # 10k and 100k devices
    python bench/ddi_bench.py --devices 10000 --cache-url redis://127.0.0.1:6379/9
    python bench/ddi_bench.py --quick               # a 1,000-device smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
TENANT = "DEFAULT"
POLL_PREFIX = "dev-"
ACTION_PREFIX = "upd-"  # devices with a running action, never polled by the poll measurement

# Runs inside `manage.py shell` of the server under test (or in-process, bench/profile_poll.py):
# a running rollout of the version every device already has, so each poll evaluates a rollout and
# gets nothing: the steady state of a fleet.
ROLLOUT_CODE = r"""
import hashlib, json, os
from django.core.files.base import ContentFile
from devices.models import Device, Hardware
from rollouts.models import Action, Rollout
from software.services import software_create_from_file

hardware = Hardware.objects.get(model="default", revision="default")

def software(version, content, filename):
    # A release of one module holding the file (a raw artifact: the bytes are no real package).
    return software_create_from_file(
        file=ContentFile(content, name=filename), filename=filename, version=version,
        compatibility=[hardware],
    )

current = software("1.0.0", b"bench 1.0.0", "bench-1.0.0.swu")
Rollout.objects.create(name="bench: fleet is up to date", feed="default", software=current, status="running")
"""
# A staged rollout of a newer version on the same feed: a canary of 10 devices runs, two waves
# wait. Measured last (it changes what the fleet is offered): the steady poll of a device waiting
# for its group, the common case while a staged rollout runs.
STAGED_CODE = r"""
from rollouts import services
staged = software("3.0.0", b"bench 3.0.0", "bench-3.0.0.swu")
services.rollout_create(
    name="bench: staged", feed="default", software=staged,
    groups=services.groups_canary(canary_count=10, waves=2), start=True,
)
"""
# ... and a running action of a bigger package for each upd- device (deploymentBase, feedback,
# download), printed as the targets file of bench/actions.lua.
ACTIONS_CODE = r"""
params = json.loads(os.environ["BENCH_PARAMS"])
update = software("2.0.0", os.urandom(params["artifact_size"]), "bench-2.0.0.swu")
updating = Device.objects.filter(controller_id__startswith=params["action_prefix"])
updating.update(update_mode="pinned", state="running")
Action.objects.bulk_create(
    [Action(device=device, software=update, reason="assigned", status="running") for device in updating]
)
for action in Action.objects.filter(software=update).select_related("device").order_by("id"):
    artifact = update.modules.get().artifacts.get()
    print("TARGET", action.device.controller_id, action.pk, artifact.module_id, artifact.filename)
"""


# --------------------------------------------------------------------------- small utilities
def log(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the /proc/<pid>/stat fields after the name) of every process."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        yield int(entry), text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()


def _cpu_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> dict[int, float]:
    """CPU seconds used so far by each local PostgreSQL process, by pid (empty when not local)."""
    return {
        pid: _cpu_seconds(fields) for pid, name, fields in _processes() if name in ("postgres", "postmaster")
    }


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two samples by the processes alive at the second one."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def process_tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds used so far by ``pid`` and each of its descendants, by pid (Linux /proc)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for process, _, fields in _processes():
        stats[process] = fields
        children.setdefault(int(fields[1]), []).append(process)
    found, stack = {}, [pid]
    while stack:
        current = stack.pop()
        if current in stats:
            found[current] = _cpu_seconds(stats[current])
        stack.extend(children.get(current, []))
    return found


def children_cpu() -> float:
    """CPU seconds of this script's finished child processes (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all cores), to show what else competed."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


class Postgres:
    """Creates and drops the benchmark's own database on the cluster of ``uri``."""

    def __init__(self, uri: str, name: str) -> None:
        import psycopg  # the project's own PostgreSQL driver

        self.psycopg = psycopg
        self.parts = urlsplit(uri)
        self.name = name
        self.uri = self.parts._replace(path="/" + quote(name), query="").geturl()

    def _connect(self, dbname: str):
        return self.psycopg.connect(
            host=self.parts.hostname or "127.0.0.1",
            port=self.parts.port or 5432,
            user=self.parts.username or "postgres",
            password=self.parts.password or None,
            dbname=dbname,
            autocommit=True,
        )

    def create(self) -> None:
        from psycopg import sql

        with self._connect("postgres") as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        from psycopg import sql

        with self._connect("postgres") as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def execute(self, statement: str) -> None:
        with self._connect(self.name) as conn:
            conn.execute(statement)


# --------------------------------------------------------------------------- the server
class Server:
    def __init__(self, args: argparse.Namespace, db_uri: str, workdir: Path) -> None:
        self.port = args.port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "gunicorn.log"
        env_file = workdir / "empty.env"
        env_file.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOOSEBIT_")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "goosebit_project.settings",
                "GOOSEBIT_ENV_FILE": str(env_file),  # a developer's .env must not leak in
                "GOOSEBIT_DATA_DIR": str(workdir / "data"),
                "GOOSEBIT_SECRET_KEY": "bench-only-secret-key",
                "GOOSEBIT_DB_URI": db_uri,
                "GOOSEBIT_BIND": "127.0.0.1",
                "GOOSEBIT_PORT": str(self.port),
                "GOOSEBIT_LOG_LEVEL": args.log_level,
            }
        )
        if args.workers:
            env["GOOSEBIT_WORKERS"] = str(args.workers)
        if args.threads:
            env["GOOSEBIT_THREADS"] = str(args.threads)
        if args.cache_url:
            env["GOOSEBIT_CACHE_URL"] = args.cache_url
        self.env = env
        self.extra_args = args.gunicorn_arg or []
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str, extra_env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise SystemExit(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self) -> None:
        with self.log_path.open("ab") as handle:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "goosebit_project.wsgi",
                    "-c",
                    "goosebit_project/gunicorn_conf.py",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(timeout=wait)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue

    def workers(self) -> int:
        """Worker processes gunicorn actually runs."""
        if self.process is None:
            return 0
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return len(out.stdout.split())


# --------------------------------------------------------------------------- measurements
def wrk(
    server: Server, script: str, script_args: list[str], *, connections: int, duration: float
) -> dict[str, Any]:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "10s",
        "-s", str(BENCH / script), server.base_url, "--", *script_args,
    ]  # fmt: skip
    assert server.process is not None, "measured only while the server runs"
    pg_before, server_before = postgres_cpu(), process_tree_cpu(server.process.pid)
    before = (children_cpu(), machine_busy())
    wall0 = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    wall = time.monotonic() - wall0
    server_after = process_tree_cpu(server.process.pid)
    after = (children_cpu(), machine_busy())
    wrk_cpu, busy = ((b - a) / wall for a, b in zip(before, after, strict=True))
    db_cpu = cpu_delta(pg_before, postgres_cpu()) / wall
    server_cpu = cpu_delta(server_before, server_after) / wall
    match = re.search(r"^WRK_JSON (.*)$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or not match:
        raise SystemExit(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    data = json.loads(match.group(1))
    data["cpu_cores"] = {
        "server": round(server_cpu, 2),
        "postgres": round(db_cpu, 2),
        "wrk": round(wrk_cpu, 2),
        # anything else that ran on the machine meanwhile (other users, the OS)
        "other": round(max(0.0, busy - server_cpu - db_cpu - wrk_cpu), 2),
    }
    # Keep-alive connections stay with the worker that accepted them: an uneven split shows here.
    data["worker_cores"] = sorted(
        (round((value - server_before.get(pid, 0.0)) / wall, 2) for pid, value in server_after.items()),
        reverse=True,
    )
    return data


def summarize(name: str, connections: int, devices: int, data: dict[str, Any]) -> dict[str, Any]:
    ok = sum(count for status, count in data["status"].items() if status in ("200", "206"))
    # wrk counts non-2xx answers as "status" errors; those are already in requests - ok.
    socket_errors = sum(v for k, v in data["socket_errors"].items() if k != "status")
    row = {
        "op": name,
        "devices": devices,
        "connections": connections,
        "requests": data["requests"],
        "rps": round(data["rps"], 1),
        "p50_ms": round(data["latency_ms"]["p50"], 2),
        "p90_ms": round(data["latency_ms"]["p90"], 2),
        "p99_ms": round(data["latency_ms"]["p99"], 2),
        "max_ms": round(data["latency_ms"]["max"], 2),
        "errors": data["requests"] - ok + socket_errors,
        "status": data["status"],
        "cpu_cores": data["cpu_cores"],
        "worker_cores": data["worker_cores"],
        # CPU the server spent per request: far less disturbed by other load than req/s.
        "server_cpu_ms_per_request": round(1000 * data["cpu_cores"]["server"] / data["rps"], 2)
        if data["rps"]
        else None,
        "postgres_cpu_ms_per_request": round(1000 * data["cpu_cores"]["postgres"] / data["rps"], 2)
        if data["rps"]
        else None,
    }
    if name == "download":
        row["MBps"] = round(data["bytes"] / data["duration_s"] / 1e6, 1)
    return row


def check_poll(server: Server, controller_id: str) -> None:
    """One poll by hand before measuring: a benchmark of error pages would be worthless."""
    url = f"{server.base_url}/{TENANT}/controller/v1/{controller_id}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise SystemExit(f"GET {url} answered {error.code}: {error.read()[:500]!r}") from None
    if "polling" not in body.get("config", {}):
        raise SystemExit(f"GET {url} answered an unexpected body: {body}")


def flush_cache(url: str) -> None:
    """Empty the Redis database given as cache: its keys would describe a dropped database."""
    if url.startswith(("redis://", "rediss://")):
        import redis  # the project's own Redis client

        redis.Redis.from_url(url).flushdb()


def run_fleet(args: argparse.Namespace, devices: int, workdir: Path) -> list[dict[str, Any]]:
    db = Postgres(args.pg, args.db_name)
    log(f"{devices} devices: creating database {args.db_name}")
    db.create()
    flush_cache(args.cache_url)
    server = Server(args, db.uri, workdir)
    rows: list[dict[str, Any]] = []
    try:
        server.manage("migrate", "--no-input", "--verbosity", "0")
        seeded = json.loads(
            server.manage("seed_devices", "--count", str(devices), "--prefix", POLL_PREFIX, "--json")
        )
        log(f"seeded {seeded['created']} devices in {seeded['seconds']} s")
        rows.append({"op": "seed", "devices": devices, "seconds": seeded["seconds"]})
        print_row(rows[-1])
        targets = workdir / "targets.txt"
        if args.poll_only:
            server.manage("shell", "-c", ROLLOUT_CODE)
        else:
            server.manage("seed_devices", "--count", str(args.updating), "--prefix", ACTION_PREFIX)
            out = server.manage(
                "shell",
                "-c",
                ROLLOUT_CODE + ACTIONS_CODE,
                extra_env={
                    "BENCH_PARAMS": json.dumps(
                        {"artifact_size": args.artifact_size, "action_prefix": ACTION_PREFIX}
                    )
                },
            )
            lines = [line.split(None, 1)[1] for line in out.splitlines() if line.startswith("TARGET ")]
            targets.write_text("\n".join(lines) + "\n")
        server.start()
        log(f"gunicorn on {server.base_url} with {server.workers()} workers")
        check_poll(server, f"{POLL_PREFIX}{1:05d}")
        poll_args = [str(devices), TENANT, POLL_PREFIX, "1", "5", "poll"]

        # Warm-up: connections, worker imports and the database's caches.
        wrk(server, "poll.lua", poll_args, connections=16, duration=args.warmup)
        if not args.poll_only:
            # The floor on this machine: Django + gunicorn + one "SELECT 1", no DDI logic.
            data = wrk(
                server,
                "poll.lua",
                ["0", TENANT, "/healthz", "1", "1", "path"],
                connections=64,
                duration=args.duration,
            )
            rows.append(summarize("healthz", 64, devices, data))
            print_row(rows[-1])
        for connections in (16, 64):
            runs = []
            for _ in range(args.repeat):
                # Every device was "seen" just now from this address, so a poll writes nothing: the
                # read path alone (last_seen is written at most every GOOSEBIT_LAST_SEEN_INTERVAL s).
                db.execute(
                    "UPDATE devices_device SET last_seen = now(), last_ip = '127.0.0.1' "
                    f"WHERE controller_id LIKE '{POLL_PREFIX}%'"
                )
                data = wrk(server, "poll.lua", poll_args, connections=connections, duration=args.duration)
                runs.append(summarize("poll", connections, devices, data))
                print_row(runs[-1])
            # The median run by throughput; every run is in the JSON lines above.
            row = sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]
            rows.append({**row, "runs_rps": [run["rps"] for run in runs]})
        # Devices polling every minute open a new connection each time: no keep-alive, and the
        # connections spread over the workers (kept-alive ones stay with the worker that took them).
        data = wrk(server, "poll.lua", [*poll_args, "", "close"], connections=16, duration=args.duration)
        rows.append(summarize("poll-close", 16, devices, data))
        print_row(rows[-1])
        if args.poll_only:
            measure_staged(args, server, devices, poll_args, rows)
            return rows

        register_args = ["0", TENANT, "new-", "1", "7", "register"]
        data = wrk(server, "poll.lua", register_args, connections=16, duration=args.duration)
        rows.append(summarize("register", 16, devices, data))
        print_row(rows[-1])
        for mode in ("configdata", "deployment", "feedback", "download"):
            data = wrk(
                server, "actions.lua", [mode, str(targets), TENANT], connections=16, duration=args.duration
            )
            rows.append(summarize(mode, 16, devices, data))
            print_row(rows[-1])
        measure_staged(args, server, devices, poll_args, rows)
        return rows
    finally:
        server.stop()
        db.drop()
        flush_cache(args.cache_url)
        log(f"stopped gunicorn, dropped {args.db_name}")


def measure_staged(
    args: argparse.Namespace, server: Server, devices: int, poll_args: list[str], rows: list[dict[str, Any]]
) -> None:
    """Steady polls at 64 connections while a staged rollout's waves wait (STAGED_CODE)."""
    server.manage("shell", "-c", ROLLOUT_CODE.split("current = ")[0] + STAGED_CODE)
    data = wrk(server, "poll.lua", poll_args, connections=64, duration=args.duration)
    rows.append(summarize("poll-staged", 64, devices, data))
    print_row(rows[-1])


# --------------------------------------------------------------------------- output
COLUMNS = [
    # (title, width, format)
    ("operation", -11, "{op}"),
    ("devices", 8, "{devices}"),
    ("conns", 6, "{connections}"),
    ("req/s", 8, "{rps:.1f}"),
    ("p50 ms", 8, "{p50_ms:.1f}"),
    ("p99 ms", 8, "{p99_ms:.1f}"),
    ("max ms", 8, "{max_ms:.0f}"),
    ("errors", 7, "{errors}"),
    ("cpu ms/req", 11, "{server_cpu_ms_per_request:.2f}"),
    ("pg ms/req", 10, "{postgres_cpu_ms_per_request:.2f}"),
    ("cores: srv", 11, "{server:.2f}"),
    ("pg", 5, "{postgres:.2f}"),
    ("wrk", 5, "{wrk:.2f}"),
    ("other", 6, "{other:.2f}"),
]
HEADER = "".join(f"{title:<{-width}}" if width < 0 else f"{title:>{width}}" for title, width, _ in COLUMNS)


def print_row(row: dict[str, Any]) -> None:
    print("BENCH_JSON " + json.dumps(row, sort_keys=True), flush=True)


def print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print(HEADER)
    for row in rows:
        if row["op"] == "seed":
            print(f"{'seed':<11}{row['devices']:>8}   {row['seconds']} s (seed_devices)")
            continue
        values = {**row, **row["cpu_cores"]}
        cells = []
        for _, width, fmt in COLUMNS:
            try:
                text = fmt.format(**values)
            except (TypeError, ValueError):  # no requests, no per-request figure
                text = "-"
            cells.append(f"{text:<{-width}}" if width < 0 else f"{text:>{width}}")
        extra = f"  {row['MBps']} MB/s" if "MBps" in row else ""
        print("".join(cells) + extra)
    print(
        "cpu ms/req, pg ms/req: CPU time per request of gunicorn (all workers) and of PostgreSQL; "
        "cores: cores busy during the run (server, PostgreSQL, wrk, anything else on the machine)"
    )


def print_targets(rows: list[dict[str, Any]]) -> None:
    def poll(devices: int, connections: int) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in rows
                if r["op"] == "poll" and r["devices"] == devices and r["connections"] == connections
            ),
            None,
        )

    sizes = sorted({r["devices"] for r in rows if r["op"] == "poll"})
    print("\ntargets:")
    for size in sizes:
        c64, c16 = poll(size, 64), poll(size, 16)
        if c64:
            verdict = "met" if c64["rps"] >= 1500 else "MISSED"
            print(
                f"  {size} devices: steady poll at 64 connections >= 1500 req/s: {c64['rps']:.0f} ({verdict})"
            )
        if c16:
            verdict = "met" if c16["p99_ms"] < 50 else "MISSED"
            print(f"  {size} devices: poll p99 at 16 connections < 50 ms: {c16['p99_ms']:.1f} ms ({verdict})")
    if len(sizes) >= 2:
        small, large = poll(sizes[0], 64), poll(sizes[-1], 64)
        if small and large:
            ratio = large["rps"] / small["rps"]
            verdict = "met" if ratio >= 0.9 else "MISSED"
            print(
                f"  {sizes[-1]} vs {sizes[0]} devices at 64 connections within 10%: "
                f"{100 * ratio:.0f}% ({verdict})"
            )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", default="10000,100000", help="fleet sizes, comma-separated")
    parser.add_argument("--duration", type=float, default=12, help="seconds per measurement (default 12)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured warm-up seconds (default 3)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URI")
    parser.add_argument("--db-name", default="goosebit_bench", help="database created and dropped")
    parser.add_argument(
        "--cache-url",
        default="",
        help="GOOSEBIT_CACHE_URL, e.g. redis://127.0.0.1:6379/9; a Redis database is emptied before and "
        "after each fleet, so give one nothing else uses",
    )
    parser.add_argument("--workers", type=int, help="GOOSEBIT_WORKERS (default: the production config)")
    parser.add_argument("--threads", type=int, help="GOOSEBIT_THREADS (default: the production config)")
    parser.add_argument("--log-level", default="WARNING", help="GOOSEBIT_LOG_LEVEL of the server")
    parser.add_argument("--port", type=int, help="port of the server (default: a free one)")
    parser.add_argument(
        "--gunicorn-arg",
        action="append",
        help="extra gunicorn command-line option, overriding the config file (repeatable), "
        "e.g. --gunicorn-arg=--worker-class=sync",
    )
    parser.add_argument("--updating", type=int, default=1000, help="devices with a running action")
    parser.add_argument("--artifact-size", type=int, default=1024 * 1024, help="download size in bytes")
    parser.add_argument(
        "--poll-only-above",
        type=int,
        default=10000,
        help="fleets larger than this measure only the polls (default 10000)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="poll measurements: runs each, the median is shown (default 1)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1000 devices, 3 s per measurement")
    parser.add_argument("--json-out", help="also write every result line to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.devices, args.duration, args.warmup, args.updating = "1000", 3.0, 1.0, 100
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    sizes = [int(size) for size in args.devices.split(",") if size.strip()]

    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so gunicorn and the database are cleaned up.
    signal.signal(signal.SIGTERM, _interrupt)
    rows: list[dict[str, Any]] = []
    print(
        f"goosebit_project DDI benchmark: {os.cpu_count()} cores, cache {args.cache_url or 'file (default)'}"
    )
    for size in sizes:
        args.poll_only = size > args.poll_only_above
        with tempfile.TemporaryDirectory(prefix="goosebit-bench-") as workdir:
            rows.extend(run_fleet(args, size, Path(workdir)))
    print_table(rows)
    print_targets(rows)
    if args.json_out:
        with open(args.json_out, "a") as handle:
            for row in rows:
                handle.write(json.dumps(row, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
