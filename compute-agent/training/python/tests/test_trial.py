import numpy as np
from sklearn import metrics as skm
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.tree import DecisionTreeClassifier

from uplet_training.seeds import derive_seed

from tests.helpers import TempDirTest, load_oof, task_spec


class TrialMatchesScikitLearnTest(TempDirTest):
    """The trial's metrics are those of scikit-learn run directly on the same split, folds and seed."""

    def test_decision_tree_kfold_on_breast_cancer(self):
        path, profile, frame = self.sklearn_csv("breast_cancer")
        params = {"max_depth": 4, "min_samples_split": 4, "min_samples_leaf": 2}
        spec = task_spec(path, profile, "classification", family="decision_tree", params=params,
                         metrics=["accuracy", "auc", "f1", "log_loss"], evaluation={"kind": "kfold", "n_splits": 5})
        code, out = self.run_command("trial", spec)
        self.assertEqual(code, 0)
        result = self.read_json(out, "result.json")

        X = frame.drop(columns="target").to_numpy()
        y = frame["target"].to_numpy()
        train, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=42)
        train = np.sort(train)
        X, y = X[train], y[train]
        folds = StratifiedKFold(5, shuffle=True, random_state=derive_seed(42, "folds")).split(X, y)
        oof = np.zeros((len(y), 2))
        for number, (fit, val) in enumerate(folds):
            model = DecisionTreeClassifier(random_state=7, **params).fit(X[fit], y[fit])
            proba = model.predict_proba(X[val])
            oof[val] = proba
            expected = {"accuracy": skm.accuracy_score(y[val], proba.argmax(1)), "auc": skm.roc_auc_score(y[val], proba[:, 1]),
                        "f1": skm.f1_score(y[val], proba.argmax(1), average="macro"), "log_loss": skm.log_loss(y[val], proba)}
            for name, value in expected.items():
                self.assertAlmostEqual(result["folds"][number]["metrics"][name], value, delta=1e-9)
        self.assertEqual(result["n_rows"], len(y))
        self.assertEqual(result["n_test_rows"], len(test))
        np.testing.assert_allclose(load_oof(out), oof, rtol=0, atol=1e-12)
        accuracies = [f["metrics"]["accuracy"] for f in result["folds"]]
        self.assertAlmostEqual(result["metrics"]["accuracy"]["mean"], np.mean(accuracies), delta=1e-12)
        self.assertAlmostEqual(result["metrics"]["accuracy"]["std"], np.std(accuracies), delta=1e-12)
        self.assertEqual(result["objective"], {"metric": "accuracy", "value": result["metrics"]["accuracy"]["mean"], "higher_is_better": True})

    def test_random_forest_kfold_on_diabetes(self):
        path, profile, frame = self.sklearn_csv("diabetes")
        params = {"n_estimators": 15, "max_depth": 6, "min_samples_leaf": 3, "max_features": 0.6}
        spec = task_spec(path, profile, "regression", family="random_forest", params=params,
                         metrics=["rmse", "mae", "r2"], evaluation={"kind": "kfold", "n_splits": 3}, seed=11)
        code, out = self.run_command("trial", spec)
        self.assertEqual(code, 0)
        result = self.read_json(out, "result.json")
        X = frame.drop(columns="target").to_numpy()
        y = frame["target"].to_numpy()
        train = np.sort(train_test_split(np.arange(len(y)), test_size=0.2, random_state=42)[0])
        X, y = X[train], y[train]
        for number, (fit, val) in enumerate(KFold(3, shuffle=True, random_state=derive_seed(42, "folds")).split(X)):
            model = RandomForestRegressor(random_state=11, n_jobs=1, **params).fit(X[fit], y[fit])
            pred = model.predict(X[val])
            self.assertAlmostEqual(result["folds"][number]["metrics"]["rmse"], np.sqrt(skm.mean_squared_error(y[val], pred)), delta=1e-9)
            self.assertAlmostEqual(result["folds"][number]["metrics"]["r2"], skm.r2_score(y[val], pred), delta=1e-9)
            np.testing.assert_allclose(load_oof(out)[val], pred, rtol=0, atol=1e-9)
        self.assertEqual(result["objective"]["higher_is_better"], False)


