import os
import zlib

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from uplet_training.outputs import write_model

from tests.helpers import TempDirTest


class WriteModelTest(TempDirTest):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(7)
        self.X = rng.normal(size=(300, 6))
        self.y = (self.X[:, 0] + self.X[:, 1] > 0).astype(int)

    def test_joblib_load_reads_it_and_predicts_the_same(self):
        model = RandomForestClassifier(n_estimators=20, random_state=0).fit(self.X, self.y)
        write_model(self.dir, "model.pkl", model)
        loaded = joblib.load(self.path("model.pkl"))
        self.assertIsInstance(loaded, RandomForestClassifier)
        np.testing.assert_array_equal(loaded.predict_proba(self.X), model.predict_proba(self.X))

    def test_the_file_is_one_complete_zlib_stream(self):
        model = DecisionTreeClassifier(random_state=0).fit(self.X, self.y)
        write_model(self.dir, "model.pkl", model)
        with open(self.path("model.pkl"), "rb") as handle:
            data = handle.read()
        inflate = zlib.decompressobj()
        pickled = inflate.decompress(data)
        self.assertTrue(inflate.eof, "the stream must be finished, or a reader meets a truncated model")
        self.assertEqual(inflate.unused_data, b"")
        self.assertLess(len(data), len(pickled), "compressed")

    def test_a_model_of_many_pickle_frames_round_trips(self):
        # Larger than pickle's 64 KiB frames: written through several writes.
        model = RandomForestClassifier(n_estimators=200, random_state=0).fit(self.X, self.y)
        write_model(self.dir, "model.pkl", model)
        self.assertGreater(os.path.getsize(self.path("model.pkl")), 0)
        loaded = joblib.load(self.path("model.pkl"))
        np.testing.assert_array_equal(loaded.predict(self.X), model.predict(self.X))

    def test_a_model_holding_a_large_array_round_trips(self):
        # Protocol 5 writes an array this large as a PickleBuffer, not bytes (a deep tree on 40,000 rows has such arrays).
        model = DecisionTreeClassifier(random_state=0).fit(np.repeat(self.X, 40, axis=0), np.repeat(self.y, 40))
        big = {"model": model, "weights": np.arange(500_000, dtype=np.float64)}
        write_model(self.dir, "model.pkl", big)
        loaded = joblib.load(self.path("model.pkl"))
        np.testing.assert_array_equal(loaded["weights"], big["weights"])
        np.testing.assert_array_equal(loaded["model"].predict(self.X), model.predict(self.X))
