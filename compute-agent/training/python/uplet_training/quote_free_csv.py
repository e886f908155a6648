"""A typed frame straight from the text of a CSV without double quotes, through pandas' C parser.

The reference path (csv_table.parse_csv_table, then column_types.coerce_column per column) makes
a Python string of every cell before typing it: 40,000 x 31 cells cost about 1.2 s, as much as a
one-second fit, paid by every cold trial, final and predict task and by a warm worker's first
trial. Here pandas' C parser splits the text and parses the numeric columns without a string per
cell.

It gives exactly the reference path's frame, or None: the caller then takes the reference path,
which also gives the errors. Taken only when
  * the text has no double quote and no lone CR line end, more than one column, a header that
    passes the reference checks and names every typed column, and every non-blank line has the
    header's field count;
  * a numeric column keeps pandas' numbers when it parsed as integers (converted as pd.to_numeric
    converts an all-integer column) or as floats holding no integral value of magnitude 2**53 or
    more: there pd.to_numeric, whose float parse of an integer string is off by an ulp above about
    2**60, differs from the C float parser (measured). A zero's sign is taken from its text, as
    pd.to_numeric gives it ("-0" beside an "NA" is -0.0 there, 0.0 from the C parser). Any other
    numeric column, and every other column, is typed from its raw strings by
    column_types.coerce_column, as in the reference path.
"""

import csv
import io

import numpy as np
import pandas as pd

from . import column_types as ct
from .csv_table import check_header, sniff_delimiter
from .errors import BadInput

