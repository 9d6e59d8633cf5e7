"""What fingerprinting hostile or unusual inputs costs, printed (issue 15).

    python bench/bench_fingerprint.py [--mib 512] [--text-mib 100]

- peak RSS added by fingerprinting a non-contiguous array of ``--mib`` MiB
  (the transpose of a C-contiguous one), against the contiguous copy the rule
  used to make; each in its own child process so one's peak does not hide the
  other's;
- wall time of a tracked call whose argument is ``/`` (the walk's entry and time
  limits) with the default settings, into a throwaway SQLite store;
- time and stored size of a ``--text-mib`` MiB string param (hash + prefix rule).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

PEAK = """
import resource, sys, time
import numpy as np
from modeldb_core import fingerprint as fp
mib = int(sys.argv[1])
base = np.ones((mib * 1024 * 1024 // 8 // 8192, 8192))
view = base.T
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if sys.argv[2] == "copy":
    contiguous = np.ascontiguousarray(view)
    fp.fingerprint(contiguous, budget=fp.Budget(3600, 1 << 40))
else:
    fp.fingerprint(view, budget=fp.Budget(3600, 1 << 40))
elapsed = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024, elapsed)
"""

ROOT = """
import sys, time
import modeldb_core as mdb
mdb.configure(uri=sys.argv[1])

@mdb.tracked_task
def scan(folder):
    return folder

scan("warm-up")  # store creation, environment capture: paid once per process
start = time.perf_counter()
scan("plain")
plain = time.perf_counter() - start
start = time.perf_counter()
scan("/")
elapsed = time.perf_counter() - start
detail = mdb.get_client().store.get_run_detail(mdb.get_client().store.list_runs(limit=1)[0].id)
print(elapsed, plain, detail.inputs[0].artifact.fingerprint_method)
"""

TEXT = """
import sys, time
from modeldb_core import params
mib = int(sys.argv[1])
value = "x" * (mib * 1024 * 1024)
start = time.perf_counter()
stored = params.normalize(value)
print(time.perf_counter() - start, len(stored))
"""


def child(code: str, *args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--text-mib", type=int, default=100)
    args = parser.parse_args()

    grown, seconds = map(float, child(PEAK, str(args.mib), "view"))
    copy_grown, copy_seconds = map(float, child(PEAK, str(args.mib), "copy"))
    print(f"non-contiguous {args.mib} MiB array: +{grown:.0f} MiB peak RSS, {seconds:.2f} s "
          f"(a contiguous copy first: +{copy_grown:.0f} MiB, {copy_seconds:.2f} s)")

    with tempfile.TemporaryDirectory() as tmp:
        env_home = dict(os.environ, HOME=tmp)
        done = subprocess.run([sys.executable, "-c", ROOT, f"sqlite:///{tmp}/bench.db"], capture_output=True,
                              text=True, check=True, env=env_home)
        elapsed, plain, method = done.stdout.split()
        print(f'tracked call with "/" as its argument: {float(elapsed):.2f} s, recorded as {method} '
              f'(the same call with a plain string: {float(plain):.3f} s)')

    elapsed, length = child(TEXT, str(args.text_mib))
    print(f"{args.text_mib} MiB string param: normalized in {float(elapsed):.2f} s, "
          f"stored as {int(length):,} characters")


if __name__ == "__main__":
    main()
