"""Device authentication: target tokens, the gateway token and reverse-proxy certificate headers."""

from __future__ import annotations

import pytest

from devices.models import Device
from goosebit_project.lib.tokens import hash_token
from tests.ddi.helpers import (
    content_of,
    ddi_url,
    feedback_body,
    known_device,
    post_feedback,
    put_config,
    start_action,
)
from tests.factories import make_software

pytestmark = pytest.mark.django_db

TOKEN = "Zq8r3TtW2mYpL0aXc5VbN7dKf1HgJ4sE"
GATEWAY = "gateway-secret-1234567890"


def target(token: str = TOKEN) -> dict:
    return {"HTTP_AUTHORIZATION": f"TargetToken {token}"}


def gateway(token: str = GATEWAY) -> dict:
    return {"HTTP_AUTHORIZATION": f"GatewayToken {token}"}


def _assert_refused(response):
    assert response.status_code == 401
    assert response.content == b""
    assert "WWW-Authenticate" not in response


@pytest.fixture
def auth(settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_DEVICE_AUTH_MODE = "strict"
    settings.GOOSEBIT_GATEWAY_TOKEN = GATEWAY
    settings.GOOSEBIT_TRUSTED_PROXIES = ["10.0.0.1"]
    settings.GOOSEBIT_TRUSTED_AUTHORITIES = ["a1b2c3d4", "feedbeef"]
    return settings


# --- disabled ------------------------------------------------------------------------------


def test_without_device_auth_any_or_no_credential_is_accepted(ddi_client, settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = False
    known_device("dev-1", token=TOKEN)

    assert ddi_client.get(ddi_url("dev-1")).status_code == 200
    assert ddi_client.get(ddi_url("dev-1"), **target("wrong")).status_code == 200


# --- strict --------------------------------------------------------------------------------


def test_strict_accepts_the_devices_target_token(ddi_client, auth):
    known_device("dev-1", token=TOKEN)

    assert ddi_client.get(ddi_url("dev-1"), **target()).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "TargetToken wrong-token"},
        {"HTTP_AUTHORIZATION": "TargetToken "},
        {"HTTP_AUTHORIZATION": TOKEN},
        {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"},
        {"HTTP_AUTHORIZATION": f"targettoken {TOKEN}"},
    ],
    ids=["none", "wrong", "empty", "no-scheme", "bearer", "lowercase-scheme"],
)
def test_strict_refuses_a_missing_or_wrong_target_token_with_an_empty_401(ddi_client, auth, headers):
    known_device("dev-1", token=TOKEN)

    _assert_refused(ddi_client.get(ddi_url("dev-1"), **headers))


def test_strict_refuses_another_devices_target_token(ddi_client, auth):
    known_device("dev-1", token=TOKEN)
    known_device("dev-2", token="another-token-of-another-device")

    _assert_refused(ddi_client.get(ddi_url("dev-1"), **target("another-token-of-another-device")))


def test_strict_refuses_a_device_without_a_stored_token(ddi_client, auth):
    known_device("dev-1")

    _assert_refused(ddi_client.get(ddi_url("dev-1")))
    _assert_refused(ddi_client.get(ddi_url("dev-1"), **target("")))


def test_strict_answers_401_not_404_for_an_unknown_device_with_a_target_token(ddi_client, auth):
    _assert_refused(ddi_client.get(ddi_url("nobody"), **target()))
    _assert_refused(ddi_client.get(ddi_url("nobody", "deploymentBase", 1), **target()))
    assert not Device.objects.exists()


def test_strict_does_not_register_unknown_devices_without_credentials(ddi_client, auth):
    _assert_refused(ddi_client.get(ddi_url("nobody")))
    assert not Device.objects.exists()


def test_strict_accepts_the_gateway_token_for_any_device(ddi_client, auth):
    known_device("dev-1", token=TOKEN)
    known_device("dev-2")

    assert ddi_client.get(ddi_url("dev-1"), **gateway()).status_code == 200
    assert ddi_client.get(ddi_url("dev-2"), **gateway()).status_code == 200


def test_the_gateway_token_allows_plug_and_play_registration(ddi_client, auth):
    response = ddi_client.get(ddi_url("brand-new"), **gateway())

    assert response.status_code == 200
    assert Device.objects.get(controller_id="brand-new").state == Device.State.REGISTERED


def test_strict_refuses_a_wrong_gateway_token(ddi_client, auth):
    known_device("dev-1", token=TOKEN)

    _assert_refused(ddi_client.get(ddi_url("dev-1"), **gateway("wrong")))
    _assert_refused(ddi_client.get(ddi_url("brand-new"), **gateway("wrong")))
    assert not Device.objects.filter(controller_id="brand-new").exists()


