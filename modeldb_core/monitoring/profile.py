"""Data profiles: the compact statistical summary of a data set that drift is measured against.

A profile is plain JSON (``PROFILE_FORMAT``), at most ``profile_bytes`` (64 KiB by
default) however large the data set:

- ``rows``: the data set's rows; ``profiled_rows``: the rows the statistics describe.
  Beyond ``profile_rows`` rows (100,000 by default) a seeded uniform sample of that
  many rows is profiled (``sampled: true``), so the cost is bounded and the same data
  gives the same profile.
- per column: ``kind`` (``numeric`` or ``categorical``), ``dtype``, ``count`` (values
  present), ``nulls`` (missing: None, NaN, NaT), ``nan`` (of them, float NaN), ``inf``;
  for numeric columns ``min``/``max``/``mean``/``std`` of the finite values, a few
  ``quantiles``, and ``sketch``: an Apache DataSketches KLL sketch of the finite values
  (mergeable; its ``k`` is the largest that keeps the profile in its size budget);
  ``distinct``: the distinct values among the profiled rows; for categorical columns (and
  numeric ones with at most 20 values) ``top``: the 20 most frequent values (their first
  200 characters) with their counts and ``other`` for the rest.

The budget: the statistics take at most 60% of it (a very wide data set loses its
``quantiles`` first, then its last columns: ``columns_omitted``); sketches share the rest,
all with the same ``k``, the largest of 200, 128, 64, 32, 16, 8 that fits; columns left
over when even ``k=8`` does not fit have no sketch (``sketch_omitted``) and drift tests only
their missing values.

numpy and pandas are imported inside the functions: ``import modeldb_core`` stays light.
"""
from __future__ import annotations

import base64
import json
from typing import Any

PROFILE_FORMAT = "modeldb.profile/1"
TOP_VALUES = 20
MAX_VALUE_CHARS = 200  # a categorical value is known by its first 200 characters
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
# KLL sketch sizes tried, largest first, until the profile fits its byte budget.
SKETCH_KS = (200, 128, 64, 32, 16, 8)
_SEED = 0x6D6462
_STATISTICS_SHARE = 0.6  # of the byte budget, at most, for the statistics before sketches
_SKETCH_OVERHEAD = 60  # the JSON around one column's sketch  # "mdb": the sample of a large data set is the same on every call


class ProfileInputError(ValueError):
    """The value cannot be profiled (not a DataFrame, Series or array)."""


def columns_of(data: Any) -> list[tuple[str, Any]]:
    """``(name, 1-d values)`` of a DataFrame, Series or 1-/2-d numpy array (columns named
    ``"0"``, ``"1"``... like ``pandas.DataFrame(array)``)."""
    module = type(data).__module__.split(".", 1)[0]
    kind = type(data).__name__
    if module == "pandas" and kind == "DataFrame":
        return _frame_columns(data)
    if module == "pandas" and kind == "Series":
        return [(str(data.name) if data.name is not None else "0", data)]
    if module == "numpy" and hasattr(data, "ndim"):
        if data.ndim == 1:
            return [("0", data)]
        if data.ndim == 2:
            return [(str(i), data[:, i]) for i in range(data.shape[1])]
    if isinstance(data, (list, tuple)) and data and module == "builtins":
        import numpy as np

        return columns_of(np.asarray(data))
    raise ProfileInputError(f"cannot profile a {type(data).__module__}.{type(data).__qualname__}: "
                            "expected a pandas DataFrame or Series or a 1-d/2-d numpy array")


