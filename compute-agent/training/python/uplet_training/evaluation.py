"""Evaluation plans as data: the set-aside test split and the fold plan, from seeds only.

* Test split: TEST_FRACTION (20 %) of the filtered rows, by
  `train_test_split(positions, test_size=0.2, stratify=y (classification), random_state=random_state)`
  — the same rows for every trial and the final task of a job.
* Folds, on the remaining rows (positions 0..n_train-1 of the training portion):
  {"kind": "kfold", "n_splits": k}: StratifiedKFold (classification) or KFold, shuffled, with
  random_state derive_seed(random_state, "folds");
  {"kind": "holdout", "train_fraction": f}: one split by train_test_split (stratified for
  classification) with the same derived seed.
"""

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from .errors import BadInput
from .seeds import derive_seed

TEST_FRACTION = 0.2


def test_split(y, task_kind, random_state):
    """(train_positions, test_positions), both sorted."""
    positions = np.arange(len(y))
    stratify = y if task_kind == "classification" and _can_stratify(y, TEST_FRACTION) else None
    try:
        train, test = train_test_split(positions, test_size=TEST_FRACTION, stratify=stratify, random_state=random_state)
    except ValueError as err:
        raise BadInput("too_few_rows", f"cannot set a test split aside: {err}", "dataset")
    return np.sort(train), np.sort(test)


def parse_plan(raw, field="evaluation"):
    if raw is None:
        return {"kind": "kfold", "n_splits": 5}
    if not isinstance(raw, dict) or raw.get("kind") not in ("kfold", "holdout"):
        raise BadInput("invalid_field", 'evaluation must be {"kind":"kfold","n_splits":k} or {"kind":"holdout","train_fraction":f}', field)
    if raw["kind"] == "kfold":
        k = raw.get("n_splits", 5)
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise BadInput("invalid_field", "n_splits must be an integer >= 2", f"{field}.n_splits")
        return {"kind": "kfold", "n_splits": k}
    f = raw.get("train_fraction", 0.8)
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
        raise BadInput("invalid_field", "train_fraction must be strictly between 0 and 1", f"{field}.train_fraction")
    return {"kind": "holdout", "train_fraction": float(f)}


def fold_plan(y, task_kind, plan, random_state):
    """[(fit_positions, validation_positions)] over positions of y (the training portion)."""
    seed = derive_seed(random_state, "folds")
    positions = np.arange(len(y))
    classification = task_kind == "classification"
    if plan["kind"] == "kfold":
        k = plan["n_splits"]
        if classification:
            counts = np.bincount(y)
            if counts[counts > 0].min() < k:
                raise BadInput("too_few_rows", f"a class has fewer rows than n_splits ({k}) in the training portion", "evaluation.n_splits")
            splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        else:
            if len(y) < k:
                raise BadInput("too_few_rows", f"fewer training rows than n_splits ({k})", "evaluation.n_splits")
            splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
        return [(fit, val) for fit, val in splitter.split(positions, y)]
    fraction = plan["train_fraction"]
    stratify = y if classification and _can_stratify(y, 1 - fraction) else None
    try:
        fit, val = train_test_split(positions, train_size=fraction, stratify=stratify, random_state=seed)
    except ValueError as err:
        raise BadInput("too_few_rows", f"cannot make the holdout split: {err}", "evaluation")
    return [(np.sort(fit), np.sort(val))]


def _can_stratify(y, fraction):
    counts = np.bincount(y)
    counts = counts[counts > 0]
    return counts.min() >= 2 and len(y) * fraction >= len(counts)
