"""The basic rollout admin: create with safety settings; lifecycle actions call the services."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages

from rollouts.models import Rollout
from tests.factories import make_device, make_rollout, make_software
from tests.rollouts.ddi_helpers import install, offered_action_id

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/rollouts/rollout/"


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_superuser("alice", password="pw"))
    return client


def form_data(software, **overrides) -> dict:
    data = {
        "name": "spring",
        "feed": "default",
        "software": str(software.pk),
        "pause_on_failure_percent": "20",
        "pause_min_results": "5",
        "pause_on_failure_count": "",
        "max_parallel": "",
    }
    data.update(overrides)
    return data


def confirmed(data: dict) -> dict:
    """The add form's second submit: the operator saw the preview of what it reaches."""
    start = int(data.get("start") == "on")
    return {**data, "_confirmed": f"{data['feed']}|{data['software']}|{start}"}


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_add_form_offers_the_configured_safety_defaults(operator, settings):
    settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT = 35
    settings.GOOSEBIT_ROLLOUT_MAX_PARALLEL = 12
    response = operator.get(f"{CHANGELIST}add/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert (form["pause_on_failure_percent"].value(), form["max_parallel"].value()) == (35, 12)
    assert "start" in form.fields


def test_adding_creates_a_draft_through_the_service(operator):
    software = make_software("2.0.0")
    response = operator.post(f"{CHANGELIST}add/", confirmed(form_data(software, pause_on_failure_count="3")))
    assert response.status_code == 302
    rollout = Rollout.objects.get()
    assert rollout.created_by is not None
    assert (rollout.name, rollout.status, rollout.created_by.username) == ("spring", "draft", "alice")
    assert (rollout.pause_on_failure_percent, rollout.pause_on_failure_count, rollout.max_parallel) == (
        20,
        3,
        None,
    )


def test_adding_with_start_runs_the_rollout(operator):
    software = make_software("2.0.0")
    operator.post(f"{CHANGELIST}add/", confirmed(form_data(software, start="on")))
    rollout = Rollout.objects.get()
    assert rollout.status == Rollout.Status.RUNNING
    assert rollout.started_at is not None


def test_a_bad_safety_setting_shows_on_the_form_and_saves_nothing(operator):
    software = make_software("2.0.0")
    response = operator.post(f"{CHANGELIST}add/", form_data(software, pause_on_failure_percent="150"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "pause_on_failure_percent": ["Pause after failures (%) must be at most 100."]
    }
    assert not Rollout.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_parallel", "0", "Max parallel updates must be at least 1; leave it empty for no limit."),
        (
            "pause_on_failure_count",
            "0",
            "Pause after failed devices must be at least 1; leave it empty to turn the rule off.",
        ),
        (
            "pause_on_failure_percent",
            "0",
            "Pause after failures (%) must be at least 1; leave it empty to turn the rule off.",
        ),
        ("pause_min_results", "0", "Judge the percentage after (devices) must be at least 1."),
        ("pause_min_results", "", "Judge the percentage after (devices) is required (at least 1)."),
        ("max_parallel", "many", "Max parallel updates must be a whole number."),
        ("max_parallel", str(2**31), f"Max parallel updates must be at most {2**31 - 1}."),
    ],
)
def test_safety_errors_name_the_forms_label_not_the_field(operator, field, value, message):
    response = operator.post(f"{CHANGELIST}add/", form_data(make_software("2.0.0"), **{field: value}))

    assert response.context["adminform"].form.errors == {field: [message]}
    assert message in response.content.decode()
    assert not Rollout.objects.exists()


def test_the_safety_inputs_refuse_0_in_the_browser_too(operator):
    html = operator.get(f"{CHANGELIST}add/").content.decode()

    for field in ("max_parallel", "pause_on_failure_count"):
        assert f'name="{field}" min="1" max="{2**31 - 1}"' in html, field
    assert f'name="pause_min_results" value="5" min="1" max="{2**31 - 1}" required' in html
    assert 'name="pause_on_failure_percent" value="20" min="1" max="100"' in html
    assert '<label for="id_max_parallel">Max parallel updates:</label>' in html
    assert '<label for="id_pause_on_failure_percent">Pause after failures (%):</label>' in html


def test_creating_a_rollout_that_targets_no_device_warns(operator):
    software = make_software("2.0.0")
    make_device("a", update_mode="pinned")

    response = operator.post(f"{CHANGELIST}add/", confirmed(form_data(software, feed="default")), follow=True)

    assert Rollout.objects.filter(name="spring").exists()
    assert (
        "Rollout 'spring' targets 0 devices: 1 device of the feed is in latest, assigned or pinned mode. "
        "Devices that join the feed later get it."
    ) in messages_of(response)


