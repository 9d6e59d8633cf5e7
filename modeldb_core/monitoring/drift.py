"""Drift of a batch against a reference profile, with thresholds calibrated to the batch size.

Per feature (a column of the reference profile):

- numeric: **Kolmogorov–Smirnov** distance between the batch's finite values and the
  reference sketch's CDF; **PSI** over ten bins at the reference's deciles;
- categorical, and numeric with at most 20 values: **chi-square** test of homogeneity of
  the value counts (values expected fewer than 5 times in the batch pooled), and the
  **Jensen–Shannon** distance; PSI over the same cells;
- missing values: when the reference or the batch has any (nulls, NaN, inf), a binomial
  test of the batch's share against the reference's.

Calibration. A fixed threshold misfires: sampling noise alone moves PSI and KS by about
``1/sqrt(n)``, so a rule tuned for 10,000 rows fires on most unchanged batches of 100 and
misses real drift in batches of 100,000. Every test here compares the batch with the
reference as two samples of one distribution: the reference's *effective size* is its
profiled rows combined with its sketch's rank error (a KLL sketch of rank error ``e`` is
counted as a sample of ``(1.36/e)**2`` rows), ``m = 1/(1/rows + 1/sketch_rows)``.

- KS: the two-sample Kolmogorov distribution at ``n_e = n*m/(n+m)``;
- chi-square: the 2×K contingency table with the reference's counts;
- PSI: its distribution under same-size resamples drawn from the reference itself
  (``RESAMPLES`` multinomial draws of ``n`` and ``m`` values from the reference bins,
  seeded, cached per (reference, feature, batch size)); the threshold is its
  ``1 - fdr`` quantile, its p-value the share of resamples at least as large.

The dataset is flagged when a Benjamini–Hochberg procedure at level ``fdr`` (setting
``drift_fdr``, 0.01) over the features' p-values (KS or chi-square, and missing values)
rejects any; each result keeps its method, sample sizes, p-value and the threshold of its
statistic at the level the procedure used (``k*fdr/m`` for its ``k`` rejections; ``fdr/m``
when none), so ``statistic >= threshold`` is the verdict.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from .profile import (
    category_codes,
    columns_of,
    is_numeric,
    numeric_values,
    reference_cdf,
    sketch_rank_error,
    value_key,
)

RESAMPLES = 2000
PSI_BINS = 10
_PSI_FLOOR = 1e-4  # a bin's share is at least this (an empty bin would make PSI infinite)
_KS_SCALE = 1.36  # the 95% point of the Kolmogorov distribution: rank error -> sample size
_MIN_EXPECTED = 5.0


@dataclass
class FeatureDrift:
    """The drift of one feature: every statistic with how it was judged."""

    feature: str
    kind: str  # numeric | categorical
    method: str  # ks | chi2 | missing-only
    n: int  # batch values tested
    n_reference: float  # the reference's effective size
    statistic: float | None = None  # KS distance or chi-square
    p_value: float | None = None
    threshold: float | None = None  # the statistic's value at the cut BH used
    psi: float | None = None
    psi_threshold: float | None = None
    psi_p_value: float | None = None
    js: float | None = None  # Jensen-Shannon distance (categories)
    degrees_of_freedom: int | None = None  # chi-square
    missing_share: float | None = None
    missing_share_reference: float | None = None
    missing_p_value: float | None = None
    flagged: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass
class DriftReport:
    """The drift of one batch: per feature, the schema problems and the dataset's verdict."""

    rows: int
    fdr: float
    features: list[FeatureDrift]
    missing_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    type_changed: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    flagged: bool = False
    p_cut: float = 0.0  # the Benjamini-Hochberg level: p-values at or below it are rejected (0: none)

    @property
    def flagged_features(self) -> list[str]:
        return [f.feature for f in self.features if f.flagged]

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "features"}
        data["features"] = [dict(f.__dict__) for f in self.features]
        data["flagged_features"] = self.flagged_features
        return data


