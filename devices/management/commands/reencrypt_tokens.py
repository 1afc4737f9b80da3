"""Re-encrypt every stored device token with the first key of GOOSEBIT_TOKEN_KEYS."""

from __future__ import annotations

from typing import Any

from devices import services
from goosebit_project.lib.commands import Output, ServiceCommand


class Command(ServiceCommand):
    help = "Re-encrypt device tokens with the first GOOSEBIT_TOKEN_KEYS key, so older keys can be removed."

    def run(self, **options: Any) -> Output:
        counts = services.devices_reencrypt_tokens()
        text = (
            f"Re-encrypted {counts['reencrypted']} tokens; {counts['current']} were current, "
            f"{counts['unreadable']} are not readable with the configured keys (rotate them), "
            f"{counts['legacy']} are from before encryption (upgraded when their device authenticates)."
        )
        return Output(counts, text)
