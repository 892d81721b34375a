#!/usr/bin/env python3
"""Reference intervals for BootstrapTests: scipy.stats.bootstrap, method='percentile', 95 %.

Run once by hand (`python3 Tests/Scripts/bootstrap_reference.py`); it writes
Tests/AutoInterpTests/Fixtures/Bootstrap/reference.json with the samples, the resample indices
scipy drew and scipy's intervals. Swift takes the same indices and must match exactly (1e-12).
Needs numpy and scipy (checked with scipy 1.17).

scipy draws the indices of each sample, in order, as rng.integers(0, n, (n_resamples, n)) when
batch=None; the script redraws them from a copy of the seeded generator and checks that the
interval recomputed from them equals scipy's, so the fixture holds scipy's own resamples.
"""
import json
import pathlib

import numpy as np
from scipy import stats

SEED = 22
RESAMPLES = 300
OUT = pathlib.Path(__file__).resolve().parents[1] / "AutoInterpTests/Fixtures/Bootstrap/reference.json"


def median(x, axis=-1):
    return np.median(x, axis=axis)


def mean(x, axis=-1):
    return np.mean(x, axis=axis)


def share_above(t):
    return lambda x, axis=-1: np.mean(x > t, axis=axis)


def median_difference(x, y, axis=-1):
    return np.median(x, axis=axis) - np.median(y, axis=axis)


def probability_greater(x, y, axis=-1):
    x = np.moveaxis(x, axis, -1)[..., :, None]
    y = np.moveaxis(y, axis, -1)[..., None, :]
    return np.mean((x > y) + 0.5 * (x == y), axis=(-2, -1))


def paired_median_difference(x, y, axis=-1):
    return np.median(y - x, axis=axis)


def run(name, data, statistic, paired=False):
    rng = np.random.default_rng(SEED)
    res = stats.bootstrap(data, statistic, n_resamples=RESAMPLES, method="percentile", confidence_level=0.95,
                          paired=paired, vectorized=True, rng=rng)
    replay = np.random.default_rng(SEED)
    if paired:
        n = len(data[0])
        idx = replay.integers(0, n, (RESAMPLES, n))
        indices = [idx.tolist()]
        dist = statistic(*[np.asarray(d)[idx] for d in data])
    else:
        idxs = [replay.integers(0, len(d), (RESAMPLES, len(d))) for d in data]
        indices = [i.tolist() for i in idxs]
        dist = statistic(*[np.asarray(d)[i] for d, i in zip(data, idxs)])
    low, high = np.percentile(dist, [2.5, 97.5])
    assert np.isclose(low, res.confidence_interval.low, rtol=0, atol=1e-12), (name, low, res.confidence_interval)
    assert np.isclose(high, res.confidence_interval.high, rtol=0, atol=1e-12), (name, high, res.confidence_interval)
    return dict(name=name, samples=[list(map(float, d)) for d in data], indices=indices,
                low=float(res.confidence_interval.low), high=float(res.confidence_interval.high))


def main():
    g = np.random.default_rng(7)
    # Scores like simulation Spearman: features higher than neurons, rounded so that ties occur.
    features = np.round(np.clip(g.normal(0.45, 0.2, 40), -1, 1), 2)
    neurons = np.round(np.clip(g.normal(0.25, 0.2, 35), -1, 1), 2)
    control = np.round(np.clip(features + g.normal(-0.3, 0.15, 40), -1, 1), 2)
    cases = [
        run("median", (features,), median),
        run("mean", (features,), mean),
        run("shareAbove0.3", (features,), share_above(0.3)),
        run("medianDifference", (features, neurons), median_difference),
        run("probabilityGreater", (features, neurons), probability_greater),
        run("pairedMedianDifference", (control, features), paired_median_difference, paired=True),
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(dict(seed=SEED, resamples=RESAMPLES, scipy=__import__("scipy").__version__, cases=cases)) + "\n")
    for case in cases:
        print(case["name"], case["low"], case["high"])


if __name__ == "__main__":
    main()
