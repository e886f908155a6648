import unittest

import pandas as pd

from uplet_training import column_types as ct
from uplet_training.errors import BadInput
from uplet_training.filters import apply_filters, check_filters, validate_filters

TYPES = {"age": "numeric", "city": "category", "member": "boolean", "joined": "timestamp", "note": "text"}


def frame():
    return pd.DataFrame({
        "age": ct.coerce_column(["30", "", "45", "20"], "numeric"),
        "city": ct.coerce_column(["Paris", "Lyon", "", "Paris"], "category"),
        "member": ct.coerce_column(["true", "false", "true", ""], "boolean"),
        "joined": ct.coerce_column(["2024-01-01", "2024-02-01", "", "2024-03-01T12:00:00Z"], "timestamp"),
        "note": ct.coerce_column(["a", "b", "c", "d"], "text"),
    })


def kept(*filters):
    return apply_filters(frame().assign(pos=range(4)), list(filters), TYPES)["pos"].tolist()


class ApplyTest(unittest.TestCase):
    def test_comparisons_with_coerced_values(self):
        self.assertEqual(kept({"col": "age", "kind": "cmp", "op": ">=", "value": "30"}), [0, 2])
        self.assertEqual(kept({"col": "age", "op": "<", "value": 30}), [3])
        self.assertEqual(kept({"col": "city", "value": "Paris"}), [0, 3])  # op defaults to ==
        self.assertEqual(kept({"col": "city", "op": "!=", "value": "Paris"}), [1])  # missing never matches
        self.assertEqual(kept({"col": "member", "op": "==", "value": True}), [0, 2])
        self.assertEqual(kept({"col": "joined", "op": ">", "value": "2024-01-15"}), [1, 3])
        self.assertEqual(kept({"col": "joined", "op": "<=", "value": "2024-03-01T12:00:00Z"}), [0, 1, 3])

    def test_null_and_list_ops(self):
        self.assertEqual(kept({"col": "age", "op": "is_null"}), [1])
        self.assertEqual(kept({"col": "city", "op": "is_not_null"}), [0, 1, 3])
        self.assertEqual(kept({"col": "city", "op": "in", "value": ["Lyon", "Nice"]}), [1])
        self.assertEqual(kept({"col": "city", "op": "not_in", "value": ["Lyon"]}), [0, 3])
        self.assertEqual(kept({"col": "age", "op": "in", "value": [20, 45.0]}), [2, 3])

    def test_filters_are_anded(self):
        self.assertEqual(kept({"col": "city", "value": "Paris"}, {"col": "age", "op": ">", "value": 25}), [0])


class ValidateTest(unittest.TestCase):
    def errors(self, *filters):
        return validate_filters(list(filters), TYPES)

    def test_valid_filters_have_no_errors(self):
        self.assertEqual(self.errors({"col": "age", "kind": "cmp", "op": "<", "value": 3},
                                     {"col": "joined", "op": ">=", "value": "2024-01-01T00:00:00+02:00"}), [])

    def test_errors_name_the_field(self):
        self.assertEqual(self.errors({"col": "nope", "value": 1})[0]["field"], "filters[0].col")
        self.assertEqual(self.errors({"col": "nope", "value": 1})[0]["code"], "unknown_column")
        self.assertEqual(self.errors({"col": "age", "value": 1}, {"col": "age", "value": "abc"})[0]["field"], "filters[1].value")
        self.assertEqual(self.errors({"col": "age", "op": "~", "value": 1})[0]["field"], "filters[0].op")
        self.assertEqual(self.errors({"col": "city", "op": "<", "value": "a"})[0]["field"], "filters[0].op")
        self.assertEqual(self.errors({"col": "city", "op": "in", "value": "Paris"})[0]["field"], "filters[0].value")
        self.assertEqual(self.errors({"col": "joined", "value": "yesterday"})[0]["field"], "filters[0].value")
        self.assertEqual(self.errors({"col": "member", "value": "maybe"})[0]["field"], "filters[0].value")
        self.assertEqual(self.errors({"col": "age", "kind": "regex", "value": 1})[0]["field"], "filters[0].kind")

    def test_check_raises_the_first(self):
        with self.assertRaises(BadInput) as caught:
            check_filters([{"col": "age", "value": "x"}], TYPES)
        self.assertEqual((caught.exception.code, caught.exception.field), ("bad_filter", "filters[0].value"))
