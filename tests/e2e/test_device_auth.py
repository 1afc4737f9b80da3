"""SWUpdate against a server that requires device credentials (strict mode, TargetToken).

This is the configuration the README's "Connecting devices" section shows: the token in the
suricatta section of swupdate.cfg, stored on the server only as a hash.
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import Server

pytestmark = pytest.mark.e2e


def test_swupdate_sending_its_target_token_is_served_by_a_strict_server(
    strict_server: Server, swupdate_factory, controller_id: str
):
    server = strict_server
    server.call("create_device", controller_id=controller_id, sw_version="0.9.0")
    server.call("set_token", controller_id=controller_id, token="s3cret-token-of-this-device")
    client = swupdate_factory(server, token="s3cret-token-of-this-device")

    client.start()

    device = client.wait(
        lambda: (
            (d := server.call("device", controller_id=controller_id)) and d["sw_version"] == "1.0.0" and d
        ),
        timeout=30,
        message="configData sent with the device's token to be accepted",
        server=server,
    )
    assert device["attributes"] == {"sw_version": "1.0.0", "hw_boardname": "board", "hw_revision": "1"}
    assert server.log_lines(f'/controller/v1/{controller_id} HTTP/1.1" 401') == []


def test_swupdate_with_a_wrong_target_token_gets_401_and_changes_nothing(
    strict_server: Server, swupdate_factory, controller_id: str
):
    server = strict_server
    server.call("create_device", controller_id=controller_id, sw_version="0.9.0")
    server.call("set_token", controller_id=controller_id, token="the-right-token")
    client = swupdate_factory(server, token="a-wrong-token")

    client.start()

    refused = client.wait(
        lambda: server.log_lines(f'"PUT /DEFAULT/controller/v1/{controller_id}/configData HTTP/1.1" 401'),
        timeout=30,
        message="configData with a wrong token to be refused",
        server=server,
    )
    assert refused
    requests = [line for line in server.log_lines(f"/controller/v1/{controller_id}") if "HTTP/1.1" in line]
    assert any(f'"GET /DEFAULT/controller/v1/{controller_id} HTTP/1.1" 401' in line for line in requests)
    assert all('HTTP/1.1" 401 ' in line for line in requests)
    device = server.call("device", controller_id=controller_id)
    assert device["sw_version"] == "0.9.0"
    assert device["attributes"] == {"hw_boardname": "board", "hw_revision": "1", "sw_version": "0.9.0"}


def test_swupdate_with_a_token_from_before_encryption_is_served_and_its_token_upgraded(
    strict_server: Server, swupdate_factory, controller_id: str
):
    server = strict_server
    token = "Legacy0Token0Of0This0Device00001"
    server.call("create_device", controller_id=controller_id, sw_version="0.9.0")
    server.call("set_legacy_token", controller_id=controller_id, token=token)
    assert server.call("stored_token", controller_id=controller_id) == {"state": "legacy", "token": None}
    client = swupdate_factory(server, token=token)

    client.start()

    client.wait(
        lambda: server.call("device", controller_id=controller_id)["sw_version"] == "1.0.0",
        timeout=30,
        message="configData sent with the legacy token to be accepted",
        server=server,
    )
    assert server.call("stored_token", controller_id=controller_id) == {"state": "readable", "token": token}
    assert server.log_lines(f'/controller/v1/{controller_id} HTTP/1.1" 401') == []
    assert server.log_lines(token) == []
