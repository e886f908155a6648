import math

from uplet_training import column_types as ct
from uplet_training.csv_table import read_csv_table
from uplet_training.profile import profile_table

from tests.helpers import TempDirTest


class TypeInferenceTest(TempDirTest):
    def test_rules(self):
        self.assertEqual(ct.infer_type(["1", "2.5", "", "-3e2"]), ct.NUMERIC)
        self.assertEqual(ct.infer_type(["0", "1", "1"]), ct.NUMERIC)
        self.assertEqual(ct.infer_type(["True", "false", "NA"]), ct.BOOLEAN)
        self.assertEqual(ct.infer_type(["yes", "No"]), ct.BOOLEAN)
        self.assertEqual(ct.infer_type(["2024-01-02", "2024-03-04T05:06:07Z", "2024-03-04 05:06"]), ct.TIMESTAMP)
        self.assertEqual(ct.infer_type(["red", "blue", "red"]), ct.CATEGORY)
        self.assertEqual(ct.infer_type(["", "NA"]), ct.CATEGORY)
        self.assertEqual(ct.infer_type([f"user-{i}" for i in range(100)]), ct.TEXT)
        self.assertEqual(ct.infer_type(["x" * 100, "y" * 90]), ct.TEXT)
        self.assertEqual(ct.infer_type(["2024-13-45"]), ct.CATEGORY)
        # Words and numbers mixed are neither boolean nor numeric, whichever rule is checked first.
        self.assertEqual(ct.infer_type(["true", "1", "false"]), ct.CATEGORY)
        self.assertEqual(ct.infer_type(["yes", "inf", "nan", "no"]), ct.CATEGORY)


class ProfileTest(TempDirTest):
    def test_schema_without_rows(self):
        lines = ["id,age,city,member,joined,score"]
        cities = ["Paris"] * 6 + ["Lyon"] * 3 + ["Nice"] * 2 + [""]
        for i, city in enumerate(cities):
            age = "" if i == 3 else str(20 + i)
            lines.append(f"u{i},{age},{city},{'true' if i % 2 else 'false'},2024-01-{i + 1:02d},{i * 0.5}")
        profile = profile_table(read_csv_table(self.write("p.csv", "\n".join(lines) + "\n")))
        self.assertEqual(profile["row_count"], 12)
        by = {c["name"]: c for c in profile["columns"]}
        self.assertEqual(by["age"]["type"], "numeric")
        self.assertEqual(by["age"]["missing"], 1)
        self.assertEqual(by["age"]["min"], 20.0)
        self.assertEqual(by["age"]["max"], 31.0)
        ages = [20 + i for i in range(12) if i != 3]
        mean = sum(ages) / len(ages)
        self.assertAlmostEqual(by["age"]["mean"], mean, places=12)
        self.assertAlmostEqual(by["age"]["std"], math.sqrt(sum((a - mean) ** 2 for a in ages) / (len(ages) - 1)), places=12)
        self.assertEqual(by["city"]["type"], "category")
        self.assertEqual(by["city"]["missing"], 1)
        self.assertEqual(by["city"]["distinct"], 3)
        self.assertEqual(by["city"]["top_values"], [{"value": "Paris", "count": 6}, {"value": "Lyon", "count": 3}, {"value": "Nice", "count": 2}])
        self.assertEqual(by["member"]["type"], "boolean")
        self.assertEqual(by["member"]["top_values"], [{"value": "false", "count": 6}, {"value": "true", "count": 6}])
        self.assertEqual(by["joined"]["type"], "timestamp")
        self.assertEqual((by["joined"]["min"], by["joined"]["max"]), ("2024-01-01T00:00:00Z", "2024-01-12T00:00:00Z"))
        self.assertEqual(by["id"]["type"], "category")
        self.assertNotIn("rows", profile)

    def test_top_values_at_most_ten(self):
        lines = ["c"] + [f"v{i % 15}" for i in range(60)]
        profile = profile_table(read_csv_table(self.write("p.csv", "\n".join(lines) + "\n")))
        self.assertEqual(len(profile["columns"][0]["top_values"]), 10)

    def test_profile_command_on_bundled_dataset(self):
        path, _, frame = self.sklearn_csv("iris", string_target=True)
        code, out = self.run_command("profile", {"dataset": path})
        self.assertEqual(code, 0)
        profile = self.read_json(out, "profile.json")
        self.assertEqual(profile["row_count"], 150)
        types = {c["name"]: c["type"] for c in profile["columns"]}
        self.assertEqual(types["target"], "category")
        self.assertEqual(types["sepal length (cm)"], "numeric")
