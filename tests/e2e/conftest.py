"""Session fixtures of the end-to-end tests: one real gunicorn server, real SWUpdate clients.

The server gets a database of its own, never pytest-django's test database: a temporary SQLite
file, or, when the suite runs on PostgreSQL (GOOSEBIT_DB_URI=postgres://.../<name>), a throwaway
database ``<name>_e2e`` that is dropped at the end. Tests read and set the server's state through
its state agent (``e2e_server.call(...)``), so they need no ``db`` fixture.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.e2e.helpers import Server, SWUpdateClient, postgres_drop, postgres_recreate
from tests.packages import SigningPair, make_signing_pair


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("e2e-server")
    suite_uri = os.environ.get("GOOSEBIT_DB_URI", "")
    pg_name = None
    if suite_uri.startswith(("postgres://", "postgresql://", "pgsql://")):
        pg_name = unquote(urlsplit(suite_uri).path.lstrip("/")) + "_e2e"
        db_uri = postgres_recreate(suite_uri, pg_name)
    else:
        db_uri = f"sqlite:///{directory / 'e2e.sqlite3'}"
    server = Server(directory, db_uri=db_uri, workers=3)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if pg_name:
            postgres_drop(suite_uri, pg_name)


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
    return f"e2e-{request.node.name}"[:200]


@pytest.fixture
def swupdate(
    e2e_server: Server, signer: SigningPair, tmp_path: Path, controller_id: str, request
) -> Iterator[SWUpdateClient]:
    """A sandboxed SWUpdate device for this test; killed (with its process group) afterwards."""
    client = SWUpdateClient(
        tmp_path / "device", base_url=e2e_server.base_url, controller_id=controller_id, cert=signer.cert
    )
    yield client
    client.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(client.diagnostics())
        print(e2e_server.diagnostics())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test body failed, to print the client and server logs.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
