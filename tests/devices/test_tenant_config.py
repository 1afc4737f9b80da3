"""Runtime tenant settings: the key registry, defaults from the environment, services and the cache."""

from __future__ import annotations

import pytest
from django.db.utils import OperationalError, ProgrammingError

from devices import selectors, services, tenant_config
from devices.models import TenantConfiguration, TenantConfigurationChange
from goosebit_project.lib.errors import InvalidInput, NotFound

pytestmark = pytest.mark.django_db


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, settings):
    fake = FakeClock()
    monkeypatch.setattr(tenant_config, "time", fake)
    settings.GOOSEBIT_TENANT_CONFIG_TTL = 5
    tenant_config.cache.invalidate()
    return fake


# --- defaults reproduce the environment --------------------------------------------------------


def test_without_device_auth_every_mechanism_defaults_to_off(settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = False
    settings.GOOSEBIT_GATEWAY_TOKEN = "gw-secret"
    settings.GOOSEBIT_TRUSTED_AUTHORITIES = ["a1b2"]

    config = selectors.tenant_config()

    assert (config.target_token_enabled, config.gateway_token_enabled, config.header_enabled) == (
        False,
        False,
        False,
    )
    assert config.device_auth_enabled is False
    assert config.gateway_token_key == "gw-secret"
    assert config.header_authorities == ("a1b2",)


def test_with_device_auth_each_mechanism_is_on_when_the_environment_configures_it(settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    settings.GOOSEBIT_GATEWAY_TOKEN = ""
    settings.GOOSEBIT_TRUSTED_AUTHORITIES = []
    config = selectors.tenant_config()
    assert (config.target_token_enabled, config.gateway_token_enabled, config.header_enabled) == (
        True,
        False,
        False,
    )

    settings.GOOSEBIT_GATEWAY_TOKEN = "gw-secret"
    settings.GOOSEBIT_TRUSTED_AUTHORITIES = ["a1b2", "feedbeef"]
    config = selectors.tenant_config()
    assert (config.gateway_token_enabled, config.header_enabled) == (True, True)
    assert config.header_authorities == ("a1b2", "feedbeef")
    assert tenant_config.default_value("authentication.header.authority") == "a1b2;feedbeef"


def test_polling_defaults_come_from_the_environment(settings):
    settings.GOOSEBIT_POLL_TIME = "00:02:30"
    settings.GOOSEBIT_POLL_OVERDUE_TIME = ""
    settings.GOOSEBIT_LAST_SEEN_INTERVAL = 30
    settings.GOOSEBIT_LAST_SEEN_FLUSH_SECONDS = 2

    config = selectors.tenant_config()

    assert config.polling_time == "00:02:30"
    # Today's overdue threshold: poll time + last-seen interval + flush + 10 s.
    assert config.polling_overdue_time == "00:00:42"
    assert selectors.overdue_after().total_seconds() == 150 + 42

    settings.GOOSEBIT_POLL_OVERDUE_TIME = "00:05:00"
    assert selectors.tenant_config().polling_overdue_time == "00:05:00"


def test_confirmation_flow_and_rollout_approval_default_to_off(settings):
    config = selectors.tenant_config()
    assert (config.confirmation_flow_enabled, config.rollout_approval_enabled) == (False, False)
    settings.GOOSEBIT_CONFIRMATION_FLOW = True
    assert selectors.tenant_config().confirmation_flow_enabled is True


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "pollingTime",
            "24:00:00",
            "pollingTime must be a duration of the form HH:mm:ss up to 23:59:59, got '24:00:00'",
        ),
        (
            "pollingTime",
            "1:00",
            "pollingTime must be a duration of the form HH:mm:ss up to 23:59:59, got '1:00'",
        ),
        ("pollingTime", 60, "pollingTime must be a duration of the form HH:mm:ss up to 23:59:59, got 60"),
        ("pollingTime", "00:00:00", "pollingTime must be longer than 00:00:00"),
        (
            "pollingOverdueTime",
            "00:61:00",
            "pollingOverdueTime must be a duration of the form HH:mm:ss up to 23:59:59, got '00:61:00'",
        ),
        (
            "authentication.targettoken.enabled",
            "yes",
            "authentication.targettoken.enabled must be true or false, got 'yes'",
        ),
        (
            "authentication.gatewaytoken.enabled",
            1,
            "authentication.gatewaytoken.enabled must be true or false, got 1",
        ),
        (
            "authentication.gatewaytoken.key",
            "has space",
            "authentication.gatewaytoken.key must be printable ASCII without spaces",
        ),
        ("authentication.gatewaytoken.key", 5, "authentication.gatewaytoken.key must be a string, got 5"),
        (
            "authentication.header.authority",
            "a b",
            "authentication.header.authority holds an authority with blanks or non-ASCII characters: 'a b'",
        ),
        (
            "authentication.header.authority",
            7,
            "authentication.header.authority must be a string of authorities separated by ';', got 7",
        ),
    ],
)
def test_an_invalid_value_is_refused_naming_the_key_and_nothing_is_stored(key, value, message):
    with pytest.raises(InvalidInput) as caught:
        services.tenant_setting_set(key=key, value=value, user="alice")
    assert caught.value.message == message
    assert not TenantConfiguration.objects.exists()


