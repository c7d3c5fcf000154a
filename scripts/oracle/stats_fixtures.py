#!/usr/bin/env python3
"""Expected values for Weigh's statistics (Tests/Fixtures/stats/scipy.json), computed with scipy.

Run with any python3 that has scipy and numpy (the system python3 here has scipy 1.17):
    python3 scripts/oracle/stats_fixtures.py > Tests/Fixtures/stats/scipy.json
"""
import json
import sys

import numpy as np
import scipy
from scipy import stats

out = {"generator": "scripts/oracle/stats_fixtures.py", "scipy": scipy.__version__, "numpy": np.__version__}

# McNemar's exact test = two-sided binomial test on the discordant pairs.
pairs = [(0, 0), (1, 0), (0, 1), (3, 3), (5, 0), (10, 2), (2, 10), (25, 40), (13, 27), (120, 95), (480, 530), (1000, 1100), (7000, 7200)]
out["mcnemar"] = [{"b": b, "c": c, "p": float(stats.binomtest(min(b, c), b + c, 0.5).pvalue) if b + c else 1.0} for b, c in pairs]

# Welch's t-test on repetition timings.
rng = np.random.default_rng(7)
welch = []
for a, b in [
    ([10.1, 10.3, 9.9, 10.2, 10.0], [11.0, 11.4, 10.8, 11.1, 11.3]),
    ([52.0, 50.5, 51.2], [50.9, 51.5, 52.3, 49.8]),
    ([100.0, 100.1], [100.05, 100.2]),
    (list(rng.normal(30, 2, 8)), list(rng.normal(31, 5, 6))),
    (list(rng.normal(5, 0.1, 20)), list(rng.normal(5.02, 0.3, 12))),
]:
    r = stats.ttest_ind(a, b, equal_var=False)
    welch.append({"a": [float(x) for x in a], "b": [float(x) for x in b], "t": float(r.statistic),
                  "df": float(r.df), "p": float(r.pvalue)})
out["welch"] = welch

# Standard error of a mean of 0/1 outcomes and of scores (lm-evaluation-harness uses the sample sd / sqrt(n)).
sem = []
for x in [[1, 0, 1, 1, 0, 1, 0, 0, 1, 1], list(rng.integers(0, 2, 200)), list(rng.uniform(1, 10, 37))]:
    sem.append({"x": [float(v) for v in x], "mean": float(np.mean(x)), "sd": float(np.std(x, ddof=1)), "sem": float(stats.sem(x))})
out["sem"] = sem

# Paired bootstrap of a ratio of sums (bits per byte) and of a mean score: scipy's percentile bootstrap
# gives the standard error and 95% interval; the p-value is the share of numpy resamples beyond zero, doubled.
def ratio_diff(a, b, w, axis=-1):
    return (np.sum(a, axis=axis) - np.sum(b, axis=axis)) / np.sum(w, axis=axis)

boot = []
n = 300
bytes_ = rng.integers(200, 2000, n).astype(float)
bits_a = bytes_ * rng.normal(1.10, 0.15, n)
bits_b = bytes_ * rng.normal(1.13, 0.15, n)
scores_a = rng.integers(1, 11, 80).astype(float)
scores_b = np.clip(scores_a + rng.integers(-3, 3, 80), 1, 10).astype(float)
close_a = bytes_ * rng.normal(1.0, 0.2, n)
close_b = close_a + bytes_ * rng.normal(0.0, 0.05, n)
for name, a, b, w in [("bpb", bits_a, bits_b, bytes_), ("scores", scores_a, scores_b, np.ones(80)),
                      ("close", close_a, close_b, bytes_)]:
    res = stats.bootstrap((a, b, w), ratio_diff, paired=True, vectorized=True, n_resamples=20000,
                          method="percentile", confidence_level=0.95, rng=np.random.default_rng(1))
    idx = np.random.default_rng(2).integers(0, len(a), (20000, len(a)))
    diffs = ratio_diff(a[idx], b[idx], w[idx], axis=1)
    observed = float(ratio_diff(a, b, w))
    p = 2 * (np.mean(diffs <= 0) if observed > 0 else np.mean(diffs >= 0))
    boot.append({"name": name, "a": a.tolist(), "b": b.tolist(), "weights": w.tolist(), "difference": observed,
                 "standard_error": float(res.standard_error), "lower": float(res.confidence_interval.low),
                 "upper": float(res.confidence_interval.high), "p": float(min(1.0, p))})
out["bootstrap"] = boot

json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
