"""CLI: python3 -B -m uplet_training <command> --spec spec.json --out outdir
(or `serve --out workdir`: the warm worker, serve.py).

Exit 0: done, outputs in outdir. Exit 2: bad input, outdir/error.json holds
{"error": {"code", "message", "field"}}. Any other non-zero exit: a crash (traceback on stderr).
"""

import sys

sys.dont_write_bytecode = True  # nothing written beside the (read-only) code

# Debian's setuptools installs a distutils shim at start-up (distutils-precedence.pth); joblib,
# imported by scikit-learn, imports distutils through it, which loads much of setuptools: about
# 0.3 s of every task's ~1.5 s of imports. Python < 3.12 has its own distutils: use that.
if sys.version_info < (3, 12):
    sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__module__ != "_distutils_hack"]

import os  # noqa: E402


# command -> (module, function); a command imports only what it needs.
COMMANDS = {
    "profile": ("profile", "run_profile"), "trial": ("trial", "run_trial"),
    "propose": ("search", "run_propose"), "final": ("final", "run_final"),
    "predict": ("predict", "run_predict"), "synthetic": ("synthetic", "run_synthetic"),
    "spaces": ("docs", "run_spaces"), "teach": ("teach", "run_teach"),
}


def _command(name):
    import importlib
    module, function = COMMANDS[name]
    return getattr(importlib.import_module(f"uplet_training.{module}"), function)


USAGE = "usage: python3 -m uplet_training <command> --spec spec.json --out outdir"


def parse_args(argv):
    if not argv:
        return None, None, None
    command, spec, out = argv[0], None, None
    rest = argv[1:]
    while rest:
        flag = rest.pop(0)
        if flag in ("--spec", "--out") and rest:
            value = rest.pop(0)
            if flag == "--spec":
                spec = value
            else:
                out = value
        else:
            return command, spec, None
    return command, spec, out


def main(argv=None):
    command, spec_path, out_dir = parse_args(list(sys.argv[1:] if argv is None else argv))
    if out_dir is None:
        print(USAGE, file=sys.stderr)
        return 2
    os.makedirs(out_dir, exist_ok=True)
    if command == "serve":  # the warm worker (serve.py): trials read from stdin, no spec file
        from .serve import run_serve
        return run_serve(out_dir)
    from .errors import BadInput
    from .outputs import write_json
    try:
        if command not in COMMANDS:
            raise BadInput("unknown_command", f"unknown command {command!r}; known: {', '.join(COMMANDS)}", "command")
        if spec_path is None:
            raise BadInput("missing_field", "--spec is required", "spec")
        from .spec import load_spec
        _command(command)(load_spec(spec_path), out_dir)
    except BadInput as err:
        write_json(out_dir, "error.json", err.as_json())
        print(f"{err.code}: {err.message} ({err.field})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