def test_a_gateway_token_is_refused_when_none_is_configured(ddi_client, auth):
    auth.GOOSEBIT_GATEWAY_TOKEN = ""
    known_device("dev-1", token=TOKEN)

    _assert_refused(ddi_client.get(ddi_url("dev-1"), HTTP_AUTHORIZATION="GatewayToken "))
    _assert_refused(ddi_client.get(ddi_url("dev-1"), **gateway("anything")))


def test_the_gateway_token_does_not_register_devices_through_config_data(ddi_client, auth):
    response = put_config(ddi_client, "brand-new", {"data": {"a": "b"}}, **gateway())

    assert response.status_code == 404
    assert not Device.objects.exists()


# --- every endpoint ------------------------------------------------------------------------


def test_strict_protects_every_endpoint_of_the_device(ddi_client, auth):
    device = known_device("dev-1", token=TOKEN)
    software = make_software("2.0.0")
    action = start_action(device, software)
    artifacts = ddi_url("dev-1", "softwaremodules", software.package.module_id, "artifacts")

    _assert_refused(ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk)))
    _assert_refused(post_feedback(ddi_client, "dev-1", action.pk, feedback_body("closed", "success")))
    _assert_refused(put_config(ddi_client, "dev-1", {"data": {"a": "b"}}))
    _assert_refused(ddi_client.get(ddi_url("dev-1", "cancelAction", action.pk)))
    _assert_refused(ddi_client.get(ddi_url("dev-1", "installedBase", action.pk)))
    _assert_refused(ddi_client.get(artifacts))
    _assert_refused(ddi_client.get(f"{artifacts}/{software.package.filename}"))
    _assert_refused(ddi_client.head(f"{artifacts}/{software.package.filename}"))
    _assert_refused(ddi_client.get(f"{artifacts}/{software.package.filename}.MD5SUM"))
    action.refresh_from_db()
    assert action.status == "pending"
    assert not action.statuses.exists()
    assert Device.objects.get(pk=device.pk).attributes == device.attributes


def test_downloads_work_with_the_target_token(ddi_client, auth):
    device = known_device("dev-1", token=TOKEN)
    software = make_software("2.0.0", content=b"payload")
    start_action(device, software)
    url = ddi_url(
        "dev-1", "softwaremodules", software.package.module_id, "artifacts", software.package.filename
    )

    response = ddi_client.get(url, HTTP_ACCEPT="application/octet-stream", **target())

    assert response.status_code == 200
    assert content_of(response) == b"payload"


def test_auth_runs_before_the_404_checks(ddi_client, auth):
    known_device("dev-1", token=TOKEN)

    _assert_refused(ddi_client.get(ddi_url("dev-1", "deploymentBase", 999999)))
    _assert_refused(ddi_client.get(ddi_url("dev-1", "softwaremodules", 999999, "artifacts", "x.swu")))


def test_tokens_never_appear_in_responses(ddi_client, auth):
    device = known_device("dev-1", token=TOKEN, request_attributes=True)
    action = start_action(device, make_software("2.0.0"))

    for headers in (target(), gateway()):
        root = ddi_client.get(ddi_url("dev-1"), **headers)
        deployment = ddi_client.get(ddi_url("dev-1", "deploymentBase", action.pk), **headers)
        for response in (root, deployment):
            assert response.status_code == 200
            assert TOKEN.encode() not in response.content
            assert GATEWAY.encode() not in response.content
            assert all(TOKEN not in value and GATEWAY not in value for _, value in response.items())


