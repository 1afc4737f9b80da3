"""README says "off" disables a safety rule: the API takes "off", "" and null for every rule that
can be off; a rollout that targets 0 devices is created with a warning (API, command)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from rollouts.models import Rollout
from tests.api.helpers import post
from tests.factories import make_device, make_hardware, make_rollout, make_software

pytestmark = pytest.mark.django_db

URL = "/api/v1/rollouts/"
RULES = ("pause_on_failure_percent", "pause_on_failure_count", "max_parallel")


@pytest.mark.parametrize("off", ["off", "OFF", " off ", "", None])
@pytest.mark.parametrize("rule", RULES)
def test_create_takes_off_for_every_rule_that_can_be_off(api, settings, rule, off):
    settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT = 20
    settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_COUNT = 3
    settings.GOOSEBIT_ROLLOUT_MAX_PARALLEL = 5
    software = make_software("2.0.0")

    response = post(api, URL, {"name": "spring", "feed": "default", "software": software.pk, rule: off})

    assert response.status_code == 201, response.content
    assert response.json()[rule] is None
    assert getattr(Rollout.objects.get(), rule) is None


@pytest.mark.parametrize("rule", RULES)
def test_patch_turns_a_rule_off_with_off(api, rule):
    rollout = make_rollout(
        make_software(), pause_on_failure_percent=20, pause_on_failure_count=3, max_parallel=5
    )

    response = api.patch(f"{URL}{rollout.pk}/", {rule: "off"}, content_type="application/json")

    assert response.status_code == 200, response.content
    assert response.json()[rule] is None
    rollout.refresh_from_db()
    assert getattr(rollout, rule) is None


def test_pause_min_results_cannot_be_off(api):
    rollout = make_rollout(make_software(), pause_min_results=4)

    response = api.patch(f"{URL}{rollout.pk}/", {"pause_min_results": "off"}, content_type="application/json")

    assert (response.status_code, response.json()) == (
        400,
        {"detail": "pause_min_results: A valid integer is required."},
    )
    assert Rollout.objects.get().pause_min_results == 4


def test_a_word_other_than_off_is_refused_naming_the_choices(api):
    response = post(
        api, URL, {"name": "s", "feed": "default", "software": make_software().pk, "max_parallel": "no"}
    )

    assert (response.status_code, response.json()) == (
        400,
        {"detail": 'max_parallel: A whole number, or "off" to turn the rule off, is required.'},
    )
    assert not Rollout.objects.exists()


def test_the_schema_documents_off(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    field = schema["components"]["schemas"]["RolloutCreate"]["properties"]["max_parallel"]
    assert {"type": "string", "enum": ["off", ""]} in field["oneOf"]


def test_create_warns_when_the_rollout_targets_0_devices(api):
    software = make_software("2.0.0")
    make_device("elsewhere", feed="beta")

    response = post(api, URL, {"name": "spring", "feed": "typo", "software": software.pk})

    assert response.status_code == 201
    assert response.json()["warnings"] == [
        "Rollout 'spring' targets 0 devices: feed 'typo' has no devices. "
        "Devices that join the feed later get it."
    ]


def test_create_names_why_no_device_of_the_feed_is_targeted(api):
    software = make_software("2.0.0")
    make_device("other-board", hardware=make_hardware("other"))
    make_device("pinned-1", update_mode="pinned")
    make_device("pinned-2", update_mode="pinned")

    response = post(api, URL, {"name": "spring", "feed": "default", "software": software.pk, "start": True})

    assert response.json()["warnings"] == [
        "Rollout 'spring' targets 0 devices: 1 device of the feed has hardware that 2.0.0 does not list "
        "(or none reported yet); 2 devices of the feed are in latest, assigned or pinned mode. "
        "Devices that join the feed later get it."
    ]


def test_create_has_no_warning_when_it_targets_devices(api):
    make_device("a", sw_version="1.0.0")
    response = post(api, URL, {"name": "spring", "feed": "default", "software": make_software("2.0.0").pk})
    assert response.json()["warnings"] == []


def test_the_create_rollout_command_prints_a_warning_line_for_0_devices():
    software = make_software("2.0.0")
    out = io.StringIO()

    call_command(
        "create_rollout", "--name", "spring", "--feed", "typo", "--software", str(software.pk), stdout=out
    )

    assert out.getvalue().splitlines()[-1] == (
        "Warning: Rollout 'spring' targets 0 devices: feed 'typo' has no devices. "
        "Devices that join the feed later get it."
    )
    out = io.StringIO()
    call_command(
        "create_rollout",
        "--name",
        "again",
        "--feed",
        "typo",
        "--software",
        str(software.pk),
        "--json",
        stdout=out,
    )
    assert json.loads(out.getvalue())["warnings"] == [
        "Rollout 'again' targets 0 devices: feed 'typo' has no devices. "
        "Devices that join the feed later get it."
    ]