def _frame_columns(frame: Any) -> list[tuple[str, Any]]:
    """A frame's columns; the plain numeric ones (most of a feature table) as one float64 block
    read at once, since pandas' per-column access costs more than the statistics."""
    import numpy as np

    dtypes = list(frame.dtypes)
    plain = [i for i, d in enumerate(dtypes) if getattr(d, "kind", "O") in "iuf" and isinstance(d, np.dtype)]
    block = frame.iloc[:, plain].to_numpy(dtype="float64") if len(plain) > 1 else None
    at = {column: j for j, column in enumerate(plain)}
    columns = []
    for i, name in enumerate(frame.columns):
        if block is not None and i in at:
            columns.append((str(name), _Column(block[:, at[i]], dtypes[i])))
        else:
            columns.append((str(name), frame.iloc[:, i]))
    return columns


class _Column:
    """A frame column read as float64, keeping the dtype the frame gave it."""

    __slots__ = ("dtype", "values")

    def __init__(self, values: Any, dtype: Any):
        self.values, self.dtype = values, dtype

    def __len__(self) -> int:
        return len(self.values)


def row_count(data: Any) -> int:
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape):
        return int(shape[0])
    return len(data)


def sample_rows(data: Any, limit: int, seed: int = _SEED) -> tuple[Any, bool]:
    """``data`` itself when it has at most ``limit`` rows, else a seeded uniform sample of
    ``limit`` rows (in their original order)."""
    rows = row_count(data)
    if rows <= limit:
        return data, False
    import numpy as np

    picked = np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))
    if hasattr(data, "iloc"):
        return data.iloc[picked], True
    return data[picked], True


def is_numeric(values: Any) -> bool:
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        return False
    kind = getattr(dtype, "kind", "O")
    return kind in "iuf"


def numeric_values(values: Any) -> Any:
    """A float64 numpy array of a numeric column (pandas nullable missing values as NaN)."""
    import numpy as np

    if isinstance(values, _Column):
        return values.values
    if hasattr(values, "to_numpy"):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(values, dtype="float64")


def category_codes(values: Any) -> Any:
    """A column as text (``None`` for a missing value), for counting categories."""
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(values)
    present = series.notna()
    text = series.astype(str).str.slice(0, MAX_VALUE_CHARS)
    return text.where(present, None)


def _datasketches() -> Any:
    from ..extras import require

    return require("datasketches", "monitoring", "data profiles")


def _kll(finite: Any, k: int) -> Any:
    import numpy as np

    datasketches = _datasketches()

    sketch = datasketches.kll_floats_sketch(k)
    if finite.size:
        with np.errstate(over="ignore"):  # beyond float32's range: kept as +-inf, the sketch's own limit
            sketch.update(np.ascontiguousarray(finite, dtype=np.float32))
    return sketch


def _short(value: float) -> float:
    """A statistic to 7 significant digits (float32's precision, the sketch's): a smaller profile."""
    return float(f"{value:.7g}")


def value_key(value: float) -> str:
    """The name of a value of a numeric column with few values (as ``top`` lists it)."""
    return repr(float(value))


def _numeric_column(values: Any) -> tuple[dict[str, Any], Any]:
    import numpy as np

    array = numeric_values(values)
    nan = np.isnan(array)
    inf = np.isinf(array)
    finite = np.sort(array[~(nan | inf)])
    nulls = int(nan.sum())
    if hasattr(values, "isna") and getattr(values.dtype, "kind", "f") not in "f":
        nulls = int(values.isna().sum())  # a pandas nullable integer column's missing values
    column: dict[str, Any] = {
        "kind": "numeric", "dtype": str(values.dtype), "count": int(array.size - nulls), "nulls": nulls,
        "nan": int(nan.sum()) if getattr(values.dtype, "kind", "f") == "f" else 0, "inf": int(inf.sum()),
    }
    if finite.size:
        positions = np.asarray(QUANTILES) * (finite.size - 1)
        below = np.floor(positions).astype(int)
        above = np.minimum(below + 1, finite.size - 1)
        quantiles = finite[below] + (finite[above] - finite[below]) * (positions - below)
        column.update({"min": _short(finite[0]), "max": _short(finite[-1]), "mean": _short(finite.mean()),
                       "std": _short(finite.std()),
                       "quantiles": {str(q): _short(v) for q, v in zip(QUANTILES, quantiles)}})
        column["distinct"] = int(np.count_nonzero(np.diff(finite)) + 1) + int(inf.any())
        if column["distinct"] <= TOP_VALUES:
            # A few values (codes, counts, flags): their counts, so drift is tested per value.
            found, counts = np.unique(finite, return_counts=True)
            column["top"] = [[value_key(v), int(c)] for v, c in zip(found, counts)]
            column["other"] = 0
    else:
        column["distinct"] = int(inf.any())
    return column, finite


