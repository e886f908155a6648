"""The predict task: model.pkl + a CSV of the same schema -> predictions.csv.

Spec: {model: model.pkl path, dataset: csv path, max_bytes?}. The CSV must hold the model's input
fields (other columns are ignored). predictions.csv has, per input row in order, `prediction`
(the class name or the number) and, for classification, `proba_<class>` per class.
Also writes result.json {n_rows, classes}.
"""

import csv
import os

import joblib
import numpy as np

from .csv_table import DEFAULT_MAX_BYTES
from .dataset import read_typed_frame
from .errors import BadInput
from .model_bundle import ModelBundle
from .outputs import write_json
from .spec import optional_int, require_string


def run_predict(spec, out_dir):
    try:
        bundle = joblib.load(require_string(spec, "model"))
    except (OSError, ValueError, EOFError) as err:
        raise BadInput("invalid_field", f"cannot load the model: {err}", "model")
    if not isinstance(bundle, ModelBundle):
        raise BadInput("invalid_field", "the file is not an uplet model", "model")
    frame = read_typed_frame(require_string(spec, "dataset"), bundle.feature_types,
                             optional_int(spec, "max_bytes", DEFAULT_MAX_BYTES, low=1))
    output = bundle.predict_output(frame) if len(frame) else np.zeros((0, len(bundle.classes or [])))
    with open(os.path.join(out_dir, "predictions.csv"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if bundle.task_kind == "classification":
            writer.writerow(["prediction"] + [f"proba_{c}" for c in bundle.classes])
            for row in output:
                writer.writerow([bundle.classes[int(np.argmax(row))]] + [repr(float(p)) for p in row])
        else:
            writer.writerow(["prediction"])
            for value in output:
                writer.writerow([repr(float(value))])
    write_json(out_dir, "result.json", {"n_rows": int(len(frame)), "classes": bundle.classes})
