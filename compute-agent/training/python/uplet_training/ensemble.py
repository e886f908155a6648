"""Caruana ensemble selection (greedy forward selection with replacement) over OOF predictions.

Start from the best single candidate; then, for `steps` steps, add (again, possibly) the
candidate whose inclusion gives the best score of the running average; ties go to the lowest
candidate index. The returned weights are the selection counts divided by their total, and the
best ensemble seen along the way is kept, so the ensemble's OOF score is never below the best
single candidate's. Rows with NaN in any candidate (never validated) are left out of scoring.
"""

import numpy as np

from . import metrics as M

DEFAULT_STEPS = 25


def caruana(candidates, y, metric, steps=DEFAULT_STEPS):
    """(weights per candidate, the ensemble's OOF score, the best single candidate's score)."""
    arrays = [np.asarray(c, dtype=float) for c in candidates]
    rows = np.ones(len(y), dtype=bool)
    for a in arrays:
        rows &= ~np.isnan(a.reshape(len(y), -1)).any(axis=1)
    arrays = [a[rows] for a in arrays]
    y = np.asarray(y)[rows]
    sign = 1.0 if M.higher_is_better(metric) else -1.0

    def utility(prediction):
        return sign * M.score(metric, y, prediction)

    singles = [utility(a) for a in arrays]
    best = int(np.argmax(singles))
    counts = np.zeros(len(arrays), dtype=int)
    counts[best] = 1
    total = arrays[best].copy()
    best_counts, best_utility = counts.copy(), singles[best]
    for _ in range(steps - 1):
        size = counts.sum() + 1
        trials = [utility((total + a) / size) for a in arrays]
        choice = int(np.argmax(trials))
        counts[choice] += 1
        total += arrays[choice]
        if trials[choice] > best_utility:
            best_counts, best_utility = counts.copy(), trials[choice]
    weights = best_counts / best_counts.sum()
    return weights.tolist(), sign * best_utility, sign * singles[best]
