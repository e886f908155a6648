"""Proposals: the parameter sets of a round's trials for one matrix row (family x metric).

Reproducible by construction: trial `index` of the round that follows `history` gets the params
that depend only on the family's space, the history of finished trials (params + objective
value, in the order given), the index and the seed. Each proposal has a sampler of its own,
seeded with derive_seed(seed, "round", len(history), "trial", index), asked once on a study that
holds the history as finished trials; the samplers read only finished trials (TPE ignores
running and failed ones), so a proposal does not depend on which other trials of its round were
asked before it, in which process. So however many agents ran the earlier rounds, and whichever
trials of a round each serves, the same history gives the same trials: each trial task asks for
its own proposal only, never for its round's others.

A process that proposes a row's trials one after another (a warm trial worker, the benchmark's
baseline) may keep the row's study (KeptStudies): the next ask then adds the history's new
entries instead of replaying the whole history (Optuna's in-memory storage deep-copies every
replayed trial: half of a round's propose at 500 trials). A kept study holds the same finished
trials, in the same order, as a fresh replay would, plus the trials it asked, each told failed
at once (invisible to the samplers); anything that does not line up is replayed afresh.
"""

import collections
import math

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


def _check_entry(space, past, index):
    """(resolved params, value or None) of history[index], or BadInput naming what is wrong."""
    field = f"history[{index}]"
    if not isinstance(past, dict):
        raise BadInput("invalid_field", "a history entry must be {params, value}", field)
    params = resolve_params(space, past.get("params"), f"{field}.params")
    value = past.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise BadInput("invalid_field", "value must be a number or null (failed trial)", f"{field}.value")
    return params, value


def _replay(space, distributions, history, direction):
    """A fresh in-memory study holding `history` as finished trials, in order."""
    # Each ask sets the sampler it needs; this one only spares create_study making a default one.
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), direction=direction)
    for index, past in enumerate(history):
        _add_finished(study, distributions, *_check_entry(space, past, index))
    return study


def _add_finished(study, distributions, params, value):
    study.add_trial(create_trial(
        params=params, distributions=distributions,
        state=TrialState.COMPLETE if value is not None else TrialState.FAIL,
        value=float(value) if value is not None else None,
    ))


def _ask(study, distributions, strategy, seed, finished, index):
    """Trial `index`'s params, from a sampler of its own. The asked trial is told failed at once:
    the samplers skip failed trials, so later asks on this study see only the history."""
    study.sampler = make_sampler(strategy, derive_seed(seed, "round", finished, "trial", index))
    trial = study.ask(distributions)
    params = dict(trial.params)
    study.tell(trial, state=TrialState.FAIL)
    return params


def propose(space, history, round_size, seed, strategy="optuna", direction="maximize", kept=None, row_key=None,
            indices=None):
    """The params of the trials `indices` (default: all `round_size` of them) of the round that
    follows `history`: [{"params": {...}, "value": number or null (failed)}]. With `kept`
    (KeptStudies) and `row_key` (what names the row: family, task kind, strategy, direction,
    seed), the row's study from its previous ask is extended rather than replayed."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    indices = range(round_size) if indices is None else indices
    distributions = {p.name: distribution(p) for p in space}
    study = kept.extend(row_key, space, distributions, history) if kept is not None else None
    if study is None:
        study = _replay(space, distributions, history, direction)
    proposals = [_ask(study, distributions, strategy, seed, len(history), index) for index in indices]
    if kept is not None:
        kept.keep(row_key, study, history)
    return proposals


class KeptStudies:
    """The studies of the rows this process proposed lately, each with the history it holds.
    `extend` adds the new history's further entries, in order, so the study's finished trials are
    exactly what a fresh replay of the new history would hold; when the new history does not
    start with the kept one, or a result is not one a replay would store as is, it returns None
    (replay afresh)."""

    STUDIES_KEPT = 8

    def __init__(self):
        self.rows = collections.OrderedDict()

    def keep(self, row_key, study, history):
        self.rows[row_key] = (study, [dict(h) for h in history])
        self.rows.move_to_end(row_key)
        while len(self.rows) > self.STUDIES_KEPT:
            self.rows.popitem(last=False)

    def extend(self, row_key, space, distributions, history):
        entry = self.rows.pop(row_key, None)  # taken out: a study that fails half-way is not kept
        if entry is None:
            return None
        study, held = entry
        if len(history) < len(held) or history[:len(held)] != held:
            return None
        new = [_check_entry(space, past, len(held) + i) for i, past in enumerate(history[len(held):])]
        if any(value is not None and not math.isfinite(value) for _, value in new):
            return None
        for params, value in new:
            _add_finished(study, distributions, params, value)
        return study


def propose_from_spec(spec, field=None, kept=None, indices=None):
    """Spec: {family, task_kind, strategy, history, round_size, seed, direction or metric}; `kept`
    and `indices` (default: the whole round): see propose."""
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
    seed = optional_int(spec, "seed", 42, low=0)
    return propose(
        family.space(task_kind), optional_list(spec, "history"), optional_int(spec, "round_size", 1, low=1, high=1000),
        seed, strategy, direction, kept=kept, row_key=(family.id, task_kind, strategy, direction, seed), indices=indices,
    )


def run_propose(spec, out_dir):
    write_json(out_dir, "proposals.json", {"proposals": propose_from_spec(spec)})
