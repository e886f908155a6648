"""Permutation field importance on the held-out rows.

For each input field and each of `repeats` repeats, the field's column is shuffled (one seeded
RandomState for the whole computation) and the objective metric recomputed; the importance is
the loss of the metric (baseline - permuted for higher-is-better metrics, the opposite for
lower-is-better), reported as mean and std over repeats. The normalised version clips negative
means to 0 and divides by their sum (all fields equal when every mean is <= 0): values >= 0
summing to 1, one per input field. The permuted copies are predicted in batches (predict_blocks):
the same permutations and scores as predicting them one by one, without a model call each.
"""

import numpy as np
import pandas as pd

from . import metrics as M
from .seeds import derive_seed


# Rows per model call: the permuted copies are predicted together (one call per field's repeats
# costs ~15 ms of pipeline overhead each on small data), in chunks that bound the memory.
BATCH_ROWS = 50_000


def permutation_importance(predict, X, y, metric, repeats, seed):
    rng = np.random.RandomState(derive_seed(seed, "importance"))
    sign = 1.0 if M.higher_is_better(metric) else -1.0
    baseline = M.score(metric, y, predict(X))
    # The permutations are drawn in the same order as one-at-a-time (field by field, repeat by repeat).
    blocks = []
    for field in X.columns:
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[field] = X[field].to_numpy()[rng.permutation(len(X))]
            blocks.append(shuffled)
    outputs = predict_blocks(predict, blocks)
    detail = {}
    for i, field in enumerate(X.columns):
        drops = [sign * (baseline - M.score(metric, y, out)) for out in outputs[i * repeats:(i + 1) * repeats]]
        detail[field] = {"mean": float(np.mean(drops)), "std": float(np.std(drops))}
    return detail


def predict_blocks(predict, frames, batch_rows=BATCH_ROWS):
    """The model's output for each frame, predicting several frames per call (at most batch_rows rows, or one frame)."""
    outputs, start = [], 0
    while start < len(frames):
        end, rows = start + 1, len(frames[start])
        while end < len(frames) and rows + len(frames[end]) <= batch_rows:
            rows += len(frames[end])
            end += 1
        joined = np.asarray(predict(pd.concat(frames[start:end], ignore_index=True)))
        offset = 0
        for frame in frames[start:end]:
            outputs.append(joined[offset:offset + len(frame)])
            offset += len(frame)
        start = end
    return outputs


def normalise(detail):
    clipped = {field: max(0.0, d["mean"]) for field, d in detail.items()}
    total = sum(clipped.values())
    if total <= 0:
        return {field: 1.0 / len(clipped) for field in clipped}
    return {field: value / total for field, value in clipped.items()}
