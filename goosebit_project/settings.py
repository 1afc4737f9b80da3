"""goosebit_project settings: one module, driven by GOOSEBIT_* environment variables.

Variables use gooseBit's names where gooseBit has the setting so fleets can migrate. An optional
env file (GOOSEBIT_ENV_FILE, else ``.env`` in the project folder) is read first; real environment
variables win over it. Every variable is documented in the README with its default.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from goosebit_project.lib import config

BASE_DIR = Path(__file__).resolve().parent.parent

_env_file = os.environ.get("GOOSEBIT_ENV_FILE", str(BASE_DIR / ".env"))
if os.environ.get("GOOSEBIT_ENV_FILE") and not Path(_env_file).is_file():
    raise ImproperlyConfigured(f"GOOSEBIT_ENV_FILE points to a missing file: {_env_file}")
if Path(_env_file).is_file():
    environ.Env.read_env(_env_file, overwrite=False)


def _get(name: str, default: str) -> str:
    return os.environ.get(name, default)


DATA_DIR = Path(_get("GOOSEBIT_DATA_DIR", str(BASE_DIR / "data"))).resolve()

DEBUG = config.parse_bool("GOOSEBIT_DEBUG", _get("GOOSEBIT_DEBUG", "false"))

if os.environ.get("GOOSEBIT_SECRET_KEY"):
    SECRET_KEY = os.environ["GOOSEBIT_SECRET_KEY"]
else:
    SECRET_KEY = config.load_or_create_secret_key(DATA_DIR / "secret_key")

ALLOWED_HOSTS = config.parse_list("GOOSEBIT_ALLOWED_HOSTS", _get("GOOSEBIT_ALLOWED_HOSTS", "*"))
CSRF_TRUSTED_ORIGINS = config.parse_list(
    "GOOSEBIT_CSRF_TRUSTED_ORIGINS", _get("GOOSEBIT_CSRF_TRUSTED_ORIGINS", "")
)
# Behind a TLS-terminating proxy the scheme of hrefs handed to devices must be https.
GOOSEBIT_BEHIND_PROXY = config.parse_bool("GOOSEBIT_BEHIND_PROXY", _get("GOOSEBIT_BEHIND_PROXY", "false"))
if GOOSEBIT_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# Served over HTTPS (directly or by the proxy): cookies only over TLS, plain http redirected, and
# browsers told to come back over HTTPS only (HSTS).
GOOSEBIT_HTTPS = config.parse_bool("GOOSEBIT_HTTPS", _get("GOOSEBIT_HTTPS", "false"))
if GOOSEBIT_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    # Devices (which would not follow a redirect of a PUT or POST) and probes keep plain http;
    # the regexes match the path without its leading slash.
    SECURE_REDIRECT_EXEMPT = [r"^[^/]+/controller/v1/", r"^healthz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = config.parse_int(
        "GOOSEBIT_HSTS_SECONDS", _get("GOOSEBIT_HSTS_SECONDS", "31536000"), minimum=0
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS = config.parse_bool(
        "GOOSEBIT_HSTS_INCLUDE_SUBDOMAINS", _get("GOOSEBIT_HSTS_INCLUDE_SUBDOMAINS", "false")
    )
    SECURE_HSTS_PRELOAD = config.parse_bool("GOOSEBIT_HSTS_PRELOAD", _get("GOOSEBIT_HSTS_PRELOAD", "false"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "devices",
    "software",
    "rollouts",
    "ddi",
    "mgmt",
]

MIDDLEWARE = [
    # Database outages answer 503 + Retry-After instead of a 500 page (goosebit_project.faults).
    "goosebit_project.faults.DatabaseUnavailableMiddleware",
    # A chunked body without Content-Length would be read as empty: 411 instead.
    "goosebit_project.request_bodies.LengthRequiredMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a locked-out login into goosebit_project.login_throttle's answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "goosebit_project.urls"
WSGI_APPLICATION = "goosebit_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": config.parse_database_url(
        "GOOSEBIT_DB_URI",
        _get("GOOSEBIT_DB_URI", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        base_dir=BASE_DIR,
        connect_timeout=config.parse_int(
            "GOOSEBIT_DB_CONNECT_TIMEOUT", _get("GOOSEBIT_DB_CONNECT_TIMEOUT", "5"), minimum=1
        ),
    )
}
# Seconds a single SQL statement may run in the server (0: no limit); see goosebit_project.wsgi.
GOOSEBIT_DB_STATEMENT_TIMEOUT = config.parse_int(
    "GOOSEBIT_DB_STATEMENT_TIMEOUT", _get("GOOSEBIT_DB_STATEMENT_TIMEOUT", "30"), minimum=0
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_cache_url = _get("GOOSEBIT_CACHE_URL", "")
if _cache_url:
    try:
        CACHES = {"default": environ.Env.cache_url_config(_cache_url)}
    except Exception as exc:  # environ raises bare exceptions on unknown schemes
        raise ImproperlyConfigured(f"GOOSEBIT_CACHE_URL is not a cache URL: {exc}") from None
else:
    # Shared by every gunicorn worker on this machine; set GOOSEBIT_CACHE_URL=redis://... when
    # running on several machines.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

PASSWORD_HASHERS = [
    "goosebit_project.hashers.GoosebitArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = _get("GOOSEBIT_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- storage -------------------------------------------------------------------------------
ARTIFACTS_DIR = Path(_get("GOOSEBIT_ARTIFACTS_DIR", str(DATA_DIR / "artifacts"))).resolve()
STORAGE_BACKEND = config.parse_choice(
    "GOOSEBIT_STORAGE__BACKEND", _get("GOOSEBIT_STORAGE__BACKEND", "filesystem"), ("filesystem", "s3")
)
if STORAGE_BACKEND == "s3":
    _bucket = _get("GOOSEBIT_STORAGE__S3__BUCKET", "")
    if not _bucket:
        raise ImproperlyConfigured(
            "GOOSEBIT_STORAGE__S3__BUCKET is required when GOOSEBIT_STORAGE__BACKEND=s3"
        )
    _s3_options: dict[str, object] = {
        "bucket_name": _bucket,
        "region_name": _get("GOOSEBIT_STORAGE__S3__REGION", "us-east-1"),
        "file_overwrite": False,
        "default_acl": None,
        "querystring_expire": config.parse_int(
            "GOOSEBIT_STORAGE__S3__URL_EXPIRY", _get("GOOSEBIT_STORAGE__S3__URL_EXPIRY", "3600"), minimum=1
        ),
    }
    if _get("GOOSEBIT_STORAGE__S3__ENDPOINT_URL", ""):
        _s3_options["endpoint_url"] = os.environ["GOOSEBIT_STORAGE__S3__ENDPOINT_URL"]
    if _get("GOOSEBIT_STORAGE__S3__ACCESS_KEY_ID", ""):
        _s3_options["access_key"] = os.environ["GOOSEBIT_STORAGE__S3__ACCESS_KEY_ID"]
        _s3_options["secret_key"] = _get("GOOSEBIT_STORAGE__S3__SECRET_ACCESS_KEY", "")
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options}
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(ARTIFACTS_DIR), "base_url": None},
    }
# How the artifact download answers for S3: "redirect" sends devices a presigned URL (no traffic
# through the app), "proxy" streams from S3 through the app with Range support.
GOOSEBIT_S3_DOWNLOAD_MODE = config.parse_choice(
    "GOOSEBIT_STORAGE__S3__DOWNLOAD_MODE",
    _get("GOOSEBIT_STORAGE__S3__DOWNLOAD_MODE", "redirect"),
    ("redirect", "proxy"),
)
# Behind nginx: answer local-file downloads with X-Accel-Redirect to this internal location.
GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX = _get("GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX", "").strip()
if GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX and not (
    GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX.startswith("/") and GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX.endswith("/")
):
    raise ImproperlyConfigured(
        "GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX must start and end with '/', "
        f"got {GOOSEBIT_DOWNLOAD_X_ACCEL_PREFIX!r}"
    )
# Remote-URL software is served from its URL unless this copies it into the storage.
GOOSEBIT_REMOTE_SOFTWARE_CACHE = config.parse_bool(
    "GOOSEBIT_REMOTE_SOFTWARE_CACHE", _get("GOOSEBIT_REMOTE_SOFTWARE_CACHE", "false")
)
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- the DDI protocol ----------------------------------------------------------------------
GOOSEBIT_TENANTS = config.parse_tenants("GOOSEBIT_TENANT", _get("GOOSEBIT_TENANT", "DEFAULT"))
GOOSEBIT_POLL_TIME = config.parse_poll_time("GOOSEBIT_POLL_TIME", _get("GOOSEBIT_POLL_TIME", "00:01:00"))
# Devices that have not said who they are yet poll faster so registration completes quickly.
GOOSEBIT_POLL_TIME_REGISTRATION = config.parse_poll_time(
    "GOOSEBIT_POLL_TIME_REGISTRATION", _get("GOOSEBIT_POLL_TIME_REGISTRATION", "00:00:10")
)
GOOSEBIT_MAX_CONCURRENT_UPDATES = config.parse_int(
    "GOOSEBIT_MAX_CONCURRENT_UPDATES", _get("GOOSEBIT_MAX_CONCURRENT_UPDATES", "1000"), minimum=0
)
# Defaults for new rollouts' safety settings (each rollout can override them; empty disables a
# rule): pause once this share of finished devices failed, judged after this many results ...
GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT = config.parse_optional_int(
    "GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT",
    _get("GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_PERCENT", "20"),
    minimum=1,
    maximum=100,
)
GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS = config.parse_int(
    "GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS", _get("GOOSEBIT_ROLLOUT_PAUSE_MIN_RESULTS", "5"), minimum=1
)
# ... or once this many devices failed, whatever the share ...
GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_COUNT = config.parse_optional_int(
    "GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_COUNT", _get("GOOSEBIT_ROLLOUT_PAUSE_ON_FAILURE_COUNT", ""), minimum=1
)
# ... and let at most this many devices of one rollout update at once.
GOOSEBIT_ROLLOUT_MAX_PARALLEL = config.parse_optional_int(
    "GOOSEBIT_ROLLOUT_MAX_PARALLEL", _get("GOOSEBIT_ROLLOUT_MAX_PARALLEL", ""), minimum=1
)
# hawkBit's user-consent flow (tenant setting user.confirmation.flow.enabled): assignments and
# rollouts that require confirmation wait until the device confirms them (DDI confirmationBase).
# It is the default of that runtime tenant setting; read it only through
# rollouts.selectors.confirmation_flow_enabled().
# hawkBit's maintenanceWindowPollCount default (the tenant setting overrides it at runtime).
GOOSEBIT_MAINTENANCE_WINDOW_POLL_COUNT = config.parse_int(
    "GOOSEBIT_MAINTENANCE_WINDOW_POLL_COUNT", _get("GOOSEBIT_MAINTENANCE_WINDOW_POLL_COUNT", "3"), minimum=1
)
GOOSEBIT_CONFIRMATION_FLOW = config.parse_bool(
    "GOOSEBIT_CONFIRMATION_FLOW", _get("GOOSEBIT_CONFIRMATION_FLOW", "false")
)
# Default of the tenant setting auto.assignment.approval.enabled (saved filters' auto-assignment).
GOOSEBIT_AUTO_ASSIGNMENT_APPROVAL = config.parse_bool(
    "GOOSEBIT_AUTO_ASSIGNMENT_APPROVAL", _get("GOOSEBIT_AUTO_ASSIGNMENT_APPROVAL", "false")
)
# Default of the tenant setting rollout.approval.enabled (four eyes before a rollout starts).
GOOSEBIT_ROLLOUT_APPROVAL = config.parse_bool(
    "GOOSEBIT_ROLLOUT_APPROVAL", _get("GOOSEBIT_ROLLOUT_APPROVAL", "false")
)
GOOSEBIT_TRACK_DEVICE_IP = config.parse_bool(
    "GOOSEBIT_TRACK_DEVICE_IP", _get("GOOSEBIT_TRACK_DEVICE_IP", "true")
)
# last_seen is written at most this often per device: a steady poll then costs no write.
GOOSEBIT_LAST_SEEN_INTERVAL = config.parse_int(
    "GOOSEBIT_LAST_SEEN_INTERVAL", _get("GOOSEBIT_LAST_SEEN_INTERVAL", "30"), minimum=0
)
# ... and buffered per worker, written in one statement at most this often.
GOOSEBIT_LAST_SEEN_FLUSH_SECONDS = config.parse_int(
    "GOOSEBIT_LAST_SEEN_FLUSH_SECONDS", _get("GOOSEBIT_LAST_SEEN_FLUSH_SECONDS", "2"), minimum=0
)
GOOSEBIT_DEVICE_AUTH_ENABLE = config.parse_bool(
    "GOOSEBIT_DEVICE_AUTH__ENABLE", _get("GOOSEBIT_DEVICE_AUTH__ENABLE", "false")
)
GOOSEBIT_DEVICE_AUTH_MODE = config.parse_choice(
    "GOOSEBIT_DEVICE_AUTH__MODE", _get("GOOSEBIT_DEVICE_AUTH__MODE", "strict"), ("setup", "lax", "strict")
)
GOOSEBIT_GATEWAY_TOKEN = _get("GOOSEBIT_DEVICE_AUTH__GATEWAY_TOKEN", "")
# Device tokens at rest (goosebit_project/lib/tokens.py). Fernet keys: the first encrypts, all
# decrypt; empty: one key derived from SECRET_KEY, so changing SECRET_KEY makes stored tokens
# unreadable (never unverifiable) until devices authenticate again or tokens are rotated.
GOOSEBIT_TOKEN_KEYS = config.parse_fernet_keys("GOOSEBIT_TOKEN_KEYS", _get("GOOSEBIT_TOKEN_KEYS", ""))
# HMAC keys of the hash every DDI request checks: the first hashes, all verify. Deliberately not
# derived from SECRET_KEY (empty: a built-in key), so no unrelated change locks devices out.
GOOSEBIT_TOKEN_HASH_KEYS = config.parse_secret_list(
    "GOOSEBIT_TOKEN_HASH_KEYS", _get("GOOSEBIT_TOKEN_HASH_KEYS", ""), min_length=16
)
# Reverse-proxy certificate authentication: the proxy addresses we trust to set the headers.
GOOSEBIT_TRUSTED_PROXIES = config.parse_list(
    "GOOSEBIT_DEVICE_AUTH__TRUSTED_PROXIES", _get("GOOSEBIT_DEVICE_AUTH__TRUSTED_PROXIES", "")
)
GOOSEBIT_TRUSTED_AUTHORITIES = [
    value.lower()
    for value in config.parse_list(
        "GOOSEBIT_DEVICE_AUTH__TRUSTED_AUTHORITIES",
        _get("GOOSEBIT_DEVICE_AUTH__TRUSTED_AUTHORITIES", "").replace(";", ","),
    )
]
# Runtime tenant settings (devices.tenant_config): the values above are only the defaults of
# pollingTime, the authentication.* keys and pollingOverdueTime; an operator's value stored in
# the database wins. Each worker re-reads the stored values at most this many seconds late (a
# change made in the same process applies at once); 0 reads them on every request.
GOOSEBIT_TENANT_CONFIG_TTL = config.parse_int(
    "GOOSEBIT_TENANT_CONFIG_TTL", _get("GOOSEBIT_TENANT_CONFIG_TTL", "5"), minimum=0
)
# Default of pollingOverdueTime, how long past its polling time a device counts as overdue
# (empty: the time last_seen may lag behind, GOOSEBIT_LAST_SEEN_INTERVAL plus
# GOOSEBIT_LAST_SEEN_FLUSH_SECONDS, plus 10 s of jitter).
GOOSEBIT_POLL_OVERDUE_TIME = config.parse_optional_duration(
    "GOOSEBIT_POLL_OVERDUE_TIME", _get("GOOSEBIT_POLL_OVERDUE_TIME", "")
)
GOOSEBIT_RAUC_COMPATIBLE_PATTERN = config.parse_regex(
    "GOOSEBIT_RAUC_COMPATIBLE_PATTERN", _get("GOOSEBIT_RAUC_COMPATIBLE_PATTERN", "")
)
# The configData keys that name a device's hardware, the first one present wins. gooseBit reads
# hw_boardname; rauc-hawkbit-updater's example config sends "model", so its devices need
# GOOSEBIT_HARDWARE_MODEL_KEYS=hw_boardname,hw_model,model. A device without a revision key gets
# revision "default", as software that names no revision does.
GOOSEBIT_HARDWARE_MODEL_KEYS = config.parse_list(
    "GOOSEBIT_HARDWARE_MODEL_KEYS", _get("GOOSEBIT_HARDWARE_MODEL_KEYS", "hw_boardname,hw_model")
)
GOOSEBIT_HARDWARE_REVISION_KEYS = config.parse_list(
    "GOOSEBIT_HARDWARE_REVISION_KEYS", _get("GOOSEBIT_HARDWARE_REVISION_KEYS", "hw_revision")
)
if not GOOSEBIT_HARDWARE_MODEL_KEYS:
    raise ImproperlyConfigured("GOOSEBIT_HARDWARE_MODEL_KEYS must name at least one configData key")
# model:revision given to a device whose configData names no model (empty: such a device has no
# hardware, so rollouts and latest offer it nothing).
GOOSEBIT_DEFAULT_HARDWARE = config.parse_hardware(
    "GOOSEBIT_DEFAULT_HARDWARE", _get("GOOSEBIT_DEFAULT_HARDWARE", "")
)
# hawkBit's module type of the single chunk: "os" suits SWUpdate and RAUC; Zephyr's client
# insists on "bApp" (hawkBit's legacy name for "application").
GOOSEBIT_DDI_CHUNK_PART = _get("GOOSEBIT_DDI_CHUNK_PART", "os")
# hawkBit's DDI quotas (ddi.md §1.1): beyond them a device gets 429.
GOOSEBIT_DDI_MAX_ATTRIBUTES = config.parse_int(
    "GOOSEBIT_DDI_MAX_ATTRIBUTES", _get("GOOSEBIT_DDI_MAX_ATTRIBUTES", "100"), minimum=1
)
GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION = config.parse_int(
    "GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION", _get("GOOSEBIT_DDI_MAX_STATUSES_PER_ACTION", "1000"), minimum=1
)
GOOSEBIT_DDI_MAX_DETAILS_PER_FEEDBACK = config.parse_int(
    "GOOSEBIT_DDI_MAX_DETAILS_PER_FEEDBACK", _get("GOOSEBIT_DDI_MAX_DETAILS_PER_FEEDBACK", "50"), minimum=1
)
# Sizes, in bytes (UTF-8), of what a device may send: one request body (413 beyond it), one
# details line (cut to fit, with a marker), and the whole log kept per action (429 beyond it; a
# final feedback is still stored, its details cut). Attribute keys and values count characters,
# like hawkBit (400 beyond them).
GOOSEBIT_DDI_MAX_BODY_BYTES = config.parse_int(
    "GOOSEBIT_DDI_MAX_BODY_BYTES", _get("GOOSEBIT_DDI_MAX_BODY_BYTES", str(64 * 1024)), minimum=1024
)
GOOSEBIT_DDI_MAX_DETAIL_BYTES = config.parse_int(
    "GOOSEBIT_DDI_MAX_DETAIL_BYTES", _get("GOOSEBIT_DDI_MAX_DETAIL_BYTES", str(4 * 1024)), minimum=64
)
GOOSEBIT_DDI_MAX_ATTRIBUTE_LENGTH = config.parse_int(
    "GOOSEBIT_DDI_MAX_ATTRIBUTE_LENGTH", _get("GOOSEBIT_DDI_MAX_ATTRIBUTE_LENGTH", "128"), minimum=1
)
GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION = config.parse_int(
    "GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION",
    _get("GOOSEBIT_DDI_MAX_LOG_BYTES_PER_ACTION", str(1024 * 1024)),
    minimum=1024,
)
GOOSEBIT_MAX_UPLOAD_SIZE = config.parse_int(
    "GOOSEBIT_MAX_UPLOAD_SIZE", _get("GOOSEBIT_MAX_UPLOAD_SIZE", str(4 * 1024**3)), minimum=1
)

# Uploads stream to temporary files; keep Django from buffering big request bodies in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# A dedicated folder, so files left by a worker killed mid-upload can be found and removed (the
# gunicorn master empties it at start, goosebit_project/gunicorn_conf.py).
FILE_UPLOAD_TEMP_DIR = str(
    Path(_get("GOOSEBIT_UPLOAD_TEMP_DIR", str(DATA_DIR / "tmp" / "uploads"))).resolve()
)
try:
    Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(f"GOOSEBIT_UPLOAD_TEMP_DIR cannot be created: {exc}") from None

# --- metrics -------------------------------------------------------------------------------
GOOSEBIT_METRICS_ENABLE = config.parse_bool(
    "GOOSEBIT_METRICS__PROMETHEUS__ENABLE", _get("GOOSEBIT_METRICS__PROMETHEUS__ENABLE", "false")
)
GOOSEBIT_METRICS_TOKEN = _get("GOOSEBIT_METRICS__TOKEN", "")

# --- operator API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Basic first: its challenge makes unauthenticated calls 401, not 403.
        "goosebit_project.api_auth.BasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["goosebit_project.api_permissions.ModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "goosebit_project.api_pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Service errors (goosebit_project.lib.errors) and validation errors answer {"detail": "..."}.
    "EXCEPTION_HANDLER": "goosebit_project.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "goosebit_project operator API",
    "DESCRIPTION": "Manage devices, software and rollouts. Devices use the hawkBit DDI API.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed drf-spectacular-sidecar, not a CDN: /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status" field with different choices: name their enums apart.
    "ENUM_NAME_OVERRIDES": {
        "RolloutStatusEnum": "rollouts.models.Rollout.Status",
        "ActionStatusEnum": "rollouts.models.Action.Status",
    },
    # hawkBit's /rest/v1 has a document of its own (/rest/v1/openapi.json, mgmt.schema).
    "PREPROCESSING_HOOKS": ["mgmt.schema.without_management_api"],
}

# --- login throttling (django-axes; see goosebit_project.login_throttle) ---------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
GOOSEBIT_LOGIN_FAILURE_LIMIT = config.parse_int(
    "GOOSEBIT_LOGIN_FAILURE_LIMIT", _get("GOOSEBIT_LOGIN_FAILURE_LIMIT", "10"), minimum=1
)
GOOSEBIT_LOGIN_COOLOFF_MINUTES = config.parse_int(
    "GOOSEBIT_LOGIN_COOLOFF_MINUTES", _get("GOOSEBIT_LOGIN_COOLOFF_MINUTES", "15"), minimum=1
)
AXES_FAILURE_LIMIT = GOOSEBIT_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=GOOSEBIT_LOGIN_COOLOFF_MINUTES)
# Username and address together: an attacker elsewhere cannot lock the real user out.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A failure while locked restarts the cool-off: who keeps guessing stays locked.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "goosebit_project.login_throttle.client_address"
AXES_LOCKOUT_CALLABLE = "goosebit_project.login_throttle.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Every API call with Basic auth is a login: logging each success would be a write per call.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ADMIN = False  # unlock with `manage.py axes_reset_username USER` instead

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _get("GOOSEBIT_LOG_LEVEL", "INFO").upper()},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
