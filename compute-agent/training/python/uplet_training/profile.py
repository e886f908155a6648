"""The profile task: a CSV's schema (types, counts, ranges, top values), never its rows."""

import math

from . import column_types as ct
from .csv_table import DEFAULT_MAX_BYTES, parse_csv_table, read_csv_text
from .outputs import write_json
from .quote_free_csv import quote_free_columns
from .spec import optional_int, require_string

TOP_VALUES = 10


def profile_table(table):
    columns = []
    for index, name in enumerate(table.header):
        strings = table.column(index)
        kind = ct.infer_type(strings)
        columns.append(profile_column(name, strings, kind))
    return {"row_count": len(table.rows), "delimiter": table.delimiter, "columns": columns}


def profile_text(text):
    """The profile of a CSV's text (read_csv_text's): through pandas' C parser where it gives the
    same profile (quote_free_csv.quote_free_columns), else from the table of strings."""
    fast = quote_free_columns(text)
    if fast is None:
        return profile_table(parse_csv_table(text))
    delimiter, rows, columns = fast
    entries = [
        profile_values(name, numbers, ct.NUMERIC) if numbers is not None else profile_column(name, strings, ct.infer_type(strings))
        for name, numbers, strings in columns
    ]
    return {"row_count": rows, "delimiter": delimiter, "columns": entries}


def profile_column(name, strings, kind):
    return profile_values(name, ct.coerce_column(strings, kind), kind)


def profile_values(name, values, kind):
    """A column's profile entry from its typed values (column_types.coerce_column's)."""
    present = values.dropna()
    entry = {
        "name": name,
        "type": kind,
        "missing": int(len(values) - len(present)),
        "distinct": int(present.nunique()),
    }
    if kind == ct.NUMERIC:
        entry.update(
            min=_num(present.min()), max=_num(present.max()),
            mean=_num(present.mean()), std=_num(present.std(ddof=1)),
        )
    elif kind in (ct.CATEGORY, ct.BOOLEAN):
        counts = present.value_counts(sort=False)
        # Most frequent first, ties by value, so the profile is deterministic.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[:TOP_VALUES]
        entry["top_values"] = [{"value": str(value), "count": int(count)} for value, count in ranked]
    elif kind == ct.TIMESTAMP:
        entry.update(
            min=ct.iso(present.min()) if len(present) else None,
            max=ct.iso(present.max()) if len(present) else None,
        )
    return entry


def run_profile(spec, out_dir):
    """Spec: {dataset: csv path, max_bytes?}. Writes profile.json."""
    text = read_csv_text(require_string(spec, "dataset"), optional_int(spec, "max_bytes", DEFAULT_MAX_BYTES, low=1))
    write_json(out_dir, "profile.json", profile_text(text))


def column_types_of(profile):
    """{column name: type} from a profile."""
    return {column["name"]: column["type"] for column in profile["columns"]}


def _num(value):
    value = float(value) if value is not None else None
    if value is None or math.isnan(value):
        return None
    return value
