"""The synthetic task: a table made from an ontology, where the target depends on a few features.

Spec: {ontology: {fields: [{name, type: numeric|category|boolean, role: feature|target|id|ignore,
choices?: [...] (category)}]}, n_rows (500), seed (42)}. Exactly one target field.
Features: numeric ~ N(0, 1) (rounded to 4 places), category uniform over its choices (default
A, B, C), boolean fair coin. The first (up to) three features are informative: a score sums
their effects (numeric: a seeded weight times the value; category/boolean: a seeded effect per
value), plus Gaussian noise (sd 0.5). Target: numeric = the score; boolean = score > median;
category = the score cut into equal-count bins, one per choice. id fields: row-000001, ...;
ignore fields: noise. Writes data.csv and result.json {n_rows, informative_fields, synthetic}.
"""

import csv
import os

import numpy as np

from .errors import BadInput
from .outputs import write_json
from .spec import optional_int, require

TYPES = ("numeric", "category", "boolean")
ROLES = ("feature", "target", "id", "ignore")
N_INFORMATIVE = 3
NOISE = 0.5


def _check_fields(ontology):
    fields = ontology.get("fields") if isinstance(ontology, dict) else None
    if not isinstance(fields, list) or not fields:
        raise BadInput("invalid_field", "ontology.fields must be a non-empty list", "ontology.fields")
    for i, f in enumerate(fields):
        at = f"ontology.fields[{i}]"
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
            raise BadInput("invalid_field", "a field needs a name", at)
        if f.get("type", "numeric") not in TYPES:
            raise BadInput("invalid_field", f"type must be one of {', '.join(TYPES)}", f"{at}.type")
        if f.get("role", "feature") not in ROLES:
            raise BadInput("invalid_field", f"role must be one of {', '.join(ROLES)}", f"{at}.role")
    targets = [f for f in fields if f.get("role") == "target"]
    if len(targets) != 1:
        raise BadInput("invalid_field", "exactly one field must have role target", "ontology.fields")
    return fields


def _choices(field):
    choices = field.get("choices") or ["A", "B", "C"]
    return [str(c) for c in choices]


def generate(ontology, n_rows, seed):
    """(header, rows as lists of strings, informative feature names)."""
    fields = _check_fields(ontology)
    rng = np.random.RandomState(seed)
    columns, score, informative = {}, np.zeros(n_rows), []
    for f in fields:
        role, kind = f.get("role", "feature"), f.get("type", "numeric")
        if role == "id":
            columns[f["name"]] = [f"row-{i + 1:06d}" for i in range(n_rows)]
        elif role in ("feature", "ignore"):
            if kind == "numeric":
                values = rng.normal(size=n_rows)
                columns[f["name"]] = [f"{v:.4f}" for v in values]
                effect = rng.uniform(0.5, 2.0) * rng.choice([-1, 1]) * values
            else:
                levels = _choices(f) if kind == "category" else ["true", "false"]
                codes = rng.randint(len(levels), size=n_rows)
                columns[f["name"]] = [levels[c] for c in codes]
                effect = rng.normal(scale=1.5, size=len(levels))[codes]
            if role == "feature" and len(informative) < N_INFORMATIVE:
                informative.append(f["name"])
                score += effect
    score += rng.normal(scale=NOISE, size=n_rows)
    target = next(f for f in fields if f.get("role") == "target")
    kind = target.get("type", "numeric")
    if kind == "numeric":
        columns[target["name"]] = [f"{v:.4f}" for v in score]
    elif kind == "boolean":
        columns[target["name"]] = ["true" if v > np.median(score) else "false" for v in score]
    else:
        levels = _choices(target)
        ranks = np.argsort(np.argsort(score, kind="stable"), kind="stable")
        columns[target["name"]] = [levels[min(len(levels) - 1, r * len(levels) // n_rows)] for r in ranks]
    header = [f["name"] for f in fields]
    rows = [[columns[name][i] for name in header] for i in range(n_rows)]
    return header, rows, informative


def run_synthetic(spec, out_dir):
    n_rows = optional_int(spec, "n_rows", 500, low=10, high=10_000_000)
    header, rows, informative = generate(require(spec, "ontology"), n_rows, optional_int(spec, "seed", 42, low=0))
    with open(os.path.join(out_dir, "data.csv"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    write_json(out_dir, "result.json", {"n_rows": n_rows, "informative_fields": informative, "synthetic": True})
