"""A task's data: the CSV typed by its profile, filtered, split into features and label."""

import json
import os

import numpy as np
import pandas as pd

from . import column_types as ct
from .csv_table import DEFAULT_MAX_BYTES, parse_csv_table, read_csv_text
from .errors import BadInput
from .filters import apply_filters, check_filters, normalise_filters
from .profile import column_types_of
from .quote_free_csv import quote_free_frame
from .spec import load_profile, optional_int, optional_list, require_choice, require_string

TASK_KINDS = ("classification", "regression")
MAX_CLASSES = 100


class TaskData:
    """Features X (typed DataFrame), label y (class codes 0..k-1 or floats), class names, types."""

    def __init__(self, X, y, label, task_kind, classes, feature_types, label_type):
        # Read-only for its users (a warm worker hands one TaskData to several trials: LastTaskData):
        # they take rows with iloc / fancy indexing, which copies, before anything could change.
        self.X = X
        self.y = y
        self.label = label
        self.task_kind = task_kind
        self.classes = classes
        self.feature_types = feature_types
        self.label_type = label_type
        self.portions = {}  # random_state -> the training portion (trial.training_portion), computed once

    @property
    def n_rows(self):
        return len(self.y)


class LastFrame:
    """The last typed frame read, kept by a warm worker (serve.py) whose trials all read one dataset:
    typing the CSV costs about as much as a one-second fit. Reused only for the same file (path,
    size, mtime) read with the same types and limits; each reader gets its own copy."""

    def __init__(self):
        self.key = None
        self.frame = None

    def get(self, key, read):
        if key != self.key:
            self.key, self.frame = None, read()
            self.key = key
        return self.frame.copy(deep=True)


_last_frame = None
_last_data = None


def keep_last_frame():
    """Called once by a warm worker: from now on read_typed_frame reuses the last frame it read, and
    load_task_data the last TaskData it built (LastTaskData)."""
    global _last_frame, _last_data
    _last_frame = LastFrame()
    _last_data = LastTaskData()


class LastTaskData:
    """The last TaskData built, kept by a warm worker: its trials read the same dataset with the same
    label, filters and ignored fields, and building it (a copy of the frame, the filters, coding the
    labels row by row) costs about 0.08 s a trial at 40,000 x 30. Reused only for the same file
    (path, size, mtime) and the same data fields; shared, not copied (TaskData is read-only)."""

    def __init__(self):
        self.key = None
        self.data = None

    def get(self, key, build):
        if key != self.key:
            self.key, self.data = None, build()
            self.key = key
        return self.data


def read_typed_frame(path, column_types, max_bytes=DEFAULT_MAX_BYTES, field="dataset", require_all=True):
    """The CSV at `path` as a DataFrame typed by {column: type}; its header must hold those columns."""
    if _last_frame is None:
        return _read_typed_frame(path, column_types, max_bytes, field, require_all)
    try:
        stat = os.stat(path)
    except OSError:
        return _read_typed_frame(path, column_types, max_bytes, field, require_all)  # its own error
    key = (path, stat.st_size, stat.st_mtime_ns, json.dumps(column_types, sort_keys=True), max_bytes, field, require_all)
    return _last_frame.get(key, lambda: _read_typed_frame(path, column_types, max_bytes, field, require_all))


def _read_typed_frame(path, column_types, max_bytes, field, require_all):
    text = read_csv_text(path, max_bytes, field)
    fast = quote_free_frame(text, column_types)  # the same frame, parsed in C, where it can be sure
    if fast is not None:
        return fast
    table = parse_csv_table(text, field)
    index = {name: i for i, name in enumerate(table.header)}
    missing = [name for name in column_types if name not in index]
    if missing and require_all:
        raise BadInput("schema_mismatch", f"the file lacks column(s) {', '.join(missing)}", field)
    columns = {
        name: ct.coerce_column(table.column(index[name]), kind)
        for name, kind in column_types.items() if name in index
    }
    return pd.DataFrame(columns)


def load_task_data(spec):
    """Read the spec's dataset, profile, filters, label_column, task_kind and ignore_fields."""
    profile = load_profile(spec)
    types = column_types_of(profile)
    label = require_string(spec, "label_column")
    if label not in types:
        raise BadInput("unknown_column", f"no column named {label!r} in the dataset", "label_column")
    task_kind = require_choice(spec, "task_kind", TASK_KINDS)
    ignore = optional_list(spec, "ignore_fields")
    for name in ignore:
        if name not in types:
            raise BadInput("unknown_column", f"no column named {name!r} in the dataset", "ignore_fields")
    filters = normalise_filters(spec.get("filters", spec.get("filter")))
    check_filters(filters, types)
    _check_label_kind(label, types[label], task_kind)

    path = require_string(spec, "dataset")
    max_bytes = optional_int(spec, "max_bytes", DEFAULT_MAX_BYTES, low=1)
    build = lambda: _build_task_data(path, types, max_bytes, filters, label, task_kind, ignore)  # noqa: E731
    if _last_data is None:
        return build()
    try:
        stat = os.stat(path)
    except OSError:
        return build()  # its own error
    key = json.dumps([path, stat.st_size, stat.st_mtime_ns, types, max_bytes, filters, label, task_kind, ignore], sort_keys=True, default=str)
    return _last_data.get(key, build)


def _build_task_data(path, types, max_bytes, filters, label, task_kind, ignore):
    frame = read_typed_frame(path, types, max_bytes)
    frame = apply_filters(frame, filters, types)
    frame = frame.loc[frame[label].notna()].reset_index(drop=True)
    features = [name for name in types if name != label and name not in ignore]
    if not features:
        raise BadInput("no_features", "no input field is left once the label and ignore_fields are removed", "ignore_fields")
    X = frame[features]
    feature_types = {name: types[name] for name in features}
    if task_kind == "regression":
        return TaskData(X, frame[label].to_numpy(dtype=float), label, task_kind, None, feature_types, types[label])
    names = [class_name(v) for v in frame[label]]
    classes = sorted(set(names), key=lambda c: _class_sort_key(c, types[label]))
    if len(classes) < 2:
        raise BadInput("label_kind", f"the label {label} has fewer than two classes in the (filtered) rows", "label_column")
    if len(classes) > MAX_CLASSES:
        raise BadInput("label_kind", f"the label {label} has {len(classes)} classes, more than {MAX_CLASSES}", "label_column")
    code = {name: i for i, name in enumerate(classes)}
    y = np.array([code[n] for n in names], dtype=np.int64)
    return TaskData(X, y, label, task_kind, classes, feature_types, types[label])


def class_name(value):
    """A class's name: the label value as text (integral numbers without a decimal point)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return ct.iso(value)
    return str(value)


def _class_sort_key(name, label_type):
    if label_type == ct.NUMERIC:
        return (float(name), name)
    return (0.0, name)


def _check_label_kind(label, kind, task_kind):
    if task_kind == "regression" and kind != ct.NUMERIC:
        raise BadInput("label_kind", f"regression needs a numeric label, {label} is {kind}", "label_column")
    if task_kind == "classification" and kind in (ct.TEXT, ct.TIMESTAMP):
        raise BadInput("label_kind", f"classification needs a category, boolean or numeric label, {label} is {kind}", "label_column")
