"""Shared test set-up: a cheap password hasher, and personas every test module can use."""

import pytest


def pytest_configure(config):
    from django.conf import settings

    # Argon2 is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def personas(db):
    from tests.factories import make_personas

    return make_personas()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language. A request through the test client activates its page's
    language in the thread and leaves it there (a server starts every request afresh), so a test after one
    that read a /ug/ page would otherwise render Uyghur where it expects English."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()
