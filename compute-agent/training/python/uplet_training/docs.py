"""The spaces command: every family's hyperparameter space as JSON (the docs read the same data)."""

from .families import spaces_as_json
from .outputs import write_json


def run_spaces(spec, out_dir):
    write_json(out_dir, "spaces.json", spaces_as_json())
