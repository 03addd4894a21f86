"""Rate limits: one bucket per organisation key, one per signed-in user.

Rates are read from settings on every request (not frozen at import as DRF's SimpleRateThrottle does), so a
deployment or a test can change `DEFAULT_THROTTLE_RATES` without a restart of the class machinery.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from cases.models import ApiKey


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class KeyRateThrottle(_SettingsRateThrottle):
    """Keyed on the key's public prefix, so every client of one key shares one bucket."""

    scope = "key"

    def get_cache_key(self, request, view):
        key = getattr(request, "auth", None)
        if not isinstance(key, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.prefix}


class MemberRateThrottle(_SettingsRateThrottle):
    """Per signed-in user (session). Key requests are left to KeyRateThrottle: a key has no user id, and DRF's
    UserRateThrottle would put every key into one shared bucket keyed on `None`."""

    scope = "user"

    def get_cache_key(self, request, view):
        if isinstance(getattr(request, "auth", None), ApiKey):
            return None
        user = getattr(request, "user", None)
        if not getattr(user, "is_authenticated", False) or user.pk is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}
