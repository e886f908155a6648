import csv
import os

import numpy as np
from sklearn.model_selection import train_test_split

from tests.helpers import TempDirTest, task_spec


class FinalClassificationTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.csv, self.profile, self.frame = self.sklearn_csv("iris", string_target=True)
        self.spec = task_spec(self.csv, self.profile, "classification", metrics=["accuracy", "log_loss"],
                              ignore_fields=["sepal width (cm)"], importance_repeats=3)

    def check_report(self, report):
        y = self.frame["target"].to_numpy()
        test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=42)[1]
        self.assertEqual(report["n_test_rows"], len(test))
        stats = report["stats"]
        self.assertEqual([s["class"] for s in stats], ["class_0", "class_1", "class_2"])
        for s in stats:
            self.assertEqual(s["true positives"] + s["false negatives"], s["count"])
            self.assertEqual(s["count"], int((y[test] == s["class"]).sum()))
            self.assertEqual(s["field"], "target")
        self.assertAlmostEqual(sum(s["frequency"] for s in stats), 1.0)
        self.assertEqual(sum(s["true positives"] for s in stats), round(report["metrics"]["accuracy"] * len(test)))
        importance = report["field_importance"]
        self.assertEqual(sorted(importance), sorted(["sepal length (cm)", "petal length (cm)", "petal width (cm)"]))
        self.assertTrue(all(v >= 0 for v in importance.values()))
        self.assertAlmostEqual(sum(importance.values()), 1.0)
        self.assertEqual(set(report["field_importance_detail"]), set(importance))
        story = report["data_story"][0]
        self.assertEqual((story["name"], story["type"]), ("target", "category"))
        self.assertEqual([o["outcome"] for o in story["outcomes"]], ["class_0", "class_1", "class_2"])
        for outcome in story["outcomes"]:
            self.assertTrue(0 <= outcome["bottom_case"] <= outcome["avg_case"] <= outcome["top_case"] <= 1)
            self.assertEqual(len(outcome["causes"]), 3)
            for cause in outcome["causes"]:
                self.assertIn(cause["field"], importance)
                self.assertIsInstance(cause["top_value"], float)

    def test_refit_winner_report_and_predict(self):
        code, out = self.run_command("final", dict(self.spec, family="random_forest", params={"n_estimators": 20}))
        self.assertEqual(code, 0)
        report = self.read_json(out, "report.json")
        self.check_report(report)
        self.assertGreater(report["metrics"]["accuracy"], 0.8)
        self.assertEqual(report["model"]["kind"], "refit")
        # Petal length moves the setosa probability more than sepal length.
        causes = [c["field"] for c in report["data_story"][0]["outcomes"][0]["causes"]]
        self.assertIn(causes[0], ("petal length (cm)", "petal width (cm)"))

        code, predicted = self.run_command("predict", {"model": os.path.join(out, "model.pkl"), "dataset": self.csv})
        self.assertEqual(code, 0)
        with open(os.path.join(predicted, "predictions.csv"), newline="") as handle:
            rows = list(csv.DictReader(handle))
        self.assertEqual(len(rows), 150)
        self.assertEqual(list(rows[0]), ["prediction", "proba_class_0", "proba_class_1", "proba_class_2"])
        for row in rows:
            self.assertAlmostEqual(sum(float(row[f"proba_class_{k}"]) for k in range(3)), 1.0)
        agreement = np.mean([row["prediction"] == truth for row, truth in zip(rows, self.frame["target"])])
        self.assertGreater(agreement, 0.9)

    def test_report_is_reproducible(self):
        spec = dict(self.spec, family="xgboost", params={"n_estimators": 10}, seed=3)
        reports = [self.read_json(self.run_command("final", spec)[1], "report.json") for _ in range(2)]
        self.assertEqual(reports[0], reports[1])

    def test_ensemble_of_trials(self):
        members = []
        for family, params in (("decision_tree", {"max_depth": 2}), ("linear", {"C": 0.01}), ("xgboost", {"n_estimators": 10})):
            code, out = self.run_command("trial", dict(self.spec, family=family, params=params, evaluation={"kind": "kfold", "n_splits": 3}))
            self.assertEqual(code, 0)
            members.append({"model": os.path.join(out, "model.pkl"), "oof": os.path.join(out, "oof.npy")})
        code, out = self.run_command("final", dict(self.spec, metrics=["log_loss", "accuracy"], ensemble={"members": members, "steps": 10}))
        self.assertEqual(code, 0)
        report = self.read_json(out, "report.json")
        self.check_report(report)
        model = report["model"]
        self.assertEqual(model["kind"], "ensemble")
        self.assertAlmostEqual(sum(model["weights"]), 1.0)
        self.assertLessEqual(model["oof_score"], model["best_single_oof_score"])  # log_loss: lower is better

    def test_member_from_another_job_is_refused(self):
        code, out = self.run_command("trial", dict(self.spec, family="decision_tree", ignore_fields=[]))
        member = {"model": os.path.join(out, "model.pkl"), "oof": os.path.join(out, "oof.npy")}
        code, out = self.run_command("final", dict(self.spec, ensemble={"members": [member]}))
        self.assertEqual(code, 2)
        self.assertEqual(self.read_json(out, "error.json")["error"]["field"], "ensemble.members[0]")


class FinalRegressionTest(TempDirTest):
    def test_regression_report(self):
        path, profile, _ = self.sklearn_csv("diabetes")
        spec = task_spec(path, profile, "regression", family="hist_gradient_boosting",
                         params={"max_iter": 30}, metrics=["r2", "rmse"], importance_repeats=2, story_rows=50)
        code, out = self.run_command("final", spec)
        self.assertEqual(code, 0)
        report = self.read_json(out, "report.json")
        stats = report["stats"][0]
        self.assertEqual(set(stats), {"field", "field_name", "field_type", "rmse", "mae", "r2", "count"})
        self.assertEqual(stats["count"], report["n_test_rows"])
        self.assertAlmostEqual(stats["r2"], report["metrics"]["r2"])
        self.assertEqual(len(report["field_importance"]), 10)
        self.assertAlmostEqual(sum(report["field_importance"].values()), 1.0)
        outcomes = report["data_story"][0]["outcomes"]
        self.assertEqual([o["outcome"] for o in outcomes], ["higher"])
        self.assertIn(outcomes[0]["causes"][0]["field"], ("bmi", "s5", "bp"))
        code, predicted = self.run_command("predict", {"model": os.path.join(out, "model.pkl"), "dataset": path})
        with open(os.path.join(predicted, "predictions.csv"), newline="") as handle:
            rows = list(csv.DictReader(handle))
        self.assertEqual((len(rows), list(rows[0])), (442, ["prediction"]))

    def test_predict_refuses_a_file_without_the_fields(self):
        path, profile, _ = self.sklearn_csv("diabetes")
        code, out = self.run_command("final", task_spec(path, profile, "regression", family="linear", importance_repeats=1))
        other = self.write("other.csv", "a,b\n1,2\n")
        code, predicted = self.run_command("predict", {"model": os.path.join(out, "model.pkl"), "dataset": other})
        self.assertEqual(code, 2)
        self.assertEqual(self.read_json(predicted, "error.json")["error"]["code"], "schema_mismatch")
