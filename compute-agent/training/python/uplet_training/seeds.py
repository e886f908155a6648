"""Seeds derived from a base seed and labels, so each use of randomness has its own stream."""

import hashlib

MAX_SEED = 2**31 - 1


def derive_seed(base, *labels):
    """A seed in [0, 2**31-1) that depends only on `base` and `labels` (stable across runs and machines)."""
    text = ":".join([str(int(base))] + [str(label) for label in labels])
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % MAX_SEED
