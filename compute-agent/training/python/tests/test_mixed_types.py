import csv
import os

import numpy as np

from uplet_training.csv_table import read_csv_table
from uplet_training.profile import profile_table

from tests.helpers import TempDirTest, task_spec


class MixedTypesEndToEndTest(TempDirTest):
    """Semicolon CSV with numeric, category, boolean, timestamp, text and missing cells: profile → trial → final → predict."""

    def test_pipeline_on_raw_mixed_rows(self):
        rng = np.random.RandomState(0)
        lines = ["amount;plan;member;signed;comment;outcome"]
        for i in range(240):
            amount = rng.normal(50, 15)
            plan = rng.choice(["basic", "pro", "team"])
            member = rng.rand() < 0.5
            day = 1 + i % 28
            score = (amount - 50) / 15 + (plan == "pro") * 1.2 + member * 0.8 + (day > 14) * 0.8 + rng.normal(0, 0.5)
            outcome = "stay" if score > 0.8 else "leave"
            lines.append(";".join([
                "" if i % 11 == 0 else f"{amount:.2f}", "" if i % 13 == 0 else plan,
                "yes" if member else "no", f"2024-02-{day:02d}T10:00:00Z", f"note number {i}", outcome,
            ]))
        path = self.write("mixed.csv", "\n".join(lines) + "\n")
        profile = profile_table(read_csv_table(path))
        types = {c["name"]: c["type"] for c in profile["columns"]}
        self.assertEqual(types, {"amount": "numeric", "plan": "category", "member": "boolean", "signed": "timestamp",
                                 "comment": "text", "outcome": "category"})
        spec = task_spec(path, profile, "classification", metrics=["auc"], class_weight="balanced",
                         filters=[{"col": "signed", "op": ">=", "value": "2024-02-02"}], importance_repeats=2)
        spec["label_column"] = "outcome"
        for family in ("linear", "hist_gradient_boosting", "neural_network"):
            code, out = self.run_command("trial", dict(spec, family=family, params={"max_iter": 50} if family != "linear" else {},
                                                     evaluation={"kind": "kfold", "n_splits": 3}))
            self.assertEqual(code, 0, family)
            self.assertGreater(self.read_json(out, "result.json")["metrics"]["auc"]["mean"], 0.8, family)
        code, out = self.run_command("final", dict(spec, family="linear"))
        self.assertEqual(code, 0)
        report = self.read_json(out, "report.json")
        self.assertEqual(sorted(report["field_importance"]), ["amount", "comment", "member", "plan", "signed"])
        self.assertEqual(report["field_importance"]["comment"], 0.0)  # text is dropped by the models
        causes = {c["field"]: c for o in report["data_story"][0]["outcomes"] for c in o["causes"]}
        if "signed" in causes:
            self.assertRegex(causes["signed"]["top_value"], r"^2024-02-\d\dT10:00:00Z$")
        if "member" in causes:
            self.assertIn(causes["member"]["top_value"], ("true", "false"))
        self.assertIn("amount", causes)
        stay = next(o for o in report["data_story"][0]["outcomes"] if o["outcome"] == "stay")
        amount = next(c for c in stay["causes"] if c["field"] == "amount")
        self.assertGreater(amount["top_value"], amount["bottom_value"])  # more amount, more likely to stay
        code, predicted = self.run_command("predict", {"model": os.path.join(out, "model.pkl"), "dataset": path})
        self.assertEqual(code, 0)
        with open(os.path.join(predicted, "predictions.csv"), newline="") as handle:
            self.assertEqual(len(list(csv.DictReader(handle))), 240)
