"""Metrics computed after training, recorded on the run of the model that made the predictions.

How a metric call finds its model: the outermost ``predict`` /
``predict_proba`` / ``predict_log_proba`` / ``decision_function`` of a model
that autolog recorded remembers its result (by identity, weakly: nothing is
kept alive) together with the data it was given; a numpy view of it
(``model.predict_proba(X)[:, 1]``) counts as the prediction too. When a metric function of
``sklearn.metrics`` (``*_score``, ``*_error``, ``*_loss``, ``*_deviance``,
``matthews_corrcoef``) is then called with that result as its prediction
argument and returns one number, the number is logged on the model's run
under the function's name (a second call on other data is the next step of the
same metric) and the evaluation data (``X_eval``, ``y_eval``) are recorded as
inputs of that run.

The metric functions are replaced in ``sklearn.metrics``; a name a user
module bound before ``autolog()`` (``from sklearn.metrics import r2_score``)
is rebound in that module too (only in modules outside site-packages and the
standard library), and everything is put back by ``autolog(disable=True)``.
The replacements pickle as the originals (see
:class:`~modeldb_core.sklearn.patching.ReplacedFunction`).
"""
from __future__ import annotations

import inspect
import numbers
import os
import sys
import sysconfig
import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable

from ..safety import safe_call
from .patching import ReplacedFunction

MAX_REMEMBERED = 256
_PREDICTION_ARGS = ("y_pred", "y_score", "y_proba", "y_prob", "probas_pred", "pred_decision", "labels_pred")
_TRUTH_ARGS = ("y_true", "labels_true")
_EXTRA = {"matthews_corrcoef", "mean_poisson_deviance", "mean_gamma_deviance", "mean_tweedie_deviance"}
# Metrics of a clustering (X, labels) or a bicluster: not about a model's predictions.
_NOT_PREDICTION_METRICS = {"silhouette_score", "calinski_harabasz_score", "davies_bouldin_score",
                           "consensus_score"}


class _Prediction:
    __slots__ = ("run", "data", "__weakref__")

    def __init__(self, run: Any, data: Any):
        self.run = run
        self.data = data  # weak reference to X, or None


_lock = threading.Lock()
_remembered: "OrderedDict[int, tuple[weakref.ref, _Prediction]]" = OrderedDict()
_patched_functions: dict[str, Callable[..., Any]] = {}
_rebound: list[tuple[dict[str, Any], str, Callable[..., Any]]] = []


def _weak(value: Any) -> weakref.ref | None:
    try:
        return weakref.ref(value)
    except TypeError:
        return None


def remember(result: Any, run: Any, X: Any) -> None:
    """Remember that ``result`` is ``run``'s model's prediction for ``X``."""
    ref = _weak(result)
    if ref is None:
        return
    key = id(result)
    with _lock:
        _remembered[key] = (ref, _Prediction(run, _weak(X)))
        _remembered.move_to_end(key)
        while len(_remembered) > MAX_REMEMBERED:
            _remembered.popitem(last=False)


def lookup(value: Any) -> _Prediction | None:
    """The prediction ``value`` is, or is a numpy view of (``proba[:, 1]``)."""
    for _ in range(4):
        if value is None:
            return None
        with _lock:
            found = _remembered.get(id(value))
        if found is not None and found[0]() is value:  # else the id was reused by another object
            return found[1]
        value = getattr(value, "base", None) if type(value).__module__ == "numpy" else None
    return None


def forget_all() -> None:
    with _lock:
        _remembered.clear()


def metric_names() -> list[str]:
    import sklearn.metrics as metrics

    names = []
    for name in getattr(metrics, "__all__", dir(metrics)):
        if name in _NOT_PREDICTION_METRICS:
            continue
        if name.endswith(("_score", "_error", "_loss", "_deviance")) or name in _EXTRA:
            if callable(getattr(metrics, name, None)):
                names.append(name)
    return names


