"""Loaded with `-p tests.pytest_env` before Django's settings are read: the test environment."""

import os

# DEBUG=1 only selects the development static-files storage and a throwaway SECRET_KEY at import time;
# pytest-django still runs every test with settings.DEBUG = False.
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Two-factor enforcement for curators is switched off for the suite by default (tests that check it turn it on
# with override_settings(MFA_ENFORCE=True)); curators in other tests sign in with force_login.
os.environ.setdefault("MFA_ENFORCE", "0")
