"""Permutation field importance on the held-out rows.

For each input field and each of `repeats` repeats, the field's column is shuffled (one seeded
RandomState for the whole computation) and the objective metric recomputed; the importance is
the loss of the metric (baseline - permuted for higher-is-better metrics, the opposite for
lower-is-better), reported as mean and std over repeats. The normalised version clips negative
means to 0 and divides by their sum (all fields equal when every mean is <= 0): values >= 0
summing to 1, one per input field.
"""

import numpy as np

from . import metrics as M
from .seeds import derive_seed


def permutation_importance(predict, X, y, metric, repeats, seed):
    rng = np.random.RandomState(derive_seed(seed, "importance"))
    sign = 1.0 if M.higher_is_better(metric) else -1.0
    baseline = M.score(metric, y, predict(X))
    detail = {}
    for field in X.columns:
        drops = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[field] = X[field].to_numpy()[rng.permutation(len(X))]
            drops.append(sign * (baseline - M.score(metric, y, predict(shuffled))))
        detail[field] = {"mean": float(np.mean(drops)), "std": float(np.std(drops))}
    return detail


def normalise(detail):
    clipped = {field: max(0.0, d["mean"]) for field, d in detail.items()}
    total = sum(clipped.values())
    if total <= 0:
        return {field: 1.0 / len(clipped) for field in clipped}
    return {field: value / total for field, value in clipped.items()}
