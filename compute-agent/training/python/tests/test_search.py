import random
import unittest
from unittest import mock

from uplet_training import search
from uplet_training.errors import BadInput
from uplet_training.families import get_family
from uplet_training.search import KeptStudies, propose

SPACE = get_family("xgboost").space("classification")


def history(n):
    """n finished trials (one failed), made by a fixed random round."""
    params = propose(SPACE, [], n, seed=99, strategy="random")
    return [{"params": p, "value": (None if i == 3 else 0.5 + 0.01 * ((i * 7) % 11))} for i, p in enumerate(params)]


class ProposeTest(unittest.TestCase):
    def test_same_inputs_same_proposals(self):
        for strategy in ("optuna", "random"):
            for past in ([], history(4), history(14)):  # 14 > TPE's 10 startup trials: the TPE model itself
                with self.subTest(strategy=strategy, history=len(past)):
                    first = propose(SPACE, past, 4, seed=42, strategy=strategy)
                    second = propose(SPACE, [dict(h) for h in past], 4, seed=42, strategy=strategy)
                    self.assertEqual(first, second)
                    self.assertEqual(len(first), 4)
                    self.assertEqual(len({tuple(sorted(p.items())) for p in first}), 4)

    def test_different_seeds_different_proposals(self):
        for strategy in ("optuna", "random"):
            self.assertNotEqual(propose(SPACE, history(14), 3, seed=1, strategy=strategy),
                                propose(SPACE, history(14), 3, seed=2, strategy=strategy))

    def test_rounds_differ_as_history_grows(self):
        self.assertNotEqual(propose(SPACE, history(4), 2, seed=42), propose(SPACE, history(5), 2, seed=42))

    def test_proposals_stay_inside_the_space(self):
        by_name = {p.name: p for p in SPACE}
        for params in propose(SPACE, history(14), 8, seed=3, strategy="optuna"):
            self.assertEqual(set(params), set(by_name))
            for name, value in params.items():
                self.assertEqual(by_name[name].check(value, name), value)

    def test_history_outside_the_space_is_refused(self):
        with self.assertRaises(BadInput) as caught:
            propose(SPACE, [{"params": {"max_depth": 99}, "value": 1.0}], 1, seed=1)
        self.assertEqual(caught.exception.field, "history[0].params.max_depth")


def study_rounds(space, rounds, seed, strategy, kept, round_size=4, failure_every=7):
    """A row's rounds as a study runs them: each round's proposals come back as its history
    entries (every `failure_every`-th failed), in order. Returns every round's proposals."""
    values = random.Random(seed)
    history, rounds_proposed = [], []
    for _ in range(rounds):
        proposals = propose(space, history, round_size, seed, strategy, kept=kept, row_key=("row", seed, strategy))
        rounds_proposed.append(proposals)
        for params in proposals:
            failed = (len(history) + 1) % failure_every == 0
            history.append({"params": params, "value": None if failed else round(values.random(), 6)})
    return rounds_proposed


