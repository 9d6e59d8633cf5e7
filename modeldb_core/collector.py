"""Pausing Python's cyclic garbage collector around bulk work of the tracking path."""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collections it would have set off
    happen once, after it (the allocation counts go on, so none is skipped).

    Parsing a journal and applying a batch of events make tens of thousands of small
    objects that all stay alive to the block's end: the collections their number sets
    off found nothing to free and took a third of a batch's CPU (a full collection
    also walks the rest of the user's heap). Blocks are short (one batch) and the
    collector runs between them, so a user's thread allocating meanwhile waits at most
    one batch for its garbage to be collected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
