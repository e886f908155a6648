"""Row filters `{col, kind: "cmp", op, value}`: validation against a profile, application to a frame.

Ops: ==, !=, <, <=, >, >= (value: one value), in, not_in (value: a non-empty list), is_null,
is_not_null (no value). `op` defaults to "==". Values are coerced to the column's profiled type
(timestamps as ISO-8601 text, booleans as true/false). Ordering ops need a numeric or timestamp
column. A missing cell matches is_null only: every comparison, != and not_in included, is false
on it (as in SQL). Several filters are ANDed.
"""

import numpy as np
import pandas as pd

from . import column_types as ct
from .errors import BadInput

ORDERING_OPS = ("<", "<=", ">", ">=")
VALUE_OPS = ("==", "!=") + ORDERING_OPS
LIST_OPS = ("in", "not_in")
NULL_OPS = ("is_null", "is_not_null")
OPS = VALUE_OPS + LIST_OPS + NULL_OPS


def normalise_filters(raw, field="filters"):
    """A list of filters from a spec value: null, one filter object, or a list of them."""
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [raw]
    if isinstance(raw, list):
        return raw
    raise BadInput("invalid_field", f"{field} must be a filter object or a list of them", field)


def validate_filters(filters, column_types, field="filters"):
    """Errors ([{field, code, message}]) of the filters against {column: type}; empty when valid."""
    errors = []
    for index, flt in enumerate(filters):
        at = f"{field}[{index}]"
        if not isinstance(flt, dict):
            errors.append(_error(at, "bad_filter", "a filter must be an object"))
            continue
        if flt.get("kind", "cmp") != "cmp":
            errors.append(_error(f"{at}.kind", "bad_filter", 'kind must be "cmp"'))
        col = flt.get("col")
        if col not in column_types:
            errors.append(_error(f"{at}.col", "unknown_column", f"no column named {col!r} in the dataset"))
            continue
        op = flt.get("op", "==")
        if op not in OPS:
            errors.append(_error(f"{at}.op", "bad_filter", f"op must be one of {', '.join(OPS)}"))
            continue
        kind = column_types[col]
        if op in ORDERING_OPS and kind not in (ct.NUMERIC, ct.TIMESTAMP):
            errors.append(_error(f"{at}.op", "bad_filter", f"op {op} needs a numeric or timestamp column, {col} is {kind}"))
            continue
        if op in NULL_OPS:
            continue
        value = flt.get("value")
        if op in LIST_OPS:
            if not isinstance(value, list) or not value:
                errors.append(_error(f"{at}.value", "bad_filter", f"op {op} needs a non-empty list value"))
                continue
            values = value
        else:
            values = [value]
        for item in values:
            try:
                ct.coerce_value(item, kind)
            except (ValueError, TypeError) as err:
                errors.append(_error(f"{at}.value", "bad_filter", f"{item!r} does not fit column {col} ({kind}): {err}"))
                break
    return errors


def check_filters(filters, column_types, field="filters"):
    """Raise BadInput for the first error, if any."""
    errors = validate_filters(filters, column_types, field)
    if errors:
        first = errors[0]
        raise BadInput(first["code"], first["message"], first["field"])


def apply_filters(frame, filters, column_types):
    """The rows of `frame` (typed per column_types) that pass every filter, positions renumbered."""
    mask = np.ones(len(frame), dtype=bool)
    for flt in filters:
        mask &= filter_mask(frame, flt, column_types)
    return frame.loc[mask].reset_index(drop=True)


def filter_mask(frame, flt, column_types):
    col = flt["col"]
    op = flt.get("op", "==")
    kind = column_types[col]
    series = frame[col]
    present = series.notna().to_numpy()
    if op == "is_null":
        return ~present
    if op == "is_not_null":
        return present
    if op in LIST_OPS:
        values = [ct.coerce_value(v, kind) for v in flt["value"]]
        inside = series.isin(values).to_numpy()
        return present & (inside if op == "in" else ~inside)
    value = ct.coerce_value(flt.get("value"), kind)
    compare = {
        "==": series.__eq__, "!=": series.__ne__, "<": series.__lt__,
        "<=": series.__le__, ">": series.__gt__, ">=": series.__ge__,
    }[op]
    return present & pd.Series(compare(value)).fillna(False).to_numpy(dtype=bool)


def _error(field, code, message):
    return {"field": field, "code": code, "message": message}
