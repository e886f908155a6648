"""Writing a task's outputs: JSON (strict: no NaN), numpy arrays and pickled models, in outdir only."""

import json
import math
import os

import joblib
import numpy as np


def write_json(out_dir, name, obj):
    with open(os.path.join(out_dir, name), "w", encoding="utf-8") as handle:
        json.dump(_clean(obj), handle, indent=1, sort_keys=False, allow_nan=False)
        handle.write("\n")


def write_array(out_dir, name, array):
    np.save(os.path.join(out_dir, name), np.asarray(array), allow_pickle=False)


def write_model(out_dir, name, model):
    joblib.dump(model, os.path.join(out_dir, name), compress=3)


def _clean(obj):
    """JSON-safe copy: numpy scalars to Python, NaN and infinities to null."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_clean(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return None if math.isnan(value) or math.isinf(value) else value
    return obj
