"""Session fixtures of the end-to-end tests: real gunicorn servers, real SWUpdate clients.

Each server gets a database of its own, never pytest-django's test database: a temporary SQLite
file, or, when the suite runs on PostgreSQL (GOOSEBIT_DB_URI=postgres://.../<name>), a throwaway
database ``<name>_e2e`` (``<name>_e2e_strict``) that is dropped at the end. Tests read and set a
server's state through its state agent (``e2e_server.call(...)``), so they need no ``db`` fixture.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.e2e.helpers import Server, SWUpdateClient, postgres_drop, postgres_recreate
from tests.packages import SigningPair, make_signing_pair


def _serve(
    tmp_path_factory: pytest.TempPathFactory, name: str, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(name)
    suite_uri = os.environ.get("GOOSEBIT_DB_URI", "")
    pg_name = None
    if suite_uri.startswith(("postgres://", "postgresql://", "pgsql://")):
        pg_name = unquote(urlsplit(suite_uri).path.lstrip("/")) + "_" + name.replace("-", "_")
        db_uri = postgres_recreate(suite_uri, pg_name)
    else:
        db_uri = f"sqlite:///{directory / 'db.sqlite3'}"
    server = Server(directory, db_uri=db_uri, workers=3, extra_env=extra_env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if pg_name:
            postgres_drop(suite_uri, pg_name)


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server as shipped: device authentication off."""
    yield from _serve(tmp_path_factory, "e2e")


@pytest.fixture(scope="session")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server that requires device credentials (GOOSEBIT_DEVICE_AUTH__MODE=strict)."""
    yield from _serve(
        tmp_path_factory,
        "e2e-strict",
        {"GOOSEBIT_DEVICE_AUTH__ENABLE": "true", "GOOSEBIT_DEVICE_AUTH__MODE": "strict"},
    )


@pytest.fixture(scope="session")
def confirmation_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with hawkBit's user-consent flow on (GOOSEBIT_CONFIRMATION_FLOW)."""
    yield from _serve(tmp_path_factory, "e2e-confirm", {"GOOSEBIT_CONFIRMATION_FLOW": "true"})


@pytest.fixture(scope="session")
def signer(tmp_path_factory: pytest.TempPathFactory) -> SigningPair:
    """The key the devices trust (their ``-k`` certificate)."""
    return make_signing_pair(tmp_path_factory.mktemp("keys"), "vendor")


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> SigningPair:
    """A key the devices do not trust."""
    return make_signing_pair(tmp_path_factory.mktemp("keys-other"), "stranger")


@pytest.fixture
def controller_id(request: pytest.FixtureRequest) -> str:
    """One device id per test: every test gets a device of its own on the shared server."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"e2e-{request.node.name}")[:200]


@pytest.fixture
def swupdate_factory(signer: SigningPair, tmp_path: Path, controller_id: str, request):
    """Makes sandboxed SWUpdate devices; all are killed (with their process groups) afterwards."""
    made: list[tuple[SWUpdateClient, Server]] = []

    def make(server: Server, **options) -> SWUpdateClient:
        options.setdefault("controller_id", controller_id)
        options.setdefault("cert", signer.cert)
        client = SWUpdateClient(tmp_path / f"device-{len(made)}", base_url=server.base_url, **options)
        made.append((client, server))
        return client

    yield make
    report = getattr(request.node, "rep_call", None)
    for client, server in made:
        client.stop()
        if report is not None and report.failed:
            print(client.diagnostics())
            print(server.diagnostics())


@pytest.fixture
def swupdate(e2e_server: Server, swupdate_factory) -> SWUpdateClient:
    """A sandboxed SWUpdate device of this test, talking to the shared server."""
    return swupdate_factory(e2e_server)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test body failed, to print the client and server logs.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
