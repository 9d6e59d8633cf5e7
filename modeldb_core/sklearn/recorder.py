"""``autolog()``: every outermost scikit-learn fit becomes a run (see the package docstring)."""
from __future__ import annotations

import os
import pickle
import sys
import threading
import time
import weakref
from typing import Any, Callable

from ..client import get_client
from ..model import RunStatus
from ..safety import report, safe_call
from . import describe, evaluation, graph, patching, search

FIT_METHODS = ("fit", "fit_transform", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
CV_FUNCTIONS = ("cross_validate", "cross_val_score", "cross_val_predict")
PICKLE_PROTOCOL = 5

GRAPH_TAG = "sklearn.pipeline_graph"
GRAPH_ARTIFACT_TAG = "sklearn.pipeline_graph_artifact"

_DEFAULTS: dict[str, Any] = {
    "log_models": True,
    "log_datasets": True,
    "log_training_metrics": True,
    "log_post_training_metrics": True,
    "max_tuning_runs": None,
    "project": None,
    "register_model": None,
}
_settings: dict[str, Any] = dict(_DEFAULTS)
_enabled = False
_enable_lock = threading.Lock()


class _Local(threading.local):
    def __init__(self) -> None:
        self.depth = 0       # hooked fit calls in progress in this thread
        self.predicting = 0  # hooked predict calls in progress in this thread
        self.busy = 0        # autolog's own work (training score, serialization) in progress


_local = _Local()
# Fits in progress in any thread: a fit in another thread meanwhile (a joblib
# worker thread of a meta-estimator) is part of that fit, not a new run.
_active_fits = 0
_active_lock = threading.Lock()
# Fitted models -> their run, so that their predictions can be traced to it.
_models: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()
_models_lock = threading.Lock()

_MODELDB = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SKIP_FRAMES = tuple(os.path.join(p, "") for p in (_MODELDB,))
# ModelDB's demos are user code to autolog: their fits record the demo's own file, not the
# command-line wrapper (click) that called the demo.
_DEMO_FILES = frozenset(os.path.join(_MODELDB, *parts) for parts in (("demo.py",), ("sklearn", "demo.py")))


def _user_file() -> str | None:
    """The file of the first frame outside scikit-learn, joblib, the stdlib wrappers and ModelDB."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename in _DEMO_FILES or not (filename.startswith(_SKIP_FRAMES) or f"{os.sep}sklearn{os.sep}" in filename
                or f"{os.sep}joblib{os.sep}" in filename or filename.startswith("<frozen")
                or filename.endswith((f"{os.sep}functools.py", f"{os.sep}contextlib.py"))):
            return filename if os.path.exists(filename) else None
        frame = frame.f_back
    return None


def _data_args(estimator: Any, args: tuple, kwargs: dict) -> tuple[Any, Any]:
    X = args[0] if args else kwargs.get("X", kwargs.get("raw_documents"))
    y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
    return X, y


def _as_artifact(value: Any) -> Any:
    """Lists become arrays so they can be fingerprinted; arrays, frames and sparse matrices stay."""
    from ..fingerprint import is_artifact

    if value is None or is_artifact(value):
        return value
    import numpy as np

    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - something array-like that numpy refuses
        return None
    return array if array.dtype != object or array.size <= 1_000_000 else None


class _FitSession:
    """One outermost fit being recorded."""

    def __init__(self, run: Any, estimator: Any, method: str, X: Any, y: Any, kwargs: dict,
                 user_file: str | None):
        self.run = run
        self.estimator = estimator
        self.method = method
        self.X = X
        self.y = y
        self.kwargs = kwargs
        self.user_file = user_file
        self.started_at = time.time()

    @classmethod
    def begin(cls, estimator: Any, method: str, args: tuple, kwargs: dict, phase: str | None = None,
              name: str | None = None, data_names: tuple[str, str] = ("X_train", "y_train")
              ) -> "_FitSession | None":
        client = get_client()
        if client.disabled:
            return None
        from ..monitoring.reference import record_profile
        from ..run import active_run, start_run

        import sklearn

        kind = type(estimator)
        phase = phase or ("feature_engineering" if describe.is_transformer_only(estimator) else "training")
        tags = {
            "sklearn.estimator_class": kind.__qualname__,
            "sklearn.estimator_module": graph.public_module(kind),
            "sklearn.version": sklearn.__version__,
            "sklearn.method": method,
            "sklearn.autolog": "true",
        }
        user_file = _user_file()
        # Inside a run (a @tracked_task) the fit belongs to that run's project.
        project = None if active_run() is not None else _settings["project"]
        run = start_run(name or kind.__name__, project=project, phase=phase,
                        params=describe.hyperparameters(estimator), tags=tags, parent=True,
                        code=user_file, client=client)
        X, y = _data_args(estimator, args, kwargs)
        session = cls(run, estimator, method, X, y, kwargs, user_file)
        if _settings["log_datasets"] and run.id is not None:
            for data_name, value in zip(data_names, (X, y)):
                value = safe_call("read training data", _as_artifact, value)
                if value is not None:
                    safe_call("fingerprint training data", run.log_input, value, name=data_name)
                    if data_name.startswith("X"):  # the features: the reference of drift
                        safe_call("profile training data", record_profile, run, data_name, value)
        if method in FIT_METHODS and run.id is not None:
            safe_call("record how to fit it again", _record_fit_recipe, run, estimator, method, X, y, kwargs,
                      data_names)
        run.activate()
        return session

    # -- the end of the fit -------------------------------------------------
    def succeed(self, result: Any, fit_time: float) -> None:
        run = self.run
        if self.method in CV_FUNCTIONS:
            try:
                safe_call("describe the estimator", self._describe_structure)
                safe_call("record the cross-validation", self._record_cv, result, fit_time)
            finally:
                safe_call("end a run", run.end, RunStatus.SUCCEEDED)
            return
        try:
            safe_call("record the fit time", run.log_metric, "fit_time_s", fit_time)
            safe_call("describe the estimator", self._describe_structure)
            if search.is_search(self.estimator):
                safe_call("record the search candidates", self._record_search)
            if _settings["log_training_metrics"] and self.method != "fit_transform":
                safe_call("compute the training score", self._training_metrics)
            if _settings["log_models"] and run.id is not None:
                safe_call("save the fitted model", self._save_model)
        finally:
            safe_call("end a run", run.end, RunStatus.SUCCEEDED)
        with _models_lock:
            _models[self.estimator] = run
        if self.method == "fit_predict" and _settings["log_post_training_metrics"]:
            evaluation.remember(result, run, self.X)

    def fail(self, exc: BaseException) -> None:
        from ..run import status_for

        try:
            safe_call("describe the estimator", self._describe_structure)
        finally:
            safe_call("record a failed run", self.run.end, status_for(exc), error=exc)

    def _describe_structure(self) -> None:
        run, est = self.run, self.estimator
        tags: dict[str, str] = {}
        names_in = safe_call("read feature names", describe.features_in, est)
        if names_in:
            tags["sklearn.features_in"] = describe.json_list(names_in)
        n_in = getattr(est, "n_features_in_", None)
        if isinstance(n_in, int) or hasattr(n_in, "__index__"):
            tags["sklearn.n_features_in"] = str(int(n_in))
        names_out = safe_call("read feature names", describe.features_out, est)
        if names_out:
            tags["sklearn.features_out"] = describe.json_list(names_out)
            tags["sklearn.n_features_out"] = str(len(names_out))
        safe_call("record feature names", run.set_tags, tags)
        safe_call("record the pipeline graph", self._record_graph)

    def _record_graph(self) -> None:
        import json

        structure = graph.build(self.estimator)
        text = json.dumps(structure, separators=(",", ":"), default=str)
        if len(text) <= 5000:
            self.run.set_tag(GRAPH_TAG, text)
            return
        from ..artifact_store import ArtifactStore

        blob = ArtifactStore(self.run.client.settings.artifacts).put_json(
            structure, {"what": "sklearn pipeline graph"})
        self.run.set_tag(GRAPH_ARTIFACT_TAG, blob.content_hash)
        self.run.log_output(blob.artifact_version("pipeline_graph"), name="pipeline_graph")

    def _record_cv(self, result: Any, seconds: float) -> None:
        """Per-fold scores as series (step = fold) with their mean and std; predictions remembered."""
        import numpy as np

        run = self.run
        run.log_metric("cv_time_s", seconds)
        if self.method == "cross_val_predict":
            if _settings["log_post_training_metrics"]:
                evaluation.remember(result, run, self.X)
            return
        scores = {"test_score": result} if self.method == "cross_val_score" else dict(result)
        for key, values in scores.items():
            if not isinstance(key, str) or not (key.startswith(("test_", "train_")) or key.endswith("_time")):
                continue
            try:
                folds = np.asarray(values, dtype=float).reshape(-1)
            except (TypeError, ValueError):
                continue
            if not key.endswith("_time"):
                for fold, value in enumerate(folds):
                    run.log_metric(key, float(value), step=fold)
            if folds.size:
                run.log_metric(f"mean_{key}", float(np.mean(folds)))
                run.log_metric(f"std_{key}", float(np.std(folds)))
        run.set_tag("sklearn.cv_folds", str(len(np.asarray(next(iter(scores.values()), [])).reshape(-1))))

    def _record_search(self) -> None:
        context = {"started_at": self.started_at, "code": self.user_file}
        search.record(self.estimator, self.run, context, _settings["max_tuning_runs"])

    def _training_metrics(self) -> None:
        """Score the model on its training data; one predict serves every derived metric."""
        from sklearn.base import is_classifier, is_regressor

        est, X, y, run = self.estimator, self.X, self.y, self.run
        if y is None or X is None:
            return
        if search.is_search(est) and not hasattr(est, "best_estimator_"):
            return  # refit=False: the search cannot predict or score
        weight = self.kwargs.get("sample_weight")
        _local.busy += 1
        try:
            predicts = (is_regressor(est) or is_classifier(est)) and hasattr(est, "predict")
            predicted = safe_call("predict the training data", est.predict, X) if predicts else None
            predicts = predicts and predicted is not None
            standard = _standard_score(est) if predicts else None
            import sklearn.metrics as m

            functions: dict[str, Callable[..., Any]] = {}
            options: dict[str, Any] = {}
            if predicts and is_regressor(est):
                functions = {"r2_score": m.r2_score, "mean_squared_error": m.mean_squared_error,
                             "mean_absolute_error": m.mean_absolute_error}
            elif predicts:
                functions = {"accuracy_score": m.accuracy_score, "precision_score": m.precision_score,
                             "recall_score": m.recall_score, "f1_score": m.f1_score}
                options = {"average": "weighted", "zero_division": 0}
            values: dict[str, float] = {}
            for name, function in functions.items():
                original = evaluation._patched_functions.get(name, function)
                extra = options if name in ("precision_score", "recall_score", "f1_score") else {}
                value = safe_call(f"compute training {name}", original, y, predicted,
                                  sample_weight=weight, **extra)
                if value is not None and not hasattr(value, "__len__"):
                    values[name] = float(value)
            scorers = _multimetric_scorers(est)
            if scorers:
                for name, value in _scorer_values(est, scorers, X, y, weight).items():
                    run.log_metric(f"training_score_{name}", value)
            # The default score *is* R² / accuracy of these predictions: no second predict.
            if standard in values:
                score = values[standard]
            elif scorers and callable(getattr(est, "refit", None)):
                # scikit-learn's search.score has no scorer to use here (it raises KeyError):
                # the model that was refit scores itself.
                best = est.best_estimator_
                score = safe_call("compute the training score", _score, best, X, y, weight) \
                    if hasattr(best, "score") else None
            elif hasattr(est, "score"):
                score = safe_call("compute the training score", _score, est, X, y, weight)
            else:
                score = None
            if score is not None:
                run.log_metric("training_score", score)
            for name, value in values.items():
                run.log_metric(f"training_{name}", value)
        finally:
            _local.busy -= 1

    def _save_model(self) -> None:
        from ..artifact_store import ArtifactStore

        est = self.estimator
        description = {
            "format": "pickle", "pickle_protocol": PICKLE_PROTOCOL, "kind": "model",
            "flavor": "sklearn", "class": graph.class_path(est),
            "library_versions": describe.library_versions(),
        }
        store = ArtifactStore(self.run.client.settings.artifacts)
        _local.busy += 1
        started = time.perf_counter()
        try:
            blob = store.put_stream(lambda sink: pickle.dump(est, sink, protocol=PICKLE_PROTOCOL), description)
        finally:
            _local.busy -= 1
        # The time is the run's (the artifact version is shared by every run that made the same bytes).
        self.run.log_metric("model_serialization_s", time.perf_counter() - started)
        # Pushed to the server when the store is one (by the writer), so a serving host can load it.
        self.run.client.keep_blob(store.root, blob.content_hash)
        version = blob.artifact_version("model")
        self.run.log_output(version, name="model")
        if _settings["register_model"]:
            self.run.register_model(_settings["register_model"], version)


def _data_size(value: Any) -> int | None:
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    usage = getattr(value, "memory_usage", None)
    if callable(usage):
        try:
            return int(usage(index=True, deep=False).sum())
        except Exception:  # noqa: BLE001 - not a pandas object after all
            return None
    return None


def _record_fit_recipe(run: Any, estimator: Any, method: str, X: Any, y: Any, kwargs: dict,
                       data_names: tuple[str, str]) -> None:
    """The ``sklearn`` part of the run's recipe: the unfitted estimator (a clone, pickled, so
    ``get_params(deep=True)`` comes back exactly), the training data, and whether a
    ``random_state`` was left to chance (``unseeded``)."""
    from sklearn.base import clone

    from .. import recipe
    from ..artifact_store import ArtifactStore

    settings = run.client.settings
    store = ArtifactStore(settings.artifacts)
    _local.busy += 1
    try:
        unfitted = store.put_bytes(pickle.dumps(clone(estimator), protocol=PICKLE_PROTOCOL),
                                   {"format": "pickle", "kind": "unfitted_estimator",
                                    "class": graph.class_path(estimator)})
        # The training data is what re-fitting needs: kept (pickled, content addressed, so the
        # same data fitted again costs nothing) up to the fit_data_max_bytes setting.
        cap = settings.fit_data_max_bytes
        snapshots: dict[str, str] = {}
        too_big: dict[str, int] = {}
        for name, value in zip(data_names, (X, y)):
            size = _data_size(value)
            if value is None or (size is not None and size > cap):
                if value is not None:
                    too_big[name] = size
                continue
            data = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
            if len(data) <= cap:
                snapshots[name] = store.put_bytes(data, {"format": "pickle", "kind": "training_data"}).content_hash
            else:
                too_big[name] = len(data)
    finally:
        _local.busy -= 1
    params = estimator.get_params(deep=True)
    unseeded = sorted(k for k, v in params.items()
                      if (k == "random_state" or k.endswith("__random_state")) and v is None)
    run.record_recipe(recipe.SKLEARN, {
        "estimator": graph.class_path(estimator), "method": method, "unfitted": unfitted.content_hash,
        "snapshots": snapshots, **({"not_kept": too_big} if too_big else {}), "data": [n for n, v in zip(data_names, (X, y)) if v is not None],
        "fit_arguments": sorted(k for k in kwargs if k not in ("X", "y", "Y")),
        "unseeded": bool(unseeded), "unseeded_params": unseeded})


def _standard_score(est: Any) -> str | None:
    """``r2_score`` / ``accuracy_score`` when ``est.score`` is scikit-learn's default one."""
    from sklearn.base import ClassifierMixin, RegressorMixin

    target = est
    if type(est).__name__ == "Pipeline" and hasattr(est, "_final_estimator"):
        target = est._final_estimator  # Pipeline.score is the final step's score of the transformed X
    score = getattr(type(target), "score", None)
    if score is RegressorMixin.score:
        return "r2_score"
    if score is ClassifierMixin.score:
        return "accuracy_score"
    return None


