"""The final task: the job's model and everything the result pages show, from the held-out rows.

Spec: the trial's data fields (dataset, profile, label_column, task_kind, filters, ignore_fields,
random_state, seed, metrics, class_weight) and either
  * family + params: the winner, refit on the whole training portion, or
  * ensemble: {members: [{model: trial model.pkl, oof: trial oof.npy}], steps: 25}: Caruana
    selection on the members' out-of-fold predictions (objective: metrics[0]); the members'
    fold models are reused as they are, not refit.
Optional: teacher_targets (distill.py: the refit learns soft targets; the ensemble's members did
already), importance_repeats (5), story_rows (200), story_causes (3).
Writes report.json (held-out metrics, stats, field_importance, data_story, ensemble weights)
and model.pkl (a ModelBundle, usable by the predict command).
"""

import warnings

import joblib
import numpy as np

from . import metrics as M
from .class_stats import classification_stats, regression_stats
from .data_story import data_story
from .dataset import load_task_data
from .distill import load_teacher_targets
from .ensemble import DEFAULT_STEPS, caruana
from .errors import BadInput
from .families import build_pipeline, fit_pipeline, get_family
from .importance import normalise, permutation_importance
from .model_bundle import ModelBundle
from .outputs import write_json, write_model
from .spec import optional_int, require_string
from .trial import common_settings, training_portion, trial_params


def refit_winner(spec, data, X, y, settings):
    family = get_family(require_string(spec, "family"))
    params = trial_params(spec, family, data.task_kind)
    pipeline = build_pipeline(family, data.task_kind, data.feature_types, params, settings["seed"], settings["class_weight"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_pipeline(pipeline, family, data.task_kind, X, y, settings["class_weight"], settings.get("teacher"))
    info = {"kind": "refit", "family": family.id, "params": params}
    # Iterative families (the MLP, histogram boosting) expose their epochs and final training loss.
    model = pipeline.named_steps["model"]
    if isinstance(getattr(model, "n_iter_", None), (int, np.integer)):
        info["n_iter"] = int(model.n_iter_)
    if isinstance(getattr(model, "loss_", None), (float, np.floating)):
        info["loss"] = float(model.loss_)
    return ModelBundle([pipeline], [1.0], data.task_kind, data.label, data.classes, data.feature_types,
                       data.label_type, info), info


def build_ensemble(spec, data, y, settings):
    raw = spec["ensemble"]
    members = raw.get("members") if isinstance(raw, dict) else None
    if not isinstance(members, list) or not members:
        raise BadInput("invalid_field", "ensemble.members must be a non-empty list of {model, oof}", "ensemble.members")
    bundles, oofs = [], []
    for index, member in enumerate(members):
        field = f"ensemble.members[{index}]"
        try:
            bundle = joblib.load(member["model"])
            oof = np.load(member["oof"], allow_pickle=False)
        except (OSError, KeyError, TypeError, ValueError) as err:
            raise BadInput("invalid_field", f"cannot load the member's model and oof: {err}", field)
        if not isinstance(bundle, ModelBundle) or bundle.features != list(data.feature_types) or len(oof) != len(y):
            raise BadInput("invalid_field", "the member was not trained on this job's rows and fields", field)
        bundles.append(bundle)
        oofs.append(oof)
    steps = optional_int(raw, "steps", DEFAULT_STEPS, low=1, high=1000)
    weights, ensemble_score, best_single = caruana(oofs, y, settings["metrics"][0], steps)
    kept = [(b, w) for b, w in zip(bundles, weights) if w > 0]
    info = {"kind": "ensemble", "weights": weights, "metric": settings["metrics"][0],
            "oof_score": ensemble_score, "best_single_oof_score": best_single,
            "members": [b.info for b in bundles]}
    return ModelBundle([b for b, _ in kept], [w for _, w in kept], data.task_kind, data.label, data.classes,
                       data.feature_types, data.label_type, info), info


def run_final(spec, out_dir):
    data = load_task_data(spec)
    settings = common_settings(spec, data.task_kind)
    X, y, train_pos, test_pos = training_portion(data, settings["random_state"])
    settings["teacher"], teacher = load_teacher_targets(spec, data, len(y))
    if spec.get("ensemble") is not None:
        bundle, model_info = build_ensemble(spec, data, y, settings)
    else:
        bundle, model_info = refit_winner(spec, data, X, y, settings)
    X_test = data.X.iloc[test_pos].reset_index(drop=True)
    y_test = data.y[test_pos]
    output = bundle.predict_output(X_test)
    if data.task_kind == "classification":
        stats = classification_stats(y_test, output, data.classes, data.label, data.label_type)
    else:
        stats = regression_stats(y_test, output, data.label, data.label_type)
    detail = permutation_importance(bundle.predict_output, X_test, y_test, settings["metrics"][0],
                                    optional_int(spec, "importance_repeats", 5, low=1, high=100), settings["seed"])
    story = data_story(bundle.predict_output, X, X_test, data.feature_types, data.task_kind, data.classes,
                       data.label, data.label_type, settings["seed"],
                       optional_int(spec, "story_rows", 200, low=1), optional_int(spec, "story_causes", 3, low=1))
    if "loss" in model_info:
        # The same loss on the held-out rows: log loss, or half the squared error (the MLP's own).
        model_info["validation_loss"] = (M.score_all(["log_loss"], y_test, output)["log_loss"] if data.task_kind == "classification"
                                         else M.score_all(["rmse"], y_test, output)["rmse"] ** 2 / 2)
    report = {
        "task_kind": data.task_kind, "label_column": data.label, "classes": data.classes,
        "n_train_rows": int(len(y)), "n_test_rows": int(len(y_test)),
        "random_state": settings["random_state"], "seed": settings["seed"],
        "model": model_info,
        "teacher": teacher,
        "metrics": M.score_all(settings["metrics"], y_test, output),
        "stats": stats,
        "field_importance": normalise(detail),
        "field_importance_detail": detail,
        "data_story": [story],
    }
    write_json(out_dir, "report.json", report)
    write_model(out_dir, "model.pkl", bundle)
