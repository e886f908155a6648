"""Distillation: the teacher's targets file, and the soft targets a student is fitted on.

targets.json (written by the `teach` command for a teacher model, or by the agent from a teacher
URL's answers) holds one prediction per row of the job's training portion (the filtered rows with
a label, minus the set-aside test split, in their order):
  {"task_kind", "classes" (classification), "n_rows", "source", "predictions": [...]}
a number per row (regression) or a list of class probabilities in `classes` order (classification).

How a student uses them (TEACHER_WEIGHT w = 0.5; every metric stays computed on the TRUE labels):
  * regression: the fit target is (1 - w) * true value + w * teacher's prediction;
  * classification, families that take sample weights (all but neural_network): each row is fitted
    once per class c with weight (1 - w) * [c is the true class] + w * teacher's p(c) (zero weights
    dropped), so the model learns the blended distribution;
  * classification, neural_network (scikit-learn's MLP takes no sample weights): the row's label is
    the teacher's most probable class.
"""

import json

import numpy as np

from .errors import BadInput

TEACHER_WEIGHT = 0.5
# Class probabilities must sum to 1 within this (then they are renormalised).
PROBABILITY_TOLERANCE = 1e-3


def load_teacher_targets(spec, data, n_rows, field="teacher_targets"):
    """(targets aligned to the training portion, {source, weight, rows} for the outputs), or (None, None) without a file."""
    path = spec.get(field)
    if path is None:
        return None, None
    try:
        with open(path, "r", encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError, TypeError) as err:
        raise BadInput("teacher_targets", f"cannot read the teacher's targets: {err}", field)
    if not isinstance(raw, dict) or not isinstance(raw.get("predictions"), list):
        raise BadInput("teacher_targets", "the teacher's targets must be an object with a predictions list", field)
    if raw.get("task_kind") not in (None, data.task_kind):
        raise BadInput("teacher_targets", f"the teacher's targets are for {raw.get('task_kind')}, the job is {data.task_kind}", field)
    if data.task_kind == "classification" and raw.get("classes") is not None and list(raw["classes"]) != list(data.classes):
        raise BadInput("teacher_targets", "the teacher's classes are not the job's classes", field)
    targets = check_predictions(raw["predictions"], data.task_kind, len(data.classes or []), n_rows, field)
    return targets, {"source": raw.get("source"), "weight": TEACHER_WEIGHT, "rows": int(len(targets))}


def check_predictions(predictions, task_kind, n_classes, n_rows, field="teacher_targets"):
    """One finite prediction per row, of the task's shape; probabilities renormalised."""
    if len(predictions) != n_rows:
        raise BadInput("teacher_targets", f"the teacher gave {len(predictions)} predictions for {n_rows} rows", field)
    try:
        array = np.asarray(predictions, dtype=float)
    except (TypeError, ValueError):
        raise BadInput("teacher_targets", "the teacher's predictions are not all numbers (or lists of numbers)", field)
    if task_kind == "regression":
        if array.ndim != 1:
            raise BadInput("teacher_targets", "a regression teacher must give one number per row", field)
    elif array.ndim != 2 or array.shape[1] != n_classes:
        raise BadInput("teacher_targets", f"a classification teacher must give {n_classes} class probabilities per row", field)
    if not np.isfinite(array).all():
        raise BadInput("teacher_targets", "the teacher's predictions hold a non-finite number", field)
    if task_kind == "classification":
        sums = array.sum(axis=1)
        if (array < 0).any() or (np.abs(sums - 1.0) > PROBABILITY_TOLERANCE).any():
            raise BadInput("teacher_targets", "the teacher's class probabilities must be >= 0 and sum to 1", field)
        array = array / sums[:, None]
    return array


def soft_fit_set(family, task_kind, X, y, teacher, weight=TEACHER_WEIGHT):
    """(X, y, sample_weight or None, source row of each fitted row) from the true labels and the teacher's targets."""
    n = len(y)
    if task_kind == "regression":
        return X, (1.0 - weight) * np.asarray(y, dtype=float) + weight * teacher, None, np.arange(n)
    if family.weighting == "resample":
        return X, teacher.argmax(axis=1).astype(np.int64), None, np.arange(n)
    k = teacher.shape[1]
    blend = (1.0 - weight) * np.eye(k)[y] + weight * teacher
    rows, classes = np.nonzero(blend > 0)
    return X.iloc[rows].reset_index(drop=True), classes.astype(np.int64), blend[rows, classes], rows
