"""Waiting between attempts: capped exponential backoff with jitter, and a restart-intensity window.

Two policies, both pure (no clock of their own, no I/O) so they can be tested without trio:

- `Backoff` spaces out reconnection attempts of one image actor and restarts of a crashed actor. Delays
  grow geometrically from `initial` to `maximum`; each delay is drawn from [delay/2, delay] ("equal
  jitter") so a thousand actors that lost their images at the same instant do not come back in lockstep,
  while a delay never shrinks below half its nominal value.
- `RestartWindow` is OTP's restart intensity, counted *per image* (NOTES.md: a global count would let two
  flapping images out of a thousand take everything down): at most `max_restarts` in any `period` seconds.

The caller supplies the current time (`trio.current_time()` in the actors), which is what lets the tests
run them under `autojump_clock`.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Backoff", "RestartWindow"]


@dataclass(slots=True)
class Backoff:
    """Capped exponential backoff with equal jitter.

    Attributes:
        initial: nominal first delay in seconds.
        maximum: cap on the nominal delay.
        factor: growth per attempt.
        rng: source of jitter; pass a seeded `random.Random` for reproducible tests.
    """

    initial: float = 0.1
    maximum: float = 5.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    _attempt: int = 0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1:
            raise ValueError("Backoff needs 0 < initial <= maximum and factor >= 1")

    @property
    def attempts(self) -> int:
        """Delays handed out since the last `reset()`."""
        return self._attempt

    def nominal(self) -> float:
        """The un-jittered delay the next `next_delay()` is drawn around."""
        return min(self.maximum, self.initial * self.factor**self._attempt)

    def next_delay(self) -> float:
        """The delay before the next attempt, in [nominal/2, nominal]; advances the sequence."""
        nominal = self.nominal()
        if nominal < self.maximum:
            self._attempt += 1
        return nominal / 2 + self.rng.random() * nominal / 2

    def reset(self) -> None:
        """Start over from `initial`, after a success."""
        self._attempt = 0


@dataclass(slots=True)
class RestartWindow:
    """At most `max_restarts` restarts in any sliding window of `period` seconds.

    Attributes:
        max_restarts: restarts allowed inside one window (OTP's intensity).
        period: the window's length in seconds.
    """

    max_restarts: int = 5
    period: float = 30.0
    _times: deque[float] = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if self.max_restarts < 0 or self.period <= 0:
            raise ValueError("RestartWindow needs max_restarts >= 0 and period > 0")

    def record(self, now: float) -> bool:
        """Count a restart at time `now`.

        Returns:
            True when the restart is allowed, False when it would exceed the budget (the caller then
            gives up: the image becomes Failed).
        """
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        if len(self._times) >= self.max_restarts:
            return False
        self._times.append(now)
        return True

    def count(self, now: float) -> int:
        """Restarts inside the window ending at `now`."""
        return sum(1 for t in self._times if t > now - self.period)
