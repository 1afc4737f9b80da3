"""Runtime tenant settings on the DDI API: the poll's sleep and each authentication mechanism
follow a change at once, without a restart; the steady poll stays one query."""

from __future__ import annotations

import pytest

from devices import services, tenant_config
from devices.models import Device
from tests.ddi.helpers import ddi_url, known_device, poll, put_config

pytestmark = pytest.mark.django_db

TOKEN = "Zq8r3TtW2mYpL0aXc5VbN7dKf1HgJ4sE"
GATEWAY = "gateway-secret-1234567890"
PROXY = "10.0.0.1"
CERT = {"HTTP_X_CONTROLLER_ID": "dev-1", "HTTP_X_AUTHORITY": "a1b2c3d4", "REMOTE_ADDR": PROXY}


def target(token: str = TOKEN) -> dict:
    return {"HTTP_AUTHORIZATION": f"TargetToken {token}"}


def gateway(token: str = GATEWAY) -> dict:
    return {"HTTP_AUTHORIZATION": f"GatewayToken {token}"}


def status(client, cid: str = "dev-1", **headers) -> int:
    return client.get(ddi_url(cid), **headers).status_code


@pytest.fixture
def env_auth_off(settings):
    """Today's default environment: no device authentication, a proxy address known."""
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = False
    settings.GOOSEBIT_DEVICE_AUTH_MODE = "strict"
    settings.GOOSEBIT_GATEWAY_TOKEN = ""
    settings.GOOSEBIT_TRUSTED_PROXIES = [PROXY]
    settings.GOOSEBIT_TRUSTED_AUTHORITIES = []
    return settings


# --- polling time --------------------------------------------------------------------------


def test_changing_the_polling_time_changes_the_next_polls_sleep(ddi_client):
    known_device("dev-1")
    assert poll(ddi_client, "dev-1")["config"] == {"polling": {"sleep": "00:01:00"}}

    services.tenant_setting_set(key="pollingTime", value="00:05:00", user="alice")
    assert poll(ddi_client, "dev-1")["config"] == {"polling": {"sleep": "00:05:00"}}

    services.tenant_setting_reset(key="pollingTime", user="alice")
    assert poll(ddi_client, "dev-1")["config"] == {"polling": {"sleep": "00:01:00"}}


def test_a_registering_device_keeps_the_registration_polling_time(ddi_client):
    services.tenant_setting_set(key="pollingTime", value="00:05:00")
    # A new device was asked for its configData: it polls at GOOSEBIT_POLL_TIME_REGISTRATION.
    assert poll(ddi_client, "brand-new")["config"] == {"polling": {"sleep": "00:00:10"}}
    put_config(ddi_client, "brand-new", {"mode": "merge", "data": {"hw_boardname": "b", "hw_revision": "1"}})
    assert poll(ddi_client, "brand-new")["config"] == {"polling": {"sleep": "00:05:00"}}


def test_a_steady_poll_with_a_stored_polling_time_is_still_one_query(
    ddi_client, settings, django_assert_num_queries
):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 300
    known_device("dev-1")
    services.tenant_setting_set(key="pollingTime", value="00:05:00")
    poll(ddi_client, "dev-1")  # reads the settings once, records last_seen

    with django_assert_num_queries(1):
        assert poll(ddi_client, "dev-1")["config"] == {"polling": {"sleep": "00:05:00"}}


def test_once_the_ttl_expired_a_poll_reads_the_settings_again_with_one_more_query(
    ddi_client, settings, django_assert_num_queries
):
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 300
    known_device("dev-1")
    poll(ddi_client, "dev-1")
    tenant_config.cache.invalidate()  # as when the TTL ran out

    with django_assert_num_queries(2):
        poll(ddi_client, "dev-1")
    with django_assert_num_queries(1):
        poll(ddi_client, "dev-1")


# --- the defaults are today's behaviour ------------------------------------------------------


def test_with_the_environment_defaults_the_api_stays_open(ddi_client, env_auth_off):
    known_device("dev-1", token=TOKEN)
    assert status(ddi_client) == 200
    assert status(ddi_client, **target("wrong")) == 200


# --- target token ----------------------------------------------------------------------------


def test_switching_target_tokens_on_and_off_at_runtime(ddi_client, env_auth_off):
    known_device("dev-1", token=TOKEN)

    services.tenant_setting_set(key="authentication.targettoken.enabled", value=True)
    assert status(ddi_client, **target()) == 200
    assert status(ddi_client, **target("wrong")) == 401
    assert status(ddi_client) == 401
    assert status(ddi_client, "nobody") == 401  # strict (GOOSEBIT_DEVICE_AUTH__MODE) applies
    assert not Device.objects.filter(controller_id="nobody").exists()

    services.tenant_setting_set(key="authentication.targettoken.enabled", value=False)
    assert status(ddi_client, **target("wrong")) == 200


