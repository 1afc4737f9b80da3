"""Telling every worker that what devices should run has changed (rollouts.selectors.targets)."""

from __future__ import annotations

from django.db import transaction

from rollouts import selectors


def targets_changed() -> None:
    """Drop cached poll targets now, and again once the transition is committed.

    The second call closes a race: a worker polling between the first call and the commit would
    cache the old target under the new generation (for up to TARGET_CACHE_SECONDS).
    """
    selectors.target_cache_invalidate()
    transaction.on_commit(selectors.target_cache_invalidate)
