"""uplet's training engine: the Python half that runs inside a compute node's sandbox.

Each task is `python3 -B -m uplet_training <command> --spec spec.json --out outdir`.
"""