def _categorical_column(values: Any) -> dict[str, Any]:
    codes = category_codes(values)
    nulls = int(codes.isna().sum())
    counts = codes.value_counts(dropna=True)
    top = counts.iloc[:TOP_VALUES]
    return {"kind": "categorical", "dtype": str(getattr(values, "dtype", "object")),
            "count": int(len(codes) - nulls), "nulls": nulls, "nan": 0, "inf": 0,
            "distinct": int(counts.size), "top": [[str(v), int(c)] for v, c in top.items()],
            "other": int(counts.iloc[TOP_VALUES:].sum())}


def _encoded_size(profile: dict[str, Any]) -> int:
    return len(json.dumps(profile, separators=(",", ":"), allow_nan=True, default=str))


def build_profile(data: Any, max_rows: int | None = None, max_bytes: int | None = None,
                  seed: int = _SEED) -> dict[str, Any]:
    """The profile of ``data`` (see the module docstring); ``max_rows`` and ``max_bytes``
    default to the settings ``profile_rows`` and ``profile_bytes``."""
    return profile_with_values(data, max_rows, max_bytes, seed)[0]


def profile_with_values(data: Any, max_rows: int | None = None, max_bytes: int | None = None,
                        seed: int = _SEED) -> tuple[dict[str, Any], dict[str, Any]]:
    """The profile, and the sorted finite values of each numeric column it was made from
    (what drift tests reuse rather than sort again)."""
    if max_rows is None or max_bytes is None:
        from ..client import get_client

        settings = get_client().settings
        max_rows = max_rows if max_rows is not None else settings.profile_rows
        max_bytes = max_bytes if max_bytes is not None else settings.profile_bytes
    columns_in = columns_of(data)
    rows = row_count(data)
    sample, sampled = sample_rows(data, max_rows, seed)
    profiled = row_count(sample)
    columns: dict[str, Any] = {}
    finite_of: dict[str, Any] = {}
    for name, values in columns_of(sample):
        if is_numeric(values):
            columns[name], finite_of[name] = _numeric_column(values)
        else:
            columns[name] = _categorical_column(values)
    profile: dict[str, Any] = {"format": PROFILE_FORMAT, "rows": rows, "profiled_rows": profiled,
                               "sampled": sampled, "seed": seed if sampled else None,
                               "columns": columns}
    if len(columns_in) != len(columns):
        profile["duplicate_column_names"] = True
    _fit_statistics(profile, int(max_bytes * _STATISTICS_SHARE))
    finite_of = {name: values for name, values in finite_of.items() if name in profile["columns"]}
    _add_sketches(profile, finite_of, max_bytes)
    return profile, finite_of


def _fit_statistics(profile: dict[str, Any], limit: int) -> None:
    """Keep the statistics of a very wide data set within ``limit`` bytes, leaving the rest of
    the budget to sketches: first without ``quantiles`` (the sketch has them), then without
    the last columns (``columns_omitted``: how many, and the first names)."""
    if _encoded_size(profile) <= limit:
        return
    for column in profile["columns"].values():
        column.pop("quantiles", None)
    size = _encoded_size(profile)
    if size <= limit:
        return
    names = list(profile["columns"])
    sizes = [_encoded_size(profile["columns"][n]) + len(n) + 4 for n in names]
    removed: list[str] = []
    while names and size > limit - 2000:  # room for the note of what was left out
        size -= sizes.pop()
        removed.append(names.pop())
        del profile["columns"][removed[-1]]
    removed.reverse()
    profile["columns_omitted"] = {"count": len(removed), "first": [n[:100] for n in removed[:10]]}