def test_with_target_tokens_off_but_the_gateway_on_a_target_token_is_refused(ddi_client, settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_GATEWAY_TOKEN = GATEWAY
    known_device("dev-1", token=TOKEN)
    assert status(ddi_client, **target()) == 200

    services.tenant_setting_set(key="authentication.targettoken.enabled", value=False)

    assert status(ddi_client, **target()) == 401
    assert status(ddi_client, **gateway()) == 200


# --- gateway token ---------------------------------------------------------------------------


def test_switching_the_gateway_token_on_with_its_key_at_runtime(ddi_client, env_auth_off):
    known_device("dev-1", token=TOKEN)
    services.tenant_settings_update(
        values={"authentication.gatewaytoken.enabled": True, "authentication.gatewaytoken.key": GATEWAY}
    )

    assert status(ddi_client, **gateway()) == 200
    assert status(ddi_client, "brand-new", **gateway()) == 200  # plug and play registration
    assert Device.objects.filter(controller_id="brand-new").exists()
    assert status(ddi_client, **gateway("wrong")) == 401
    assert status(ddi_client) == 401  # target tokens are off: nothing else authenticates
    assert status(ddi_client, **target()) == 401


def test_a_new_gateway_key_replaces_the_old_one_at_once(ddi_client, settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_GATEWAY_TOKEN = GATEWAY
    known_device("dev-1")
    assert status(ddi_client, **gateway()) == 200

    services.tenant_setting_set(key="authentication.gatewaytoken.key", value="rotated-key-0987654321")

    assert status(ddi_client, **gateway()) == 401
    assert status(ddi_client, **gateway("rotated-key-0987654321")) == 200

    services.tenant_setting_set(key="authentication.gatewaytoken.enabled", value=False)
    assert status(ddi_client, **gateway("rotated-key-0987654321")) == 401


def test_the_gateway_enabled_without_a_key_accepts_no_gateway_token(ddi_client, env_auth_off):
    known_device("dev-1")
    services.tenant_setting_set(key="authentication.gatewaytoken.enabled", value=True)

    assert status(ddi_client, HTTP_AUTHORIZATION="GatewayToken x") == 401
    assert status(ddi_client) == 401


# --- certificate headers -----------------------------------------------------------------------


def test_switching_certificate_headers_on_with_an_authority_at_runtime(ddi_client, env_auth_off):
    known_device("dev-1")
    assert status(ddi_client, **CERT) == 200  # open API

    services.tenant_settings_update(
        values={"authentication.header.enabled": True, "authentication.header.authority": "A1B2C3D4;feedbeef"}
    )
    assert status(ddi_client, **CERT) == 200
    assert status(ddi_client, **{**CERT, "HTTP_X_AUTHORITY": "FEEDBEEF"}) == 200
    assert status(ddi_client, **{**CERT, "HTTP_X_AUTHORITY": "99999999"}) == 401
    assert status(ddi_client, **{**CERT, "REMOTE_ADDR": "10.0.0.2"}) == 401  # proxies stay env-only
    assert status(ddi_client) == 401

    services.tenant_setting_set(key="authentication.header.authority", value="99999999")
    assert status(ddi_client, **CERT) == 401
    assert status(ddi_client, **{**CERT, "HTTP_X_AUTHORITY": "99999999"}) == 200


def test_switching_certificate_headers_off_refuses_them(ddi_client, settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_TRUSTED_PROXIES = [PROXY]
    settings.GOOSEBIT_TRUSTED_AUTHORITIES = ["a1b2c3d4"]
    known_device("dev-1", token=TOKEN)
    assert status(ddi_client, **CERT) == 200

    services.tenant_setting_set(key="authentication.header.enabled", value=False)

    assert status(ddi_client, **CERT) == 401
    assert status(ddi_client, **target()) == 200


def test_switching_every_mechanism_off_opens_the_api_as_without_device_auth(ddi_client, settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    known_device("dev-1", token=TOKEN)
    assert status(ddi_client) == 401

    services.tenant_setting_set(key="authentication.targettoken.enabled", value=False)

    assert status(ddi_client) == 200


# --- the database fails while the settings are read --------------------------------------------


def _settings_unreadable(monkeypatch):
    from django.db.utils import OperationalError

    from devices.models import TenantConfiguration

    def down(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(TenantConfiguration.objects, "values_list", down)


@pytest.mark.django_db(transaction=True)
def test_a_poll_whose_settings_cannot_be_read_answers_503_not_500(monkeypatch):
    from tests.test_wsgi import call

    known_device("dev-1")
    tenant_config.cache.invalidate()  # nothing read yet in this worker
    _settings_unreadable(monkeypatch)

    status, headers, content = call("/DEFAULT/controller/v1/dev-1")

    assert status == 503
    assert headers["Retry-After"] == "10"
    assert b"hawkbit.server.error.serviceUnavailable" in content


@pytest.mark.django_db(transaction=True)
def test_a_poll_keeps_the_settings_read_before_while_they_cannot_be_read(monkeypatch, settings):
    from tests.test_wsgi import call

    known_device("dev-1")
    services.tenant_setting_set(key="pollingTime", value="00:04:00")
    assert tenant_config.cache.get().polling_time == "00:04:00"
    settings.GOOSEBIT_TENANT_CONFIG_TTL = 0  # every request would read them again
    _settings_unreadable(monkeypatch)

    status, _, content = call("/DEFAULT/controller/v1/dev-1")

    assert status == 200
    assert b'"sleep":"00:04:00"' in content
