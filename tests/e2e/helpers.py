"""The pieces of the end-to-end harness: the real server, its state agent and the real SWUpdate.

Everything here runs in child processes that are started in their own process group and killed
as a group, so a hanging client or server never outlives the test session.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AGENT_SCRIPT = Path(__file__).with_name("server_agent.py")
TENANT = "DEFAULT"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(process: subprocess.Popen, *, grace: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL whatever is left after ``grace`` seconds."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class ServerFailed(RuntimeError):
    """gunicorn exited, or did not answer /healthz in time."""


def spawn_gunicorn(*, env: dict[str, str], log: Path) -> subprocess.Popen:
    """gunicorn with the production config, in its own process group, logging to ``log``."""
    with log.open("ab") as handle:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "goosebit_project.wsgi",
                "-c",
                "goosebit_project/gunicorn_conf.py",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def healthz_answers(process: subprocess.Popen, base_url: str, log: Path) -> bool:
    """True once /healthz says 200; ServerFailed if gunicorn has exited."""
    if process.poll() is not None:
        raise ServerFailed(f"gunicorn exited with {process.returncode}:\n{tail(log)}")
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until_healthy(process: subprocess.Popen, base_url: str, log: Path, *, timeout: float = 60) -> None:
    """For scripts outside pytest: ServerFailed unless /healthz answers within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthz_answers(process, base_url, log):
            return
        time.sleep(0.3)
    raise ServerFailed(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{tail(log)}")


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(
    condition: Callable[[], Any],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    message: str = "condition",
    diagnostics: Callable[[], str] | None = None,
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with diagnostics on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    extra = f"\n{diagnostics()}" if diagnostics else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {message}; last value: {last!r}{extra}")


# --------------------------------------------------------------------------- databases
def postgres_admin_connect(uri: str):
    """A connection to the cluster's maintenance database with the credentials of ``uri``."""
    import psycopg

    parts = urlsplit(uri)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
    )


def postgres_recreate(uri: str, name: str) -> str:
    """(Re)create database ``name`` on the server of ``uri``; returns a URI for it."""
    from psycopg import sql

    with postgres_admin_connect(uri) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(uri)
    return parts._replace(path="/" + quote(name), query="").geturl()


def postgres_drop(uri: str, name: str) -> None:
    from psycopg import sql

    with postgres_admin_connect(uri) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --------------------------------------------------------------------------- the server
class StateAgent:
    """Talks to tests/e2e/server_agent.py running with the server's settings."""

    PREFIX = "@@agent@@ "

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_handle = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(AGENT_SCRIPT)],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_handle,
            text=True,
            bufsize=1,
            start_new_session=True,
        )

    def call(self, op: str, *, timeout: float = 30.0, **kwargs: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"op": op, "kwargs": kwargs}) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    pytest.fail(f"state agent did not answer {op} within {timeout} s:\n{tail(self.log)}")
                line = self.process.stdout.readline()
                if not line:
                    pytest.fail(f"state agent exited during {op}:\n{tail(self.log)}")
                if line.startswith(self.PREFIX):
                    break
        reply = json.loads(line[len(self.PREFIX) :])
        if not reply["ok"]:
            pytest.fail(f"state agent {op}({kwargs}) failed:\n{reply['error']}")
        return reply["result"]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop_process_group(self.process)
        if self.process.stdout:
            self.process.stdout.close()
        self._log_handle.close()


class Server:
    """gunicorn serving the project exactly as in production, on a free loopback port."""

    def __init__(
        self, directory: Path, *, db_uri: str, workers: int = 3, extra_env: dict[str, str] | None = None
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "gunicorn.log"
        env_file = directory / "empty.env"
        env_file.write_text("")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("GOOSEBIT_") and key != "DJANGO_SETTINGS_MODULE"
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "goosebit_project.settings",
                # An empty env file keeps a developer's .env out of the server under test.
                "GOOSEBIT_ENV_FILE": str(env_file),
                "GOOSEBIT_DATA_DIR": str(directory / "data"),
                "GOOSEBIT_SECRET_KEY": "e2e-only-secret-key",
                "GOOSEBIT_DB_URI": db_uri,
                "GOOSEBIT_BIND": "127.0.0.1",
                "GOOSEBIT_PORT": str(self.port),
                "GOOSEBIT_WORKERS": str(workers),
                "GOOSEBIT_THREADS": "4",
                # Fast polling keeps every flow within seconds.
                "GOOSEBIT_POLL_TIME": "00:00:01",
                "GOOSEBIT_POLL_TIME_REGISTRATION": "00:00:01",
                "GOOSEBIT_LOG_LEVEL": "INFO",
                "GOOSEBIT_ACCESS_LOG": "-",
                "PYTHONUNBUFFERED": "1",
                **(extra_env or {}),
            }
        )
        self.env = env
        self.process: subprocess.Popen | None = None
        self.agent: StateAgent | None = None

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            pytest.fail(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self) -> None:
        self.manage("migrate", "--no-input", "--verbosity", "0")
        self.process = spawn_gunicorn(env=self.env, log=self.log)
        wait_for(
            self._healthy, timeout=60, message="gunicorn to answer /healthz", diagnostics=self.diagnostics
        )
        self.agent = StateAgent(self.env, self.directory / "agent.log")

    def _healthy(self) -> bool:
        assert self.process is not None
        try:
            return healthz_answers(self.process, self.base_url, self.log)
        except ServerFailed as failure:
            pytest.fail(str(failure))

    def diagnostics(self) -> str:
        return f"--- gunicorn log (tail) ---\n{tail(self.log)}"

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.close()
        if self.process is not None:
            stop_process_group(self.process, grace=15)

    # shortcuts for the state agent
    def call(self, op: str, **kwargs: Any) -> Any:
        assert self.agent is not None
        return self.agent.call(op, **kwargs)

    def log_lines(self, needle: str) -> list[str]:
        """Lines of the gunicorn log (access log included) that contain ``needle``."""
        return [line for line in self.log.read_text(errors="replace").splitlines() if needle in line]

    def ddi_url(self, controller_id: str, suffix: str = "") -> str:
        return f"{self.base_url}/{TENANT}/controller/v1/{controller_id}{suffix}"