# --- reverse-proxy headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_SSL_CLIENT_CN": "dev-1", "HTTP_X_SSL_ISSUER_HASH_1": "a1b2c3d4"},
        {"HTTP_X_CONTROLLER_ID": "dev-1", "HTTP_X_AUTHORITY": "a1b2c3d4"},
        {"HTTP_X_CONTROLLER_ID": "dev-1", "HTTP_X_AUTHORITY": "FEEDBEEF"},
        {"HTTP_X_CONTROLLER_ID": "dev-1", "HTTP_X_AUTHORITY": "00000000;FEEDBEEF"},
        {"HTTP_X_CONTROLLER_ID": "dev-1", "HTTP_X_AUTHORITY": "00000000, a1b2c3d4"},
        {"HTTP_X_CONTROLLER_ID": "dev-1", "HTTP_X_AUTHORITY_1": "0000", "HTTP_X_AUTHORITY_2": "a1b2c3d4"},
        {
            "HTTP_X_SSL_CLIENT_CN": "dev-1",
            "HTTP_X_SSL_ISSUER_HASH_1": "0000",
            "HTTP_X_SSL_ISSUER_HASH_2": "feedbeef",
        },
    ],
    ids=[
        "legacy-names",
        "new-names",
        "case-insensitive",
        "semicolon-list",
        "comma-list",
        "hawkbit-1.0-names",
        "second-numbered",
    ],
)
def test_a_trusted_proxy_authenticates_the_device_by_certificate_headers(ddi_client, auth, headers):
    known_device("dev-1", token=TOKEN)

    response = ddi_client.get(ddi_url("dev-1"), REMOTE_ADDR="10.0.0.1", **headers)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("remote_addr", "headers"),
    [
        ("10.0.0.1", {"HTTP_X_CONTROLLER_ID": "dev-2", "HTTP_X_AUTHORITY": "a1b2c3d4"}),
        ("10.0.0.1", {"HTTP_X_SSL_CLIENT_CN": "dev-2", "HTTP_X_SSL_ISSUER_HASH_1": "a1b2c3d4"}),
        ("10.0.0.1", {"HTTP_X_CONTROLLER_ID": "dev-1", "HTTP_X_AUTHORITY": "99999999"}),
        ("10.0.0.1", {"HTTP_X_CONTROLLER_ID": "dev-1"}),
        ("10.0.0.1", {"HTTP_X_AUTHORITY": "a1b2c3d4"}),
        ("10.0.0.2", {"HTTP_X_CONTROLLER_ID": "dev-1", "HTTP_X_AUTHORITY": "a1b2c3d4"}),
        ("10.0.0.2", {"HTTP_X_SSL_CLIENT_CN": "dev-1", "HTTP_X_SSL_ISSUER_HASH_1": "a1b2c3d4"}),
    ],
    ids=[
        "other-controller-id",
        "other-client-cn",
        "unknown-authority",
        "missing-authority",
        "missing-controller-id",
        "untrusted-proxy",
        "untrusted-proxy-legacy-names",
    ],
)
def test_certificate_headers_are_refused_unless_all_match_from_a_trusted_proxy(
    ddi_client, auth, remote_addr, headers
):
    known_device("dev-1", token=TOKEN)

    _assert_refused(ddi_client.get(ddi_url("dev-1"), REMOTE_ADDR=remote_addr, **headers))


def test_certificate_headers_are_refused_when_no_proxy_is_trusted(ddi_client, auth):
    auth.GOOSEBIT_TRUSTED_PROXIES = []
    known_device("dev-1", token=TOKEN)

    response = ddi_client.get(
        ddi_url("dev-1"), REMOTE_ADDR="10.0.0.1", HTTP_X_CONTROLLER_ID="dev-1", HTTP_X_AUTHORITY="a1b2c3d4"
    )

    _assert_refused(response)


# --- lax -----------------------------------------------------------------------------------


@pytest.fixture
def lax(auth):
    auth.GOOSEBIT_DEVICE_AUTH_MODE = "lax"
    return auth


def test_lax_registers_unknown_devices_that_send_no_token(ddi_client, lax):
    assert ddi_client.get(ddi_url("brand-new")).status_code == 200
    assert Device.objects.get(controller_id="brand-new").state == Device.State.REGISTERED


def test_lax_accepts_a_device_without_a_token_that_sends_none(ddi_client, lax):
    known_device("dev-1")

    assert ddi_client.get(ddi_url("dev-1")).status_code == 200


def test_lax_accepts_the_stored_token(ddi_client, lax):
    known_device("dev-1", token=TOKEN)

    assert ddi_client.get(ddi_url("dev-1"), **target()).status_code == 200


def test_lax_refuses_a_device_with_a_stored_token_that_sends_none(ddi_client, lax):
    known_device("dev-1", token=TOKEN)

    _assert_refused(ddi_client.get(ddi_url("dev-1")))


def test_lax_refuses_a_wrong_token(ddi_client, lax):
    known_device("dev-1", token=TOKEN)

    _assert_refused(ddi_client.get(ddi_url("dev-1"), **target("wrong")))


def test_lax_refuses_a_token_from_a_device_without_a_stored_token(ddi_client, lax):
    device = known_device("dev-1")

    _assert_refused(ddi_client.get(ddi_url("dev-1"), **target()))
    device.refresh_from_db()
    assert device.token_hash == ""


