import unittest

import numpy as np
import pandas as pd

from uplet_training import column_types as ct


class NumericCoercionTest(unittest.TestCase):
    """The vectorised numeric pass gives what the per-value rules give (stripped, missing tokens NaN, junk NaN)."""

    def test_numbers_as_the_per_value_rules_read_them(self):
        strings = [" 1.5", "2 ", "NA", "abc", "", "  ", "1e3", " nan ", "None", "null", "-0", "1_000", "inf", " -Infinity", "0x10", "3", "N/A"]
        per_value = [np.nan if ct.is_missing(s) else _number_or_nan(s.strip()) for s in strings]
        typed = ct.coerce_column(strings, ct.NUMERIC)
        self.assertEqual(typed.dtype, np.float64)
        np.testing.assert_array_equal(typed.to_numpy(), np.array(per_value, dtype=np.float64))

    def test_a_column_of_plain_numbers(self):
        typed = ct.coerce_column(["0.25", "-3", "7e-2"], ct.NUMERIC)
        np.testing.assert_array_equal(typed.to_numpy(), [0.25, -3.0, 0.07])


def _number_or_nan(text):
    """What pandas' numeric parser makes of one stripped value (NaN when it is not a number)."""
    return float(pd.to_numeric(pd.Series([text], dtype=object), errors="coerce").astype("float64")[0])


if __name__ == "__main__":
    unittest.main()
