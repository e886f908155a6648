"""Batched model calls of the permutation importance: the same numbers as one call per copy."""

import unittest

import numpy as np
import pandas as pd

from uplet_training import importance as I


class BatchedPredictionTest(unittest.TestCase):
    def setUp(self):
        rng = np.random.RandomState(0)
        self.X = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50), "c": rng.normal(size=50)})
        self.y = (2 * self.X["a"] - self.X["b"]).to_numpy()
        self.calls = []

    def predict(self, frame):
        self.calls.append(len(frame))
        return (2 * frame["a"] - frame["b"]).to_numpy()

    def one_at_a_time(self, repeats, seed):
        """The importance as computed before batching: one model call per permuted copy."""
        rng = np.random.RandomState(I.derive_seed(seed, "importance"))
        baseline = I.M.score("rmse", self.y, self.predict(self.X))
        detail = {}
        for field in self.X.columns:
            drops = []
            for _ in range(repeats):
                shuffled = self.X.copy()
                shuffled[field] = self.X[field].to_numpy()[rng.permutation(len(self.X))]
                drops.append(-(baseline - I.M.score("rmse", self.y, self.predict(shuffled))))
            detail[field] = {"mean": float(np.mean(drops)), "std": float(np.std(drops))}
        return detail

    def test_same_importance_with_far_fewer_model_calls(self):
        expected = self.one_at_a_time(4, 7)
        self.calls.clear()
        self.assertEqual(I.permutation_importance(self.predict, self.X, self.y, "rmse", 4, 7), expected)
        self.assertEqual(self.calls, [50, 600])  # the baseline, then the 12 copies in one call
        self.assertGreater(expected["a"]["mean"], expected["b"]["mean"])
        self.assertEqual(expected["c"]["mean"], 0.0)

    def test_blocks_are_chunked_at_the_row_budget_and_kept_in_order(self):
        frames = [self.X.iloc[:n] for n in (10, 20, 30, 5)]
        outputs = I.predict_blocks(self.predict, frames, batch_rows=30)
        self.assertEqual(self.calls, [30, 30, 5])  # 10+20, 30, 5; a frame is never split
        for frame, out in zip(frames, outputs):
            np.testing.assert_array_equal(out, (2 * frame["a"] - frame["b"]).to_numpy())


if __name__ == "__main__":
    unittest.main()