def _record(name: str, signature: inspect.Signature | None, args: tuple, kwargs: dict, value: Any,
            record_data: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return  # arrays (multioutput="raw_values") and reports are not one metric
    if signature is None:
        return
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return
    prediction = None
    for arg in _PREDICTION_ARGS:
        if arg in bound:
            prediction = lookup(bound[arg])
            if prediction is not None:
                break
    if prediction is None:
        return
    run = prediction.run
    run.log_metric(name, float(value))
    if record_data:
        X = prediction.data() if prediction.data is not None else None
        if X is not None:
            safe_call("record evaluation data", run.log_input, X, name="X_eval")
        truth = next((bound[a] for a in _TRUTH_ARGS if a in bound), None)
        if truth is not None:
            safe_call("record evaluation data", run.log_input, _as_artifact(truth), name="y_eval")
    run.flush()


def _as_artifact(value: Any) -> Any:
    from ..fingerprint import is_artifact

    if is_artifact(value):
        return value
    import numpy as np

    return np.asarray(value)


def _metric_wrapper(name: str, original: Callable[..., Any], active: Callable[[], bool],
                    record_data: Callable[[], bool]) -> Callable[..., Any]:
    try:
        signature: inspect.Signature | None = inspect.signature(original)
    except (TypeError, ValueError):
        signature = None

    def metric(*args: Any, **kwargs: Any) -> Any:
        value = original(*args, **kwargs)
        if active():
            safe_call(f"record the metric {name}", _record, name, signature, args, kwargs, value, record_data())
        return value

    return ReplacedFunction(original, metric)


def _user_modules() -> list[Any]:
    """Modules whose names we may rebind: the user's own code, not libraries."""
    skip = {os.path.realpath(p) for p in {sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("purelib"),
                                          sysconfig.get_paths().get("platlib")} if p}
    modules = []
    for module in list(sys.modules.values()):
        try:  # a lazy module may raise anything on attribute access
            name = getattr(module, "__name__", "") or ""
            if not isinstance(name, str) or name.startswith(
                    ("sklearn", "modeldb_core", "numpy", "scipy", "pandas", "_pytest", "pytest")):
                continue
            path = getattr(module, "__file__", None)
            if name != "__main__" and not isinstance(path, str):
                continue
            if isinstance(path, str):
                real = os.path.realpath(path)
                if any(real.startswith(s + os.sep) for s in skip) or "site-packages" in real:
                    continue
        except Exception:  # noqa: BLE001
            continue
        modules.append(module)
    return modules


def replace_functions(module: Any, wrappers: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Put ``wrappers`` in ``module`` and in the user modules that bound the originals; return the originals."""
    originals = {name: getattr(module, name) for name in wrappers}
    for name, wrapper in wrappers.items():
        setattr(module, name, wrapper)
        _rebound.append((module.__dict__, name, originals[name]))
    by_identity = {id(f): name for name, f in originals.items()}
    for user_module in _user_modules():
        namespace = getattr(user_module, "__dict__", None)
        if not isinstance(namespace, dict) or namespace is module.__dict__:
            continue
        for attr, value in list(namespace.items()):
            name = by_identity.get(id(value))
            if name is not None and value is originals[name]:
                namespace[attr] = wrappers[name]
                _rebound.append((namespace, attr, value))
    return originals


def restore_functions() -> None:
    """Undo every ``replace_functions`` (a name the user rebound since is left alone)."""
    for namespace, attr, original in reversed(_rebound):
        if getattr(namespace.get(attr), "__modeldb_patched__", False):
            namespace[attr] = original
    _rebound.clear()


def patch_metrics(active: Callable[[], bool], record_data: Callable[[], bool]) -> None:
    import sklearn.metrics as metrics

    if _patched_functions:
        return
    wrappers = {}
    for name in metric_names():
        original = getattr(metrics, name)
        if not getattr(original, "__modeldb_patched__", False):
            wrappers[name] = _metric_wrapper(name, original, active, record_data)
    _patched_functions.update(replace_functions(metrics, wrappers))


def unpatch_metrics() -> None:
    restore_functions()
    _patched_functions.clear()
    forget_all()
