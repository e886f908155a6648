import json
import os
import shutil
import subprocess
import sys

from tests.helpers import TempDirTest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "uplet_training")


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


class CliTest(TempDirTest):
    def test_unknown_command_and_missing_spec(self):
        code, out = self.run_command("train", {})
        self.assertEqual(code, 2)
        self.assertEqual(self.read_json(out, "error.json")["error"]["code"], "unknown_command")
        bad = self.write("bad.json", "{not json")
        from uplet_training.__main__ import main
        import contextlib, io
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(main(["profile", "--spec", bad, "--out", self.path("o")]), 2)
        self.assertEqual(self.read_json(self.path("o"), "error.json")["error"]["code"], "spec_not_json")

    def test_cleared_environment_writes_only_to_outdir(self):
        """As in the sandbox: no HOME, no PATH, read-only code; nothing is written beside outdir."""
        code_dir = self.path("code")
        shutil.copytree(PACKAGE, os.path.join(code_dir, "uplet_training"), ignore=shutil.ignore_patterns("__pycache__"))
        csv = self.write("data.csv", "a,b,y\n" + "".join(f"{i},{'xy'[i % 2]},{i % 3 == 0}\n" for i in range(40)))
        spec = self.write("spec.json", json.dumps({"dataset": csv}))
        before = tree(code_dir)
        out = self.path("out")
        run = subprocess.run([sys.executable, "-B", "-m", "uplet_training", "profile", "--spec", spec, "--out", out],
                             cwd=code_dir, env={}, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(tree(code_dir), before)
        self.assertEqual(tree(out), ["profile.json"])
        spaces = subprocess.run([sys.executable, "-B", "-m", "uplet_training", "spaces", "--spec", spec, "--out", out],
                                cwd=code_dir, env={}, capture_output=True, text=True, timeout=60)
        self.assertEqual(spaces.returncode, 0, spaces.stderr)
        self.assertIn("xgboost", self.read_json(out, "spaces.json"))
