"""Settings for the test suite: the production module plus fast, isolated overrides."""

import os
import tempfile

# Keep the suite's secret key, cache and artifacts out of the project's data/ folder.
os.environ.setdefault("GOOSEBIT_DATA_DIR", tempfile.mkdtemp(prefix="goosebit-test-"))
os.environ.setdefault("GOOSEBIT_SECRET_KEY", "insecure-test-only-key")

from goosebit_project.settings import *  # noqa: E402,F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Hashing admin passwords with argon2 in every test that logs in is slow and proves nothing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from the app folders without a collectstatic run.
WHITENOISE_AUTOREFRESH = True
# Write last-seen records at once so tests can read them back.
GOOSEBIT_LAST_SEEN_FLUSH_SECONDS = 0
# Test clients log in without a request, which axes refuses; its own tests turn it on.
AXES_ENABLED = False
