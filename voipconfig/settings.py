"""Settings, all read from the environment (see .env.example for every variable)."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Generic classes (ModelAdmin[Device], QuerySet[Device]) can be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
# Earlier keys, still accepted for signatures (sessions, Digest nonces) after a rotation.
SECRET_KEY_FALLBACKS: list[str] = env.list("SECRET_KEY_FALLBACKS", default=[])
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

# Keys encrypting provisioning and SIP passwords at rest (Fernet keys, comma separated; the
# first encrypts, all decrypt). Only a development server may go without: it derives one.
FIELD_ENCRYPTION_KEYS: list[str] = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off (see .env.example)."
        )
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
    ]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "organisations",
    "devices",
    "phonebooks",
    "media_assets",
    "rps",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs' Swagger UI, from our static files (no CDN)
    "firmware",
    "api",
    "jobs",
    "django_tasks",
    "django_tasks_db",
    "voipconfig",
]

MIDDLEWARE = [
    "voipconfig.middleware.NulCharacterMiddleware",
    "voipconfig.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "voipconfig.middleware.LocaleMiddleware",  # after sessions, before common (Django's order)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After MessageMiddleware: its message about an unannounced change goes with the response.
    "voipconfig.middleware.SharedCacheMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "voipconfig.urls"

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

WSGI_APPLICATION = "voipconfig.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
# Off by default: the check costs a round trip on every request that uses the database. After
# a database restart each process answers one request with a 503 (phones retry) and then
# reconnects by itself; set it on to spare even that one.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)

if DATABASES["default"]["ENGINE"].endswith("postgresql") and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # Statements run again and again (every phone request's) are planned once per connection
    # instead of every time. Turn it off behind a pooler in transaction mode that does not
    # track prepared statements (PgBouncer before 1.21, or without max_prepared_statements).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English by default; Dutch for a browser that asks for it (Accept-Language: nl, nl-BE) or a
# user who picks it in the admin's switch (a cookie). Only the admin and the API speak it:
# what phones receive is never translated (voipconfig.middleware.LocaleMiddleware).
LANGUAGE_CODE = "en-gb"
LANGUAGES = [("en-gb", "English"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # the project's templates; each app keeps its own
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Behind the TLS proxy (deploy/nginx.conf) -----------------------------------------------

# nginx terminates TLS and says so in X-Forwarded-Proto; it also sends HSTS and redirects the
# admin to HTTPS, while phones inside a customer's network may stay on plain HTTP when the
# operator allows it. So Django leaves HSTS and the redirect to the proxy by default.
if env.bool("BEHIND_TLS_PROXY", default=not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE  # the admin's language switch
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")

# --- Firmware images --------------------------------------------------------------------

# Where firmware images are kept: a directory every app server shares (an NFS mount, say),
# unless FIRMWARE_STORAGE below puts them in a bucket. Their bytes never go into the database
# or into a worker's memory (firmware/).
FIRMWARE_ROOT: Path = env.path("FIRMWARE_ROOT", default=BASE_DIR / "var" / "firmware")
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "firmware": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": FIRMWARE_ROOT, "base_url": None},
    },
}
# The largest image the admin takes (Yealink's phone images are 30-110 MB).
FIRMWARE_MAX_BYTES: int = env.int("FIRMWARE_MAX_BYTES", default=200 * 1024 * 1024)
# How a download is sent once Django has authorised it:
# - "stream": by the worker, in slices of constant memory (development, `make run`);
# - "nginx": an X-Accel-Redirect to FIRMWARE_NGINX_PREFIX, an `internal` location of
#   deploy/nginx.conf that serves FIRMWARE_ROOT, so no gunicorn worker is held;
# - "signed-url": a 302 to a URL of the object store signed for FIRMWARE_SIGNED_URL_SECONDS
#   (FIRMWARE_STORAGE=s3 only), so the store sends the bytes.
FIRMWARE_DELIVERY: str = env.str("FIRMWARE_DELIVERY", default="stream")
FIRMWARE_NGINX_PREFIX: str = env.str("FIRMWARE_NGINX_PREFIX", default="/_firmware/")
# At most this many downloads stream at once on one app server ("stream"; 0: no limit); the
# others are answered 503 with Retry-After. With "nginx", limit_conn in deploy/nginx.conf.
FIRMWARE_MAX_DOWNLOADS: int = env.int("FIRMWARE_MAX_DOWNLOADS", default=50)
FIRMWARE_RETRY_AFTER_SECONDS: int = env.int("FIRMWARE_RETRY_AFTER_SECONDS", default=120)
# This server's download slots (lock files): a local directory, not the shared FIRMWARE_ROOT.
FIRMWARE_SLOTS_DIR: Path = env.path(
    "FIRMWARE_SLOTS_DIR", default=BASE_DIR / "var" / "firmware-slots"
)
FIRMWARE_SIGNED_URL_SECONDS: int = env.int("FIRMWARE_SIGNED_URL_SECONDS", default=300)
# Where the images are: "filesystem" (FIRMWARE_ROOT) or "s3", a bucket of an S3-compatible
# store (django-storages), private: a phone reads an object only through a signed URL.
FIRMWARE_STORAGE: str = env.str("FIRMWARE_STORAGE", default="filesystem")
if FIRMWARE_STORAGE == "s3":
    from voipconfig.firmware_store import s3_firmware_storage

    STORAGES["firmware"] = s3_firmware_storage(env, FIRMWARE_SIGNED_URL_SECONDS)
elif FIRMWARE_STORAGE != "filesystem":
    raise ImproperlyConfigured(
        f"FIRMWARE_STORAGE is {FIRMWARE_STORAGE!r}: use filesystem or s3 (see .env.example)."
    )

# --- Provisioning -------------------------------------------------------------------------

# The public base URL the phones use; files are served at its root.
PROVISIONING_URL: str = env.str("PROVISIONING_URL", default="http://127.0.0.1:8000/")
if not PROVISIONING_URL.endswith("/"):
    PROVISIONING_URL += "/"

# Which HTTP authentication schemes the 401 offers, in order. Digest is what every Yealink
# firmware supports; Basic is widely used but undocumented by Yealink.
PROVISIONING_AUTH_SCHEMES: list[str] = env.list(
    "PROVISIONING_AUTH_SCHEMES", default=["digest", "basic"]
)
for _scheme in PROVISIONING_AUTH_SCHEMES:
    if _scheme not in ("digest", "basic"):
        raise ImproperlyConfigured(
            f"PROVISIONING_AUTH_SCHEMES: unknown scheme {_scheme!r} (use digest and/or basic)."
        )
PROVISIONING_REALM: str = env.str("PROVISIONING_REALM", default="voipconfig")
# How long a Digest nonce stays valid; an older one gets a fresh challenge with stale=true.
DIGEST_NONCE_TTL_SECONDS: int = env.int("DIGEST_NONCE_TTL_SECONDS", default=300)
# Basic sends the password in clear: accepted on plain HTTP only while this is true (phones
# inside customer networks); over HTTPS always, where PROVISIONING_AUTH_SCHEMES offers it.
PROVISIONING_ALLOW_BASIC_OVER_HTTP: bool = env.bool(
    "PROVISIONING_ALLOW_BASIC_OVER_HTTP", default=True
)

# Proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_HOPS: int = env.int("TRUSTED_PROXY_HOPS", default=0)

# A phone with Wrong credentials in this many hours, and no success since, is "failing".
PHONE_FAILING_WINDOW_HOURS: int = env.int("PHONE_FAILING_WINDOW_HOURS", default=24)

# What a 503 (database down or overloaded) tells clients to wait before trying again.
RETRY_AFTER_SECONDS: int = env.int("RETRY_AFTER_SECONDS", default=60)

# How long access-log rows are kept (manage.py prune_access_log, run daily by its timer).
ACCESS_LOG_RETENTION_DAYS: int = env.int("ACCESS_LOG_RETENTION_DAYS", default=30)
# Access-log rows (and each phone's last-seen fields) are written in batches by a thread in
# each app-server process, every this many seconds or once ACCESS_LOG_BATCH_SIZE rows wait
# (devices/serving/access_log.py). 0 writes them in the request: the default on SQLite, where a
# second writer would wait on the database lock.
_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
ACCESS_LOG_FLUSH_SECONDS: float = env.float(
    "ACCESS_LOG_FLUSH_SECONDS", default=0.25 if _POSTGRES else 0
)
ACCESS_LOG_BATCH_SIZE: int = env.int("ACCESS_LOG_BATCH_SIZE", default=500)
# More rows than this waiting means the database cannot keep up: phones get a 503.
ACCESS_LOG_MAX_PENDING: int = env.int("ACCESS_LOG_MAX_PENDING", default=20000)
# Phones get a 503 once the oldest batch waited this long for the database (a locked table).
ACCESS_LOG_MAX_STALL_SECONDS: float = env.float("ACCESS_LOG_MAX_STALL_SECONDS", default=15)
# A batch's statements wait at most this long (then the batch is tried again).
ACCESS_LOG_WRITE_TIMEOUT_SECONDS: float = env.float("ACCESS_LOG_WRITE_TIMEOUT_SECONDS", default=10)
# A stopping process gives the database this long for what it holds; the rest stays in the
# spool for the next process. Keep it well under gunicorn's graceful_timeout.
ACCESS_LOG_CLOSE_SECONDS: float = env.float("ACCESS_LOG_CLOSE_SECONDS", default=5)
# Rows of 503s a process keeps in the spool's overflow (~200 bytes each) until the database
# takes rows again; past it (hours of outage) they go to the application log, one line each.
ACCESS_LOG_OVERFLOW_MAX_ROWS: int = env.int("ACCESS_LOG_OVERFLOW_MAX_ROWS", default=1_000_000)
# Every this many seconds a process looks for batches that stopped processes left.
ACCESS_LOG_ADOPT_SECONDS: float = env.float("ACCESS_LOG_ADOPT_SECONDS", default=10)
# Repeating faults (the database down) are logged in full once, then counted per interval.
LOG_FAULTS_INTERVAL_SECONDS: float = env.float("LOG_FAULTS_INTERVAL_SECONDS", default=60)

# Throttling of failed phone requests (see devices/serving/throttle.py). The counts live in the
# cache: use Redis (or the database) in production so that every app server shares them.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "voipconfig.cache.RedisCache"  # one client per process
# Each installation's keys apart, even in one Redis database: what a process shares about a
# phone is only good for the database it came from (a staging copy has the same MACs).
_DATABASE_IDENTITY = "|".join(
    str(DATABASES["default"].get(key, "")) for key in ("ENGINE", "HOST", "PORT", "NAME")
)
CACHES["default"]["KEY_PREFIX"] = env.str(
    "CACHE_KEY_PREFIX", default="vc-" + hashlib.sha256(_DATABASE_IDENTITY.encode()).hexdigest()[:12]
)
# Redis away or hung costs phones little (voipconfig/cache.py): every call gives up after
# these many seconds (connecting; waiting for an answer), and after REDIS_BREAKER_FAILURES
# failures in a row a process stops calling it for REDIS_BREAKER_SECONDS at a time.
REDIS_CONNECT_TIMEOUT_SECONDS: float = env.float("REDIS_CONNECT_TIMEOUT_SECONDS", default=0.25)
REDIS_TIMEOUT_SECONDS: float = env.float("REDIS_TIMEOUT_SECONDS", default=0.25)
REDIS_BREAKER_FAILURES: int = env.int("REDIS_BREAKER_FAILURES", default=3)
REDIS_BREAKER_SECONDS: float = env.float("REDIS_BREAKER_SECONDS", default=5.0)
THROTTLE_ENABLED: bool = env.bool("THROTTLE_ENABLED", default=True)
# Where batches of access-log rows wait on local disk until the database has them
# (devices/serving/spool.py): every app-server process on this host using this database
# must share it. fsync makes a batch survive a power loss; off only for benchmarks.
ACCESS_LOG_SPOOL_DIR: Path = env.path(
    "ACCESS_LOG_SPOOL_DIR",
    default=BASE_DIR
    / "var"
    / f"access-log-spool-{hashlib.sha256(_DATABASE_IDENTITY.encode()).hexdigest()[:12]}",
)
ACCESS_LOG_SPOOL_FSYNC: bool = env.bool("ACCESS_LOG_SPOOL_FSYNC", default=True)

THROTTLE_CACHE: str = "default"
THROTTLE_WINDOW_SECONDS: int = env.int("THROTTLE_WINDOW_SECONDS", default=300)
THROTTLE_MAX_FAILURES_PER_IP: int = env.int("THROTTLE_MAX_FAILURES_PER_IP", default=50)
THROTTLE_MAX_FAILURES_PER_MAC: int = env.int("THROTTLE_MAX_FAILURES_PER_MAC", default=10)
# Wrong passwords with one organisation's user name, from all addresses together (its phones
# share it while they bootstrap, so more than per MAC).
THROTTLE_MAX_FAILURES_PER_USERNAME: int = env.int("THROTTLE_MAX_FAILURES_PER_USERNAME", default=30)
# An organisation keeps at most this many unassigned phones listed (insiders with its
# credentials could otherwise fill the table with made-up MACs).
UNASSIGNED_PHONES_MAX: int = env.int("UNASSIGNED_PHONES_MAX", default=1000)

# Organisation staff are never told which MACs other organisations have (devices.foreign_macs):
# an import with more of them than this is refused whole, and once an organisation's staff
# tried this many within 24 hours, adding phones is paused for it.
FOREIGN_MACS_PER_IMPORT: int = env.int("FOREIGN_MACS_PER_IMPORT", default=5)
FOREIGN_MACS_PER_DAY: int = env.int("FOREIGN_MACS_PER_DAY", default=20)

# Per-process cache of devices and rendered files, checked on every request against a version
# kept in the shared cache (devices/serving/cache.py). "auto": on when CACHE_URL is shared.
CONFIG_CACHE: str = env.str("CONFIG_CACHE", default="auto")
if CONFIG_CACHE != "auto":
    CONFIG_CACHE = env.bool("CONFIG_CACHE")
CONFIG_CACHE_ALIAS: str = "default"
CONFIG_CACHE_MAX_ENTRIES: int = env.int("CONFIG_CACHE_MAX_ENTRIES", default=20000)
CONFIG_CACHE_MAX_AGE_SECONDS: int = env.int("CONFIG_CACHE_MAX_AGE_SECONDS", default=60)
# With Redis, each process learns of a new version from a subscription instead of reading it
# on every request, and reads it anyway at least this often.
CONFIG_CACHE_VERSION_FEED: bool = env.bool("CONFIG_CACHE_VERSION_FEED", default=True)
CONFIG_CACHE_VERSION_CHECK_SECONDS: float = env.float(
    "CONFIG_CACHE_VERSION_CHECK_SECONDS", default=1.0
)
# A process that misses a phone reads its whole organisation when it has at most this many
# (1,000 phones with two accounts: about 0.1 s, during which that process serves nothing else).
CONFIG_CACHE_ORGANISATION_MAX_DEVICES: int = env.int(
    "CONFIG_CACHE_ORGANISATION_MAX_DEVICES", default=1000
)
# Bytes of media files up to MEDIA_CACHE_MAX_FILE_BYTES are kept per process, by hash,
# within MEDIA_CACHE_BYTES; larger files are streamed from the database on every request.
MEDIA_CACHE_BYTES: int = env.int("MEDIA_CACHE_BYTES", default=32 * 2**20)
MEDIA_CACHE_MAX_FILE_BYTES: int = env.int("MEDIA_CACHE_MAX_FILE_BYTES", default=2**20)
# A phone's last-seen fields are written at most this often while nothing else changes.
LAST_SEEN_PRECISION_SECONDS: int = env.int("LAST_SEEN_PRECISION_SECONDS", default=60)

# --- Yealink RPS ----------------------------------------------------------------------------

RPS_API_URL: str = env.str("RPS_API_URL", default="https://api-dm.yealink.com:8443")
RPS_ACCESS_KEY_ID: str = env.str("RPS_ACCESS_KEY_ID", default="")
RPS_ACCESS_KEY_SECRET: str = env.str("RPS_ACCESS_KEY_SECRET", default="")
# Put before every RPS server name (at most 8 of A-Z a-z 0-9 - _ .): names are unique across
# all RPS customers, so a provider may want its own mark on them.
RPS_SERVER_NAME_PREFIX: str = env.str("RPS_SERVER_NAME_PREFIX", default="")
# Each call to RPS: seconds to connect and to wait for the answer, then up to RPS_RETRIES
# more tries after 0.5, 1, 2, … s (at most RPS_BACKOFF_MAX_SECONDS; RPS's Retry-After wins).
# A call still unanswered after that stops the whole run (`rps_sync` exits 2).
RPS_CONNECT_TIMEOUT: float = env.float("RPS_CONNECT_TIMEOUT", default=5.0)
RPS_READ_TIMEOUT: float = env.float("RPS_READ_TIMEOUT", default=30.0)
RPS_RETRIES: int = env.int("RPS_RETRIES", default=4)
RPS_BACKOFF_SECONDS: float = env.float("RPS_BACKOFF_SECONDS", default=0.5)
RPS_BACKOFF_MAX_SECONDS: float = env.float("RPS_BACKOFF_MAX_SECONDS", default=30.0)
# A sync someone waits for (the admin's "Sync with RPS", in the worker with its job's page open;
# the API's rps-sync, in the request): a call with its retries gives up after this many
# seconds, so an unreachable RPS is said soon, and well before gunicorn's timeout (30 s).
RPS_ADMIN_CALL_SECONDS: float = env.float("RPS_ADMIN_CALL_SECONDS", default=10.0)

# --- Jobs: long work in the worker (docs/architecture.md "Jobs") ----------------------------
# The queue is a table of the database itself (django-tasks' database backend): SQLite in a
# checkout, PostgreSQL in production, one code path; `manage.py db_worker` runs the tasks.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A contacts CSV import of this many rows or more runs as a job after the preview's confirm.
JOBS_IMPORT_ROWS: int = env.int("JOBS_IMPORT_ROWS", default=1000)

# --- Admin login: lockout after wrong passwords (django-axes) ---------------------------------

# Organisation staff log in from the internet. After LOGIN_FAILURE_LIMIT wrong passwords for
# one user name from one address, that user name is refused from that address for
# LOGIN_LOCKOUT_MINUTES (each further try starts them again); the provider unlocks sooner in
# the admin (Axes > Access attempts). The pair, not either alone: by user name alone anyone
# could lock a customer's staff out by typing their name wrongly on purpose, and by address
# alone one colleague's typing would lock out a whole office behind one NAT address.
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as axes wants it
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before any password check
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT: int = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_LOCKOUT_MINUTES: int = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address as every other part of the project takes it: X-Forwarded-For only behind
# TRUSTED_PROXY_HOPS proxies, and then the hop nginx added, so a forged header changes nothing.
AXES_CLIENT_IP_CALLABLE = "voipconfig.login_lockout.lockout_address"
AXES_RESET_ON_SUCCESS = True  # a typo or two before the right password are forgotten
AXES_LOCKOUT_CALLABLE = "voipconfig.login_lockout.lockout_response"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"  # the admin lists and unlocks these
AXES_ENABLE_ADMIN = False  # voipconfig/admin.py registers the provider's page instead
AXES_DISABLE_ACCESS_LOG = True  # the lockout needs the failures only
AXES_VERBOSE = False  # no banner on every manage.py command; failures are still logged

# --- REST API (api/, docs/architecture.md "The REST API") -----------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.RegistryPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pages",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.NestingJSONParser",
        "api.parsers.NulRefusingMultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # OPTIONS answers 405: the schema describes every operation (DRF's metadata would
    # build each write serializer to describe it, for nothing a script uses).
    "DEFAULT_METADATA_CLASS": None,
    "EXCEPTION_HANDLER": "api.errors.handle",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "voipconfig API",
    "DESCRIPTION": "Organisations, phones, SIP accounts, phonebooks and media of the "
    "provisioning server, for the provider's billing and PBX systems. Send "
    "`Authorization: Bearer <token>` (manage.py createapitoken, or the admin). Errors are "
    "RFC 9457 problem details with a stable `code`.",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "COMPONENT_SPLIT_REQUEST": True,  # write-only secrets appear in requests only
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_problem_responses",
    ],
    # One name for a set of choices that several fields share.
    "ENUM_NAME_OVERRIDES": {
        "TransportEnum": ["udp", "tcp", "tls", "dns_srv"],  # SipTransport by name
        "NumberLabelEnum": "phonebooks.models.NumberLabel",
    },
}
# Requests per token and minute (0: no limit); a write counts API_WRITE_WEIGHT requests.
API_REQUESTS_PER_MINUTE: int = env.int("API_REQUESTS_PER_MINUTE", default=600)
API_WRITE_WEIGHT: int = env.int("API_WRITE_WEIGHT", default=5)
# A token's `last used` is written at most this often (not once per request).
API_TOKEN_USE_RESOLUTION_SECONDS: int = env.int("API_TOKEN_USE_RESOLUTION_SECONDS", default=60)

# --- Mail: whom the server tells (a halted firmware rollout; Django's server errors) -----
ADMINS = [(address, address) for address in env.list("ADMINS", default=[])]
SERVER_EMAIL: str = env.str("SERVER_EMAIL", default="voipconfig@localhost")
# smtp+tls://user:password@host:587 and the like (django-environ); by default each mail is
# written to the server's log instead.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)

# --- Metrics and logs (voipconfig/metrics.py, docs/architecture.md "Metrics and logs") ------

# /metrics in Prometheus's text format; off: a 404, and the phone path counts nothing.
METRICS_ENABLED: bool = env.bool("METRICS_ENABLED", default=True)
# Who may scrape it: clients from these networks (the address as TRUSTED_PROXY_HOPS makes it),
# or anyone sending `Authorization: Bearer <METRICS_TOKEN>` (empty: no token opens it).
METRICS_ALLOWED_NETWORKS: list[str] = env.list(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"]
)
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network (say 10.0.0.0/8)."
        ) from None
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")

# "plain" lines, or "json": one object per line (time, level, logger, message, and for a
# phone request its MAC, organisation, kind, outcome, status and duration).
LOG_FORMAT: str = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT is {LOG_FORMAT!r}: use plain or json.")
# A line per phone request (logger voipconfig.requests, at DEBUG): with this, or LOG_LEVEL=DEBUG.
# Off, a request pays one check of the level and writes nothing.
VOIPCONFIG_REQUEST_LOG: bool = env.bool("VOIPCONFIG_REQUEST_LOG", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "voipconfig.log_format.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Every phone round starts with a 401 and the access log records each attempt: Django's
    # warning per 4xx would only flood the log.
    "loggers": {
        "django.request": {"level": "ERROR"},
        **({"voipconfig.requests": {"level": "DEBUG"}} if VOIPCONFIG_REQUEST_LOG else {}),
    },
}
