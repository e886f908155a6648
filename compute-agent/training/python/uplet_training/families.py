"""Model families: an id, a hyperparameter space declared once, and a pipeline builder.

Every estimator gets `random_state` from the trial seed and runs single-threaded (n_jobs=1; the
agent decides parallelism). Class weighting "balanced" uses the estimator's class_weight where it
has one, sample weights (sklearn's compute_sample_weight("balanced")) where it only takes those,
and, for neural_network (MLP takes neither), a seeded resampling of the fit rows with replacement
up to equal class counts (every row kept; smaller classes topped up by seeded draws to the
largest class's count).
"""

from dataclasses import dataclass
from typing import Callable, Dict, List

import numpy as np
from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.class_weight import compute_sample_weight

from .distill import soft_fit_set
from .errors import BadInput
from .hyperparams import FLOAT, INT, Param, resolve_params
from .preprocessing import build_preprocessor
from .seeds import derive_seed

CLASS_WEIGHTS = (None, "balanced")


@dataclass(frozen=True)
class Family:
    id: str
    description: str
    spaces: Dict[str, List[Param]]  # task kind -> parameters
    make: Callable  # (task_kind, params, seed) -> estimator
    scale: bool  # standard-scale numeric inputs
    weighting: str  # "class_weight", "sample_weight" or "resample"

    def space(self, task_kind):
        return self.spaces[task_kind]


def _both(params):
    return {"classification": params, "regression": params}


def _decision_tree(task_kind, p, seed):
    cls = DecisionTreeClassifier if task_kind == "classification" else DecisionTreeRegressor
    return cls(max_depth=p["max_depth"], min_samples_split=p["min_samples_split"],
               min_samples_leaf=p["min_samples_leaf"], random_state=seed)


def _random_forest(task_kind, p, seed):
    cls = RandomForestClassifier if task_kind == "classification" else RandomForestRegressor
    return cls(n_estimators=p["n_estimators"], max_depth=p["max_depth"], min_samples_leaf=p["min_samples_leaf"],
               max_features=p["max_features"], n_jobs=1, random_state=seed)


def _linear(task_kind, p, seed):
    if task_kind == "classification":
        return LogisticRegression(C=p["C"], max_iter=2000, n_jobs=1, random_state=seed)
    return Ridge(alpha=p["alpha"], random_state=seed)


def _neural_network(task_kind, p, seed):
    cls = MLPClassifier if task_kind == "classification" else MLPRegressor
    return cls(hidden_layer_sizes=(p["hidden_units"],) * p["n_layers"], alpha=p["alpha"],
               learning_rate_init=p["learning_rate_init"], max_iter=p["max_iter"], batch_size=p["batch_size"], random_state=seed)


def _hist_gradient_boosting(task_kind, p, seed):
    cls = HistGradientBoostingClassifier if task_kind == "classification" else HistGradientBoostingRegressor
    return cls(learning_rate=p["learning_rate"], max_iter=p["max_iter"], max_leaf_nodes=p["max_leaf_nodes"],
               min_samples_leaf=p["min_samples_leaf"], l2_regularization=p["l2_regularization"],
               early_stopping=False, random_state=seed)


def _xgboost(task_kind, p, seed):
    import xgboost
    cls = xgboost.XGBClassifier if task_kind == "classification" else xgboost.XGBRegressor
    return cls(n_estimators=p["n_estimators"], max_depth=p["max_depth"], learning_rate=p["learning_rate"],
               subsample=p["subsample"], colsample_bytree=p["colsample_bytree"],
               min_child_weight=p["min_child_weight"], reg_lambda=p["reg_lambda"],
               tree_method="hist", n_jobs=1, random_state=seed)


