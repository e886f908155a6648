"""A hyperparameter space as data: what search strategies, validation and the docs all read."""

from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

from .errors import BadInput

INT, FLOAT, CATEGORICAL = "int", "float", "categorical"


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # int, float or categorical
    default: Any
    low: Optional[float] = None
    high: Optional[float] = None
    log: bool = False
    choices: Tuple[Any, ...] = field(default_factory=tuple)

    def as_json(self):
        out = {"name": self.name, "kind": self.kind, "default": self.default}
        if self.kind == CATEGORICAL:
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high, log=self.log)
        return out

    def check(self, value, field_name):
        """The value as this parameter's type; BadInput when outside the space."""
        if self.kind == CATEGORICAL:
            if value not in self.choices:
                raise BadInput("invalid_param", f"{self.name} must be one of {list(self.choices)}", field_name)
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput("invalid_param", f"{self.name} must be a number", field_name)
        if self.kind == INT:
            if float(value) != int(value):
                raise BadInput("invalid_param", f"{self.name} must be an integer", field_name)
            value = int(value)
        else:
            value = float(value)
        if not self.low <= value <= self.high:
            raise BadInput("invalid_param", f"{self.name} must be between {self.low} and {self.high}", field_name)
        return value


def resolve_params(space, params, field_name="params"):
    """Defaults overlaid with `params`, each checked against the space; unknown names refused."""
    params = params or {}
    if not isinstance(params, dict):
        raise BadInput("invalid_field", "params must be an object", field_name)
    by_name = {p.name: p for p in space}
    unknown = sorted(set(params) - set(by_name))
    if unknown:
        raise BadInput("invalid_param", f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(by_name)}", f"{field_name}.{unknown[0]}")
    return {p.name: p.check(params[p.name], f"{field_name}.{p.name}") if p.name in params else p.default for p in space}
