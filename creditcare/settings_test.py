"""Settings for the test suite: the real settings, with a throwaway key and fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("IDENTITY_ENCRYPTION_KEYS", "dGVzdHMtb25seS1ub3QtYS1zZWNyZXQtMDEyMzQ1Njc=")
os.environ.setdefault("IDENTITY_HASH_KEY", "tests-only-not-a-secret-either")

from creditcare.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LANGUAGE_CODE = "en"
# Tasks run inline when enqueued; tests of the real worker start one explicitly.
CELERY_TASK_ALWAYS_EAGER = True
# The test client and the in-process schemathesis client call as testserver / localhost.
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
SMS_BACKEND = "locmem"
# Payments in tests go through the sandbox channel (off by default with DEBUG off).
SANDBOX_ENABLED = True
PAYMENT_CHANNELS = ["sandbox"]
# Paid bills get e-invoices from the sandbox platform, as with make run.
EINVOICE_PROVIDER = "sandbox"
# Online sign-up and the large bills' check ask the sandbox's real-name service.
REALNAME_PROVIDER = "sandbox"
# Staff two-factor sign-in is required only where a test asks for it
# (tests/accounts/test_two_factor.py); elsewhere staff sign in as the persona fixtures do.
OTP_REQUIRED_ROLES = []
