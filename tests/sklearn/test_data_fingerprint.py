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


def test_strided_arrays_hash_like_their_contiguous_copy(monkeypatch):
    rng = np.random.default_rng(1)
    cube = rng.normal(size=(7, 5, 3))
    views = [cube.T, cube[:, ::2], cube[::-2], cube[:, :, 1], np.asfortranarray(cube), cube[1:2],
             np.zeros((0, 3)), np.float32(2.5), cube.astype(">f8")[:, 1]]
    for view in views:
        assert fp.fingerprint(view).content_hash == fp.fingerprint(np.ascontiguousarray(view)).content_hash
    # Over the full-hash limit, the sampled ranges are read from the view the same way.
    monkeypatch.setattr(fp, "FULL_HASH_LIMIT", 1000)
    monkeypatch.setattr(fp, "EDGE", 64)
    monkeypatch.setattr(fp, "BLOCK", 16)
    monkeypatch.setattr(fp, "_CHUNK", 8)  # pieces of 128 bytes: rows larger than a piece go row by row
    wide = rng.normal(size=(300, 40))
    for view in (wide.T, wide[:, ::3], wide[::-1], wide.T[:, 7:]):
        strided, copied = fp.fingerprint(view), fp.fingerprint(np.ascontiguousarray(view))
        assert strided.fingerprint_method.startswith("sampled") and strided.content_hash == copied.content_hash
    changed = wide.copy()
    changed[0, 0] += 1
    assert fp.fingerprint(changed.T).content_hash != fp.fingerprint(wide.T).content_hash


PEAK_SCRIPT = """
import resource, sys
import numpy as np
from modeldb_core import fingerprint as fp
base = np.ones((4096, 8192))            # 256 MiB, touched
view = base.T                           # the same bytes, not C-contiguous
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
version = fp.fingerprint(view, budget=fp.Budget(600, 1 << 40))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(version.fingerprint_method, (after - before) // 1024)
"""


def test_a_strided_256_mib_array_is_hashed_without_a_copy_of_it():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    method, grown_mib = done.stdout.split()
    assert method == "full"
    # A contiguous copy would add 256 MiB; the pieces are at most 16 MiB.
    assert int(grown_mib) < 64, grown_mib
