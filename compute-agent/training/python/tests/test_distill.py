import json

import joblib
import numpy as np
import pandas as pd

from uplet_training.distill import TEACHER_WEIGHT, check_predictions, soft_fit_set
from uplet_training.errors import BadInput
from uplet_training.dataset import load_task_data
from uplet_training.families import get_family
from uplet_training.trial import training_portion

from tests.helpers import TempDirTest, load_oof, task_spec

DT = {"max_depth": 4, "min_samples_split": 2, "min_samples_leaf": 1}


class SoftFitSetTest(TempDirTest):
    def test_regression_blends_the_true_value_and_the_teacher(self):
        X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
        _, y, w, rows = soft_fit_set(get_family("random_forest"), "regression", X, np.array([0.0, 10.0, 4.0]), np.array([2.0, 0.0, 4.0]))
        np.testing.assert_allclose(y, [1.0, 5.0, 4.0])
        self.assertIsNone(w)
        np.testing.assert_array_equal(rows, [0, 1, 2])

    def test_weighted_families_fit_each_row_once_per_class_with_the_blend(self):
        X = pd.DataFrame({"a": [1.0, 2.0]})
        teacher = np.array([[0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])
        Xf, yf, wf, rows = soft_fit_set(get_family("decision_tree"), "classification", X, np.array([0, 2]), teacher)
        # Row 0: true class 0 (0.5 + 0.5*0.2), class 1 (0.5*0.8); class 2 has weight 0 and is dropped. Row 1: class 2 only.
        self.assertEqual(list(zip(rows.tolist(), yf.tolist())), [(0, 0), (0, 1), (1, 2)])
        np.testing.assert_allclose(wf, [0.6, 0.4, 1.0])
        self.assertEqual(Xf["a"].tolist(), [1.0, 1.0, 2.0])
        for r in (0, 1):
            self.assertAlmostEqual(wf[rows == r].sum(), 1.0)
        self.assertEqual(TEACHER_WEIGHT, 0.5)

    def test_the_mlp_takes_the_teachers_most_probable_class(self):
        X = pd.DataFrame({"a": [1.0, 2.0]})
        _, yf, wf, _ = soft_fit_set(get_family("neural_network"), "classification", X, np.array([0, 0]), np.array([[0.3, 0.7], [0.9, 0.1]]))
        self.assertEqual(yf.tolist(), [1, 0])
        self.assertIsNone(wf)

    def test_predictions_are_checked_for_count_shape_and_probabilities(self):
        with self.assertRaisesRegex(BadInput, "2 predictions for 3 rows"):
            check_predictions([1.0, 2.0], "regression", 0, 3)
        with self.assertRaisesRegex(BadInput, "2 class probabilities"):
            check_predictions([[1.0], [1.0]], "classification", 2, 2)
        with self.assertRaisesRegex(BadInput, "sum to 1"):
            check_predictions([[0.5, 0.6]], "classification", 2, 1)
        with self.assertRaisesRegex(BadInput, "non-finite"):
            check_predictions([float("nan")], "regression", 0, 1)
        with self.assertRaisesRegex(BadInput, "not all numbers"):
            check_predictions(["a"], "regression", 0, 1)
        np.testing.assert_allclose(check_predictions([[0.2, 0.8004]], "classification", 2, 1), [[0.2 / 1.0004, 0.8004 / 1.0004]])


class TeachCommandTest(TempDirTest):
    def test_samples_are_the_training_portions_input_fields_only(self):
        path, profile, frame = self.sklearn_csv("iris", string_target=True)
        code, out = self.run_command("teach", task_spec(path, profile, "classification", filters=[{"col": "sepal length (cm)", "op": ">", "value": 4.5}]))
        self.assertEqual(code, 0)
        samples = self.read_json(out, "samples.json")
        kept = frame[frame["sepal length (cm)"] > 4.5]
        self.assertEqual(samples["feature_names"], [c for c in frame.columns if c != "target"])
        self.assertEqual(samples["classes"], ["class_0", "class_1", "class_2"])
        # 80 % of the filtered rows: the set-aside test rows never reach a teacher.
        self.assertEqual(len(samples["samples"]), len(kept) - round(0.2 * len(kept) + 0.4999))
        flat = json.dumps(samples["samples"])
        self.assertNotIn("class_", flat)
        self.assertTrue(all(len(s) == 4 and all(isinstance(v, float) for v in s) for s in samples["samples"]))
        self.assertEqual(self.read_json(out, "result.json")["source"], "url")

    def test_a_teacher_model_predicts_the_training_portion(self):
        path, profile, _ = self.sklearn_csv("breast_cancer")
        code, final = self.run_command("final", task_spec(path, profile, "classification", family="decision_tree", params=DT, metrics=["accuracy"]))
        self.assertEqual(code, 0)
        code, out = self.run_command("teach", task_spec(path, profile, "classification", teacher_model=f"{final}/model.pkl"))
        self.assertEqual(code, 0)
        targets = self.read_json(out, "targets.json")
        self.assertEqual((targets["n_rows"], targets["source"], targets["classes"]), (455, "model", ["0", "1"]))
        p = np.array(targets["predictions"])
        self.assertEqual(p.shape, (455, 2))
        np.testing.assert_allclose(p.sum(axis=1), 1.0)

    def test_a_teacher_of_another_label_is_refused(self):
        path, profile, _ = self.sklearn_csv("breast_cancer")
        code, final = self.run_command("final", task_spec(path, profile, "regression", label_column="mean radius", family="linear", metrics=["rmse"]))
        self.assertEqual(code, 0)
        code, out = self.run_command("teach", task_spec(path, profile, "classification", teacher_model=f"{final}/model.pkl"))
        self.assertEqual(code, 2)
        self.assertEqual(self.read_json(out, "error.json")["error"]["code"], "teacher_mismatch")


class DistilledTrialTest(TempDirTest):
    def targets(self, predictions, task_kind, classes=None):
        return self.write(f"targets-{len(predictions)}-{task_kind}.json", json.dumps(
            {"task_kind": task_kind, "classes": classes, "n_rows": len(predictions), "source": "url", "predictions": predictions}))

    def test_an_inverted_teacher_moves_the_student_and_metrics_stay_on_the_true_labels(self):
        path, profile, _ = self.sklearn_csv("breast_cancer")
        spec = task_spec(path, profile, "classification", family="random_forest",
                         params={"n_estimators": 20, "max_depth": 6, "min_samples_leaf": 1, "max_features": 0.5},
                         metrics=["accuracy"], evaluation={"kind": "kfold", "n_splits": 3})
        code, plain = self.run_command("trial", spec)
        self.assertEqual(code, 0)
        # A teacher sure of the wrong class on every row: the blend is 50/50, so the student's
        # probabilities move to about one half and its accuracy on the true labels falls.
        oof_plain = load_oof(plain)
        _, y, _, _ = training_portion(load_task_data(spec), 42)
        inverted = np.eye(2)[1 - y].tolist()
        code, taught = self.run_command("trial", dict(spec, teacher_targets=self.targets(inverted, "classification", ["0", "1"])))
        self.assertEqual(code, 0)
        result = self.read_json(taught, "result.json")
        self.assertEqual(result["teacher"], {"source": "url", "weight": 0.5, "rows": len(y)})
        self.assertLess(result["metrics"]["accuracy"]["mean"], self.read_json(plain, "result.json")["metrics"]["accuracy"]["mean"] - 0.2)
        self.assertGreater(np.abs(load_oof(taught) - oof_plain).max(), 0.3)
        # A teacher that agrees with the truth changes nothing of substance.
        code, agreeing = self.run_command("trial", dict(spec, teacher_targets=self.targets(np.eye(2)[y].tolist(), "classification", ["0", "1"])))
        self.assertEqual(self.read_json(agreeing, "result.json")["metrics"], self.read_json(plain, "result.json")["metrics"])

    def test_a_regression_teacher_pulls_the_refit_halfway(self):
        path, profile, frame = self.sklearn_csv("diabetes")
        spec = task_spec(path, profile, "regression", family="linear", params={"alpha": 1e-3}, metrics=["rmse"])
        code, plain = self.run_command("final", spec)
        self.assertEqual(code, 0)
        _, y, _, _ = training_portion(load_task_data(spec), 42)
        code, taught = self.run_command("final", dict(spec, teacher_targets=self.targets([1000.0] * len(y), "regression")))
        self.assertEqual(code, 0)
        self.assertEqual(self.read_json(taught, "report.json")["teacher"]["rows"], len(y))
        # Ridge is linear in its target: fitted on (y + 1000) / 2, it predicts the plain model's predictions moved halfway to 1000.
        X = frame.drop(columns="target")
        before = joblib.load(f"{plain}/model.pkl").predict_output(X)
        after = joblib.load(f"{taught}/model.pkl").predict_output(X)
        np.testing.assert_allclose(after, (before + 1000.0) / 2, rtol=1e-6)
        # Its metrics are still those of the true labels: far worse than the plain model's.
        self.assertGreater(self.read_json(taught, "report.json")["metrics"]["rmse"], self.read_json(plain, "report.json")["metrics"]["rmse"] + 100)

    def test_targets_of_another_row_count_are_bad_input(self):
        path, profile, _ = self.sklearn_csv("iris")
        spec = task_spec(path, profile, "classification", family="decision_tree", params=DT, metrics=["accuracy"],
                         teacher_targets=self.targets([[1.0, 0.0, 0.0]] * 5, "classification", ["0", "1", "2"]))
        code, out = self.run_command("trial", spec)
        self.assertEqual(code, 2)
        error = self.read_json(out, "error.json")["error"]
        self.assertEqual((error["code"], error["field"]), ("teacher_targets", "teacher_targets"))
        self.assertIn("5 predictions for 120 rows", error["message"])