class KeptStudiesTest(unittest.TestCase):
    def test_a_kept_study_proposes_what_a_fresh_replay_proposes(self):
        for family in ("decision_tree", "linear", "xgboost"):
            space = get_family(family).space("classification")
            for strategy in ("optuna", "random"):
                for seed in (1, 2):
                    with self.subTest(family=family, strategy=strategy, seed=seed):
                        kept = KeptStudies()
                        with mock.patch.object(search, "_replay", wraps=search._replay) as replay:
                            extended = study_rounds(space, 16, seed, strategy, kept)
                        self.assertEqual(replay.call_count, 1)  # the first round only: every later one extended
                        self.assertEqual(extended, study_rounds(space, 16, seed, strategy, None))

    def test_a_history_that_does_not_line_up_is_replayed_afresh(self):
        history = [{"params": p, "value": 0.5 + i / 100} for i, p in enumerate(propose(SPACE, [], 12, seed=9, strategy="random"))]
        first = propose(SPACE, history, 4, 42)
        done = [{"params": p, "value": 0.6} for p in first]
        cases = {
            "an earlier entry changed": ([dict(history[0], value=0.1)] + history[1:] + done, 1),
            "a shorter history (a retried trial of an earlier round)": (history[:8], 1),
            "a NaN result": (history + done[:3] + [dict(done[3], value=float("nan"))], 1),
            # Extended, not replayed: whatever finished since, asked here or elsewhere, in the history's order.
            "results for params this process did not ask": (history + [{"params": history[0]["params"], "value": 0.6}] + done[1:], 0),
            "fewer results than a round": (history + done[:2], 0),
        }
        for case, (new_history, replays) in cases.items():
            with self.subTest(case=case):
                kept_now = KeptStudies()
                propose(SPACE, history, 4, 42, kept=kept_now, row_key="r", indices=[1])
                with mock.patch.object(search, "_replay", wraps=search._replay) as replay:
                    try:
                        got = propose(SPACE, new_history, 4, 42, kept=kept_now, row_key="r")
                    except ValueError:
                        got = "refused"
                self.assertEqual(replay.call_count, replays)
                try:
                    expected = propose(SPACE, new_history, 4, 42)
                except ValueError:
                    expected = "refused"
                self.assertEqual(got, expected)

    def test_a_trials_params_do_not_depend_on_which_other_trials_of_its_round_a_process_asked(self):
        # Two agents' workers serve a row's rounds, each a different part of every round, in any order.
        for strategy in ("optuna", "random"):
            with self.subTest(strategy=strategy):
                workers = [KeptStudies(), KeptStudies()]
                parts = [([2, 0], [1, 3]), ([0, 1, 2, 3], []), ([3], [0, 2, 1])]
                history = []
                for round_number in range(12):  # past TPE's 10 startup trials
                    served = {}
                    for worker, indices in zip(workers, parts[round_number % len(parts)]):
                        for index in indices:  # one ask per trial, as the trial tasks ask
                            served[index] = propose(SPACE, history, 4, 7, strategy, kept=worker, row_key="r", indices=[index])[0]
                    whole = propose(SPACE, history, 4, 7, strategy)  # a fresh replay, the whole round in one process
                    self.assertEqual([served[i] for i in range(4)], whole)
                    self.assertEqual(len({tuple(sorted(p.items())) for p in whole}), 4)
                    for params in whole:
                        n = len(history)
                        history.append({"params": params, "value": None if n % 9 == 4 else 0.3 + (n * 37 % 50) / 100})

    def test_results_beyond_the_asked_round_are_added_in_order(self):
        # A worker that missed a round (another agent ran all its trials) sees two rounds of results at once.
        kept = KeptStudies()
        history = []
        for _ in range(4):
            for params in propose(SPACE, history, 4, 3):
                history.append({"params": params, "value": 0.5 + len(history) / 100})
        propose(SPACE, history, 4, 3, kept=kept, row_key="r")
        for _ in range(2):
            for params in propose(SPACE, history, 4, 3):
                history.append({"params": params, "value": 0.5 + len(history) / 100})
        with mock.patch.object(search, "_replay", wraps=search._replay) as replay:
            extended = propose(SPACE, history, 4, 3, kept=kept, row_key="r")
        self.assertEqual(replay.call_count, 0)
        self.assertEqual(extended, propose(SPACE, history, 4, 3))

    def test_a_bad_new_entry_is_refused_as_a_fresh_replay_refuses_it(self):
        kept = KeptStudies()
        proposals = propose(SPACE, [], 2, 4, kept=kept, row_key="r")
        bad = [{"params": proposals[0], "value": 0.5}, {"params": dict(proposals[1], max_depth=99), "value": 0.5}]
        with self.assertRaises(BadInput) as caught:
            propose(SPACE, bad, 2, 4, kept=kept, row_key="r")
        self.assertEqual(caught.exception.field, "history[1].params.max_depth")
        self.assertEqual(kept.rows, {})  # not kept: the next round replays

    def test_the_kept_studies_are_bounded(self):
        kept = KeptStudies()
        for row in range(KeptStudies.STUDIES_KEPT + 2):
            propose(SPACE, [], 1, row, strategy="random", kept=kept, row_key=row)
        self.assertEqual(list(kept.rows), list(range(2, KeptStudies.STUDIES_KEPT + 2)))