def test_an_unknown_key_is_refused_by_name():
    with pytest.raises(NotFound) as caught:
        services.tenant_setting_set(key="pollingTimes", value="00:01:00")
    assert caught.value.message.startswith("unknown tenant setting 'pollingTimes'; known keys: pollingTime, ")
    with pytest.raises(NotFound):
        services.tenant_setting_reset(key="nope")


def test_several_values_are_stored_all_or_none():
    with pytest.raises(InvalidInput):
        services.tenant_settings_update(values={"pollingTime": "00:05:00", "pollingOverdueTime": "x"})
    assert not TenantConfiguration.objects.exists()


def test_values_are_normalized_as_hawkbit_stores_them():
    services.tenant_settings_update(
        values={
            "authentication.targettoken.enabled": "TRUE",
            "authentication.header.authority": ["A1B2", " feedbeef ", "a1b2"],
            "pollingTime": " 00:05:00 ",
        }
    )
    stored = dict(TenantConfiguration.objects.values_list("key", "value"))
    assert stored == {
        "authentication.targettoken.enabled": True,
        "authentication.header.authority": "a1b2;feedbeef",
        "pollingTime": "00:05:00",
    }
    services.tenant_setting_set(key="authentication.header.authority", value="x1, X2;")
    assert selectors.tenant_config().header_authorities == ("x1", "x2")


# --- who changed what ------------------------------------------------------------------------


def test_changes_and_resets_are_recorded_with_who_and_when_without_the_gateway_key():
    services.tenant_setting_set(key="pollingTime", value="00:05:00", user="alice")
    services.tenant_setting_set(key="pollingTime", value="00:05:00", user="bob")  # no change
    services.tenant_setting_set(key="pollingTime", value="00:06:00", user="bob")
    services.tenant_setting_set(key="authentication.gatewaytoken.key", value="s3cret", user="carol")

    row = TenantConfiguration.objects.get(key="pollingTime")
    assert (row.value, row.created_by, row.last_modified_by) == ("00:06:00", "alice", "bob")
    assert row.last_modified_at >= row.created_at

    services.tenant_setting_reset(key="pollingTime", user="dave")
    assert not TenantConfiguration.objects.filter(key="pollingTime").exists()
    history = [(c.key, c.value, c.changed_by) for c in TenantConfigurationChange.objects.order_by("id")]
    assert history == [
        ("pollingTime", "00:05:00", "alice"),
        ("pollingTime", "00:06:00", "bob"),
        ("authentication.gatewaytoken.key", "********", "carol"),
        ("pollingTime", None, "dave"),
    ]