def test_creating_a_rollout_that_targets_devices_does_not_warn(operator):
    make_device("a", sw_version="1.0.0")

    response = operator.post(f"{CHANGELIST}add/", confirmed(form_data(make_software("2.0.0"))), follow=True)

    assert not [message for message in messages_of(response) if "targets 0 devices" in message]


def test_the_change_page_shows_statistics_and_keeps_feed_and_software_fixed(operator, client):
    rollout = make_rollout(make_software("2.0.0"), name="spring")
    make_device("a", sw_version="1.0.0")
    install(client, "a")
    response = operator.get(f"{CHANGELIST}{rollout.pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "1 devices targeted, 100% on 2.0.0: 1 succeeded" in content
    assert set(response.context["adminform"].form.fields) >= {"name", "max_parallel"}
    assert not {"feed", "software", "status"} & set(response.context["adminform"].form.fields)


def test_editing_safety_settings_never_overwrites_the_status(operator):
    rollout = make_rollout(make_software(), name="spring", pause_min_results=1)
    # The automatic pause happens between the operator opening the form and saving it.
    Rollout.objects.filter(pk=rollout.pk).update(
        status=Rollout.Status.PAUSED, pause_reason="Paused automatically"
    )
    data = form_data(rollout.software, name="renamed", max_parallel="7")
    del data["feed"], data["software"]

    response = operator.post(f"{CHANGELIST}{rollout.pk}/change/", data)

    assert response.status_code == 302
    rollout.refresh_from_db()
    assert (rollout.name, rollout.max_parallel, rollout.status) == ("renamed", 7, Rollout.Status.PAUSED)
    assert rollout.pause_reason == "Paused automatically"


def run_action(operator, action: str, *rollouts: Rollout):
    return operator.post(
        CHANGELIST,
        # apply: past the preview page the start action shows first.
        {"action": action, "_selected_action": [str(rollout.pk) for rollout in rollouts], "apply": "1"},
        follow=True,
    )


def test_lifecycle_actions_call_the_services(operator, client):
    draft = make_rollout(make_software("2.0.0"), status=Rollout.Status.DRAFT)
    make_device("a", sw_version="1.0.0")

    response = run_action(operator, "start_rollouts", draft)
    assert messages_of(response) == ["Started 1 rollout."]
    assert offered_action_id(client, "a") is not None

    run_action(operator, "pause_rollouts", draft)
    draft.refresh_from_db()
    assert (draft.status, draft.pause_reason) == ("paused", "Paused by alice")
    run_action(operator, "resume_rollouts", draft)
    assert Rollout.objects.get(pk=draft.pk).status == Rollout.Status.RUNNING
    run_action(operator, "stop_rollouts", draft)
    assert Rollout.objects.get(pk=draft.pk).status == Rollout.Status.STOPPED


def test_an_action_reports_each_refused_rollout(operator):
    running = make_rollout(make_software(), name="one")
    draft = make_rollout(make_software(), name="two", status=Rollout.Status.DRAFT)

    response = run_action(operator, "pause_rollouts", running, draft)

    assert set(messages_of(response)) == {
        f"cannot pause rollout {draft.pk} (two): it is draft; only a running rollout can be paused",
        "Paused 1 rollout.",
    }
    assert Rollout.objects.get(pk=running.pk).status == Rollout.Status.PAUSED


def test_the_changelist_shows_progress(operator, client):
    make_rollout(make_software("2.0.0"))
    make_device("a", sw_version="1.0.0")
    make_device("b", sw_version="1.0.0")
    install(client, "a")
    response = operator.get(CHANGELIST)
    assert response.status_code == 200
    assert '<strong>50%</strong> <span class="gb-muted">(1/2, 0 failed)</span>' in response.content.decode()


def test_deleting_a_draft_works_and_a_used_rollout_is_protected(operator, client):
    draft = make_rollout(make_software(), status=Rollout.Status.DRAFT)
    response = operator.post(f"{CHANGELIST}{draft.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Rollout.objects.filter(pk=draft.pk).exists()

    used = make_rollout(make_software("2.0.0"))
    make_device("a", sw_version="1.0.0")
    offered_action_id(client, "a")
    response = operator.get(f"{CHANGELIST}{used.pk}/delete/")
    assert response.status_code == 200
    assert "would require deleting the following protected related objects" in response.content.decode()
    operator.post(f"{CHANGELIST}{used.pk}/delete/", {"post": "yes"})
    assert Rollout.objects.filter(pk=used.pk).exists()