FAMILIES = {f.id: f for f in [
    Family("decision_tree", "A single CART decision tree.", _both([
        Param("max_depth", INT, 8, low=1, high=30),
        Param("min_samples_split", INT, 2, low=2, high=40),
        Param("min_samples_leaf", INT, 1, low=1, high=50, log=True),
    ]), _decision_tree, scale=False, weighting="class_weight"),
    Family("random_forest", "A random forest of CART trees.", _both([
        Param("n_estimators", INT, 100, low=10, high=500, log=True),
        Param("max_depth", INT, 16, low=2, high=40),
        Param("min_samples_leaf", INT, 1, low=1, high=30, log=True),
        Param("max_features", FLOAT, 0.5, low=0.05, high=1.0),
    ]), _random_forest, scale=False, weighting="class_weight"),
    Family("linear", "Logistic regression (classification) or ridge regression (regression).", {
        "classification": [Param("C", FLOAT, 1.0, low=1e-4, high=1e4, log=True)],
        "regression": [Param("alpha", FLOAT, 1.0, low=1e-4, high=1e4, log=True)],
    }, _linear, scale=True, weighting="class_weight"),
    Family("neural_network", "A multi-layer perceptron (scikit-learn MLP, adam).", _both([
        Param("hidden_units", INT, 64, low=4, high=256, log=True),
        Param("n_layers", INT, 1, low=1, high=3),
        Param("alpha", FLOAT, 1e-4, low=1e-6, high=1e-1, log=True),
        Param("learning_rate_init", FLOAT, 1e-3, low=1e-4, high=1e-1, log=True),
        Param("max_iter", INT, 200, low=50, high=1000, log=True),
        # scikit-learn's "auto" is min(200, rows); it clips a larger value to the rows it has.
        Param("batch_size", INT, 200, low=8, high=1024, log=True),
    ]), _neural_network, scale=True, weighting="resample"),
    Family("hist_gradient_boosting", "scikit-learn's histogram gradient boosting.", _both([
        Param("learning_rate", FLOAT, 0.1, low=0.01, high=0.5, log=True),
        Param("max_iter", INT, 100, low=10, high=500, log=True),
        Param("max_leaf_nodes", INT, 31, low=4, high=128, log=True),
        Param("min_samples_leaf", INT, 20, low=1, high=100, log=True),
        Param("l2_regularization", FLOAT, 1e-6, low=1e-6, high=10.0, log=True),
    ]), _hist_gradient_boosting, scale=False, weighting="class_weight"),
    Family("xgboost", "XGBoost gradient-boosted trees (hist).", _both([
        Param("n_estimators", INT, 100, low=10, high=500, log=True),
        Param("max_depth", INT, 6, low=1, high=12),
        Param("learning_rate", FLOAT, 0.1, low=0.005, high=0.5, log=True),
        Param("subsample", FLOAT, 1.0, low=0.5, high=1.0),
        Param("colsample_bytree", FLOAT, 1.0, low=0.3, high=1.0),
        Param("min_child_weight", FLOAT, 1.0, low=0.1, high=20.0, log=True),
        Param("reg_lambda", FLOAT, 1.0, low=1e-3, high=100.0, log=True),
    ]), _xgboost, scale=False, weighting="sample_weight"),
]}


def get_family(family_id, field="family"):
    if family_id not in FAMILIES:
        raise BadInput("unknown_family", f"unknown model family {family_id!r}; known: {', '.join(FAMILIES)}", field)
    return FAMILIES[family_id]


def spaces_as_json():
    """Every family's space, per task kind: what the docs and the orchestrator show."""
    return {
        f.id: {
            "description": f.description,
            "class_weight": f.weighting,
            "spaces": {kind: [p.as_json() for p in params] for kind, params in f.spaces.items()},
        }
        for f in FAMILIES.values()
    }


def build_pipeline(family, task_kind, feature_types, params, seed, class_weight=None):
    """An unfitted Pipeline(preprocess, model); `params` must already be resolved."""
    check_class_weight(class_weight)
    model = family.make(task_kind, params, seed)
    if task_kind == "classification" and class_weight and family.weighting == "class_weight":
        model.set_params(class_weight=class_weight)
    return Pipeline([("preprocess", build_preprocessor(feature_types, family.scale)), ("model", model)])


def check_class_weight(class_weight):
    if class_weight not in CLASS_WEIGHTS:
        raise BadInput("invalid_field", 'class_weight must be null or "balanced"', "class_weight")
    return class_weight


def class_weight_applied(family, task_kind, class_weight):
    return bool(task_kind == "classification" and class_weight)


def fit_pipeline(pipeline, family, task_kind, X, y, class_weight=None, teacher=None):
    """Fit, passing balanced sample weights to families that take weights only that way.

    `teacher`: the teacher's targets for these rows (distill.py): the fit is on the soft targets.
    """
    weight = None
    if teacher is not None:
        balanced = compute_sample_weight(class_weight, y) if task_kind == "classification" and class_weight else None
        X, y, weight, rows = soft_fit_set(family, task_kind, X, y, teacher)
        if balanced is not None and weight is not None and family.weighting == "sample_weight":
            weight = weight * balanced[rows]  # each fitted row keeps its source row's balancing weight
    weighted = task_kind == "classification" and class_weight
    if weighted and family.weighting == "sample_weight" and weight is None:
        weight = compute_sample_weight(class_weight, y)
    if weighted and family.weighting == "resample":
        rows = balanced_resample(y, pipeline.named_steps["model"].random_state)
        pipeline.fit(X.iloc[rows], y[rows])
    elif weight is not None:
        pipeline.fit(X, y, model__sample_weight=weight)
    else:
        pipeline.fit(X, y)
    return pipeline


def balanced_resample(y, seed):
    """Row positions with every class as often as the largest: all rows, plus seeded draws."""
    rng = np.random.RandomState(derive_seed(seed, "resample"))
    classes, counts = np.unique(y, return_counts=True)
    rows = []
    for cls, count in zip(classes, counts):
        members = np.flatnonzero(y == cls)
        rows.append(np.concatenate([members, rng.choice(members, size=counts.max() - count, replace=True)]))
    return np.sort(np.concatenate(rows))


def resolve_family_params(family, task_kind, params, field="params"):
    return resolve_params(family.space(task_kind), params, field)
