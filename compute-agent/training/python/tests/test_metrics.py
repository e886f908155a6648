import unittest

import numpy as np
from sklearn import metrics as skm

from uplet_training import metrics as M
from uplet_training.errors import BadInput


class MetricsTest(unittest.TestCase):
    def setUp(self):
        rng = np.random.RandomState(0)
        self.y3 = rng.randint(3, size=60)
        raw = rng.rand(60, 3) + np.eye(3)[self.y3]
        self.p3 = raw / raw.sum(axis=1, keepdims=True)
        self.y2 = rng.randint(2, size=50)
        p = np.clip(0.3 * self.y2 + 0.7 * rng.rand(50), 0.01, 0.99)
        self.p2 = np.column_stack([1 - p, p])

    def test_classification_values_match_sklearn(self):
        labels = self.p3.argmax(axis=1)
        self.assertAlmostEqual(M.score("accuracy", self.y3, self.p3), skm.accuracy_score(self.y3, labels))
        self.assertAlmostEqual(M.score("class_error", self.y3, self.p3), 1 - skm.accuracy_score(self.y3, labels))
        self.assertAlmostEqual(M.score("f1", self.y3, self.p3), skm.f1_score(self.y3, labels, average="macro"))
        self.assertAlmostEqual(M.score("auc", self.y3, self.p3), skm.roc_auc_score(self.y3, self.p3, multi_class="ovr"))
        self.assertAlmostEqual(M.score("roc_auc", self.y2, self.p2), skm.roc_auc_score(self.y2, self.p2[:, 1]))
        self.assertAlmostEqual(M.score("log_loss", self.y3, self.p3), skm.log_loss(self.y3, self.p3))
        self.assertAlmostEqual(M.score("neg_log_loss", self.y3, self.p3), -skm.log_loss(self.y3, self.p3))

    def test_regression_values(self):
        y, p = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])
        self.assertAlmostEqual(M.score("rmse", y, p), np.sqrt((0.25 + 1.0) / 3))
        self.assertAlmostEqual(M.score("mae", y, p), 0.5)
        self.assertAlmostEqual(M.score("neg_mae", y, p), -0.5)
        self.assertAlmostEqual(M.score("r2", y, p), skm.r2_score(y, p))

    def test_directions(self):
        for name in ("accuracy", "balanced_accuracy", "f1", "precision", "recall", "auc", "roc_auc", "r2",
                     "neg_log_loss", "neg_class_error", "neg_rmse", "neg_mae"):
            self.assertTrue(M.higher_is_better(name), name)
        for name in ("log_loss", "class_error", "rmse", "mae", "neg_accuracy", "neg_auc", "neg_r2"):
            self.assertFalse(M.higher_is_better(name), name)

    def test_task_kinds_and_unknown_names(self):
        self.assertEqual(M.check_metrics(["auc", "neg_class_error"], "classification"), ["auc", "neg_class_error"])
        self.assertEqual(M.check_metrics(None, "regression"), ["rmse"])
        for names, kind, field in ((["rmse"], "classification", "metrics[0]"), (["accuracy", "mse"], "classification", "metrics[1]"),
                                   (["auc"], "regression", "metrics[0]")):
            with self.assertRaises(BadInput) as caught:
                M.check_metrics(names, kind)
            self.assertEqual((caught.exception.code, caught.exception.field), ("unknown_metric", field))
        self.assertIn("neg_rmse", M.known_metrics("regression"))
        self.assertNotIn("auc", M.known_metrics("regression"))
