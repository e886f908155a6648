"""Metrics by name, their direction, and which task kind each applies to.

Classification metrics read class probabilities (n rows x k classes, columns in class-code
order); the predicted class is the most probable one. Regression metrics read predictions.
Every metric also exists as `neg_<name>` (its negation, so its direction flips).
"""

import numpy as np
from sklearn import metrics as skm

from .errors import BadInput


def _labels(proba):
    return np.argmax(proba, axis=1)


def _auc(y, proba):
    k = proba.shape[1]
    if k == 2:
        return skm.roc_auc_score(y, proba[:, 1])
    return skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=list(range(k)))


def _log_loss(y, proba):
    return skm.log_loss(y, proba, labels=list(range(proba.shape[1])))


def _macro(fn):
    def score(y, proba):
        return fn(y, _labels(proba), labels=list(range(proba.shape[1])), average="macro", zero_division=0)
    return score


# name -> (task kind, higher is better, function(y_true, predictions))
_BASE = {
    "accuracy": ("classification", True, lambda y, p: skm.accuracy_score(y, _labels(p))),
    "balanced_accuracy": ("classification", True, lambda y, p: skm.balanced_accuracy_score(y, _labels(p))),
    "f1": ("classification", True, _macro(skm.f1_score)),
    "precision": ("classification", True, _macro(skm.precision_score)),
    "recall": ("classification", True, _macro(skm.recall_score)),
    "auc": ("classification", True, _auc),
    "log_loss": ("classification", False, _log_loss),
    "class_error": ("classification", False, lambda y, p: 1.0 - skm.accuracy_score(y, _labels(p))),
    "rmse": ("regression", False, lambda y, p: float(np.sqrt(skm.mean_squared_error(y, p)))),
    "mae": ("regression", False, skm.mean_absolute_error),
    "r2": ("regression", True, skm.r2_score),
}
ALIASES = {"roc_auc": "auc"}
DEFAULT_METRICS = {"classification": ["accuracy"], "regression": ["rmse"]}


def _base_name(name):
    negated = name.startswith("neg_")
    base = name[4:] if negated else name
    return ALIASES.get(base, base), negated


def known_metrics(task_kind=None):
    names = [n for n, (kind, _, _) in _BASE.items() if task_kind in (None, kind)]
    names += [a for a, n in ALIASES.items() if task_kind in (None, _BASE[n][0])]
    return names + ["neg_" + n for n in names]


def check_metric(name, task_kind, field="metrics"):
    base, _ = _base_name(name) if isinstance(name, str) else (None, False)
    if base not in _BASE:
        raise BadInput("unknown_metric", f"unknown metric {name!r}; known: {', '.join(known_metrics(task_kind))}", field)
    if _BASE[base][0] != task_kind:
        raise BadInput("unknown_metric", f"metric {name} is for {_BASE[base][0]}, not {task_kind}", field)
    return name


def check_metrics(names, task_kind, field="metrics"):
    if names is None:
        return list(DEFAULT_METRICS[task_kind])
    if not isinstance(names, list) or not names:
        raise BadInput("invalid_field", "metrics must be a non-empty list of metric names", field)
    return [check_metric(n, task_kind, f"{field}[{i}]") for i, n in enumerate(names)]


def higher_is_better(name):
    base, negated = _base_name(name)
    return _BASE[base][1] != negated


def score(name, y_true, predictions):
    base, negated = _base_name(name)
    value = float(_BASE[base][2](y_true, predictions))
    return -value if negated else value


def score_all(names, y_true, predictions):
    return {name: score(name, y_true, predictions) for name in names}
