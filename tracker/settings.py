"""Settings for the Accountability Tracker.

Every knob is an environment variable (documented in the README). The defaults fail closed: DEBUG is off,
there is no default SECRET_KEY outside debug, and ALLOWED_HOSTS is never "*". `make run` sets the
local-development variables itself.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Debug only: a per-process key, so nothing signed survives a restart by accident.
    SECRET_KEY = "insecure-debug-" + os.urandom(24).hex()
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters of real randomness.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
if "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the hosts; '*' is refused.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The public site (/public/…, cases/public): read-only pages anyone may read without signing in, showing only
# what cases/access.py lets the public see. Off unless asked for: every /public/ address answers 404.
PUBLIC_SITE = env_bool("PUBLIC_SITE")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    # Before "cases": its post_migrate (tracker.accounts.roles) grants curators the axes permissions, which must exist.
    "axes",
    "csp",
    # Background work: Django's tasks API (backport) and its database backend's table and worker command.
    "django_tasks",
    "django_tasks_db",
    "cases",
    "tracker.accounts",
    "tracker.notifications",
    "tracker.webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # After LocaleMiddleware: sends an unprefixed page address to the visitor's language (cookie, then
    # Accept-Language), and applies a user's remembered language at sign-in.
    "tracker.accounts.language.PreferredLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After authentication and messages: ends stale sessions first, then holds back users who owe a second
    # factor, and records every refusal (403) in the security log.
    "tracker.accounts.security.SessionLifetimeMiddleware",
    "tracker.accounts.security.MFAEnforcementMiddleware",
    "tracker.accounts.security.RefusalAuditMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cases.context_processors.roles",
            ],
        },
    },
]

# Database: SQLite by default, PostgreSQL (production) through DATABASE_URL.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Timeouts, each below gunicorn's 30 s worker timeout (tracker/gunicorn.conf.py checks): a database that
# stops answering makes a request fail with an error in seconds instead of hanging its worker until
# gunicorn kills it, and the new worker hanging again. 0 switches a timeout off.
DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 5)
DATABASE_STATEMENT_TIMEOUT = env_int("DATABASE_STATEMENT_TIMEOUT", 20)
DATABASE_BUSY_TIMEOUT = env_int("DATABASE_BUSY_TIMEOUT", 20)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # Parameters given in DATABASE_URL (?connect_timeout=…, ?options=…) win over these defaults.
    options.setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)
    # statement_timeout is enforced by the server: it ends a query the server is slow to answer.
    options["options"] = (
        f"-c statement_timeout={DATABASE_STATEMENT_TIMEOUT * 1000} {options.get('options', '')}".strip()
    )
    # A server that is gone (packets dropped, not refused) never enforces anything: the kernel drops the
    # connection when what we sent stays unacknowledged (tcp_user_timeout) or an idle wait gets no answer
    # to keepalive probes, so a request on a persistent connection fails instead of waiting for minutes.
    keepalive = max(1, DATABASE_CONNECT_TIMEOUT)
    options.setdefault("keepalives", 1)
    options.setdefault("keepalives_idle", keepalive)
    options.setdefault("keepalives_interval", keepalive)
    options.setdefault("keepalives_count", 3)
    options.setdefault("tcp_user_timeout", max(DATABASE_STATEMENT_TIMEOUT, DATABASE_CONNECT_TIMEOUT) * 1000)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the busy timeout
        # instead of failing with "database is locked" when a read transaction tries to upgrade.
        "transaction_mode": "IMMEDIATE",
        # The busy timeout (sqlite3.connect's `timeout` sets SQLite's busy handler): how long a writer
        # waits for the write lock before "database is locked", below gunicorn's worker timeout.
        "timeout": DATABASE_BUSY_TIMEOUT,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    # Tests use a file, not shared-cache memory, so threads and the browser tests' live server see real
    # SQLite locking (WAL, busy timeout) as production does. One file per test process.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"tracker-test-{os.getpid()}.sqlite3")
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Length, not composition (NIST SP 800-63B): at least 12 characters, not a known common password, not the
# user's own name or address. NumericPasswordValidator is left out on purpose: "must contain a non-digit"
# is a composition rule, and a long number is no weaker than a long lowercase word.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account before any password is checked (it authenticates no one itself).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# Accounts (django-allauth): no self sign-up; curators or `manage.py adduser` create accounts.
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "cases:dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "tracker.accounts.adapters.AccountAdapter"
# How long an invitation link works, in seconds (tracker.accounts.services).
INVITATION_MAX_AGE = env_int("INVITATION_MAX_AGE", 7 * 24 * 3600)
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = False
# allauth's own per-IP limit stays; its per-account limit is raised above AXES_FAILURE_LIMIT so that
# django-axes (durable, in the database, with an unlock) decides account lockouts. The per-account
# limit still caps guesses at the second factor, which axes does not see.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,10/5m/key"}
# Behind SECURE_PROXY the client address is the last X-Forwarded-For hop our proxy added: without it,
# every sign-in would share the proxy's address and the per-IP limits would throttle the whole site.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if env_bool("SECURE_PROXY") else 0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_ISSUER = os.environ.get("MFA_ISSUER", "Accountability Tracker")
MFA_ADAPTER = "tracker.accounts.security.MFAAdapter"
# Browsers allow WebAuthn on http://localhost only when told to; production is HTTPS.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Two-factor is required for curators, staff and superusers (every /admin/ user) when MFA_ENFORCE is on
# (the default); MFA_REQUIRED_FOR_ALL extends the requirement to every monitor.
MFA_ENFORCE = env_bool("MFA_ENFORCE", True)
MFA_REQUIRED_FOR_ALL = env_bool("MFA_REQUIRED_FOR_ALL", False)

# Sessions end after SESSION_IDLE_TIMEOUT seconds without a request and SESSION_ABSOLUTE_LIFETIME seconds
# after sign-in, whatever the activity (tracker.accounts.security.SessionLifetimeMiddleware).
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 30 * 60)
SESSION_ABSOLUTE_LIFETIME = env_int("SESSION_ABSOLUTE_LIFETIME", 12 * 3600)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", SESSION_ABSOLUTE_LIFETIME)
# "Sign out everywhere" (/accounts/sessions/). Activity is recorded by SessionLifetimeMiddleware once a
# minute, not by allauth's per-request middleware (a database write on every page view).
USERSESSIONS_TRACK_ACTIVITY = True
USERSESSIONS_ADAPTER = "tracker.accounts.security.UserSessionsAdapter"

# Brute force (django-axes): AXES_FAILURE_LIMIT failed sign-ins for one account lock it for AXES_COOLOFF
# seconds, even with the right password; a curator unlocks it in the admin (Access attempts) or with
# `manage.py axes_reset_username USERNAME`. Accounts, not addresses: an adversary has many addresses, and
# colleagues share one office address. A sign-in by e-mail counts for the same account.
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("AXES_COOLOFF", 30 * 60))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_FORM_FIELD = "login"
AXES_USERNAME_CALLABLE = "tracker.accounts.security.axes_username"
# Stored addresses are cut to their network (/24, /48): enough to tell a campaign from a typo, not enough
# to locate a researcher. Successful sign-ins are not stored at all.
AXES_CLIENT_IP_CALLABLE = "tracker.accounts.security.axes_client_ip"
AXES_DISABLE_ACCESS_LOG = True
# What was typed into the login field is masked in the stored request data (people type passwords there).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "login", "email"]
AXES_LOCKOUT_CALLABLE = "tracker.accounts.security.lockout_response"
AXES_RESET_ON_SUCCESS = True
# The lock lasts AXES_COOLOFF from the last counted failure; attempts during it do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False

SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Messages live in the server-side session, not in a cookie: an API key shown once must not travel in one.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# E-mail: console in development, SMTP in production.
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "tracker@localhost")
# Links in notification e-mails, which the task worker sends outside any request, start with SITE_URL.
SITE_URL = os.environ.get("SITE_URL", "").rstrip("/") or (
    "http://127.0.0.1:8000" if DEBUG else f"https://{ALLOWED_HOSTS[0]}"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese")), ("ug", _("Uyghur"))]
# Catalogues of our own strings (locale/<lang>/LC_MESSAGES/django.po, compiled by `make install`).
LOCALE_PATHS = [BASE_DIR / "locale"]
# Display formats of our own per language (tracker/formats/): ISO 8601 dates in every language, the admin's too.
FORMAT_MODULE_PATH = ["tracker.formats"]
# The switcher's choice: a year, sent on every request (the pages are language-prefixed; the cookie only
# decides where an unprefixed address sends a returning visitor, see tracker.accounts.language).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security headers. HTTPS settings follow DEBUG; SECURE_PROXY trusts X-Forwarded-Proto from a proxy.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Preloading binds the whole domain and its subdomains to HTTPS for good: the operator's decision, so the
# deploy check does not insist on it.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# axes.W006 asks for lockout by address as well. We lock accounts only, on purpose: failures are summed per
# account whatever the address or browser (so rotating them does not help an attacker; see
# tests/test_security_accounts.py), and locking an address would lock a whole office behind one NAT.
# Spraying many accounts from one address meets allauth's per-IP limit (ACCOUNT_RATE_LIMITS).
SILENCED_SYSTEM_CHECKS.append("axes.W006")
if env_bool("SECURE_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content-Security-Policy: nothing inline, nothing third-party.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cases.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "cases.api.renderers.CSVRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "cases.api.pagination.StableCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "cases.api.throttling.KeyRateThrottle",
        "cases.api.throttling.MemberRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "key": os.environ.get("API_THROTTLE_KEY", "600/min"),
        "user": os.environ.get("API_THROTTLE_USER", "600/min"),
        # Failed key guesses per client network (cases.api.throttling.KeyGuessThrottle).
        "key_guess": os.environ.get("API_THROTTLE_KEY_GUESS", "10/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Accountability Tracker export API",
    "DESCRIPTION": "Read-only export of recommendations, published assessments and evidence.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # People: one name per choice set shared by two fields (current_status / status, current_facility /
    # facility_type).
    "ENUM_NAME_OVERRIDES": {
        "PersonStatusEnum": "cases.people.models.PersonStatusKind",
        "FacilityTypeEnum": "cases.people.models.FacilityType",
    },
}

# Caches: per-process memory by default. CACHE_LOCATION names a database cache table
# (`manage.py createcachetable`) that every gunicorn worker shares: not needed for correctness, only so the
# API throttles count across workers.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("CACHE_LOCATION"):
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": os.environ["CACHE_LOCATION"],
    }

# Background work (imports, notifications) goes through Django's tasks API (the django-tasks backport;
# `cases/tasks.py` is the one place that imports it). By default tasks wait in a database table and
# `manage.py db_worker` runs them: nothing else to install (`make run` starts one beside the server). With
# TASKS_URL=redis://host:6379/0 they go to Redis through RQ instead, so any number of app servers and
# workers (`manage.py rqworker --with-scheduler default`) share one queue.
TASKS_URL = os.environ.get("TASKS_URL", "")
if TASKS_URL:
    if not TASKS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("TASKS_URL must be a redis://, rediss:// or unix:// address.")
    INSTALLED_APPS.append("django_rq")
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    # A job runs at most an hour (a 250,000-record import takes minutes).
    RQ_QUEUES = {"default": {"URL": TASKS_URL, "DEFAULT_TIMEOUT": 3600}}
    # Workers (`rqworker`) run jobs as the tasks backend's Job class, which knows Django's Task objects.
    RQ = {"JOB_CLASS": "django_tasks_rq.Job"}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Uploaded import files and their previews: private (never served), under PRIVATE_ROOT/imports.
PRIVATE_ROOT = Path(os.environ.get("PRIVATE_ROOT", BASE_DIR / "var"))
IMPORT_MAX_UPLOAD_MB = env_int("IMPORT_MAX_UPLOAD_MB", 50)

# Webhooks (tracker/webhooks): an endpoint is paused after this many failed attempts in a row. Endpoints
# may not resolve to loopback, private, link-local, multicast or reserved addresses; WEBHOOKS_ALLOW_LOOPBACK=1
# lets loopback through (tests, a receiver on this machine), with a warning in the log when DEBUG is off.
WEBHOOKS_PAUSE_AFTER = env_int("WEBHOOKS_PAUSE_AFTER", 10)
WEBHOOKS_ALLOW_LOOPBACK = env_bool("WEBHOOKS_ALLOW_LOOPBACK")
WEBHOOKS_TIMEOUT = env_int("WEBHOOKS_TIMEOUT", 5)

TRACKER_DEFAULT_ORGANISATION = os.environ.get("TRACKER_DEFAULT_ORGANISATION", "Default organisation")
# Backups (`manage.py backup`/`restore`) are encrypted with BACKUP_KEY (32 random bytes, urlsafe base64) or,
# failing that, a key derived from BACKUP_PASSPHRASE; with neither, `backup` refuses to run.
BACKUP_KEY = os.environ.get("BACKUP_KEY", "")
BACKUP_PASSPHRASE = os.environ.get("BACKUP_PASSPHRASE", "")

# Logs in UTC on stderr; the "security" logger is the audit trail of sign-ins, refusals and reviews.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "utc": {
            "()": "cases.logging.UTCFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "utc"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "security": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
