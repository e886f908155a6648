"""Shared test helpers: bundled scikit-learn datasets as temporary CSVs, running commands in-process."""

import contextlib
import io
import json
import os
import shutil
import tempfile
import unittest

import numpy as np
from sklearn import datasets

from uplet_training.__main__ import main
from uplet_training.csv_table import read_csv_table
from uplet_training.profile import profile_table


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="uplet-test-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, content, mode="w"):
        path = self.path(name)
        with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as handle:
            handle.write(content)
        return path

    def run_command(self, command, spec, out_name=None):
        """(exit code, out dir) of the command run in-process with `spec` written to a file."""
        out_name = out_name or f"out-{command}-{len(os.listdir(self.dir))}"
        spec_path = self.write(out_name + ".spec.json", json.dumps(spec))
        out = self.path(out_name)
        with contextlib.redirect_stderr(io.StringIO()):
            code = main([command, "--spec", spec_path, "--out", out])
        return code, out

    def read_json(self, out, name):
        with open(os.path.join(out, name), encoding="utf-8") as handle:
            return json.load(handle)

    def sklearn_csv(self, name, string_target=False):
        """(csv path, profile, frame) of a bundled dataset; the label column is `target`."""
        loader = {"breast_cancer": datasets.load_breast_cancer, "iris": datasets.load_iris,
                  "diabetes": datasets.load_diabetes, "wine": datasets.load_wine}[name]
        frame = loader(as_frame=True).frame
        if string_target:
            frame["target"] = frame["target"].map(lambda v: f"class_{v}")
        path = self.path(f"{name}.csv")
        frame.to_csv(path, index=False)
        return path, profile_table(read_csv_table(path)), frame


def task_spec(path, profile, task_kind, **extra):
    spec = {"dataset": path, "profile": profile, "label_column": "target", "task_kind": task_kind,
            "random_state": 42, "seed": 7}
    spec.update(extra)
    return spec


def load_oof(out):
    return np.load(os.path.join(out, "oof.npy"))
