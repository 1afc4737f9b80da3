"""The admin's Tenant settings page: every key, its default, save with per-field errors, reset,
the masked gateway key, and who may change what."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission

from devices import selectors, services, tenant_config
from devices.models import TenantConfiguration, TenantConfigurationChange

pytestmark = pytest.mark.django_db

URL = "/admin/devices/tenantconfiguration/"


def form(**changes) -> dict[str, str]:
    """The whole form as the page submits it: every key with its current value, plus changes."""
    data = {}
    for item in selectors.tenant_settings_list():
        if item.kind == "boolean":
            data[item.key] = "on" if item.value else "off"
        elif item.secret:
            data[item.key] = ""
        else:
            data[item.key] = str(item.value)
    data.update(changes)
    data["save"] = "Save"
    return data


def row_of(html: str, key: str) -> str:
    start = html.index(f'<tr id="setting-{key}">')
    return html[start : html.index("</tr>", start)]


def test_the_page_lists_every_key_with_its_value_and_default(admin_client, settings):
    settings.GOOSEBIT_POLL_TIME = "00:01:00"
    services.tenant_setting_set(key="pollingTime", value="00:05:00", user="alice")

    response = admin_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    for key in tenant_config.KEYS:
        assert f'<tr id="setting-{key}">' in html
    polling = row_of(html, "pollingTime")
    assert 'value="00:05:00"' in polling
    assert "<td>00:01:00</td>" in polling
    assert "by alice" in polling
    assert 'name="reset" value="pollingTime"' in polling
    # a key at its default has no reset button
    assert 'name="reset"' not in row_of(html, "pollingOverdueTime")


def test_saving_stores_only_what_changed_and_records_the_user(admin_client, admin_user):
    response = admin_client.post(
        URL, form(**{"pollingTime": "00:03:00", "authentication.targettoken.enabled": "on"})
    )

    assert response.status_code == 302
    stored = dict(TenantConfiguration.objects.values_list("key", "value"))
    assert stored == {"pollingTime": "00:03:00", "authentication.targettoken.enabled": True}
    assert set(TenantConfiguration.objects.values_list("last_modified_by", flat=True)) == {
        admin_user.username
    }
    assert selectors.tenant_config().polling_time == "00:03:00"
    page = admin_client.get(URL).content.decode()
    assert "Recent changes" in page and "authentication.targettoken.enabled" in page


def test_invalid_values_show_an_error_per_field_and_nothing_is_saved(admin_client):
    response = admin_client.post(
        URL,
        form(
            **{
                "pollingTime": "00:03:00",
                "pollingOverdueTime": "later",
                "authentication.header.authority": "a b",
            }
        ),
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "pollingOverdueTime must be a duration of the form HH:mm:ss up to 23:59:59, got &#x27;later&#x27;"
        in row_of(html, "pollingOverdueTime")
    )
    assert "holds an authority with blanks" in row_of(html, "authentication.header.authority")
    assert 'value="later"' in row_of(html, "pollingOverdueTime")  # the input is kept for correction
    assert "errorlist" not in row_of(html, "pollingTime")
    assert not TenantConfiguration.objects.exists()


def test_reset_returns_a_key_to_its_default(admin_client):
    services.tenant_setting_set(key="pollingTime", value="00:05:00")

    response = admin_client.post(URL, {"reset": "pollingTime"}, follow=True)

    assert not TenantConfiguration.objects.exists()
    assert "Reset pollingTime to its default, &quot;00:01:00&quot;." in response.content.decode()
    assert TenantConfigurationChange.objects.filter(key="pollingTime", value__isnull=True).exists()


def test_the_gateway_key_is_masked_until_revealed_and_kept_when_left_empty(admin_client):
    services.tenant_setting_set(key="authentication.gatewaytoken.key", value="gw-key-123")

    html = admin_client.get(URL).content.decode()
    assert "gw-key-123" not in html
    assert "********" in row_of(html, "authentication.gatewaytoken.key")

    revealed = admin_client.get(URL + "?reveal=1")
    assert 'value="gw-key-123"' in row_of(revealed.content.decode(), "authentication.gatewaytoken.key")
    assert "no-store" in revealed["Cache-Control"]

    admin_client.post(URL, form(pollingTime="00:02:00"))
    assert selectors.tenant_config().gateway_token_key == "gw-key-123"
    admin_client.post(URL, form(**{"authentication.gatewaytoken.key": "new-key-456"}))
    assert selectors.tenant_config().gateway_token_key == "new-key-456"


def test_a_viewer_reads_the_page_without_inputs_or_the_key_and_cannot_change(viewer_client):
    services.tenant_setting_set(key="authentication.gatewaytoken.key", value="gw-key-123")
    services.tenant_setting_set(key="pollingTime", value="00:05:00")

    response = viewer_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<input" not in html.split('id="tenant-settings"')[1].split("</table>")[0]
    assert "00:05:00" in row_of(html, "pollingTime")
    assert "gw-key-123" not in viewer_client.get(URL + "?reveal=1").content.decode()

    assert viewer_client.post(URL, form(pollingTime="00:02:00")).status_code == 403
    assert viewer_client.post(URL, {"reset": "pollingTime"}).status_code == 403
    assert TenantConfiguration.objects.get(key="pollingTime").value == "00:05:00"


def test_an_operator_needs_the_dedicated_permission_to_change(operator_client, operator):
    assert operator_client.get(URL).status_code == 200
    assert operator_client.post(URL, form(pollingTime="00:02:00")).status_code == 403

    operator.user_permissions.add(Permission.objects.get(codename="change_tenantconfiguration"))
    assert operator_client.post(URL, form(pollingTime="00:02:00")).status_code == 302
    assert selectors.tenant_config().polling_time == "00:02:00"


def test_the_page_warns_when_every_mechanism_is_switched_off(admin_client, settings):
    settings.GOOSEBIT_DEVICE_AUTH_ENABLE = True
    services.tenant_setting_set(key="authentication.targettoken.enabled", value=False)

    html = admin_client.get(URL).content.decode()

    assert "Every authentication mechanism is off" in html


def test_the_navigation_links_the_page_for_who_may_view_it(viewer_client):
    html = viewer_client.get("/admin/").content.decode()
    nav = html[html.index('<nav class="gb-nav"') : html.index("</nav>")]
    assert re.search(r'<a href="/admin/devices/tenantconfiguration/"[^>]*>Tenant settings</a>', nav)


def test_there_is_no_stock_change_form_that_would_skip_the_checks(admin_client):
    services.tenant_setting_set(key="pollingTime", value="00:05:00")
    row = TenantConfiguration.objects.get()

    assert admin_client.get(f"{URL}{row.pk}/change/").status_code == 404
    assert (
        admin_client.post(f"{URL}{row.pk}/change/", {"key": "pollingTime", "value": '"99:00:00"'}).status_code
        == 404
    )
    assert admin_client.get(f"{URL}add/").status_code == 404
    assert TenantConfiguration.objects.get().value == "00:05:00"
