"""``seed_everything``: one call seeds every random generator in reach, and says so."""
from __future__ import annotations

import os
import random
import sys

from .client import get_client
from .run import active_run
from .safety import safe_call


def seed_everything(seed: int) -> dict[str, bool]:
    """Seed ``random``, numpy, and torch / tensorflow when already imported.

    ``PYTHONHASHSEED`` is set for subprocesses. The seed is recorded as the
    param ``seed_everything`` on the current run and on every run this process
    starts afterwards. Returns which generators were seeded.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        from .errors import ValidationError

        raise ValidationError("seed", seed, "must be a whole number from 0 to 2**32 - 1")
    seeded = {"random": True}
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import numpy

        numpy.random.seed(seed)
        seeded["numpy"] = True
    except ImportError:
        seeded["numpy"] = False
    # Importing these costs seconds: seed them only when the program uses them.
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        seeded["torch"] = True
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None:
        tensorflow.random.set_seed(seed)
        seeded["tensorflow"] = True
    get_client().seed = seed
    run = active_run()
    if run is not None:
        safe_call("record the seed", run.log_param, "seed_everything", seed)
    return seeded
