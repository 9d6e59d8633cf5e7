"""Per-token rate limits of ``modeldb server`` (``--rate-limit``): a token bucket per token,
refilled at the limit's rate and holding one second of it (at least one request).

Each replica counts for itself (the server keeps no shared state): behind a load balancer
over N replicas, a token gets up to N times the limit."""
from __future__ import annotations

import math
import threading
import time

from modeldb_core.errors import RateLimitedError


class RateLimiter:
    """``take(key)`` lets a request of ``key`` through or raises RateLimitedError."""

    def __init__(self, per_second: float, clock=time.monotonic):
        if not per_second > 0:
            from modeldb_core.errors import ValidationError

            raise ValidationError("--rate-limit", per_second, "must be a positive number of requests per second")
        self.per_second = per_second
        self.capacity = max(1.0, per_second)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str, who: str) -> None:
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.per_second)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.per_second
                # Retry-After is whole seconds (RFC 9110); never 0, which would invite a spin.
                raise RateLimitedError(who, self.per_second, max(1.0, math.ceil(wait)))
            self._buckets[key] = (tokens - 1.0, now)
