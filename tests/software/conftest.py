"""Real packages for the software tests, built once per session where they do not vary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packages import SigningPair, build_raucb, make_signing_pair


@pytest.fixture(scope="session")
def signer(tmp_path_factory) -> SigningPair:
    return make_signing_pair(tmp_path_factory.mktemp("signer"))


@pytest.fixture(scope="session")
def raucb_plain(tmp_path_factory, signer) -> Path:
    directory = tmp_path_factory.mktemp("raucb")
    return build_raucb(directory / "bundle.raucb", version="2.1.0", compatible="myboard-rev2", signer=signer)


@pytest.fixture(scope="session")
def raucb_verity(tmp_path_factory, signer) -> Path:
    directory = tmp_path_factory.mktemp("raucb")
    return build_raucb(
        directory / "verity.raucb", version="2.2.0", compatible="myboard", format="verity", signer=signer
    )
