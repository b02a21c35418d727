"""The warm-up schedule against Stan's windowed adaptation (stan/mcmc/windowed_adaptation.hpp).

Expected windows are Stan's, worked out from its documented defaults (init buffer 75, term
buffer 50, base window 25; 15 % / 75 % / 10 % when those do not fit; no metric adaptation
below 20 warm-up iterations), e.g. the reference manual's 1000-iteration picture:
75 | 25 | 50 | 100 | 200 | 500 | 50.
"""
import pytest

from bayesquad.inference import _nuts


@pytest.mark.parametrize("warmup, slow_start, ends", [
    (1000, 75, [100, 150, 250, 450, 950]),
    (2000, 75, [100, 150, 250, 450, 850, 1950]),
    (500, 75, [100, 150, 250, 450]),
    (190, 75, [100, 140]),  # the first window never stretches; the second absorbs the rest
    (150, 75, [100]),  # exactly the three buffers: one slow window
    (100, 15, [90]),  # too short for the defaults: 15 % / 75 % / 10 %
    (20, 3, [18]),
    (19, 19, []),  # below 20: step size only, as Stan's "no adaptation" case
])
def test_windows_match_stan(warmup, slow_start, ends):
    assert _nuts.warmup_schedule(warmup) == (slow_start, ends)


def test_windows_double_and_the_last_absorbs_the_remainder():
    for warmup in range(150, 3000, 37):
        start, ends = _nuts.warmup_schedule(warmup)
        sizes = [b - a for a, b in zip([start] + ends[:-1], ends)]
        assert ends[-1] == warmup - 50
        assert all(b == 2 * a for a, b in zip(sizes[:-2], sizes[1:-1]))


def _stan_window_ends(warmup, init=75, term=50, base=25):
    """Stan's rule stepped iteration by iteration (inclusive last indices, as Stan counts):
    at the last iteration of a window the size doubles and the next window ends one size
    later, stretched to the slow phase's end when the window after it would overtake it."""
    if init + base + term > warmup:
        init, term = int(0.15 * warmup), int(0.10 * warmup)
        base = warmup - init - term
    last_slow = warmup - term - 1
    size, next_last, ends = base, init + base - 1, []
    for counter in range(init, warmup - term):
        if counter != next_last:
            continue
        ends.append(counter + 1)
        if next_last == last_slow:
            break
        size *= 2
        next_last = counter + size
        if next_last != last_slow and next_last + 2 * size >= warmup - term:
            next_last = last_slow
    return init, ends


def test_every_warmup_length_agrees_with_stans_iteration_by_iteration_rule():
    for warmup in range(20, 2500):
        assert _nuts.warmup_schedule(warmup) == _stan_window_ends(warmup), warmup