# --------------------------------------------------------------------------- SWUpdate
def swupdate_binary() -> str:
    """The Debian swupdate binary: a CI run fails without it, a developer machine skips."""
    binary = shutil.which("swupdate")
    if binary:
        return binary
    message = "SWUpdate is not installed: run `make system-deps` (apt-get install swupdate)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
    return ""  # unreachable; pytest.skip raises


class SWUpdateClient:
    """One sandboxed SWUpdate suricatta daemon acting as a device.

    The sandbox is a working directory holding the config file, the ``out/`` folder the
    rawfile handler installs into (relative path; SWUpdate 2022.12 cannot create it itself),
    and TMPDIR for its sockets and scratch files, so several clients and other test runs never
    share state. Every start appends to its own log file, kept for failure messages.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        base_url: str,
        controller_id: str,
        cert: Path,
        sw_version: str = "1.0.0",
        board: str = "board",
        revision: str = "1",
        token: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.token = token
        self.base_url = base_url
        self.controller_id = controller_id
        self.cert = cert
        self.sw_version = sw_version
        self.board = board
        self.revision = revision
        self.out = workdir / "out"
        self.tmp = workdir / "tmp"
        self.out.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self.runs = 0
        self.log: Path = workdir / "swupdate-0.log"

    def write_config(self) -> Path:
        config = self.workdir / "swupdate.cfg"
        config.write_text(
            # SWUpdate refuses a config file without a globals section.
            "globals: {\n  verbose = true;\n  loglevel = 6;\n};\n"
            "identify: (\n"
            f'  {{ name = "sw_version"; value = "{self.sw_version}"; }},\n'
            f'  {{ name = "hw_boardname"; value = "{self.board}"; }},\n'
            f'  {{ name = "hw_revision"; value = "{self.revision}"; }}\n'
            ");\n"
            "suricatta: {\n"
            f'  tenant = "{TENANT}";\n'
            f'  id = "{self.controller_id}";\n'
            f'  url = "{self.base_url}";\n'
            "  polldelay = 1;\n"
            "  retry = 2;\n"
            "  retrywait = 1;\n"
            "  initial-report-resend-period = 1;\n"
            "  connection-timeout = 10;\n"
            # In the file rather than on the command line, where `ps` would show it.
            + (f'  targettoken = "{self.token}";\n' if self.token else "")
            + "};\n"
        )
        return config

    def start(self, *, confirm: int | None = None) -> None:
        assert self.process is None or self.process.poll() is not None, "client already running"
        binary = swupdate_binary()
        config = self.write_config()
        suricatta = f"-t {TENANT} -u {self.base_url} -i {self.controller_id} -p 1"
        if confirm is not None:
            suricatta += f" -c {confirm}"
        self.runs += 1
        self.log = self.workdir / f"swupdate-{self.runs}.log"
        env = {**os.environ, "TMPDIR": str(self.tmp)}
        with self.log.open("wb") as handle:
            self.process = subprocess.Popen(
                [
                    binary, "-v", "-f", str(config), "-k", str(self.cert),
                    "-H", f"{self.board}:{self.revision}", "-B", "none", "-u", suricatta,
                ],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait(self, condition: Callable[[], Any], *, message: str, server: Server, timeout: float = 60) -> Any:
        """wait_for that fails at once when the client died, with its log and the server's."""

        def check() -> Any:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(
                    f"SWUpdate exited with {self.process.returncode} while waiting for {message}\n"
                    f"{self.diagnostics()}\n{server.diagnostics()}"
                )
            return condition()

        return wait_for(
            check,
            timeout=timeout,
            message=message,
            diagnostics=lambda: f"{self.diagnostics()}\n{server.diagnostics()}",
        )

    def stop(self) -> None:
        # SWUpdate does not always honour SIGTERM (clients.md): the group is killed after a grace.
        if self.process is not None:
            stop_process_group(self.process, grace=3)

    def diagnostics(self) -> str:
        return f"--- SWUpdate log {self.log.name} (tail) ---\n{tail(self.log, 80)}"
