"""Create the first administrator when the database has no user yet.

Run at every start by `make run` and the Docker entry point: it does nothing once a user exists.
The password comes from GOOSEBIT_ADMIN_PASSWORD, or is generated and printed exactly once.
"""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the first admin user (username from GOOSEBIT_ADMIN_USER, default 'admin')."

    def handle(self, *args: object, **options: object) -> None:
        User = get_user_model()
        if User.objects.exists():
            self.stdout.write("Users exist already; no admin created.")
            return
        username = os.environ.get("GOOSEBIT_ADMIN_USER", "admin")
        password = os.environ.get("GOOSEBIT_ADMIN_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin user {username!r} with password: {password}\n"
                    "This password is shown only once: change it after logging in."
                )
            )
        else:
            self.stdout.write(f"Created admin user {username!r} (password from GOOSEBIT_ADMIN_PASSWORD).")
