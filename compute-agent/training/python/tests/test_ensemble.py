import unittest

import numpy as np

from uplet_training import metrics as M
from uplet_training.ensemble import caruana


class CaruanaTest(unittest.TestCase):
    def test_never_below_the_best_single_model(self):
        for seed in range(15):
            rng = np.random.RandomState(seed)
            y = rng.randint(3, size=80)
            candidates = []
            for quality in rng.uniform(0.1, 2.0, size=5):
                raw = rng.rand(80, 3) + quality * np.eye(3)[y]
                candidates.append(raw / raw.sum(axis=1, keepdims=True))
            for metric in ("accuracy", "log_loss", "auc"):
                weights, score, best_single = caruana(candidates, y, metric)
                singles = [M.score(metric, y, c) for c in candidates]
                best = max(singles) if M.higher_is_better(metric) else min(singles)
                self.assertEqual(best_single, best)
                if M.higher_is_better(metric):
                    self.assertGreaterEqual(score, best - 1e-12)
                else:
                    self.assertLessEqual(score, best + 1e-12)
                self.assertAlmostEqual(sum(weights), 1.0)
                blended = sum(w * c for w, c in zip(weights, candidates))
                self.assertAlmostEqual(M.score(metric, y, blended), score, places=12)

    def test_regression_and_unvalidated_rows(self):
        rng = np.random.RandomState(0)
        y = rng.normal(size=50)
        a = y + rng.normal(scale=0.5, size=50)
        b = y + rng.normal(scale=0.5, size=50)
        a[:5] = np.nan  # never validated (holdout)
        weights, score, best_single = caruana([a, b], y, "rmse", steps=25)
        self.assertLess(score, best_single)  # two independent errors average down
        self.assertTrue(all(w > 0 for w in weights))
