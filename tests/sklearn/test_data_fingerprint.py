"""The fingerprint rule for large training data (frames over the full-hash limit hash sampled rows)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from modeldb_core import fingerprint as fp


def test_large_frames_hash_sampled_rows_and_say_so(monkeypatch):
    # The same rule at a smaller scale: full up to 1 MiB; first/last 64 KiB and 64 x 16 KiB of rows beyond.
    monkeypatch.setattr(fp, "FULL_HASH_LIMIT", 1024 * 1024)
    monkeypatch.setattr(fp, "EDGE", 64 * 1024)
    monkeypatch.setattr(fp, "BLOCK", 16 * 1024)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(100_000, 4)), columns=list("abcd"))  # ~3.8 MiB
    version = fp.fingerprint(frame)
    assert version.fingerprint_method.startswith("pandas-rows:sampled-rows:")
    assert version.metadata["shape"] == [100_000, 4]
    assert fp.fingerprint(frame.copy()).content_hash == version.content_hash

    ranges, _ = fp._sampled_rows(frame)
    covered = np.zeros(len(frame), dtype=bool)
    for a, b in ranges:
        covered[a:b] = True
    for row in (0, len(frame) - 1, int(np.flatnonzero(covered)[len(np.flatnonzero(covered)) // 2])):
        changed = frame.copy()
        changed.iloc[row, 2] += 1.0
        assert fp.fingerprint(changed).content_hash != version.content_hash, row
    # What the rule gives up, stated in the method: a change in a row it skips goes unseen.
    skipped = int(np.flatnonzero(~covered)[0])
    changed = frame.copy()
    changed.iloc[skipped, 0] += 1.0
    assert fp.fingerprint(changed).content_hash == version.content_hash
    assert fp.fingerprint(frame.iloc[:-1]).content_hash != version.content_hash

    small = frame.iloc[:1000]
    assert fp.fingerprint(small).fingerprint_method == "pandas-rows:full"
