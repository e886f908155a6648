"""The pickled model: fitted pipelines with weights, plus what is needed to predict on raw rows.

A bundle averages its members' outputs (class probabilities or predictions) with its weights:
one member for a refit model, the k fold models (equal weights) for a trial, the Caruana
weights over several trials' bundles for an ensemble.
"""

import numpy as np


class ModelBundle:
    def __init__(self, members, weights, task_kind, label, classes, feature_types, label_type=None, info=None):
        self.members = list(members)
        self.weights = list(weights)
        self.task_kind = task_kind
        self.label = label
        self.classes = classes
        self.feature_types = dict(feature_types)
        self.label_type = label_type
        self.info = dict(info or {})

    @property
    def features(self):
        return list(self.feature_types)

    def predict_output(self, X):
        """Class probabilities (n x k, class-code order) or predictions (n,)."""
        X = X[self.features]
        total = None
        for member, weight in zip(self.members, self.weights):
            out = member_output(member, X, self.task_kind, len(self.classes or []))
            total = weight * out if total is None else total + weight * out
        return total / float(sum(self.weights))


def member_output(member, X, task_kind, n_classes):
    if isinstance(member, ModelBundle):
        return member.predict_output(X)
    if task_kind == "regression":
        return np.asarray(member.predict(X), dtype=float)
    return aligned_proba(member, X, n_classes)


def aligned_proba(pipeline, X, n_classes):
    """predict_proba with a column for every class code, zeros for classes the fit never saw."""
    proba = np.asarray(pipeline.predict_proba(X), dtype=float)
    seen = np.asarray(pipeline.classes_, dtype=int)
    if len(seen) == n_classes and (seen == np.arange(n_classes)).all():
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, seen] = proba
    return full