def test_lax_accepts_the_gateway_token(ddi_client, lax):
    known_device("dev-1", token=TOKEN)

    assert ddi_client.get(ddi_url("dev-1"), **gateway()).status_code == 200


# --- setup ---------------------------------------------------------------------------------


@pytest.fixture
def setup_mode(auth):
    auth.GOOSEBIT_DEVICE_AUTH_MODE = "setup"
    return auth


def test_setup_registers_unknown_devices_without_a_token(ddi_client, setup_mode):
    assert ddi_client.get(ddi_url("brand-new")).status_code == 200
    device = Device.objects.get(controller_id="brand-new")
    assert device.state == Device.State.REGISTERED
    assert device.token_hash == ""


def test_setup_stores_the_token_an_unknown_device_sends(ddi_client, setup_mode):
    response = ddi_client.get(ddi_url("brand-new"), **target())

    assert response.status_code == 200
    assert TOKEN.encode() not in response.content
    assert Device.objects.get(controller_id="brand-new").token_hash == hash_token(TOKEN)


def test_setup_refuses_a_different_token_and_keeps_the_first_one(ddi_client, setup_mode):
    device = known_device("dev-1", token="the-first-token")

    _assert_refused(ddi_client.get(ddi_url("dev-1"), **target()))

    device.refresh_from_db()
    assert device.token_hash == hash_token("the-first-token")
    assert ddi_client.get(ddi_url("dev-1"), **target("the-first-token")).status_code == 200


def test_setup_a_hijacking_poll_does_not_lock_the_real_device_out_after_strict(ddi_client, setup_mode):
    assert ddi_client.get(ddi_url("dev-1"), **target()).status_code == 200
    _assert_refused(ddi_client.get(ddi_url("dev-1"), **target("attacker-token")))

    setup_mode.GOOSEBIT_DEVICE_AUTH_MODE = "strict"

    assert ddi_client.get(ddi_url("dev-1"), **target()).status_code == 200
    _assert_refused(ddi_client.get(ddi_url("dev-1"), **target("attacker-token")))


def test_setup_stores_the_first_token_of_a_known_device_without_one(ddi_client, setup_mode):
    device = known_device("dev-1")

    assert ddi_client.get(ddi_url("dev-1"), **target()).status_code == 200
    _assert_refused(put_config(ddi_client, "dev-1", {"data": {"a": "b"}}, **target("second-token")))

    device.refresh_from_db()
    assert device.token_hash == hash_token(TOKEN)


def test_setup_token_claim_is_a_compare_and_swap(setup_mode):
    from devices import services

    first = known_device("dev-1")
    racer = Device.objects.get(pk=first.pk)  # a second worker read the row before either stored

    assert services.device_claim_token(device=first, token="token-of-the-first-poll") is True
    assert services.device_claim_token(device=racer, token="token-of-the-second-poll") is False
    assert services.device_claim_token(device=racer, token="token-of-the-first-poll") is True
    assert Device.objects.get(pk=first.pk).token_hash == hash_token("token-of-the-first-poll")


def test_setup_a_racing_registration_with_another_token_is_refused(ddi_client, setup_mode, monkeypatch):
    from devices import selectors

    # The racing poll looked the device up before the first poll registered it.
    monkeypatch.setattr(selectors, "device_for_poll", lambda *, controller_id: None)
    assert ddi_client.get(ddi_url("dev-1"), **target()).status_code == 200

    _assert_refused(ddi_client.get(ddi_url("dev-1"), **target("token-of-the-racer")))

    assert Device.objects.get(controller_id="dev-1").token_hash == hash_token(TOKEN)


def test_setup_accepts_a_request_without_a_token_and_keeps_the_stored_one(ddi_client, setup_mode):
    device = known_device("dev-1", token=TOKEN)

    assert ddi_client.get(ddi_url("dev-1")).status_code == 200

    device.refresh_from_db()
    assert device.token_hash == hash_token(TOKEN)


# --- bad tokens ----------------------------------------------------------------------------


def test_setup_mode_refuses_an_overlong_token_without_registering_the_device(ddi_client, setup_mode):
    response = ddi_client.get(ddi_url("brand-new"), **target("t" * 200))

    assert 400 <= response.status_code < 500
    assert not Device.objects.exists()


def test_setup_mode_refuses_an_overlong_token_for_a_known_device_and_keeps_its_token(ddi_client, setup_mode):
    device = known_device("dev-1", token=TOKEN)

    response = ddi_client.get(ddi_url("dev-1"), **target("t" * 200))

    assert 400 <= response.status_code < 500
    device.refresh_from_db()
    assert device.token_hash == hash_token(TOKEN)