class TrialBehaviourTest(TempDirTest):
    def test_holdout_leaves_unvalidated_rows_nan_and_is_reproducible(self):
        path, profile, _ = self.sklearn_csv("iris", string_target=True)
        spec = task_spec(path, profile, "classification", family="xgboost", params={"n_estimators": 10},
                         evaluation={"kind": "holdout", "train_fraction": 0.75}, metrics=["balanced_accuracy"])
        outs = [self.run_command("trial", spec)[1] for _ in range(2)]
        first, second = (self.read_json(o, "result.json") for o in outs)
        self.assertEqual(first["metrics"], second["metrics"])
        oof = load_oof(outs[0])
        self.assertEqual(oof.shape, (120, 3))
        validated = ~np.isnan(oof).any(axis=1)
        self.assertEqual(validated.sum(), 30)
        np.testing.assert_allclose(oof[validated].sum(axis=1), 1.0)
        np.testing.assert_array_equal(np.nan_to_num(oof), np.nan_to_num(load_oof(outs[1])))
        self.assertEqual(first["classes"], ["class_0", "class_1", "class_2"])

    def test_filters_ignore_fields_and_seed_change(self):
        path, profile, frame = self.sklearn_csv("wine", string_target=True)
        base = task_spec(path, profile, "classification", family="random_forest", params={"n_estimators": 10},
                         filters=[{"col": "alcohol", "kind": "cmp", "op": ">", "value": 12.0}],
                         ignore_fields=["proline"], evaluation={"kind": "kfold", "n_splits": 3})
        code, out = self.run_command("trial", base)
        self.assertEqual(code, 0)
        result = self.read_json(out, "result.json")
        self.assertEqual(result["n_rows_filtered"], int((frame["alcohol"] > 12.0).sum()))
        code, out2 = self.run_command("trial", dict(base, seed=8))
        self.assertNotEqual(load_oof(out).tolist(), load_oof(out2).tolist())

    def test_ask_runs_the_proposed_params(self):
        path, profile, _ = self.sklearn_csv("iris", string_target=True)
        ask = {"strategy": "random", "history": [], "round_size": 2, "seed": 5, "index": 1}
        spec = task_spec(path, profile, "classification", family="decision_tree", ask=ask,
                         evaluation={"kind": "kfold", "n_splits": 3})
        code, out = self.run_command("trial", spec)
        self.assertEqual(code, 0)
        code, proposed = self.run_command("propose", dict(ask, family="decision_tree", task_kind="classification"))
        self.assertEqual(self.read_json(out, "result.json")["params"], self.read_json(proposed, "proposals.json")["proposals"][1])

    def test_bad_inputs_exit_2_naming_the_field(self):
        path, profile, _ = self.sklearn_csv("iris", string_target=True)
        good = task_spec(path, profile, "classification", family="decision_tree")
        cases = [
            (dict(good, label_column="nope"), "unknown_column", "label_column"),
            (dict(good, task_kind="regression"), "label_kind", "label_column"),
            (dict(good, family="tabm"), "unknown_family", "family"),
            (dict(good, metrics=["rmse"]), "unknown_metric", "metrics[0]"),
            (dict(good, filters=[{"col": "target", "op": "in", "value": "x"}]), "bad_filter", "filters[0].value"),
            (dict(good, ignore_fields=["zzz"]), "unknown_column", "ignore_fields"),
            (dict(good, params={"max_depth": 0}), "invalid_param", "params.max_depth"),
            (dict(good, evaluation={"kind": "kfold", "n_splits": 1}), "invalid_field", "evaluation.n_splits"),
            (dict(good, evaluation={"kind": "kfold", "n_splits": 60}), "too_few_rows", "evaluation.n_splits"),
            (dict(good, class_weight="heavy"), "invalid_field", "class_weight"),
        ]
        for spec, code, field in cases:
            with self.subTest(code=code, field=field):
                exit_code, out = self.run_command("trial", spec)
                self.assertEqual(exit_code, 2)
                error = self.read_json(out, "error.json")["error"]
                self.assertEqual((error["code"], error["field"]), (code, field))