def _multimetric_scorers(est: Any) -> dict[str, Any] | None:
    """The named scorers of a fitted multi-metric search (``scoring`` a dict or a list)."""
    scorers = getattr(est, "scorer_", None)
    if not (search.is_search(est) and getattr(est, "multimetric_", False) and isinstance(scorers, dict)):
        return None
    return {name: scorer for name, scorer in scorers.items() if isinstance(name, str)}


def _scorer_values(est: Any, scorers: dict[str, Any], X: Any, y: Any, weight: Any) -> dict[str, float]:
    """Each scorer of a multi-metric search on the training data, with the refit best estimator."""
    values = {}
    extra = {} if weight is None else {"sample_weight": weight}
    for name, scorer in scorers.items():
        value = safe_call(f"compute the training score {name}", scorer, est.best_estimator_, X, y, **extra)
        try:
            values[name] = float(value)
        except (TypeError, ValueError):
            continue
    return values


def _score(est: Any, X: Any, y: Any, weight: Any) -> float | None:
    value = est.score(X, y) if weight is None else est.score(X, y, sample_weight=weight)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# -- the hooks ----------------------------------------------------------------
def _on_call(method: str, estimator: Any, bound: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    if method in FIT_METHODS:
        return _on_fit(method, estimator, bound, args, kwargs)
    if method == "score":
        return _on_score(estimator, bound, args, kwargs)
    return _on_predict(method, estimator, bound, args, kwargs)


def _on_score(estimator: Any, bound: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``model.score(X, y)`` after the fit: the metric ``score`` on the model's run, X/y as ``X_eval``/``y_eval``."""
    local = _local
    if local.depth or local.busy or local.predicting or _active_fits or not _enabled \
            or not _settings["log_post_training_metrics"]:
        return bound(*args, **kwargs)
    with _models_lock:
        run = safe_call("find the model's run", _models.get, estimator)
    if run is None:
        return bound(*args, **kwargs)
    local.predicting += 1  # its own predict and metric calls are part of it
    try:
        value = bound(*args, **kwargs)
    finally:
        local.predicting -= 1
    safe_call("record a score", _record_score, run, value, args, kwargs)
    return value


def _record_score(run: Any, value: Any, args: tuple, kwargs: dict) -> None:
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return
    run.log_metric("score", float(value))
    if _settings["log_datasets"]:
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        for name, data in (("X_eval", X), ("y_eval", y)):
            data = safe_call("read evaluation data", _as_artifact, data)
            if data is not None:
                safe_call("record evaluation data", run.log_input, data, name=name)
    run.flush()


def _outermost() -> bool:
    return _enabled and _local.depth == 0 and _local.busy == 0 and _active_fits == 0


def _observed(what: str, session: Any, call: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run ``call`` with every fit inside it counted as inner; ``session`` (if any) records the outcome."""
    global _active_fits
    _local.depth += 1
    with _active_lock:
        _active_fits += 1
    try:
        started = time.perf_counter()
        try:
            result = call(*args, **kwargs)
        except BaseException as exc:
            if session is not None:
                session.run.deactivate()
                safe_call(f"record a failed {what}", session.fail, exc)
            raise
        if session is not None:
            session.run.deactivate()
            safe_call(f"record a {what}", session.succeed, result, time.perf_counter() - started)
        return result
    finally:
        _local.depth -= 1
        with _active_lock:
            _active_fits -= 1


_OWN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")
_sklearn_dirs: tuple[str, tuple[str, ...]] | None = None


def _called_by_sklearn() -> bool:
    """Is the fit starting now called by scikit-learn's own code rather than the user's?

    ``classification_report`` fits a ``LabelEncoder``, ``log_loss`` a
    ``LabelBinarizer``: helpers of a function the user called, not models the
    user made. The caller is the first frame outside this package and outside
    scikit-learn's pass-through wrappers: ``set_output``'s (which may sit in
    front of ours) and ``sklearn.utils.parallel.delayed``'s (a user may hand
    ``delayed(model.fit)`` to joblib)."""
    global _sklearn_dirs
    if _sklearn_dirs is None:
        import sklearn

        root = os.path.join(os.path.dirname(os.path.abspath(sklearn.__file__)), "")
        _sklearn_dirs = (root, (os.path.join(root, "utils", "_set_output.py"),
                                os.path.join(root, "utils", "parallel.py")))
    root, wrappers = _sklearn_dirs
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith(_OWN_DIR) or filename in wrappers):
            return filename.startswith(root)
        frame = frame.f_back
    return False


def _on_fit(method: str, estimator: Any, bound: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    session = None
    if _outermost() and not _called_by_sklearn():
        session = safe_call("start a scikit-learn run", _FitSession.begin, estimator, method, args, kwargs)
    return _observed("fit", session, bound, args, kwargs)


def _on_cv(method: str, original: Callable[..., Any], signature: Any, args: tuple, kwargs: dict) -> Any:
    """A cross-validation function: one run for all its folds (phase ``evaluation``)."""
    session = None
    if _outermost():
        bound = safe_call("read the arguments", lambda: signature.bind(*args, **kwargs).arguments, default={})
        estimator = bound.get("estimator")
        if estimator is not None:
            data = tuple(v for v in (bound.get("X"), bound.get("y")) if v is not None)
            session = safe_call("start a scikit-learn run", _FitSession.begin, estimator, method, data, {},
                                phase="evaluation", name=f"{method}({type(estimator).__name__})",
                                data_names=("X", "y"))
    return _observed("cross-validation", session, original, args, kwargs)


def _cv_wrapper(method: str, original: Callable[..., Any]) -> Callable[..., Any]:
    import inspect

    signature = inspect.signature(original)

    def cross_validation(*args: Any, **kwargs: Any) -> Any:
        return _on_cv(method, original, signature, args, kwargs)

    return patching.ReplacedFunction(original, cross_validation)


def _patch_cross_validation() -> None:
    import sklearn.model_selection as selection

    wrappers = {name: _cv_wrapper(name, getattr(selection, name)) for name in CV_FUNCTIONS
                if hasattr(selection, name) and not getattr(getattr(selection, name), "__modeldb_patched__", False)}
    evaluation.replace_functions(selection, wrappers)


def _on_predict(method: str, estimator: Any, bound: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    local = _local
    if local.depth or local.busy or local.predicting or _active_fits or not _enabled:
        return bound(*args, **kwargs)
    local.predicting += 1
    try:
        result = bound(*args, **kwargs)
    finally:
        local.predicting -= 1
    if _settings["log_post_training_metrics"]:
        safe_call("remember a prediction", _remember, estimator, result, args, kwargs)
    return result


def _remember(estimator: Any, result: Any, args: tuple, kwargs: dict) -> None:
    with _models_lock:
        run = _models.get(estimator)
    if run is not None:
        evaluation.remember(result, run, args[0] if args else kwargs.get("X"))


def _metrics_active() -> bool:
    return _enabled and not _local.busy and not _local.depth and not _local.predicting and not _active_fits


def _metrics_record_data() -> bool:
    return bool(_settings["log_datasets"])


# -- the switch ---------------------------------------------------------------
def autolog(disable: bool = False, *, log_models: bool | None = None, log_datasets: bool | None = None,
            log_training_metrics: bool | None = None, log_post_training_metrics: bool | None = None,
            max_tuning_runs: int | None | str = "keep", project: str | None = None,
            register_model: str | None = None) -> None:
    """Record every outermost scikit-learn fit as a run; ``disable=True`` puts the originals back.

    Options left out keep their current value (the defaults on the first call
    and after ``disable=True``):
    ``log_models`` (save the fitted model in the artifact store), ``log_datasets``
    (fingerprint training and evaluation data as inputs), ``log_training_metrics``
    (the training score and, for regressors and classifiers, standard metrics
    on the training data), ``log_post_training_metrics`` (``sklearn.metrics``
    calls on a model's predictions), ``max_tuning_runs`` (at most this many
    candidate child runs per search, the best ranked; ``None`` for all) and
    ``project`` (for fits outside any run; inside a run its project is used) and
    ``register_model`` (register each saved model as the next version of that model).
    Calling it again is cheap and never patches twice.
    """
    global _enabled
    if not disable:
        from ..extras import require

        require("sklearn", "sklearn", "scikit-learn logging")
    with _enable_lock:
        if disable:
            if _enabled:
                patching.unpatch_all()
                evaluation.unpatch_metrics()
                with _models_lock:
                    _models.clear()
            _enabled = False
            _settings.update(_DEFAULTS)  # a later autolog() starts from the defaults again
            return
        if register_model is not None:
            from ..registry.names import model_name

            register_model = model_name(register_model, "register_model")
        for key, value in (("log_models", log_models), ("log_datasets", log_datasets),
                           ("log_training_metrics", log_training_metrics),
                           ("log_post_training_metrics", log_post_training_metrics), ("project", project),
                           ("register_model", register_model)):
            if value is not None:
                _settings[key] = value
        if max_tuning_runs != "keep":
            if max_tuning_runs is not None and (isinstance(max_tuning_runs, bool)
                                                or not isinstance(max_tuning_runs, int) or max_tuning_runs < 0):
                from ..errors import ValidationError

                raise ValidationError("max_tuning_runs", max_tuning_runs, "must be a whole number >= 0 or None")
            _settings["max_tuning_runs"] = max_tuning_runs
        if _enabled:
            return
        hooks = {name: _on_call for name in (*FIT_METHODS, *PREDICT_METHODS, "score")}
        patching.patch_all(hooks)
        try:
            evaluation.patch_metrics(_metrics_active, _metrics_record_data)
        except Exception as exc:  # noqa: BLE001 - fits are still recorded without it
            report("hook the sklearn.metrics functions", exc)
        try:
            _patch_cross_validation()
        except Exception as exc:  # noqa: BLE001
            report("hook the cross-validation functions", exc)
        _enabled = True


def is_enabled() -> bool:
    return _enabled


def settings() -> dict[str, Any]:
    return dict(_settings)


def run_of(estimator: Any) -> Any:
    """The run that recorded ``estimator``'s last outermost fit (an ``ActiveRun``), if any."""
    with _models_lock:
        return _models.get(estimator)
