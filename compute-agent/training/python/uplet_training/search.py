"""The propose task: the next round of parameter sets for one matrix row (family x metric).

Reproducible by construction: the proposals depend only on the family's space, the history of
finished trials (params + objective value, in the order given), the round size and the seed.
The sampler is seeded with derive_seed(seed, "round", len(history)), the history is replayed
into a fresh in-memory study (no storage, nothing written), and the round's r proposals are
`study.ask(distributions)` r times. So however many agents ran the earlier rounds, the same
history gives the same next round.
"""

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from .errors import BadInput
from .families import get_family
from .hyperparams import CATEGORICAL, INT, resolve_params
from .outputs import write_json
from .seeds import derive_seed
from .spec import optional_int, optional_list, require_choice, require_string

STRATEGIES = ("optuna", "random")
DIRECTIONS = ("maximize", "minimize")


def distribution(param):
    if param.kind == CATEGORICAL:
        return CategoricalDistribution(list(param.choices))
    if param.kind == INT:
        return IntDistribution(int(param.low), int(param.high), log=param.log)
    return FloatDistribution(float(param.low), float(param.high), log=param.log)


def make_sampler(strategy, seed):
    if strategy == "optuna":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def propose(space, history, round_size, seed, strategy="optuna", direction="maximize"):
    """`round_size` new param dicts; history: [{"params": {...}, "value": number or null (failed)}]."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {p.name: distribution(p) for p in space}
    sampler = make_sampler(strategy, derive_seed(seed, "round", len(history)))
    study = optuna.create_study(sampler=sampler, direction=direction)
    for index, past in enumerate(history):
        field = f"history[{index}]"
        if not isinstance(past, dict):
            raise BadInput("invalid_field", "a history entry must be {params, value}", field)
        params = resolve_params(space, past.get("params"), f"{field}.params")
        value = past.get("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise BadInput("invalid_field", "value must be a number or null (failed trial)", f"{field}.value")
        state = TrialState.COMPLETE if value is not None else TrialState.FAIL
        study.add_trial(create_trial(
            params=params, distributions=distributions, state=state,
            value=float(value) if value is not None else None,
        ))
    proposals = []
    for _ in range(round_size):
        trial = study.ask(distributions)
        proposals.append(dict(trial.params))
    return proposals


def propose_from_spec(spec, field=None):
    """Spec: {family, task_kind, strategy, history, round_size, seed, direction or metric}."""
    family = get_family(require_string(spec, "family"))
    task_kind = require_choice(spec, "task_kind", ("classification", "regression"))
    strategy = spec.get("strategy") or "optuna"
    if strategy not in STRATEGIES:
        raise BadInput("invalid_field", f"strategy must be one of {', '.join(STRATEGIES)}", "strategy")
    direction = spec.get("direction")
    if direction is None and spec.get("metric") is not None:
        from .metrics import check_metric, higher_is_better
        direction = "maximize" if higher_is_better(check_metric(spec["metric"], task_kind, "metric")) else "minimize"
    direction = direction or "maximize"
    if direction not in DIRECTIONS:
        raise BadInput("invalid_field", "direction must be maximize or minimize", "direction")
    return propose(
        family.space(task_kind), optional_list(spec, "history"), optional_int(spec, "round_size", 1, low=1, high=1000),
        optional_int(spec, "seed", 42, low=0), strategy, direction,
    )


def run_propose(spec, out_dir):
    write_json(out_dir, "proposals.json", {"proposals": propose_from_spec(spec)})
