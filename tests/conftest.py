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
