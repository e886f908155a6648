"""The trial task: one family with one parameter set, evaluated by k-fold or holdout.

With teacher_targets (distill.py) the folds are fitted on soft targets; every metric is still
computed on the true labels. Works only on the training portion (the rows left once the job's test split is set aside).
Writes result.json (per-fold and mean/std metrics, durations, params), oof.npy (out-of-fold
class probabilities n_train x k, or predictions n_train; NaN rows were never validated, as in a
holdout) aligned to the training portion's row positions, and model.pkl: a ModelBundle of the
fold models (equal weights), so an ensemble can reuse them without refitting.
"""

import time
import warnings

import numpy as np

from . import metrics as M
from .dataset import load_task_data
from .distill import load_teacher_targets
from .errors import BadInput
from .evaluation import fold_plan, parse_plan, test_split
from .families import (build_pipeline, check_class_weight, class_weight_applied, fit_pipeline, get_family,
                       resolve_family_params)
from .model_bundle import ModelBundle, member_output
from .outputs import write_array, write_json, write_model
from .spec import optional_int, require_string


def training_portion(data, random_state):
    """(X_train, y_train, train_positions, test_positions) for the job's random_state; read-only, kept
    on the TaskData (a warm worker's trials share one: dataset.LastTaskData)."""
    if random_state not in data.portions:
        train_pos, test_pos = test_split(data.y, data.task_kind, random_state)
        data.portions[random_state] = (data.X.iloc[train_pos].reset_index(drop=True), data.y[train_pos], train_pos, test_pos)
    return data.portions[random_state]


def common_settings(spec, task_kind):
    random_state = optional_int(spec, "random_state", 42, low=0)
    return {
        "random_state": random_state,
        "seed": optional_int(spec, "seed", random_state, low=0),
        "metrics": M.check_metrics(spec.get("metrics"), task_kind),
        "class_weight": check_class_weight(spec.get("class_weight")),
    }


_kept_studies = None


def keep_studies():
    """Called once by a warm worker: from now on a row's next ask extends the study of its last
    one (search.KeptStudies) instead of replaying the row's history."""
    global _kept_studies
    from .search import KeptStudies  # Optuna only when asked

    _kept_studies = KeptStudies()


def asked_params(ask, family_id, task_kind, index):
    """The params of trial `index` of the ask's round: its own proposal only (search.propose)."""
    from .search import propose_from_spec  # Optuna only when asked

    spec = dict(ask, family=family_id, task_kind=task_kind)
    return propose_from_spec(spec, field="ask", kept=_kept_studies, indices=[index])[0]


def trial_params(spec, family, task_kind):
    ask = spec.get("ask")
    if ask is not None:
        if not isinstance(ask, dict):
            raise BadInput("invalid_field", "ask must be a propose spec object", "ask")
        index = optional_int(ask, "index", 0, low=0)
        if index >= optional_int(ask, "round_size", 1, low=1, high=1000):
            raise BadInput("invalid_field", "ask.index must be below ask.round_size", "ask.index")
        return resolve_family_params(family, task_kind, asked_params(ask, family.id, task_kind, index), "ask")
    return resolve_family_params(family, task_kind, spec.get("params"))


def evaluate(data, X, y, family, params, settings, plan):
    """Fit and score each fold; the result's dict, the OOF array and the fold pipelines."""
    task_kind = data.task_kind
    folds = fold_plan(y, task_kind, plan, settings["random_state"])
    k = len(data.classes or [])
    oof = np.full((len(y), k) if task_kind == "classification" else len(y), np.nan)
    fold_results, models = [], []
    for number, (fit_pos, val_pos) in enumerate(folds):
        pipeline = build_pipeline(family, task_kind, data.feature_types, params, settings["seed"], settings["class_weight"])
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            teacher = settings.get("teacher")
            fit_pipeline(pipeline, family, task_kind, X.iloc[fit_pos], y[fit_pos], settings["class_weight"],
                         None if teacher is None else teacher[fit_pos])
        fitted = time.perf_counter()
        out = member_output(pipeline, X.iloc[val_pos], task_kind, k)
        predicted = time.perf_counter()
        oof[val_pos] = out
        fold_results.append({
            "fold": number, "n_fit": int(len(fit_pos)), "n_validate": int(len(val_pos)),
            "metrics": M.score_all(settings["metrics"], y[val_pos], out),
            "fit_seconds": fitted - started, "predict_seconds": predicted - fitted,
        })
        models.append(pipeline)
    summary = {}
    for name in settings["metrics"]:
        values = np.array([f["metrics"][name] for f in fold_results])
        summary[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=0))}
    return fold_results, summary, oof, models


def run_trial(spec, out_dir):
    data = load_task_data(spec)
    family = get_family(require_string(spec, "family"))
    settings = common_settings(spec, data.task_kind)
    params = trial_params(spec, family, data.task_kind)
    plan = parse_plan(spec.get("evaluation"))
    X, y, train_pos, test_pos = training_portion(data, settings["random_state"])
    settings["teacher"], teacher = load_teacher_targets(spec, data, len(y))
    folds, summary, oof, models = evaluate(data, X, y, family, params, settings, plan)
    objective = settings["metrics"][0]
    result = {
        "family": family.id, "task_kind": data.task_kind, "label_column": data.label,
        "classes": data.classes, "params": params, "seed": settings["seed"],
        "random_state": settings["random_state"], "evaluation": plan,
        "class_weight": settings["class_weight"],
        "class_weight_applied": class_weight_applied(family, data.task_kind, settings["class_weight"]),
        "n_rows": int(len(y)), "n_rows_filtered": int(data.n_rows), "n_test_rows": int(len(test_pos)),
        "folds": folds, "metrics": summary, "teacher": teacher,
        "objective": {"metric": objective, "value": summary[objective]["mean"],
                      "higher_is_better": M.higher_is_better(objective)},
        "fit_seconds": sum(f["fit_seconds"] for f in folds),
        "predict_seconds": sum(f["predict_seconds"] for f in folds),
        "model": "model.pkl: the fold models, averaged with equal weights",
    }
    bundle = ModelBundle(models, [1.0] * len(models), data.task_kind, data.label, data.classes,
                         data.feature_types, data.label_type, info={"family": family.id, "params": params})
    write_json(out_dir, "result.json", result)
    write_array(out_dir, "oof.npy", oof)
    write_model(out_dir, "model.pkl", bundle)
