"""Rate limits: one bucket per organisation key, one per signed-in user, one for failed key guesses per network.

Rates are read from settings on every request (not frozen at import as DRF's SimpleRateThrottle does), so a
deployment or a test can change `DEFAULT_THROTTLE_RATES` without a restart of the class machinery.
"""

from __future__ import annotations

import time

from django.core.cache import cache
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


class KeyGuessThrottle:
    """Failed key attempts per client network (/24 for IPv4, /48 for IPv6: one guesser rarely holds more).

    A key has 256 bits of secret, so guessing cannot succeed; this stops a client from hammering the key
    lookup and the audit trail. After `key_guess` failures (default 10 a minute) in one window, every
    request from that network that offers a key is refused with 429 until the window ends, a valid key
    included: otherwise the refusals would tell the guesser which guess was right. Requests without an
    Authorization header (sessions), and other networks, are unaffected. Fixed windows in the cache, as DRF's
    own throttles keep their history there.
    """

    scope = "key_guess"
    default_rate = "10/min"

    def __init__(self, network: str):
        self.network = network
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or self.default_rate
        self.limit, self.duration = SimpleRateThrottle.parse_rate(None, rate)
        now = time.time()
        self.window = int(now // self.duration)
        self.wait = max(1, int((self.window + 1) * self.duration - now))
        self.key = f"throttle_{self.scope}_{network}_{self.window}"

    def blocked(self) -> bool:
        return (cache.get(self.key) or 0) >= self.limit

    def first_block(self) -> bool:
        """True once per window: the refusal that is worth an audit row."""
        return cache.add(f"{self.key}_audited", 1, timeout=self.duration + 1)

    def failed(self) -> None:
        # add() then incr(): atomic in every cache backend Django ships, so concurrent failures all count.
        cache.add(self.key, 0, timeout=self.duration + 1)
        try:
            cache.incr(self.key)
        except ValueError:  # expired between the two calls: this failure starts the new count
            cache.add(self.key, 1, timeout=self.duration + 1)
