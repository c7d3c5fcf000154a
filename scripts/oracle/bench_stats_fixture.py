#!/usr/bin/env python3
"""Expected values for Weigh's Statistics (mean, sample sd, percentiles) computed with numpy.

Writes Tests/Fixtures/bench/statistics.json. numpy.percentile's default method is "linear"
(Hyndman-Fan type 7), the one vLLM's benchmark_serving uses; std with ddof=1 is the sample sd
that llama-bench reports. Run: .venv-oracle/bin/python scripts/oracle/bench_stats_fixture.py
"""
import json
import os

import numpy as np

rng = np.random.default_rng(20261126)
cases = [
    [1.0],
    [3.0, 1.0],
    [1.0, 2.0, 3.0, 4.0, 5.0],
    [10.5, 11.25, 9.75, 10.0, 12.125],
    [0.0, 0.0, 0.0, 100.0],
    rng.exponential(50.0, 17).round(6).tolist(),
    rng.normal(1000.0, 30.0, 101).round(6).tolist(),
    rng.lognormal(3.0, 1.0, 1000).round(6).tolist(),
]
ps = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100]
out = {
    "source": "numpy " + np.__version__ + ": mean, std(ddof=1), percentile(method='linear'); scripts/oracle/bench_stats_fixture.py",
    "percentiles": ps,
    "cases": [
        {
            "values": c,
            "mean": float(np.mean(c)),
            "sampleStandardDeviation": float(np.std(c, ddof=1)) if len(c) > 1 else 0.0,
            "percentileValues": [float(np.percentile(c, p)) for p in ps],
        }
        for c in cases
    ],
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "bench", "statistics.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", os.path.normpath(path))
