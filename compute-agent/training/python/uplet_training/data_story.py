"""The data story: which fields move a predicted outcome most, and which values push it.

On a sample of held-out rows (at most `n_rows`, seeded), each input field is set in turn to each
of its candidate values (numeric and timestamp: the training portion's 5/25/50/75/95 % quantiles;
category and boolean: its ten most frequent values; text fields are skipped, the models drop
them) and the mean predicted outcome is taken. A field's effect is the spread between its best
and worst value; the `n_causes` fields with the largest effect are the causes, with `top_value`
(pushes the outcome up most) and `bottom_value` (down most). Outcomes: each class's predicted
probability for classification; the prediction itself ("higher") for regression. top_case,
avg_case and bottom_case are the highest, mean and lowest predicted outcome over the sample.
"""

import numpy as np
import pandas as pd

from . import column_types as ct
from .importance import predict_blocks
from .seeds import derive_seed

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TOP_CATEGORIES = 10


def candidate_values(series, kind):
    present = series.dropna()
    if len(present) == 0 or kind == ct.TEXT:
        return []
    if kind == ct.NUMERIC:
        return sorted(set(float(v) for v in present.quantile(list(QUANTILES))))
    if kind == ct.TIMESTAMP:
        seconds = pd.to_datetime(present, utc=True).astype("int64")
        return sorted(set(pd.Timestamp(int(v), tz="UTC") for v in seconds.quantile(list(QUANTILES))))
    counts = present.value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[:TOP_CATEGORIES]
    return [value for value, _ in ranked]


def json_value(value, kind):
    if kind == ct.TIMESTAMP:
        return ct.iso(value)
    if kind == ct.NUMERIC:
        return float(value)
    return str(value)


def data_story(predict, X_train, X_test, feature_types, task_kind, classes, label, label_type, seed,
               n_rows=200, n_causes=3):
    rng = np.random.RandomState(derive_seed(seed, "story"))
    take = np.sort(rng.choice(len(X_test), size=min(n_rows, len(X_test)), replace=False))
    sample = X_test.iloc[take].reset_index(drop=True)
    base = _as_matrix(predict(sample))
    candidates = {}  # field -> (values, one copy of the sample per value)
    for field, kind in feature_types.items():
        values = candidate_values(X_train[field], kind)
        if len(values) < 2:
            continue
        frames = []
        for value in values:
            frame = sample.copy()
            frame[field] = pd.Series([value] * len(frame), dtype=sample[field].dtype, index=frame.index)
            frames.append(frame)
        candidates[field] = (values, frames)
    # Every field's copies are predicted together (batched model calls instead of one per field).
    outputs = iter(predict_blocks(predict, [frame for _, frames in candidates.values() for frame in frames]))
    effects = {}  # field -> (values, mean outcome per value: values x outcomes)
    for field, (values, frames) in candidates.items():
        effects[field] = (values, np.stack([_as_matrix(next(outputs)).mean(axis=0) for _ in frames]))
    names = classes if task_kind == "classification" else ["higher"]
    outcomes = []
    for index, outcome in enumerate(names):
        ranked = sorted(effects.items(), key=lambda item: -(item[1][1][:, index].max() - item[1][1][:, index].min()))
        causes = []
        for field, (values, means) in ranked[:n_causes]:
            column = means[:, index]
            kind = feature_types[field]
            causes.append({
                "field": field,
                "top_value": json_value(values[int(np.argmax(column))], kind),
                "bottom_value": json_value(values[int(np.argmin(column))], kind),
                "effect": float(column.max() - column.min()),
            })
        outcomes.append({
            "outcome": outcome, "causes": causes,
            "top_case": float(base[:, index].max()), "avg_case": float(base[:, index].mean()),
            "bottom_case": float(base[:, index].min()),
        })
    return {"name": label, "type": label_type, "outcomes": outcomes}


def _as_matrix(output):
    output = np.asarray(output, dtype=float)
    return output.reshape(-1, 1) if output.ndim == 1 else output