def _add_sketches(profile: dict[str, Any], finite_of: dict[str, Any], max_bytes: int) -> None:
    """Give each numeric column the largest KLL sketch that keeps the profile in ``max_bytes``;
    when even the smallest does not fit, the columns left over get none (``sketch_omitted``)."""
    base = _encoded_size(profile)
    names = list(finite_of)
    if not names:
        return
    # Sketch one column at the largest k, then pick the k whose sketches fit (a sketch's
    # size grows about linearly with k), checking the choice on the real sketches.
    widest = finite_of[max(names, key=lambda n: finite_of[n].size)]
    large, small = SKETCH_KS[0], SKETCH_KS[-2]
    size_large, size_small = (len(base64.b64encode(_kll(widest, k).serialize())) for k in (large, small))
    per_k = max(size_large - size_small, 0) / (large - small)
    room = (max_bytes - base) / len(names) - _SKETCH_OVERHEAD
    fitting = [k for k in SKETCH_KS if size_small + (k - small) * per_k <= room]
    for k in fitting or SKETCH_KS[-1:]:
        encoded = {name: base64.b64encode(_kll(finite_of[name], k).serialize()).decode() for name in names}
        if base + sum(len(e) + _SKETCH_OVERHEAD for e in encoded.values()) <= max_bytes:
            break
    used, omitted = base + 1500, []  # room for the note of the columns left without a sketch
    for name in names:
        cost = len(encoded[name]) + _SKETCH_OVERHEAD
        if used + cost > max_bytes:
            omitted.append(name)
            continue
        profile["columns"][name]["sketch"] = {"type": "kll_floats", "k": k, "data": encoded[name]}
        used += cost
    if omitted:
        profile["sketch_omitted"] = {"count": len(omitted), "first": [n[:100] for n in omitted[:10]]}


def load_sketch(column: dict[str, Any]) -> Any:
    """The KLL sketch of a profiled numeric column (``None`` when it has none)."""
    sketch = column.get("sketch")
    if not sketch:
        return None
    return _datasketches().kll_floats_sketch.deserialize(base64.b64decode(sketch["data"]))


def reference_cdf(column: dict[str, Any]) -> tuple[Any, Any] | None:
    """``(values, cdf)``: the sorted distinct values the column's sketch keeps and the share
    of values at or below each (a right-continuous step function)."""
    import numpy as np

    sketch = load_sketch(column)
    if sketch is None or sketch.is_empty():
        return None
    pairs = np.array(list(sketch), dtype=np.float64).reshape(-1, 2)
    order = np.argsort(pairs[:, 0], kind="stable")
    values, weights = pairs[order, 0], pairs[order, 1]
    cumulative = np.cumsum(weights) / weights.sum()
    distinct, last = np.unique(values, return_index=False, return_counts=True)
    ends = np.cumsum(last) - 1
    return distinct, cumulative[ends]


def sketch_rank_error(column: dict[str, Any]) -> float:
    """The sketch's normalized rank error (99% confidence, one rank): 0 when it is exact."""
    sketch = column.get("sketch")
    if not sketch:
        return 1.0
    datasketches = _datasketches()
    loaded = load_sketch(column)
    if not loaded.is_estimation_mode():
        return 0.0
    return float(datasketches.kll_floats_sketch.get_normalized_rank_error(int(sketch["k"]), False))


def dumps(profile: dict[str, Any]) -> str:
    # Not sorted: the columns keep their order (an array's columns are known by position).
    return json.dumps(profile, separators=(",", ":"), allow_nan=True, default=str)
