"""The GOOSEBIT_ROLLOUT_* safety defaults: empty disables a rule, garbage stops start-up."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from goosebit_project.lib import config


def test_the_shipped_defaults_pause_at_20_percent_after_5_results_without_other_caps():
    assert settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT == 20
    assert settings.GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS == 5
    assert settings.GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_COUNT is None
    assert settings.GOOSEBIT_ROLLOUT_MAX_PARALLEL is None


@pytest.mark.parametrize(("raw", "value"), [("", None), ("off", None), ("None", None), (" 7 ", 7)])
def test_an_optional_number_is_a_number_or_disabled(raw, value):
    assert config.parse_optional_int("X", raw, minimum=1, maximum=100) == value


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "X must be at least 1, got 0"),
        ("101", "X must be at most 100, got 101"),
        ("ten", "X must be a whole number"),
    ],
)
def test_an_optional_number_out_of_range_stops_start_up(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        config.parse_optional_int("X", raw, minimum=1, maximum=100)
