import json
import unittest
import warnings

import numpy as np
import pandas as pd

from uplet_training import column_types as ct
from uplet_training.errors import BadInput
from uplet_training.families import (FAMILIES, build_pipeline, fit_pipeline, get_family,
                                     resolve_family_params, spaces_as_json)
from uplet_training.model_bundle import aligned_proba

FAMILY_IDS = ["decision_tree", "random_forest", "linear", "neural_network", "hist_gradient_boosting", "xgboost"]
SMALL = {"random_forest": {"n_estimators": 10}, "hist_gradient_boosting": {"max_iter": 10},
         "xgboost": {"n_estimators": 10}, "neural_network": {"max_iter": 50}}
TYPES = {"num": "numeric", "cat": "category", "flag": "boolean", "when": "timestamp", "note": "text"}


def mixed_frame(n, seed):
    rng = np.random.RandomState(seed)
    num = rng.normal(size=n)
    cat = rng.choice(["a", "b", "c"], size=n)
    raw = {
        "num": [f"{v:.3f}" if i % 7 else "" for i, v in enumerate(num)],
        "cat": [c if i % 5 else "" for i, c in enumerate(cat)],
        "flag": rng.choice(["true", "false"], size=n).tolist(),
        "when": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
        "note": [f"free text {i}" for i in range(n)],
    }
    X = pd.DataFrame({name: ct.coerce_column(raw[name], kind) for name, kind in TYPES.items()})
    score = np.nan_to_num(X["num"].to_numpy()) + (X["cat"] == "a").to_numpy() * 1.5
    return X, score


class FamiliesTest(unittest.TestCase):
    def setUp(self):
        catcher = warnings.catch_warnings()
        catcher.__enter__()
        self.addCleanup(catcher.__exit__, None, None, None)
        warnings.simplefilter("ignore")

    def test_ids(self):
        self.assertEqual(list(FAMILIES), FAMILY_IDS)

    def test_unknown_family_lists_the_known_ids(self):
        with self.assertRaises(BadInput) as caught:
            get_family("tabm")
        self.assertEqual(caught.exception.code, "unknown_family")
        for family_id in FAMILY_IDS:
            self.assertIn(family_id, caught.exception.message)

    def test_spaces_dump_is_json_with_defaults_inside_bounds(self):
        spaces = json.loads(json.dumps(spaces_as_json()))
        self.assertEqual(list(spaces), FAMILY_IDS)
        for family_id, entry in spaces.items():
            for kind in ("classification", "regression"):
                for p in entry["spaces"][kind]:
                    if p["kind"] == "categorical":
                        self.assertIn(p["default"], p["choices"])
                    else:
                        self.assertLessEqual(p["low"], p["default"], (family_id, p))
                        self.assertLessEqual(p["default"], p["high"], (family_id, p))

    def test_params_are_checked_against_the_space(self):
        family = get_family("random_forest")
        self.assertEqual(resolve_family_params(family, "classification", {"n_estimators": 20})["n_estimators"], 20)
        for bad in ({"n_estimators": 0}, {"n_estimators": 2.5}, {"depth": 3}):
            with self.assertRaises(BadInput) as caught:
                resolve_family_params(family, "classification", bad)
            self.assertEqual(caught.exception.code, "invalid_param")
            self.assertTrue(caught.exception.field.startswith("params."))

    def test_every_family_fits_raw_mixed_rows_both_tasks(self):
        X, score = mixed_frame(120, 0)
        y_class = (score > np.median(score)).astype(int)
        X_new, _ = mixed_frame(10, 1)
        X_new.loc[0, "cat"] = "never seen"
        for family_id in FAMILY_IDS:
            family = get_family(family_id)
            for task_kind, y in (("classification", y_class), ("regression", score)):
                params = resolve_family_params(family, task_kind, SMALL.get(family_id))
                with self.subTest(family=family_id, task=task_kind):
                    runs = []
                    for _ in range(2):
                        pipe = build_pipeline(family, task_kind, TYPES, params, seed=3, class_weight="balanced")
                        fit_pipeline(pipe, family, task_kind, X, y, "balanced")
                        out = aligned_proba(pipe, X_new, 2) if task_kind == "classification" else pipe.predict(X_new)
                        runs.append(np.asarray(out))
                    self.assertEqual(len(runs[0]), 10)
                    self.assertFalse(np.isnan(runs[0]).any())
                    np.testing.assert_array_equal(runs[0], runs[1])  # same seed, same model
                    model = pipe.named_steps["model"]
                    self.assertEqual(model.get_params().get("random_state"), 3)
                    if "n_jobs" in model.get_params():
                        self.assertEqual(model.get_params()["n_jobs"], 1)

    def test_balanced_weighting_raises_rare_class_recall(self):
        rng = np.random.RandomState(0)
        X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
        y = ((X["a"] + 0.8 * rng.normal(size=400)) > 1.6).astype(int).to_numpy()
        types = {"a": "numeric", "b": "numeric"}
        for family_id in ("linear", "xgboost", "neural_network"):  # class_weight, sample_weight, resampling
            family = get_family(family_id)
            params = resolve_family_params(family, "classification", SMALL.get(family_id))
            recalls = []
            for weighting in (None, "balanced"):
                pipe = fit_pipeline(build_pipeline(family, "classification", types, params, 0, weighting), family, "classification", X, y, weighting)
                recalls.append(((pipe.predict(X) == 1) & (y == 1)).sum() / (y == 1).sum())
            self.assertGreater(recalls[1], recalls[0], family_id)
