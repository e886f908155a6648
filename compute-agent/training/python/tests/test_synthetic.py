import os

from uplet_training.csv_table import read_csv_table
from uplet_training.errors import BadInput
from uplet_training.profile import profile_table
from uplet_training.synthetic import generate

from tests.helpers import TempDirTest, task_spec

ONTOLOGY = {"fields": [
    {"name": "customer", "type": "category", "role": "id"},
    {"name": "income", "type": "numeric", "role": "feature"},
    {"name": "region", "type": "category", "role": "feature", "choices": ["north", "south", "east"]},
    {"name": "member", "type": "boolean", "role": "feature"},
    {"name": "age", "type": "numeric", "role": "feature"},
    {"name": "noise", "type": "numeric", "role": "ignore"},
    {"name": "churn", "type": "boolean", "role": "target"},
]}


class SyntheticTest(TempDirTest):
    def test_deterministic_and_learnable(self):
        self.assertEqual(generate(ONTOLOGY, 50, 3), generate(ONTOLOGY, 50, 3))
        self.assertNotEqual(generate(ONTOLOGY, 50, 3)[1], generate(ONTOLOGY, 50, 4)[1])
        code, out = self.run_command("synthetic", {"ontology": ONTOLOGY, "n_rows": 400, "seed": 1})
        self.assertEqual(code, 0)
        result = self.read_json(out, "result.json")
        self.assertEqual(result["informative_fields"], ["income", "region", "member"])
        self.assertTrue(result["synthetic"])
        data = os.path.join(out, "data.csv")
        profile = profile_table(read_csv_table(data))
        types = {c["name"]: c["type"] for c in profile["columns"]}
        self.assertEqual(types, {"customer": "text", "income": "numeric", "region": "category", "member": "boolean",
                                 "age": "numeric", "noise": "numeric", "churn": "boolean"})
        spec = task_spec(data, profile, "classification", family="linear", metrics=["accuracy"],
                         evaluation={"kind": "kfold", "n_splits": 3})
        spec["label_column"] = "churn"
        code, trial = self.run_command("trial", spec)
        self.assertEqual(code, 0)
        self.assertGreater(self.read_json(trial, "result.json")["metrics"]["accuracy"]["mean"], 0.7)  # chance: 0.5

    def test_category_and_numeric_targets(self):
        fields = [dict(f) for f in ONTOLOGY["fields"]]
        fields[-1] = {"name": "tier", "type": "category", "role": "target", "choices": ["low", "mid", "high"]}
        header, rows, _ = generate({"fields": fields}, 90, 0)
        tiers = [row[header.index("tier")] for row in rows]
        self.assertEqual({t: tiers.count(t) for t in set(tiers)}, {"low": 30, "mid": 30, "high": 30})
        fields[-1] = {"name": "spend", "type": "numeric", "role": "target"}
        header, rows, _ = generate({"fields": fields}, 20, 0)
        float(rows[0][header.index("spend")])

    def test_one_target_required(self):
        with self.assertRaises(BadInput):
            generate({"fields": [{"name": "a", "type": "numeric", "role": "feature"}]}, 10, 0)
