"""`backoff_delay`'s jitter modes: the registry client's, the git pusher's and the scheduler's backoff."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from tagpilot.registry.limits import backoff_delay


@given(st.integers(0, 30), st.floats(0, 1, exclude_max=True), st.floats(0, 1))
def test_jitter_below_stays_within_the_cap(attempt: int, r: float, jitter: float) -> None:
    exp = min(8.0, 0.25 * 2**attempt)
    delay = backoff_delay(attempt, base=0.25, cap=8.0, rand=lambda: r, jitter=jitter)
    assert exp * (1 - jitter) - 1e-9 <= delay <= exp + 1e-9


@given(st.integers(0, 30), st.floats(0, 1, exclude_max=True), st.floats(0, 1))
def test_jitter_above_never_comes_sooner(attempt: int, r: float, jitter: float) -> None:
    exp = min(300.0, 5.0 * 2**attempt)
    delay = backoff_delay(attempt, base=5.0, cap=300.0, rand=lambda: r, jitter=jitter, jitter_above=True)
    assert exp <= delay <= exp * (1 + jitter) + 1e-9


def test_exact_delays_table() -> None:
    half = lambda: 0.5  # noqa: E731
    # equal jitter (the registry client's default), full jitter (git push), jitter on top (scheduler)
    assert [backoff_delay(a, base=1.0, cap=4.0, rand=half) for a in range(4)] == [0.75, 1.5, 3.0, 3.0]
    assert [backoff_delay(a, base=1.0, cap=4.0, rand=half, jitter=1.0) for a in range(4)] == [0.5, 1.0, 2.0, 2.0]
    assert [backoff_delay(a, base=1.0, cap=4.0, rand=half, jitter=0.2, jitter_above=True) for a in range(4)] == [
        1.1, 2.2, 4.4, 4.4]
    assert [backoff_delay(a, base=0.1, cap=60.0, jitter=0.0, jitter_above=True) for a in range(3)] == [
        0.1, 0.2, 0.4]


def test_seeded_rand_matches_uniform_draws() -> None:
    # the scheduler and the git client pass `rng.random`: the same draws `rng.uniform` made before
    a, b = random.Random(7), random.Random(7)
    for attempt in range(10):
        assert backoff_delay(attempt, base=0.2, cap=5.0, rand=a.random, jitter=1.0) == b.uniform(
            0, min(5.0, 0.2 * 2**attempt))
