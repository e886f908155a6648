"""The warm worker: `python3 -B -m uplet_training serve --out workdir`.

Imports the trial stack once, before reading its first request (so a spare the agent starts
ahead of need is ready when a trial comes), then runs one trial per request, one after another;
it opens its dataset only at the first request (the agent may put it there after the start). A request is
one line of JSON on stdin, `{"id", "command"?, "spec", "out", "cpu_seconds"?}`: `command`
`trial` (the default) or `final` (the job's last task, on the worker of its job: final.py),
`spec` that command's spec itself (not a file; its input files, if any, are where the spec's
paths say: the agent puts them under the read-only data directory), `out` the name of a
directory directly under workdir (the agent made it) where the command writes what a cold run
writes. The answer is one line on stdout, `{"id", "status",
"cpu_used"}`, `status` `done`, `bad_input` (with `error`, the content of a cold run's
error.json, also written there) or `crashed` (traceback on stderr; the worker then exits 1, so
a retry starts in a fresh process, as a cold crash would). EOF on stdin: exit 0.

Whatever the libraries print goes to stderr: stdout carries only answers. The typed dataset is
kept between trials (dataset.LastFrame): a worker serves one dataset; so are the studies of the
rows it proposed for (search.KeptStudies): each trial asks for its own proposal, and a row's next
ask adds what finished since instead of replaying the row's history.
"""

import json
import os
import resource
import sys
import traceback

from .dataset import keep_last_frame
from .errors import BadInput
from .outputs import write_json
from .final import run_final
from .trial import keep_studies, run_trial  # the expensive import (numpy, pandas, scikit-learn), done once
from . import search  # noqa: F401,E402 -- Optuna (about 0.5 s), which every study trial's `ask` needs: imported before the first request too


# What a request may run; the names are looked up at each call (a test may replace them).
COMMANDS = {"trial": lambda spec, out: run_trial(spec, out), "final": lambda spec, out: run_final(spec, out)}


def _cpu_used():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def allow_cpu(seconds):
    """Each trial gets `seconds` of CPU from now, as a cold process would: the soft RLIMIT_CPU is
    raised to what is used plus that (never past the hard limit the agent set for the worker)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    wanted = int(_cpu_used()) + 1 + int(seconds)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (wanted, hard))


def trial_dir(work_dir, name):
    """The trial's own directory: a plain name directly under the worker's directory."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\0" in name:
        raise BadInput("invalid_field", "out must be the name of a directory directly under the worker's directory", "out")
    return os.path.join(work_dir, name)


def handle(request, work_dir):
    """The answer to one request line (a dict), after running its trial."""
    rid = request.get("id") if isinstance(request, dict) else None
    try:
        if not isinstance(request, dict):
            raise BadInput("invalid_request", "a request must be a JSON object", "request")
        command = request.get("command", "trial")
        run = COMMANDS.get(command) if isinstance(command, str) else None
        if run is None:
            raise BadInput("invalid_field", f"command must be one of {', '.join(COMMANDS)}", "command")
        out = trial_dir(work_dir, request.get("out"))
        os.makedirs(out, exist_ok=True)
        spec = request.get("spec")
        if not isinstance(spec, dict):
            raise BadInput("spec_not_object", "the spec must be a JSON object", "spec")
        if request.get("cpu_seconds") is not None:
            allow_cpu(request["cpu_seconds"])
        try:
            run(spec, out)
        except BadInput as err:
            write_json(out, "error.json", err.as_json())
            raise
    except BadInput as err:
        print(f"{err.code}: {err.message} ({err.field})", file=sys.stderr)
        return {"id": rid, "status": "bad_input", **err.as_json(), "cpu_used": _cpu_used()}
    return {"id": rid, "status": "done", "cpu_used": _cpu_used()}


def serve(work_dir, requests, answers):
    """Answers each line of `requests` on `answers`; 0 at EOF, 1 after a crash."""
    keep_last_frame()  # one dataset per worker: typed once, not once per trial
    keep_studies()  # a row's asks extend one study
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        try:
            answer = handle(request, work_dir)
        except Exception:  # a crash: reported, then the worker ends
            traceback.print_exc(file=sys.stderr)
            answers.write(json.dumps({"id": request.get("id") if isinstance(request, dict) else None,
                                      "status": "crashed", "cpu_used": _cpu_used()}) + "\n")
            answers.flush()
            return 1
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    return 0


def run_serve(work_dir):
    """The command: answers go to the real stdout; fd 1 then points at stderr for everything else."""
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return serve(work_dir, sys.stdin, answers)
