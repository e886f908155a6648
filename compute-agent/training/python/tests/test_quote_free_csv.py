import json
import random
import unittest

import numpy as np
import pandas as pd

from uplet_training import column_types as ct
from uplet_training.csv_table import parse_csv_table, read_csv_text
from uplet_training.dataset import read_typed_frame
from uplet_training.profile import profile_table, profile_text
from uplet_training.quote_free_csv import quote_free_columns, quote_free_frame

from .helpers import TempDirTest


def reference_frame(text, types):
    """The frame of the reference path: the table of strings, each column coerced."""
    table = parse_csv_table(text)
    index = {name: i for i, name in enumerate(table.header)}
    return pd.DataFrame({name: ct.coerce_column(table.column(index[name]), kind) for name, kind in types.items()})


class QuoteFreeFrameTest(TempDirTest):
    def assert_same_frame(self, fast, reference):
        """Equal values, dtypes and order; floats bit for bit (a zero's sign, NaN where NaN)."""
        self.assertIsNotNone(fast)
        pd.testing.assert_frame_equal(fast, reference, check_exact=True)
        for name in reference.columns:
            if reference[name].dtype == np.float64:
                self.assertTrue(np.array_equal(fast[name].to_numpy().view(np.int64), reference[name].to_numpy().view(np.int64)), name)

    def check(self, text, types):
        fast = quote_free_frame(text, types)
        self.assert_same_frame(fast, reference_frame(text, types))
        # The profile of the same text: the same JSON as the profile of the table of strings.
        self.assertEqual(json.dumps(profile_text(text), sort_keys=True), json.dumps(profile_table(parse_csv_table(text)), sort_keys=True))
        return fast

    def test_every_column_type_as_the_reference_path_types_it(self):
        text = (
            "n,i,flag,kind,when,note,label\r\n"
            "1.5,3,yes,a,2024-01-02,free text one,x\r\n"
            ",NA,no, b ,2024-01-03T10:00:00Z,another,y\r\n"
            "\r\n"
            "-0.0,-7,Yes,NA,,note, x \r\n"
            "1e-3,12,,c,2024-02-01 08:30,n/a,z\r\n"
            "inf,0,NO,a,2024-03-01,,x\r\n"
        )
        types = {"n": "numeric", "i": "numeric", "flag": "boolean", "kind": "category", "when": "timestamp", "note": "text", "label": "category"}
        fast = self.check(text, types)
        self.assertEqual(len(fast), 5)
        # The profile's path: numbers read in C for the numeric columns, raw strings for the others.
        delimiter, rows, columns = quote_free_columns(text)
        self.assertEqual((delimiter, rows), (",", 5))
        self.assertEqual([name for name, numbers, _ in columns if numbers is not None], ["n", "i"])
        self.assertEqual([strings for name, _, strings in columns if name == "kind"], [["a", " b ", "NA", "c", "a"]])

    def test_zeros_keep_the_sign_their_text_gives(self):
        # "-0" beside a missing value: pd.to_numeric gives -0.0, the C float parser 0.0.
        for column in (["-0", "NA", "0", "-0.0", "+0"], ["-0", "1.5", "0.0"], ["0", "-0", "3"], ["-0", ""], ["0.0 ", " -0", "1.5", "NA", "\t-0.0"]):
            with self.subTest(column=column):
                text = "a,b\n" + "".join(f"{v},1\n" for v in column)
                self.check(text, {"a": "numeric", "b": "numeric"})

    def test_large_integers_beside_missing_values_are_typed_from_their_strings(self):
        # pd.to_numeric's float parse of such integers is an ulp off the C parser's (measured).
        rng = np.random.default_rng(3)
        values = [str(int(v)) for v in rng.integers(2**60, 2**63 - 1, size=200, dtype=np.int64)]
        text = "a,b\n" + "".join(f"{v},{i}\n" for i, v in enumerate(values + ["NA"]))
        self.check(text, {"a": "numeric", "b": "numeric"})

    def test_values_the_c_parser_refuses_take_the_per_value_rules(self):
        text = "a,b,c\n1_000,x,1\n 2 ,y,2\n abc,z,NAN\n0x10,w,4\n"
        self.check(text, {"a": "numeric", "b": "category", "c": "numeric"})

    def test_random_numeric_texts_agree_with_the_reference_path(self):
        pool = ["0", "-0", "0.0", "-0.0", "1", "-1", "17", "1.5", "-2.25", "1e5", "1E-5", "3.", ".5", "+.5", "inf", "-inf",
                "Infinity", "NaN", "nan", "NA", "N/A", "null", "None", "", "1e400", "1e-400", "123456789012345678",
                "9007199254740993", "0.1", "2.675", "1.7976931348623157e308", "x", " 4 ", "5 ", "\t6", "007", "-007.50"]
        rnd = random.Random(5)
        for case in range(60):
            rows = rnd.randint(1, 30)
            column = lambda: [rnd.choice(pool) if rnd.random() < 0.5 else repr(rnd.uniform(-1e6, 1e6)) for _ in range(rows)]  # noqa: E731
            a, b = column(), column()
            text = "a,b,c\n" + "".join(f"{x},{y},{i}\n" for i, (x, y) in enumerate(zip(a, b)))
            with self.subTest(case=case, a=a, b=b):
                self.check(text, {"a": "numeric", "b": "numeric", "c": "numeric"})

    def test_semicolons_tabs_and_a_missing_last_line_end(self):
        self.check("a;b\n1;x\n2;y", {"a": "numeric", "b": "category"})
        self.check("a\tb\n1.5\tx\n\n-0\ty\n", {"a": "numeric", "b": "category"})

    def test_a_header_without_rows(self):
        self.assertEqual(len(self.check("a,b\n", {"a": "numeric", "b": "category"})), 0)

    def test_only_some_columns_typed_in_their_order(self):
        fast = self.check("a,b,c\n1,x,2\n3,y,4\n", {"c": "numeric", "a": "numeric"})
        self.assertEqual(list(fast.columns), ["c", "a"])

    def test_what_it_cannot_be_sure_of_goes_to_the_reference_path(self):
        types = {"a": "numeric", "b": "category"}
        for why, text in [
            ("double quotes", 'a,b\n1,"x"\n'),
            ("a lone CR line end", "a,b\r1,x\r2,y\r"),
            ("a ragged row", "a,b\n1,x\n2\n"),
            ("a row too long", "a,b\n1,x,3\n"),
            ("a whitespace-only line", "a,b\n1,x\n  \n"),
            ("a blank first line", "\na,b\n1,x\n"),
            ("a duplicate column", "a,b,a\n1,x,2\n"),
            ("an empty column name", "a,b,\n1,x,2\n"),
            ("a typed column the header lacks", "a,c\n1,x\n"),
        ]:
            with self.subTest(why=why):
                self.assertIsNone(quote_free_frame(text, types))
                if why != "a typed column the header lacks":
                    self.assertIsNone(quote_free_columns(text))
        self.assertIsNone(quote_free_frame("a\n1\n2\n", {"a": "numeric"}), "one column: blank lines are rows there")

    def test_read_typed_frame_gives_the_reference_frame_and_the_reference_errors(self):
        text = "\ufeffa,b\n1,x\n-0,NA\n2.5,y\n"
        path = self.write("t.csv", text)
        types = {"a": "numeric", "b": "category"}
        self.assert_same_frame(read_typed_frame(path, types), reference_frame(read_csv_text(path), types))
        ragged = self.write("r.csv", "a,b\n1,x\n2\n")
        with self.assertRaises(Exception) as caught:
            read_typed_frame(ragged, types)
        self.assertEqual(getattr(caught.exception, "code", None), "ragged_rows")


if __name__ == "__main__":
    unittest.main()
