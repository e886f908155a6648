"""Per-class stats (classification) or error stats (regression) on the held-out rows.

Classification, per class: count (held-out rows of that class), true positives, false positives,
false negatives, precision, recall, f1 (0 where undefined), frequency (count / held-out rows).
So TP + FN = count and the frequencies sum to 1.
"""

import numpy as np
from sklearn import metrics as skm


def classification_stats(y_true, proba, classes, label, label_type):
    predicted = np.argmax(proba, axis=1)
    n = len(y_true)
    out = []
    for code, name in enumerate(classes):
        actual = y_true == code
        chosen = predicted == code
        tp = int(np.sum(actual & chosen))
        fp = int(np.sum(~actual & chosen))
        fn = int(np.sum(actual & ~chosen))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append({
            "field": label, "field_name": label, "field_type": label_type,
            "class": name, "class_name": name, "count": int(actual.sum()),
            "true positives": tp, "false positives": fp, "false negatives": fn,
            "precision": precision, "recall": recall, "f1": f1,
            "frequency": float(actual.sum()) / n if n else 0.0,
        })
    return out


def regression_stats(y_true, predictions, label, label_type):
    return [{
        "field": label, "field_name": label, "field_type": label_type,
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, predictions))),
        "mae": float(skm.mean_absolute_error(y_true, predictions)),
        "r2": float(skm.r2_score(y_true, predictions)),
        "count": int(len(y_true)),
    }]
