"""Cache invalidation only: any change to what devices could be offered drops cached targets.

Business rules never live here (style.md); services that change rollouts with queryset
update() call rollouts.selectors.target_cache_invalidate() themselves.
"""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from rollouts.models import Rollout
from rollouts.selectors import target_cache_invalidate
from software.models import Software


@receiver([post_save, post_delete], sender=Rollout)
@receiver([post_save, post_delete], sender=Software)
@receiver(m2m_changed, sender=Software.compatibility.through)
def _drop_cached_targets(**kwargs: object) -> None:
    target_cache_invalidate()