# -- statistics -------------------------------------------------------------------------------
def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution."""
    from scipy.special import kolmogorov

    return float(kolmogorov(x))


def _ks_scale(n_e: float) -> float:
    root = math.sqrt(n_e)
    return root + 0.12 + 0.11 / root  # Stephens' small-sample correction


def ks_distance(batch_sorted: Any, ref_values: Any, ref_cdf: Any) -> float:
    """sup |F_batch - F_ref| of the batch's ECDF (values sorted) and the reference's step CDF.

    Both are step functions, so the supremum is reached at a batch value, just at or just
    before it: ``(i+1)/n - F_ref(x_i)`` and ``F_ref(x_i-) - i/n`` (exact with ties too)."""
    import numpy as np

    n = batch_sorted.size
    padded = np.concatenate([[0.0], ref_cdf])
    at = padded[np.searchsorted(ref_values, batch_sorted, side="right")]
    before = padded[np.searchsorted(ref_values, batch_sorted, side="left")]
    ranks = np.arange(n, dtype=np.float64)
    return float(max(np.max((ranks + 1) / n - at), np.max(before - ranks / n), 0.0))


def psi(batch_share: Any, ref_share: Any) -> Any:
    """Population stability index (rows: resamples) of shares floored at ``_PSI_FLOOR``."""
    import numpy as np

    b = np.maximum(batch_share, _PSI_FLOOR)
    r = np.maximum(ref_share, _PSI_FLOOR)
    return np.sum((b - r) * np.log(b / r), axis=-1)


def _seed(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big")


@functools.lru_cache(maxsize=4096)
def psi_null(ref_key: str, shares: tuple[float, ...], n: int, m: int, fdr: float) -> tuple[Any, float]:
    """PSI of ``RESAMPLES`` same-size resample pairs (``n`` batch, ``m`` reference values)
    drawn from the reference's own shares, sorted: the statistic's distribution with no
    drift, and its ``1 - fdr`` quantile (the threshold)."""
    import numpy as np

    rng = np.random.default_rng(_seed(ref_key, shares, n, m))
    p = np.asarray(shares, dtype=float)
    p = p / p.sum()
    batch = rng.multinomial(n, p, size=RESAMPLES) / n
    ref = rng.multinomial(max(int(m), 1), p, size=RESAMPLES) / max(int(m), 1)
    null = np.sort(psi(batch, ref))
    null.setflags(write=False)
    return null, float(np.quantile(null, 1 - fdr))


def _psi_judged(ref_key: str, batch_share: Any, ref_share: Any, n: int, m: float, fdr: float
                ) -> tuple[float, float, float]:
    """(PSI, its threshold at level ``fdr`` for this batch size, its resampled p-value)."""
    import numpy as np

    value = float(psi(batch_share, ref_share))
    null, threshold = psi_null(ref_key, tuple(round(float(s), 12) for s in ref_share), n, int(m), fdr)
    at_least = RESAMPLES - int(np.searchsorted(null, value - 1e-12, side="left"))
    return value, threshold, (1 + at_least) / (RESAMPLES + 1)


_prepared: dict[tuple[str, str], Any] = {}


def _numeric_reference(ref_key: str, name: str, column: dict[str, Any]) -> tuple[Any, ...] | None:
    """(values, cdf, PSI bin edges, reference share per bin, effective size) of a numeric
    reference column, computed once per (reference, column) when the reference is named."""
    key = (ref_key, name)
    if ref_key and key in _prepared:
        return _prepared[key]
    import numpy as np

    cdf = reference_cdf(column)
    if cdf is None:
        found = None
    else:
        values, cumulative = cdf
        edges = np.unique(np.interp(np.arange(1, PSI_BINS) / PSI_BINS, cumulative, values))
        index = np.searchsorted(values, edges, side="right") - 1
        below = np.where(index >= 0, cumulative[np.maximum(index, 0)], 0.0)
        share = np.diff(np.concatenate([[0.0], below, [1.0]]))
        found = (values, cumulative, edges, share, effective_reference_size(column))
    if ref_key:
        if len(_prepared) > 10_000:
            _prepared.clear()
        _prepared[key] = found
    return found


def effective_reference_size(column: dict[str, Any]) -> float:
    """The reference's size as a sample: its profiled values and its sketch's precision."""
    rows = max(int(column.get("count", 0)) - int(column.get("inf", 0)), 1)
    error = sketch_rank_error(column) if column.get("kind") == "numeric" and "top" not in column else 0.0
    if error <= 0:
        return float(rows)
    return 1.0 / (1.0 / rows + (error / _KS_SCALE) ** 2)


def _binomial_p(k: int, n: int, rate: float) -> float:
    """Two-sided binomial p-value of ``k`` in ``n`` at ``rate`` (twice the smaller tail)."""
    # scipy.special, not scipy.stats: much lighter to import on a serving process's first call.
    from scipy.special import bdtr, bdtrc

    upper = float(bdtrc(k - 1, n, rate)) if k > 0 else 1.0
    lower = float(bdtr(k, n, rate))
    return min(1.0, 2 * min(upper, lower))


# -- per feature --------------------------------------------------------------------------------
def _missing(result: FeatureDrift, column: dict[str, Any], batch_missing: int, batch_rows: int,
             ref_rows: int) -> None:
    ref_missing = int(column.get("nulls", 0)) + int(column.get("inf", 0))
    result.missing_share = batch_missing / batch_rows if batch_rows else None
    result.missing_share_reference = ref_missing / ref_rows if ref_rows else None
    if batch_rows and (ref_missing or batch_missing):
        rate = (ref_missing + 0.5) / (ref_rows + 1)
        result.missing_p_value = _binomial_p(batch_missing, batch_rows, rate)


def _numeric(name: str, column: dict[str, Any], values: Any, ref_key: str, ref_rows: int,
             fdr: float, finite: Any = None) -> FeatureDrift:
    import numpy as np

    array = numeric_values(values)
    if finite is None:
        finite = np.sort(array[np.isfinite(array)])
    # The sketch keeps float32 values: compare the batch at the same precision, or a value
    # such as 0.1 (0.1000000015 in float32) would fall on the wrong side of its own tie.
    with np.errstate(over="ignore"):
        finite = finite.astype(np.float32).astype(np.float64)
    prepared = _numeric_reference(ref_key, name, column)
    m = prepared[4] if prepared is not None else effective_reference_size(column)
    result = FeatureDrift(name, "numeric", "ks", int(finite.size), m)
    _missing(result, column, int(array.size - finite.size), int(array.size), ref_rows)
    if finite.size == 0 or prepared is None:
        result.method = "missing-only"
        if finite.size == 0:
            result.reasons.append("no finite values in the batch")
        else:
            result.reasons.append("the reference has no sketch of this column")
        return result
    ref_values, ref_cdf, edges, ref_share, _ = prepared
    n = int(finite.size)
    n_e = n * m / (n + m)
    result.statistic = ks_distance(finite, ref_values, ref_cdf)
    result.p_value = kolmogorov_sf(_ks_scale(n_e) * result.statistic)
    batch_share = np.diff(np.concatenate([[0], np.searchsorted(finite, edges, side="right"), [n]])) / n
    result.psi, result.psi_threshold, result.psi_p_value = _psi_judged(
        f"{ref_key}/{name}", batch_share, ref_share, n, m, fdr)
    return result


def _cells(column: dict[str, Any], counts: dict[str, int], n: int) -> tuple[list[int], list[int]]:
    """Reference and batch counts per cell: the reference's values, each expected at least
    ``_MIN_EXPECTED`` times in the batch (rarer ones pooled), and the rest."""
    ref_total = sum(c for _, c in column.get("top", [])) + int(column.get("other", 0))
    ref_cells, batch_cells = [], []
    pooled_ref, pooled_batch = int(column.get("other", 0)), 0
    seen = set()
    for value, count in column.get("top", []):
        seen.add(value)
        if ref_total and n * count / ref_total >= _MIN_EXPECTED:
            ref_cells.append(int(count))
            batch_cells.append(int(counts.get(value, 0)))
        else:
            pooled_ref += int(count)
            pooled_batch += int(counts.get(value, 0))
    pooled_batch += sum(c for v, c in counts.items() if v not in seen)
    if pooled_ref or pooled_batch:
        ref_cells.append(pooled_ref)
        batch_cells.append(pooled_batch)
    return ref_cells, batch_cells


def _categorical(name: str, column: dict[str, Any], values: Any, ref_key: str, ref_rows: int,
                 fdr: float, numeric: bool) -> FeatureDrift:
    import numpy as np

    if numeric:
        array = numeric_values(values)
        finite = array[np.isfinite(array)]
        found, found_counts = np.unique(finite, return_counts=True)
        counts = {value_key(v): int(c) for v, c in zip(found, found_counts)}
        missing = int(array.size - finite.size)
        rows = int(array.size)
    else:
        codes = category_codes(values)
        counts = {str(k): int(v) for k, v in codes.value_counts(dropna=True).items()}
        missing = int(codes.isna().sum())
        rows = len(codes)
    n = rows - missing
    m = float(int(column.get("count", 0)) - int(column.get("inf", 0)))
    result = FeatureDrift(name, "numeric" if numeric else "categorical", "chi2", n, m)
    _missing(result, column, missing, rows, ref_rows)
    if n == 0 or m <= 0:
        result.method = "missing-only"
        result.reasons.append("no values in the batch" if n == 0 else "no values in the reference")
        return result
    ref_cells, batch_cells = _cells(column, counts, n)
    ref_counts = np.asarray(ref_cells, dtype=float)
    batch_counts = np.asarray(batch_cells, dtype=float)
    ref_share, batch_share = ref_counts / ref_counts.sum(), batch_counts / n
    keep = (ref_counts + batch_counts) > 0
    if keep.sum() >= 2:
        from scipy.special import chdtrc

        table = np.vstack([ref_counts[keep], batch_counts[keep]])
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
        result.statistic = float(np.sum((table - expected) ** 2 / expected))
        result.degrees_of_freedom = int(keep.sum() - 1)
        result.p_value = float(chdtrc(result.degrees_of_freedom, result.statistic))
    else:
        result.statistic, result.p_value = 0.0, 1.0
    middle = (ref_share + batch_share) / 2

    def kl(p: Any) -> float:  # to the middle distribution, in bits (0 log 0 = 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum(np.where(p > 0, p * np.log2(p / middle), 0.0)))

    result.js = math.sqrt(max(0.0, (kl(ref_share) + kl(batch_share)) / 2))
    result.psi, result.psi_threshold, result.psi_p_value = _psi_judged(
        f"{ref_key}/{name}", batch_share, ref_share, n, m, fdr)
    return result


# -- the batch ----------------------------------------------------------------------------------
def benjamini_hochberg(p_values: list[float], fdr: float) -> float:
    """The Benjamini–Hochberg level at ``fdr``: ``k*fdr/m`` for the largest ``k`` whose ``k``-th
    smallest p-value is at most that (a p-value at or below it is rejected), else 0."""
    ordered = sorted(p_values)
    total = len(ordered)
    level = 0.0
    for rank, p in enumerate(ordered, start=1):
        if p <= rank * fdr / total:
            level = rank * fdr / total
    return level


def _positional(batch: Any) -> bool:
    return type(batch).__module__.split(".", 1)[0] == "numpy"


def _all_missing(values: Any) -> bool:
    import pandas as pd

    from .profile import numeric_values

    return bool(pd.isna(numeric_values(values) if is_numeric(values) else values).all())


def _as_missing(values: Any, kind: str | None) -> Any:
    """An all-null column as a column of ``kind`` (float NaN, or None)."""
    import numpy as np

    rows = len(values)
    return np.full(rows, np.nan) if kind == "numeric" else np.full(rows, None, dtype=object)


def _kind_of(values: Any) -> str:
    return "numeric" if is_numeric(values) else "categorical"


def compare(reference: dict[str, Any], batch: Any, fdr: float = 0.01, ref_key: str = "",
            sorted_finite: dict[str, Any] | None = None) -> DriftReport:
    """The drift of ``batch`` (a DataFrame or array) against the profile ``reference``
    (``ref_key``: its content hash, under which what is computed from it is cached;
    ``sorted_finite``: the batch's numeric columns' sorted finite values, when known)."""
    from .profile import row_count

    ref_columns: dict[str, Any] = reference.get("columns", {})
    rows = row_count(batch)
    batch_columns = dict(columns_of(batch))
    if _positional(batch) and len(batch_columns) == len(ref_columns) and list(batch_columns) != list(ref_columns):
        # A model served with arrays: its columns are the reference's, in the same order.
        batch_columns = dict(zip(ref_columns, batch_columns.values()))
    report = DriftReport(rows=rows, fdr=fdr, features=[])
    report.missing_columns = [c for c in ref_columns if c not in batch_columns]
    report.extra_columns = [c for c in batch_columns if c not in ref_columns]
    if report.missing_columns:
        report.problems.append("columns missing from the batch: " + ", ".join(report.missing_columns))
    if report.extra_columns:
        report.problems.append("columns not in the reference (not tested): " + ", ".join(report.extra_columns))
    if rows == 0:
        report.problems.append("the batch is empty: nothing to test")
        return report
    ref_rows = int(reference.get("profiled_rows", 0))
    for name, column in ref_columns.items():
        if name not in batch_columns:
            continue
        values = batch_columns[name]
        kind = _kind_of(values)
        if kind != column.get("kind") and _all_missing(values):
            kind = column.get("kind")  # an all-null column has no type of its own: its nulls are tested
            values = _as_missing(values, kind)
        if kind != column.get("kind"):
            report.type_changed[name] = f"{column.get('kind')} ({column.get('dtype')}) -> {kind} ({values.dtype})"
            continue
        if kind == "numeric" and "top" not in column:
            report.features.append(_numeric(name, column, values, ref_key, ref_rows, fdr,
                                            (sorted_finite or {}).get(name)))
        else:
            report.features.append(_categorical(name, column, values, ref_key, ref_rows, fdr,
                                                numeric=kind == "numeric"))
    if report.type_changed:
        report.problems.append("columns whose type changed: " + ", ".join(
            f"{name}: {change}" for name, change in report.type_changed.items()))
    _judge(report, fdr)
    return report


def _judge(report: DriftReport, fdr: float) -> None:
    tests = [(f, "p_value") for f in report.features if f.p_value is not None]
    tests += [(f, "missing_p_value") for f in report.features if f.missing_p_value is not None]
    p_values = [getattr(f, attr) for f, attr in tests]
    cut = benjamini_hochberg(p_values, fdr) if p_values else 0.0
    report.p_cut = cut
    # Each statistic's threshold: its value at the level BH used (with no rejection, the
    # level one feature alone would have needed).
    level = cut if cut > 0 else fdr / max(len(p_values), 1)
    for feature, attr in tests:
        if cut > 0 and getattr(feature, attr) <= cut:
            feature.flagged = True
            feature.reasons.append("distribution changed" if attr == "p_value" else "share of missing values changed")
    for feature in report.features:
        feature.threshold = _threshold(feature, level)
    report.flagged = any(f.flagged for f in report.features) or bool(report.missing_columns) \
        or bool(report.type_changed)


def _threshold(feature: FeatureDrift, level: float) -> float | None:
    """The statistic's value at p = ``level`` for this feature's sample sizes."""
    if feature.method == "ks" and feature.n:
        from scipy.special import kolmogi

        n_e = feature.n * feature.n_reference / (feature.n + feature.n_reference)
        return float(kolmogi(level) / _ks_scale(n_e))
    if feature.method == "chi2" and feature.degrees_of_freedom:
        from scipy.special import chdtri

        return float(chdtri(feature.degrees_of_freedom, level))
    return None
