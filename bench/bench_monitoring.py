"""What data profiles and monitoring cost, printed (issue 14).

    python bench/bench_monitoring.py [--rows 1000000] [--columns 50] [--batch 10000] [--repeat 5]

- profile of a ``--rows`` x ``--columns`` float DataFrame (``build_profile``, default
  settings: a seeded sample of 100,000 rows, at most 64 KiB), median and best of
  ``--repeat``, and the stored size;
- ``mdb.monitor`` of a ``--batch`` x ``--columns`` batch against a registered model's
  training profile, drift included (profile of the batch, KS/PSI per feature, BH, the
  monitoring run journaled), into a throwaway SQLite store: the first call (imports,
  the reference read and prepared) and the median of the next ``--repeat`` calls of the
  same batch size;
- the peak memory each allocates (tracemalloc, which numpy reports its buffers to), each
  part in its own child process, and the process's peak RSS.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

PROFILE = """
import json, resource, statistics, sys, time, tracemalloc
import numpy as np, pandas as pd
from modeldb_core.monitoring.profile import build_profile, dumps
rows, columns, repeat = map(int, sys.argv[1:4])
frame = pd.DataFrame(np.random.default_rng(0).normal(size=(rows, columns)),
                     columns=[f"f{i}" for i in range(columns)])
times = []
for _ in range(repeat):
    start = time.perf_counter()
    profile = build_profile(frame, 100_000, 65536)
    times.append(time.perf_counter() - start)
tracemalloc.start()  # numpy reports its buffers to tracemalloc: the peak of what profiling allocates
build_profile(frame, 100_000, 65536)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"median_s": statistics.median(times), "best_s": min(times),
                  "bytes": len(dumps(profile).encode()), "k": profile["columns"]["f0"]["sketch"]["k"],
                  "data_mib": frame.memory_usage().sum() / 2**20, "peak_mib": peak / 2**20,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

MONITOR = """
import json, os, resource, statistics, sys, time, tracemalloc
import numpy as np, pandas as pd
batch_rows, columns, repeat, folder = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.environ["HOME"] = folder
import modeldb_core as mdb
from sklearn.linear_model import Ridge
from modeldb_core.sklearn import autolog
mdb.configure(uri=f"sqlite:///{folder}/bench.db")
names = [f"f{i}" for i in range(columns)]
rng = np.random.default_rng(1)
train = pd.DataFrame(rng.normal(size=(200_000, columns)), columns=names)
autolog(register_model="bench")
model = Ridge().fit(train, train["f0"])
autolog(disable=True)
mdb.flush()
batches = [pd.DataFrame(rng.normal(size=(batch_rows, columns)), columns=names) for _ in range(repeat + 1)]
predictions = [model.predict(b) for b in batches]
start = time.perf_counter()
first = mdb.monitor("models:/bench/1", batch=batches[0], predictions=predictions[0], deployment="bench")
first_s = time.perf_counter() - start
times = []
for batch, predicted in zip(batches[1:], predictions[1:]):
    start = time.perf_counter()
    result = mdb.monitor("models:/bench/1", batch=batch, predictions=predicted, deployment="bench")
    times.append(time.perf_counter() - start)
assert result.error is None, result.error
tracemalloc.start()
mdb.monitor("models:/bench/1", batch=batches[1], predictions=predictions[1], deployment="bench")
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
mdb.flush()
print(json.dumps({"first_s": first_s, "median_s": statistics.median(times), "best_s": min(times),
                  "metrics": len(result.metrics), "peak_mib": peak / 2**20,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    p = child(PROFILE, str(args.rows), str(args.columns), str(args.repeat))
    print(f"profile {args.rows:,} x {args.columns} DataFrame ({p['data_mib']:.0f} MiB): "
          f"median {p['median_s']:.3f} s, best {p['best_s']:.3f} s (target <= 2 s); "
          f"stored {p['bytes']:,} bytes (<= 65,536), KLL k={p['k']}; peak memory of profiling {p['peak_mib']:.0f} MiB "
          f"(process peak RSS {p['rss_mib']:.0f} MiB, the frame included)")
    with tempfile.TemporaryDirectory() as folder:
        m = child(MONITOR, str(args.batch), str(args.columns), str(args.repeat), folder)
    print(f"monitor {args.batch:,} x {args.columns} batch incl. drift: median {m['median_s'] * 1000:.0f} ms, "
          f"best {m['best_s'] * 1000:.0f} ms (target <= 200 ms); first call {m['first_s'] * 1000:.0f} ms "
          f"(imports, reference); {m['metrics']} metrics per run; peak memory of a call {m['peak_mib']:.1f} MiB "
          f"(process peak RSS {m['rss_mib']:.0f} MiB, training data and scikit-learn included)")


if __name__ == "__main__":
    main()
