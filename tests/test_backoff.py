"""Tests for humekit._internal.backoff: the one exponential backoff formula and its bounds."""

from __future__ import annotations

import random

import pytest

from humekit._internal.backoff import exponential


def test_without_jitter_it_doubles_up_to_the_maximum():
    """initial, 2x, 4x ... capped at maximum; huge attempt numbers stay at the maximum (no overflow)."""
    assert [exponential(n, initial=1.0, maximum=30.0) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert exponential(10_000, initial=0.5, maximum=60.0) == 60.0


@pytest.mark.parametrize("jitter", [0.0, 0.2, 0.5, 0.99])
@pytest.mark.parametrize("floor", [0.0, 1.0])
def test_jitter_never_takes_a_wait_past_the_maximum_nor_under_the_floor(jitter, floor):
    """Every wait lies in [max(floor, base*(1-jitter)), min(maximum, base*(1+jitter))]."""
    rng = random.Random(7)
    for attempt in range(40):
        base = min(20.0, 1.5 * 2**attempt)
        wait = exponential(attempt, initial=1.5, maximum=20.0, jitter=jitter, floor=floor, rng=rng)
        assert max(floor, base * (1 - jitter)) - 1e-9 <= wait <= min(20.0, base * (1 + jitter)) + 1e-9


def test_a_seeded_rng_gives_a_reproducible_schedule_and_zero_jitter_leaves_it_untouched():
    """The same seed gives the same waits; jitter=0 does not draw from the rng."""
    def schedule(rng):
        return [exponential(n, initial=1.0, maximum=60.0, jitter=0.2, rng=rng) for n in range(8)]

    assert schedule(random.Random(3)) == schedule(random.Random(3))
    rng = random.Random(3)
    state = rng.getstate()
    exponential(3, initial=1.0, maximum=60.0, rng=rng)
    assert rng.getstate() == state


def test_client_waiting_and_submitting_use_it():
    """The client's retries, the poll schedule and the lost-POST resubmission all wait by this formula."""
    from humekit._internal import backoff
    from humekit.backends.v0 import client, submitting, waiting

    for module in (client, submitting, backoff):  # the poll schedule (Backoff) now lives beside the formula
        assert module.exponential is exponential
    assert waiting.Backoff is backoff.Backoff
    assert waiting.Backoff(wait_initial=1.0, wait_max=8.0, wait_jitter=0.0).delay(5, random.Random()) == 8.0
