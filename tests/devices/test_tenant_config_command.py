"""manage.py tenant_config: list / get / set / reset for scripts, --json, one-line errors."""

from __future__ import annotations

import json

import pytest
from django.core.management import ManagementUtility
from django.db import connections

from devices import selectors
from devices.models import TenantConfiguration

pytestmark = pytest.mark.django_db


@pytest.fixture
def cli(capsys, monkeypatch):
    monkeypatch.setattr(connections, "close_all", lambda: None)

    def invoke(*argv: str) -> tuple[str | int | None, str, str]:
        code: str | int | None = 0
        try:
            ManagementUtility(["manage.py", "tenant_config", *argv]).execute()
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def test_set_stores_a_value_and_applies_it(cli):
    code, out, err = cli("set", "pollingTime", "00:05:00", "--by", "deploy-script")

    assert code == 0
    assert "tenant setting pollingTime changed by deploy-script" in err  # the log line
    assert out == 'pollingTime = "00:05:00" (set by deploy-script; default "00:01:00")\n'
    assert selectors.tenant_config().polling_time == "00:05:00"
    assert TenantConfiguration.objects.get(key="pollingTime").last_modified_by == "deploy-script"


def test_set_parses_json_values(cli):
    assert cli("set", "authentication.targettoken.enabled", "true")[0] == 0
    assert cli("set", "authentication.header.authority", '["A1", "b2"]')[0] == 0

    config = selectors.tenant_config()
    assert config.target_token_enabled is True
    assert config.header_authorities == ("a1", "b2")


def test_get_and_reset(cli):
    cli("set", "pollingTime", "00:05:00")

    code, out, _ = cli("get", "pollingTime", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["key"], data["value"], data["default"], data["global"]) == (
        "pollingTime",
        "00:05:00",
        "00:01:00",
        False,
    )

    code, out, _ = cli("reset", "pollingTime")
    assert (code, out) == (0, 'pollingTime = "00:01:00" (the default)\n')
    assert not TenantConfiguration.objects.exists()


def test_list_shows_every_key_and_masks_the_gateway_key_unless_revealed(cli):
    cli("set", "authentication.gatewaytoken.key", "gw-key-123")

    code, out, _ = cli("list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 11
    assert 'authentication.gatewaytoken.key = "********" (set by manage.py; default "")' in lines
    assert "gw-key-123" not in out

    code, out, _ = cli("list", "--json", "--reveal")
    by_key = {item["key"]: item for item in json.loads(out)}
    assert by_key["authentication.gatewaytoken.key"]["value"] == "gw-key-123"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("set", "pollingTime", "25:00:00"),
            "CommandError: pollingTime must be a duration of the form HH:mm:ss up to 23:59:59, "
            "got '25:00:00'\n",
        ),
        (
            ("set", "authentication.gatewaytoken.enabled", "maybe"),
            "CommandError: authentication.gatewaytoken.enabled must be true or false, got 'maybe'\n",
        ),
    ],
)
def test_an_invalid_value_fails_with_one_line_naming_the_key(cli, argv, message):
    code, out, err = cli(*argv)

    assert (code, out, err) == (1, "", message)
    assert not TenantConfiguration.objects.exists()


def test_an_unknown_key_fails(cli):
    code, out, err = cli("get", "pollingtime")

    assert code == 1
    assert err.startswith("CommandError: unknown tenant setting 'pollingtime'; known keys: pollingTime, ")