EXACT_INTEGERS = 2.0**53
# ASCII whitespace str.strip() removes: a zero's text with one at an edge goes to the reference path.
UNCLEAR_EDGES = np.frombuffer(b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f", dtype=np.uint8)


def quote_free_frame(text, column_types):
    """The DataFrame typed by {column: type} (its columns in that order), or None (see the module)."""
    regular = _regular(text)
    if regular is None:
        return None
    delimiter, names, layout = regular
    if any(name not in names for name in column_types):
        return None
    rows = layout.rows
    wanted = [name for name in names if name in column_types]
    numeric = [name for name in wanted if column_types[name] == ct.NUMERIC]
    raw = _read(layout.encoded, delimiter, names, wanted, {name: object for name in wanted if name not in numeric}, numeric)
    if raw is None or len(raw) != rows:
        return None
    numbers = {name: _exact_numbers(raw[name], layout, names.index(name)) for name in numeric}
    unsure = [name for name in numeric if numbers[name] is None]
    if unsure:
        strings = _read(layout.encoded, delimiter, names, unsure, {name: object for name in unsure}, [])
        if strings is None or len(strings) != rows:
            return None
        for name in unsure:
            numbers[name] = ct.coerce_column(strings[name].tolist(), ct.NUMERIC)
    columns = {
        name: numbers[name] if name in numbers else ct.coerce_column(raw[name].tolist(), column_types[name])
        for name in column_types
    }
    return pd.DataFrame(columns)


def quote_free_columns(text):
    """For the profile, which types each column from its values: (delimiter, row count, [(name,
    numbers, strings)] in header order), or None as quote_free_frame. A column pandas' C parser
    read as numbers the reference path would give, at least one present, comes as those numbers
    (numbers, strings None): the reference inference types it numeric, since every value the C
    parser reads as a number float() reads too (missing values are the exact tokens). Any other
    column comes as its raw strings (numbers None)."""
    regular = _regular(text)
    if regular is None:
        return None
    delimiter, names, layout = regular
    parsed = _read(layout.encoded, delimiter, names, names, {}, names)
    if parsed is None or len(parsed) != layout.rows:
        return None
    numbers = {}
    for index, name in enumerate(names):
        values = _exact_numbers(parsed[name], layout, index)
        if values is not None and values.notna().any():
            numbers[name] = values
    rest = [name for name in names if name not in numbers]
    strings = _read(layout.encoded, delimiter, names, rest, {name: object for name in rest}, []) if rest else None
    if rest and (strings is None or len(strings) != layout.rows):
        return None
    return delimiter, layout.rows, [(name, numbers.get(name), None if name in numbers else strings[name].tolist()) for name in names]


def _regular(text):
    """(delimiter, header names, layout) of a text this module can read exactly, else None."""
    if '"' in text or text.count("\r") != text.count("\r\n"):
        return None
    delimiter = sniff_delimiter(text)
    first_end = text.find("\n")
    header = (text if first_end < 0 else text[:first_end]).rstrip("\r").split(delimiter)
    names = [name.strip() for name in header]
    if len(names) < 2:
        return None
    try:
        check_header(header, "dataset")
    except BadInput:
        return None
    layout = _layout_if_regular(text, delimiter, len(names))
    return None if layout is None else (delimiter, names, layout)


class _Layout:
    """Where a regular text's fields are: byte offsets of its data rows and of its delimiters."""

    def __init__(self, encoded, data, row_starts, row_ends, delimiters, first_delimiters, width):
        self.encoded = encoded  # the text as UTF-8 bytes; data: the same as an array
        self.data = data
        self.row_starts = row_starts
        self.row_ends = row_ends  # a CR before the line end excluded
        self.delimiters = delimiters
        self.first_delimiters = first_delimiters  # each row's first delimiter, an index into delimiters
        self.width = width

    @property
    def rows(self):
        return len(self.row_starts)

    def field_edges(self, rows, column):
        """The first and last byte of the non-empty fields of `column` in `rows` (an index array)."""
        first = self.first_delimiters[rows]
        begin = self.row_starts[rows] if column == 0 else self.delimiters[first + column - 1] + 1
        end = self.row_ends[rows] if column == self.width - 1 else self.delimiters[first + column]
        return self.data[begin], self.data[end - 1]


def _layout_if_regular(text, delimiter, width):
    """The layout when each non-blank line after the header has `width` fields, else None."""
    encoded = text.encode("utf-8")
    data = np.frombuffer(encoded, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if len(data) and data[-1] != ord("\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts
    carriage = np.zeros(len(ends), dtype=np.int64)
    carriage[lengths > 0] = data[ends[lengths > 0] - 1] == ord("\r")
    blank = (lengths - carriage) == 0
    delimiters = np.flatnonzero(data == ord(delimiter))
    before = np.searchsorted(delimiters, starts)
    fields = np.searchsorted(delimiters, ends) - before + 1
    if blank[0] or not np.all(fields[~blank] == width):
        return None
    rows = ~blank
    rows[0] = False  # the header
    return _Layout(encoded, data, starts[rows], ends[rows] - carriage[rows], delimiters, before[rows], width)


def _read(data, delimiter, names, columns, object_columns, numeric_columns):
    """pandas' C parser on the text, header skipped: `columns` as strings (object_columns, no missing
    values) or as parsed numbers (numeric_columns, the missing tokens as NaN); None if it refuses."""
    try:
        return pd.read_csv(
            io.BytesIO(data),
            encoding="utf-8",
            sep=delimiter,
            header=None,
            skiprows=1,
            names=names,
            usecols=columns,
            dtype=object_columns,
            na_values={**{name: [] for name in object_columns}, **{name: sorted(ct.MISSING_TOKENS) for name in numeric_columns}},
            keep_default_na=False,
            skip_blank_lines=True,
            quoting=csv.QUOTE_NONE,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError):
        return None


def _exact_numbers(series, layout, column):
    """The column as float64 where its parse is known to equal pd.to_numeric's (see the module), else None."""
    if series.dtype.kind in "iu":
        return series.astype("float64")
    if series.dtype != np.float64:
        return None  # strings, booleans: typed from the strings
    values = series.to_numpy()
    big = np.abs(values) >= EXACT_INTEGERS
    if np.any(big & np.isfinite(values) & (np.floor(values) == values)):
        return None
    zeros = np.flatnonzero(values == 0)
    if len(zeros) == 0:
        return series
    # A zero's sign from its text's first byte (a number's text is not empty); a text with a space
    # or a non-ASCII byte at either end is left to the reference path (str.strip would remove it).
    first, last = layout.field_edges(zeros, column)
    if np.any(np.isin(first, UNCLEAR_EDGES) | np.isin(last, UNCLEAR_EDGES) | (first >= 0x80) | (last >= 0x80)):
        return None
    values = values.copy()
    values[zeros] = np.where(first == ord("-"), -0.0, 0.0)
    return pd.Series(values, index=series.index, name=series.name)
