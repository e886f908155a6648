"""Writing a task's outputs: JSON (strict: no NaN), numpy arrays and pickled models, in outdir only."""

import json
import math
import os
import pickle
import zlib

import numpy as np

# zlib level 3, as joblib's compress=3 was: about a third of the pickle's size on trial models.
MODEL_ZLIB_LEVEL = 3


def write_json(out_dir, name, obj):
    with open(os.path.join(out_dir, name), "w", encoding="utf-8") as handle:
        json.dump(_clean(obj), handle, indent=1, sort_keys=False, allow_nan=False)
        handle.write("\n")


def write_array(out_dir, name, array):
    np.save(os.path.join(out_dir, name), np.asarray(array), allow_pickle=False)


def write_model(out_dir, name, model):
    """The model, pickled by the C pickler into a zlib stream, which joblib.load reads (it knows
    the zlib header) like the joblib.dump files of earlier versions: every reader stays
    joblib.load. joblib.dump pickles in pure Python: about 2 ms of CPU for a trial's fold models,
    once per trial, against 0.2 ms here. Streamed: a large model is not held twice in memory."""
    with open(os.path.join(out_dir, name), "wb") as handle:
        deflating = _Deflating(handle)
        pickle.dump(model, deflating, protocol=pickle.HIGHEST_PROTOCOL)
        deflating.finish()


class _Deflating:
    """A write-only file for pickle.dump that deflates into `handle`; finish() ends the stream."""

    def __init__(self, handle):
        self._handle = handle
        self._deflate = zlib.compressobj(MODEL_ZLIB_LEVEL)

    def write(self, data):
        # Protocol 5 hands large arrays over as a pickle.PickleBuffer: any buffer, no len().
        view = memoryview(data)
        self._handle.write(self._deflate.compress(view))
        return view.nbytes

    def finish(self):
        self._handle.write(self._deflate.flush())


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
