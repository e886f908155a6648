"""The trainer-run benchmark's baseline: the same study run by Optuna + scikit-learn in one process.

What a data scientist would write, made reproducible the way the trainer run is: for each matrix
row (family x metric weighting), rounds of `round_size` proposals from Optuna's TPE (the
project's own `search.propose`, with one study kept per row and given each round's results, as a
warm trial worker keeps it; each proposal's sampler seeded from the row seed, the history length
and the trial's index in its round), each
proposal scored by k-fold on the training portion (the project's own `trial.evaluate`, the
trial's seed), then the best trial refit and scored on the set-aside test split
(`final.run_final`). No storage, no processes, no network: the floor the orchestrated run is
compared with.

Usage: python3 -B optuna_baseline.py spec.json out.json   (PYTHONPATH holds uplet_training)
spec: the trial data fields (dataset, profile, label_column, task_kind, filters, ignore_fields,
random_state, metrics, class_weight), evaluation, strategy, round_size and
rows: [{row, family, weights, seed, nTrials}] (the orchestrator's planStudy).
"""

import json
import sys
import tempfile
import time


def oriented(name, value):
    from uplet_training.metrics import higher_is_better
    return value if higher_is_better(name) else -value


def objective(metrics, weights, means):
    """The orchestrator's scalarObjective: sum of weight x oriented metric; None when one is missing."""
    total = 0.0
    for name, weight in zip(metrics, weights):
        if weight == 0:
            continue
        value = means.get(name)
        if value is None or value != value or value in (float("inf"), float("-inf")):
            return None
        total += weight * oriented(name, value)
    return total


def run(spec):
    from uplet_training.dataset import load_task_data
    from uplet_training.evaluation import parse_plan
    from uplet_training.families import get_family, resolve_family_params
    from uplet_training.final import run_final
    from uplet_training.search import KeptStudies, propose
    from uplet_training.seeds import derive_seed
    from uplet_training.trial import common_settings, evaluate, training_portion

    started = time.perf_counter()
    data = load_task_data(spec)
    settings = common_settings(spec, data.task_kind)
    plan = parse_plan(spec.get("evaluation"))
    X, y, _, _ = training_portion(data, settings["random_state"])
    metrics = settings["metrics"]
    random_state = settings["random_state"]
    round_size = spec["round_size"]
    trials, best, propose_seconds, last_propose_seconds, rounds = [], None, 0.0, 0.0, 0
    kept = KeptStudies()
    for row in spec["rows"]:
        family = get_family(row["family"])
        space = family.space(data.task_kind)
        row_trials = []
        for first in range(0, row["nTrials"], round_size):
            # One proposal per trial of the round (a short last round has fewer), as the trial tasks ask.
            history = [{"params": t["params"], "value": t["objective"]} for t in row_trials]
            asked = time.perf_counter()
            proposals = propose(space, history, round_size, row["seed"], spec.get("strategy", "optuna"), "maximize",
                                kept=kept, row_key=row["row"], indices=range(min(round_size, row["nTrials"] - first)))
            last_propose_seconds = time.perf_counter() - asked
            propose_seconds += last_propose_seconds
            rounds += 1
            for index in range(first, min(first + round_size, row["nTrials"])):
                params = resolve_family_params(family, data.task_kind, proposals[index - first], "ask")
                trial_settings = dict(settings, seed=derive_seed(random_state, "trial", row["row"], index))
                try:
                    _, summary, _, _ = evaluate(data, X, y, family, params, trial_settings, plan)
                    means = {name: summary[name]["mean"] for name in metrics}
                    value = objective(metrics, row["weights"], means)
                except Exception as err:  # a failed trial counts as failed, as in the engine
                    means, value = None, None
                    print(f"trial {row['row']}-{index} failed: {err}", file=sys.stderr)
                row_trials.append({"row": row["row"], "index": index, "family": family.id, "params": params,
                                   "metrics": means, "objective": value})
                # Ties go to the lowest row, then index, as the engine's startFinal.
                if value is not None and (best is None or value > best["objective"]):
                    best = row_trials[-1]
        trials.extend(row_trials)
    searched = time.perf_counter()
    report = None
    if best is not None:
        with tempfile.TemporaryDirectory() as out:
            run_final(dict(spec, family=best["family"], params=best["params"],
                           seed=derive_seed(random_state, "trial", best["row"], best["index"])), out)
            with open(f"{out}/report.json", encoding="utf-8") as handle:
                report = json.load(handle)
    ended = time.perf_counter()
    return {
        "trials": trials,
        "best": best,
        "test_metrics": report["metrics"] if report else None,
        "search_seconds": searched - started,
        # What a round's proposals cost in one process (the trial tasks split them: one each).
        "propose_seconds_per_round": propose_seconds / max(1, rounds),
        "propose_seconds_last_round": last_propose_seconds,
        "final_seconds": ended - searched,
        "wall_seconds": ended - started,
    }


def main(argv):
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    result = run(spec)
    with open(argv[2], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
