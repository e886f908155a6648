"""Preprocessing inside every pipeline, so a fitted model predicts on raw typed rows.

* numeric: median imputation (+ standard scaling when the family asks for it)
* category, boolean: most-frequent imputation, then one-hot (unknown values at predict time
  encode as all zeros)
* timestamp: seconds since the Unix epoch, then as numeric
* text: dropped (free text and identifiers carry no signal a tabular model can use here)
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from . import column_types as ct


def to_epoch_seconds(frame):
    """Timestamps (datetime64, UTC) to float seconds since 1970-01-01, NaN where missing."""
    out = {}
    for name in frame.columns:
        values = pd.to_datetime(frame[name], utc=True, errors="coerce")
        seconds = values.astype("int64").astype("float64") / 1e9
        seconds[values.isna().to_numpy()] = np.nan
        out[name] = seconds.to_numpy()
    return pd.DataFrame(out, index=frame.index)


def build_preprocessor(feature_types, scale):
    numeric = [n for n, t in feature_types.items() if t == ct.NUMERIC]
    categorical = [n for n, t in feature_types.items() if t in (ct.CATEGORY, ct.BOOLEAN)]
    timestamps = [n for n, t in feature_types.items() if t == ct.TIMESTAMP]

    def numeric_steps():
        steps = [("impute", SimpleImputer(strategy="median"))]
        if scale:
            steps.append(("scale", StandardScaler()))
        return steps

    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps()), numeric))
    if categorical:
        transformers.append(("category", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), categorical))
    if timestamps:
        transformers.append(("timestamp", Pipeline(
            [("epoch", FunctionTransformer(to_epoch_seconds))] + numeric_steps()
        ), timestamps))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
