"""The teach task: what a teacher sees of the training rows, or a teacher model's targets.

Spec: the trial's data fields (dataset, profile, label_column, task_kind, filters, ignore_fields,
random_state) and optionally teacher_model (a model.pkl of this server, same label and schema).
The rows are those of the job's training portion: filtered, with a label, test split set aside;
the held-out rows never reach a teacher.
  * With teacher_model: its predictions on those rows -> targets.json (see distill.py).
  * Without: samples.json {feature_names, classes, samples: [[value per feature]]} for the agent
    to send to the teacher URL: the input fields only (never the label nor ignore_fields), each
    value as JSON (numbers, true/false for booleans, text, ISO timestamps; null when missing).
Both write result.json {n_rows, feature_names, source}.
"""

import joblib
import numpy as np
import pandas as pd

from . import column_types as ct
from .dataset import load_task_data
from .distill import check_predictions
from .errors import BadInput
from .model_bundle import ModelBundle
from .outputs import write_json
from .trial import common_settings, training_portion


def json_value(value, kind):
    if value is None or pd.isna(value):
        return None
    if kind == ct.NUMERIC:
        return float(value)
    if kind == ct.BOOLEAN:
        return value == "true" if isinstance(value, str) else bool(value)
    if kind == ct.TIMESTAMP:
        return ct.iso(pd.Timestamp(value))
    return str(value)


def samples_of(X, feature_types):
    columns = list(feature_types)
    kinds = [feature_types[c] for c in columns]
    values = [X[c].tolist() for c in columns]
    return [[json_value(col[i], kind) for col, kind in zip(values, kinds)] for i in range(len(X))]


def teacher_targets(path, data, X):
    try:
        bundle = joblib.load(path)
    except (OSError, ValueError, EOFError) as err:
        raise BadInput("invalid_field", f"cannot load the teacher model: {err}", "teacher_model")
    if not isinstance(bundle, ModelBundle):
        raise BadInput("invalid_field", "the teacher is not an uplet model", "teacher_model")
    if bundle.task_kind != data.task_kind or bundle.label != data.label:
        raise BadInput("teacher_mismatch", f"the teacher predicts {bundle.label} ({bundle.task_kind}), the job {data.label} ({data.task_kind})", "teacher_model")
    if data.task_kind == "classification" and list(bundle.classes) != list(data.classes):
        raise BadInput("teacher_mismatch", "the teacher's classes are not those of the job's rows", "teacher_model")
    missing = [f for f in bundle.features if f not in X.columns]
    if missing:
        raise BadInput("teacher_mismatch", f"the teacher reads field(s) the job does not give it: {', '.join(missing)}", "teacher_model")
    output = bundle.predict_output(X) if len(X) else np.zeros((0, len(data.classes or [])))
    return check_predictions(np.asarray(output).tolist(), data.task_kind, len(data.classes or []), len(X), "teacher_model")


def run_teach(spec, out_dir):
    data = load_task_data(spec)
    settings = common_settings(spec, data.task_kind)
    X, _y, _train, _test = training_portion(data, settings["random_state"])
    features = list(data.feature_types)
    model = spec.get("teacher_model")
    if model is not None:
        predictions = teacher_targets(model, data, X)
        write_json(out_dir, "targets.json", {
            "task_kind": data.task_kind, "classes": data.classes, "n_rows": int(len(X)),
            "source": "model", "predictions": predictions.tolist(),
        })
    else:
        write_json(out_dir, "samples.json", {"feature_names": features, "classes": data.classes, "samples": samples_of(X, data.feature_types)})
    write_json(out_dir, "result.json", {"n_rows": int(len(X)), "feature_names": features, "task_kind": data.task_kind,
                                        "classes": data.classes, "source": "model" if model is not None else "url"})
