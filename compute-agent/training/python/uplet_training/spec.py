"""Reading and checking a task's JSON spec; every complaint names the spec field at fault."""

import json

from .errors import BadInput


def load_spec(path):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            spec = json.load(handle)
    except OSError as err:
        raise BadInput("spec_unreadable", f"cannot read the spec: {err.strerror}", "spec")
    except (ValueError, UnicodeDecodeError) as err:
        raise BadInput("spec_not_json", f"the spec is not JSON: {err}", "spec")
    if not isinstance(spec, dict):
        raise BadInput("spec_not_object", "the spec must be a JSON object", "spec")
    return spec


def require(spec, name):
    if name not in spec or spec[name] is None:
        raise BadInput("missing_field", f"{name} is required", name)
    return spec[name]


def require_string(spec, name):
    value = require(spec, name)
    if not isinstance(value, str) or not value:
        raise BadInput("invalid_field", f"{name} must be a non-empty string", name)
    return value


def require_choice(spec, name, choices):
    value = require(spec, name)
    if value not in choices:
        raise BadInput("invalid_field", f"{name} must be one of {', '.join(choices)}", name)
    return value


def optional_int(spec, name, default, low=None, high=None):
    value = spec.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput("invalid_field", f"{name} must be an integer", name)
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadInput("invalid_field", f"{name} must be between {low} and {high}", name)
    return value


def optional_float(spec, name, default, low=None, high=None):
    value = spec.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInput("invalid_field", f"{name} must be a number", name)
    if (low is not None and value <= low) or (high is not None and value >= high):
        raise BadInput("invalid_field", f"{name} must be strictly between {low} and {high}", name)
    return float(value)


def optional_list(spec, name):
    value = spec.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadInput("invalid_field", f"{name} must be a list", name)
    return value


def load_profile(spec, name="profile"):
    """The profile: inline (an object) or the path of a profile.json."""
    value = require(spec, name)
    if isinstance(value, str):
        try:
            with open(value, "r", encoding="utf-8") as handle:
                value = json.load(handle)
        except (OSError, ValueError) as err:
            raise BadInput("invalid_field", f"cannot read the profile: {err}", name)
    if not isinstance(value, dict) or not isinstance(value.get("columns"), list):
        raise BadInput("invalid_field", "the profile must hold a columns list", name)
    return value
