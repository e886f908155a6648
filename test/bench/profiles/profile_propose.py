"""Profile of propose: one row's rounds replayed afresh each round against a kept study given each
round's results (search.KeptStudies), with the same proposals checked round by round.

PYTHONPATH=compute-agent/training/python /usr/bin/python3 -B test/bench/profiles/profile_propose.py [rounds]
"""

import random
import sys
import time

from uplet_training.families import get_family
from uplet_training.search import KeptStudies, propose

ROUND_SIZE = 4


def row_seconds(space, rounds, strategy, kept):
    """Seconds spent proposing `rounds` rounds of one row, and every round's proposals."""
    values = random.Random(7)
    history, proposed, spent = [], [], 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        proposals = propose(space, history, ROUND_SIZE, 11, strategy, kept=kept, row_key="row")
        spent += time.perf_counter() - started
        proposed.append(proposals)
        history.extend({"params": p, "value": values.random()} for p in proposals)
    return spent, proposed


def main(rounds):
    print(f"one row of {rounds} rounds of {ROUND_SIZE} ({rounds * ROUND_SIZE} trials): seconds proposing")
    for family in ("decision_tree", "linear", "xgboost"):
        space = get_family(family).space("classification")
        for strategy in ("optuna", "random"):
            fresh, fresh_rounds = row_seconds(space, rounds, strategy, None)
            kept, kept_rounds = row_seconds(space, rounds, strategy, KeptStudies())
            same = "same proposals" if fresh_rounds == kept_rounds else "DIFFERENT PROPOSALS"
            print(f"  {family:14} {strategy:7} replayed {fresh:6.2f}  kept {kept:6.2f}  ({kept / fresh:.2f}x, {same})")
            if fresh_rounds != kept_rounds:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 125))
