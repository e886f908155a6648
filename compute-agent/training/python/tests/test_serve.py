import io
import json
import os
import subprocess
import sys
from unittest import mock

import numpy as np

from uplet_training import dataset, search
from uplet_training import serve as S
from uplet_training import trial as T

from tests.helpers import TempDirTest, load_oof, task_spec

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def without_durations(result):
    """A trial's result minus its timings (the only part that differs between two runs)."""
    result = dict(result)
    for key in ("fit_seconds", "predict_seconds"):
        result.pop(key)
    result["folds"] = [{k: v for k, v in f.items() if not k.endswith("_seconds")} for f in result["folds"]]
    return result


class ServeTest(TempDirTest):
    def serve_lines(self, requests):
        """(exit code, answers) of `serve` fed these requests, in-process."""
        work = self.path("work")
        os.makedirs(work, exist_ok=True)
        answers = io.StringIO()
        try:
            with mock.patch("sys.stderr", io.StringIO()):
                code = S.serve(work, io.StringIO("".join(json.dumps(r) + "\n" for r in requests)), answers)
        finally:
            dataset._last_frame = dataset._last_data = None  # the cold runs compared with it read the file afresh
            T._kept_studies = None  # and propose afresh
        return code, [json.loads(line) for line in answers.getvalue().splitlines()]

    def test_trials_served_one_after_another_match_cold_runs(self):
        path, profile, _ = self.sklearn_csv("wine")
        specs = [task_spec(path, profile, "classification", family=family, params=params, evaluation={"kind": "kfold", "n_splits": 3})
                 for family, params in [("random_forest", {"n_estimators": 10}), ("decision_tree", {"max_depth": 3}),
                                        ("random_forest", {"n_estimators": 10})]]
        code, answers = self.serve_lines([{"id": f"t{i}", "spec": s, "out": f"t{i}", "cpu_seconds": 600} for i, s in enumerate(specs)])
        self.assertEqual(code, 0)
        self.assertEqual([a["id"] for a in answers], ["t0", "t1", "t2"])
        self.assertEqual({a["status"] for a in answers}, {"done"}, answers)
        self.assertTrue(all(a["cpu_used"] > 0 for a in answers))
        for i, spec in enumerate(specs):
            cold_code, cold = self.run_command("trial", spec)
            self.assertEqual(cold_code, 0)
            warm = self.path(os.path.join("work", f"t{i}"))
            self.assertEqual(sorted(os.listdir(warm)), sorted(os.listdir(cold)))
            self.assertEqual(without_durations(self.read_json(warm, "result.json")), without_durations(self.read_json(cold, "result.json")))
            np.testing.assert_array_equal(load_oof(warm), load_oof(cold))
        # The same spec twice in one worker: the same result (no state carried between trials).
        first, third = (without_durations(self.read_json(self.path(f"work/t{i}"), "result.json")) for i in (0, 2))
        self.assertEqual(first, third)

    def test_each_trial_asks_for_its_own_params_on_the_rows_kept_study_and_gets_a_fresh_processs(self):
        path, profile, _ = self.sklearn_csv("iris")
        history = [{"params": {"max_depth": 3, "min_samples_leaf": 2}, "value": 0.9}]
        ask = {"strategy": "optuna", "history": history, "round_size": 3, "seed": 5, "metric": "accuracy"}
        next_round = dict(ask, history=history + [{"params": {"max_depth": 5, "min_samples_leaf": 1}, "value": 0.8}])
        asks = [dict(ask, index=0), dict(ask, index=1), dict(ask, index=2), dict(next_round, index=0), dict(next_round, index=1)]
        specs = [task_spec(path, profile, "classification", family="decision_tree", ask=a, evaluation={"kind": "holdout", "train_fraction": 0.8})
                 for a in asks]
        with mock.patch.object(search, "_ask", wraps=search._ask) as ask, mock.patch.object(search, "_replay", wraps=search._replay) as replay:
            code, answers = self.serve_lines([{"id": str(i), "spec": s, "out": str(i)} for i, s in enumerate(specs)])
            self.assertEqual(ask.call_count, len(specs))  # one proposal per trial, not its whole round
            self.assertEqual(replay.call_count, 1)  # the second round extends the first's study
        self.assertEqual(code, 0)
        self.assertEqual({a["status"] for a in answers}, {"done"}, answers)
        served = [self.read_json(self.path(f"work/{i}"), "result.json")["params"] for i in range(len(specs))]
        self.assertEqual(len({json.dumps(p, sort_keys=True) for p in served[:3]}), 3)
        for i, spec in enumerate(specs):
            cold_code, cold = self.run_command("trial", spec)  # a fresh propose, as a cold process does
            self.assertEqual(cold_code, 0)
            self.assertEqual(served[i], self.read_json(cold, "result.json")["params"])
        # Against a fresh Python process too (no state of this one: Optuna's, numpy's).
        spec_file = self.write("fresh.json", json.dumps(specs[4]))
        run = subprocess.run([sys.executable, "-B", "-m", "uplet_training", "trial", "--spec", spec_file, "--out", self.path("fresh")],
                             cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(served[4], self.read_json(self.path("fresh"), "result.json")["params"])

    def test_two_rows_trials_interleaved_on_one_worker_each_extend_their_rows_study(self):
        path, profile, _ = self.sklearn_csv("iris")
        # Two rows of one family (two metric weightings of a multi-metric study: here they differ by
        # their seeds), their trials arriving interleaved, as the rounds of a job's rows reach one worker.
        rows = [{"strategy": "optuna", "history": [], "round_size": 2, "seed": seed, "metric": metric}
                for seed, metric in ((5, "accuracy"), (6, "accuracy"))]
        order = [(0, 0), (1, 0), (0, 1), (1, 1)]
        specs = [task_spec(path, profile, "classification", family="decision_tree", ask=dict(rows[r], index=i),
                           evaluation={"kind": "holdout", "train_fraction": 0.8}) for r, i in order]
        with mock.patch.object(search, "_ask", wraps=search._ask) as ask, mock.patch.object(search, "_replay", wraps=search._replay) as replay:
            code, answers = self.serve_lines([{"id": str(i), "spec": s, "out": str(i)} for i, s in enumerate(specs)])
            self.assertEqual(ask.call_count, len(specs))
            self.assertEqual(replay.call_count, 2)  # one per row, though the rows alternate
        self.assertEqual(code, 0)
        self.assertEqual({a["status"] for a in answers}, {"done"}, answers)
        for i, spec in enumerate(specs):
            cold_code, cold = self.run_command("trial", spec)
            self.assertEqual(cold_code, 0)
            warm = self.path(os.path.join("work", str(i)))
            self.assertEqual(without_durations(self.read_json(warm, "result.json")), without_durations(self.read_json(cold, "result.json")))
            np.testing.assert_array_equal(load_oof(warm), load_oof(cold))

    def test_a_final_served_after_the_jobs_trials_matches_a_cold_final(self):
        path, profile, _ = self.sklearn_csv("breast_cancer")
        trial = task_spec(path, profile, "classification", family="decision_tree", params={"max_depth": 3},
                          evaluation={"kind": "kfold", "n_splits": 3})
        code, answers = self.serve_lines([{"id": "t", "spec": trial, "out": "t"}])
        self.assertEqual(answers[0]["status"], "done")
        member = {"model": self.path("work/t/model.pkl"), "oof": self.path("work/t/oof.npy")}
        finals = [task_spec(path, profile, "classification", family="decision_tree", params={"max_depth": 3}),
                  task_spec(path, profile, "classification", ensemble={"members": [member, member], "steps": 5})]
        code, answers = self.serve_lines([{"id": "t2", "spec": trial, "out": "t2"}] +
                                         [{"id": f"f{i}", "command": "final", "spec": f, "out": f"f{i}"} for i, f in enumerate(finals)])
        self.assertEqual(code, 0)
        self.assertEqual([a["status"] for a in answers], ["done"] * 3, answers)
        for i, spec in enumerate(finals):
            cold_code, cold = self.run_command("final", spec)
            self.assertEqual(cold_code, 0)
            warm = self.path(f"work/f{i}")
            self.assertEqual(sorted(os.listdir(warm)), sorted(os.listdir(cold)))
            self.assertEqual(self.read_json(warm, "report.json"), self.read_json(cold, "report.json"))

    def test_an_unknown_command_is_bad_input(self):
        path, profile, _ = self.sklearn_csv("iris")
        spec = task_spec(path, profile, "classification", family="decision_tree")
        code, answers = self.serve_lines([{"id": "a", "command": "predict", "spec": spec, "out": "a"},
                                          {"id": "b", "command": ["trial"], "spec": spec, "out": "b"}])
        self.assertEqual(code, 0)
        self.assertEqual([(a["status"], a["error"]["field"]) for a in answers], [("bad_input", "command")] * 2)

    def test_bad_input_is_answered_and_the_worker_goes_on(self):
        path, profile, _ = self.sklearn_csv("iris")
        good = task_spec(path, profile, "classification", family="decision_tree", evaluation={"kind": "holdout", "train_fraction": 0.8})
        code, answers = self.serve_lines([
            {"id": "a", "spec": dict(good, label_column="nope"), "out": "a"},
            {"id": "b", "spec": good, "out": "../escape"},
            {"id": "c", "spec": "not an object", "out": "c"},
            ["not", "an", "object"],
            {"id": "e", "spec": good, "out": "e"},
        ])
        self.assertEqual(code, 0)
        self.assertEqual([a["status"] for a in answers], ["bad_input"] * 4 + ["done"])
        self.assertEqual(answers[0]["error"]["field"], "label_column")
        self.assertEqual(self.read_json(self.path("work/a"), "error.json")["error"]["field"], "label_column")
        self.assertEqual(answers[1]["error"]["field"], "out")
        self.assertFalse(os.path.exists(self.path("escape")))
        self.assertEqual(answers[2]["error"]["field"], "spec")
        self.assertEqual(answers[3]["error"]["field"], "request")
        self.assertTrue(os.path.exists(self.path("work/e/result.json")))

    def test_a_crash_is_answered_then_the_worker_ends(self):
        path, profile, _ = self.sklearn_csv("iris")
        spec = task_spec(path, profile, "classification", family="decision_tree")
        with mock.patch.object(S, "run_trial", side_effect=RuntimeError("boom")):
            code, answers = self.serve_lines([{"id": "a", "spec": spec, "out": "a"}, {"id": "b", "spec": spec, "out": "b"}])
        self.assertEqual(code, 1)
        self.assertEqual(answers, [{"id": "a", "status": "crashed", "cpu_used": answers[0]["cpu_used"]}])

    def test_as_a_process_stdout_holds_only_answers_and_cpu_is_allowed_per_trial(self):
        """As the agent runs it: empty environment, a hard CPU limit; library prints never reach stdout."""
        path, profile, _ = self.sklearn_csv("iris")
        spec = task_spec(path, profile, "classification", family="decision_tree")
        work = self.path("work")
        os.makedirs(work)
        script = "\n".join([
            "import os, resource, sys",
            "resource.setrlimit(resource.RLIMIT_CPU, (5, 500))",
            "import uplet_training.serve as S",
            "real = S.run_trial",
            "def noisy(spec, out):",
            "    print('noise from a library'); os.write(1, b'raw noise on fd 1\\n'); real(spec, out)",
            "S.run_trial = noisy",
            "from uplet_training.__main__ import main",
            "sys.exit(main())",
        ])
        requests = "".join(json.dumps({"id": str(i), "spec": spec, "out": str(i), "cpu_seconds": 60}) + "\n" for i in range(2))
        run = subprocess.run([sys.executable, "-B", "-c", script, "serve", "--out", work],
                             cwd=PACKAGE_DIR, env={}, input=requests, capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        answers = [json.loads(line) for line in run.stdout.splitlines()]
        self.assertIn("noise from a library", run.stderr)
        self.assertIn("raw noise on fd 1", run.stderr)
        self.assertEqual([a["status"] for a in answers], ["done", "done"])

    def test_allow_cpu_raises_the_soft_limit_up_to_the_hard_one(self):
        calls = []
        with mock.patch.object(S.resource, "getrlimit", return_value=(5, 100)), \
                mock.patch.object(S.resource, "setrlimit", side_effect=lambda which, limits: calls.append(limits)), \
                mock.patch.object(S, "_cpu_used", return_value=12.5):
            S.allow_cpu(30)
            S.allow_cpu(500)
        self.assertEqual(calls, [(43, 100), (100, 100)])


class LastFrameTest(TempDirTest):
    def tearDown(self):
        dataset._last_frame = dataset._last_data = None

    def test_the_kept_frame_is_reused_only_for_the_same_file_and_types(self):
        path = self.write("d.csv", "a,b\n1,x\n2,y\n")
        types = {"a": "numeric", "b": "category"}
        dataset.keep_last_frame()
        reads = []
        real = dataset._read_typed_frame
        with mock.patch.object(dataset, "_read_typed_frame", side_effect=lambda *a: reads.append(a) or real(*a)):
            first = dataset.read_typed_frame(path, types)
            first.loc[0, "a"] = 99  # a reader's change stays its own
            second = dataset.read_typed_frame(path, types)
            self.assertEqual(len(reads), 1)
            self.assertEqual(list(second["a"]), [1, 2])
            dataset.read_typed_frame(path, {"a": "category", "b": "category"})
            self.assertEqual(len(reads), 2)
            self.write("d.csv", "a,b\n1,x\n2,y\n3,z\n")
            self.assertEqual(len(dataset.read_typed_frame(path, {"a": "category", "b": "category"})), 3)
            self.assertEqual(len(reads), 3)


class LastTaskDataTest(TempDirTest):
    def tearDown(self):
        dataset._last_frame = dataset._last_data = None

    def test_the_task_data_is_built_once_for_the_same_file_and_data_fields(self):
        path, profile, _ = self.sklearn_csv("iris")
        spec = task_spec(path, profile, "classification")
        dataset.keep_last_frame()
        builds = []
        real = dataset._build_task_data
        with mock.patch.object(dataset, "_build_task_data", side_effect=lambda *a: builds.append(a) or real(*a)):
            first = dataset.load_task_data(spec)
            self.assertIs(dataset.load_task_data(dict(spec, seed=99, family="linear")), first)  # not data fields
            self.assertEqual(len(builds), 1)
            portion = T.training_portion(first, 42)
            self.assertIs(T.training_portion(dataset.load_task_data(spec), 42), portion)
            for other in (dict(spec, ignore_fields=["petal width (cm)"]), dict(spec, filters=[{"col": "target", "op": "!=", "value": 2}])):
                self.assertIsNot(dataset.load_task_data(other), first)
            self.assertEqual(len(builds), 3)
            os.utime(path, ns=(1, 1))  # the file changed (its mtime)
            self.assertEqual(dataset.load_task_data(spec).n_rows, first.n_rows)
            self.assertEqual(len(builds), 4)
        dataset._last_frame = dataset._last_data = None
        cold = dataset.load_task_data(spec)  # outside a warm worker: built each time
        self.assertIsNot(dataset.load_task_data(spec), cold)
