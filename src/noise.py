"""What a difference of seeds must beat: the spread of one seed's result, the standard error of
a mean of n seeds, the smallest difference n seeds can resolve, the rule that adopts a change
only beyond the noise, and the chance that every seed holds the line (a normal model).

A seed's result here is its lowest accuracy of the judged epochs (``records.summarize_runs``'s
``last_min``). One image of the 10,000 measured is 0.01 points.
"""
from __future__ import annotations

import math
import statistics

import records

POINTS_PER_IMAGE = 100 / 10_000  # one image of a 10,000-image set, in accuracy points
RESOLVING_ERRORS = 2  # a difference is beyond the noise past this many standard errors


def spread(values) -> float:
    """The standard deviation over seeds (n - 1 in the denominator: a sample of seeds)."""
    values = list(values)
    if len(values) < 2:
        raise ValueError(f"a spread needs at least 2 seeds, not {len(values)}")
    return statistics.stdev(values)


def standard_error(sd: float, n: int) -> float:
    """The standard error of a mean of ``n`` seeds whose results spread by ``sd``."""
    return sd / math.sqrt(n)


def resolution(sd: float, n: int) -> float:
    """The smallest difference of two means of ``n`` seeds each that stands beyond the noise:
    ``RESOLVING_ERRORS`` standard errors of a difference of two independent means."""
    return RESOLVING_ERRORS * math.sqrt(2) * standard_error(sd, n)


def paired_difference(ours: dict, theirs: dict) -> tuple[float, float, int]:
    """``ours`` minus ``theirs`` on the seeds both hold (each a ``{seed: result}``): the mean
    difference, its standard error (from the spread of the per-seed differences) and n."""
    shared = sorted(ours.keys() & theirs.keys())
    if len(shared) < 2:
        raise ValueError(f"a paired difference needs at least 2 shared seeds, not {shared}")
    differences = [ours[seed] - theirs[seed] for seed in shared]
    return (statistics.fmean(differences), standard_error(spread(differences), len(shared)),
            len(shared))


def beyond_the_noise(difference: float, error: float) -> bool:
    """The fifth round's rule: a change is adopted only when its mean beats the control's by
    more than ``RESOLVING_ERRORS`` standard errors of the difference; otherwise the current
    recipe stays."""
    return difference > RESOLVING_ERRORS * error


def chance_all_hold(mean: float, sd: float, target: float, seeds: int = 5) -> float:
    """The chance that ``seeds`` seeds all hold ``target``, if one seed's result is normal with
    this ``mean`` and spread ``sd`` and the seeds are independent: a model, not a measurement."""
    one = 0.5 * math.erfc((target - mean) / (sd * math.sqrt(2)))
    return one ** seeds


def recipe_spreads(steps=(5, 6, 7)) -> list[tuple[int, str, int, float]]:
    """``(step, record, n, sd)``: the spread over seeds of each validation record of the steps'
    own recipes (``records.VALIDATION_RECORDS``), one row per record with 2 or more seeds."""
    rows = []
    for step in steps:
        for name in records.VALIDATION_RECORDS.get(step, ()):
            for results in records.validation_records_of(step, name):
                lows = records.summarize_runs(results)["last_min"]
                if len(lows) > 1:
                    rows.append((step, name, len(lows), spread(lows)))
    return rows


def series_spread(steps=(5, 6, 7)) -> float:
    """The spread of one seed's result, pooled over ``recipe_spreads``: the series' measured
    noise, what a student's seeds are read against."""
    rows = recipe_spreads(steps)
    return math.sqrt(sum((n - 1) * sd ** 2 for *_, n, sd in rows) / sum(n - 1 for *_, n, _ in rows))