def test_the_settings_list_shows_value_default_and_whether_it_is_stored(settings):
    settings.GOOSEBIT_POLL_TIME = "00:01:00"
    services.tenant_setting_set(key="pollingTime", value="00:05:00", user="alice")

    items = {item.key: item for item in selectors.tenant_settings_list()}

    assert list(items) == list(tenant_config.KEYS)
    polling = items["pollingTime"]
    assert (polling.value, polling.default, polling.is_global, polling.last_modified_by) == (
        "00:05:00",
        "00:01:00",
        False,
        "alice",
    )
    assert items["pollingOverdueTime"].is_global is True


def test_a_stored_value_that_is_no_longer_valid_falls_back_to_the_default(settings):
    settings.GOOSEBIT_POLL_TIME = "00:01:00"
    TenantConfiguration.objects.create(
        key="pollingTime",
        value="99:00:00",
        created_at="2026-01-01T00:00Z",
        last_modified_at="2026-01-01T00:00Z",
    )
    tenant_config.cache.invalidate()
    assert selectors.tenant_config().polling_time == "00:01:00"


# --- the per-process cache -------------------------------------------------------------------


def _store_behind_the_caches_back(key, value):
    """As another worker does: the row changes, this process's cache is not told."""
    TenantConfiguration.objects.update_or_create(
        key=key,
        defaults={"value": value, "created_at": "2026-01-01T00:00Z", "last_modified_at": "2026-01-01T00:00Z"},
    )


def test_a_change_in_this_process_applies_at_once(clock):
    assert selectors.tenant_config().polling_time == "00:01:00"

    services.tenant_setting_set(key="pollingTime", value="00:07:00")

    assert selectors.tenant_config().polling_time == "00:07:00"
    services.tenant_setting_reset(key="pollingTime")
    assert selectors.tenant_config().polling_time == "00:01:00"


def test_another_workers_change_applies_once_the_ttl_expired(clock, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert selectors.tenant_config().polling_time == "00:01:00"
    _store_behind_the_caches_back("pollingTime", "00:07:00")

    clock.now += 4.9
    with django_assert_num_queries(0):
        assert selectors.tenant_config().polling_time == "00:01:00"
    clock.now += 0.2
    with django_assert_num_queries(1):
        assert selectors.tenant_config().polling_time == "00:07:00"
    with django_assert_num_queries(0):
        assert selectors.tenant_config().polling_time == "00:07:00"


def test_a_ttl_of_zero_reads_on_every_access(clock, settings, django_assert_num_queries):
    settings.GOOSEBIT_TENANT_CONFIG_TTL = 0
    with django_assert_num_queries(2):
        selectors.tenant_config()
        selectors.tenant_config()


def test_an_unavailable_database_keeps_the_values_read_before(clock, monkeypatch, caplog):
    services.tenant_setting_set(key="pollingTime", value="00:07:00")
    assert selectors.tenant_config().polling_time == "00:07:00"

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(TenantConfiguration.objects, "values_list", down)
    clock.now += 10
    assert selectors.tenant_config().polling_time == "00:07:00"
    assert "keeping the values read before" in caplog.text


def test_an_unavailable_database_with_nothing_read_yet_raises_for_the_503(clock, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(TenantConfiguration.objects, "values_list", down)
    with pytest.raises(OperationalError):
        selectors.tenant_config()


def test_a_missing_table_uses_the_defaults(clock, monkeypatch, settings):
    settings.GOOSEBIT_POLL_TIME = "00:03:00"

    def missing(*args, **kwargs):
        raise ProgrammingError('relation "devices_tenantconfiguration" does not exist')

    monkeypatch.setattr(TenantConfiguration.objects, "values_list", missing)
    assert selectors.tenant_config().polling_time == "00:03:00"
