import unittest

from uplet_training.errors import BadInput
from uplet_training.families import get_family
from uplet_training.search import propose

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
