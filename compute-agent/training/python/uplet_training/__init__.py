"""uplet's training engine: the Python half that runs inside a compute node's sandbox.

Each task is `python3 -B -m uplet_training <command> --spec spec.json --out outdir`. Run it with
-B (or PYTHONDONTWRITEBYTECODE=1): then nothing is written beside outdir. Without -B only this
file's own bytecode could be cached, since the next line stops it for every other module.
"""

import sys

sys.dont_write_bytecode = True
