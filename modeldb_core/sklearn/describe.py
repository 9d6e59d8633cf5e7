"""What an estimator is, as params and tags: hyperparameters, class, features, versions."""
from __future__ import annotations

import json
import sys
from typing import Any

from .. import params as param_rule
from .. import validation
from .graph import class_path

MAX_FEATURES_SHOWN = 200


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "get_params") and hasattr(value, "fit") and not isinstance(value, type)


def _distribution(value: Any) -> str | None:
    """``loguniform(0.001, 10)`` for a frozen scipy distribution (``param_distributions``)."""
    dist = getattr(value, "dist", None)
    if dist is None or not hasattr(value, "args") or not hasattr(value, "kwds"):
        return None
    shown = [repr(a) for a in value.args] + [f"{k}={v!r}" for k, v in value.kwds.items()]
    return f"{getattr(dist, 'name', type(dist).__name__)}({', '.join(shown)})"


def param_value(value: Any, depth: int = 0) -> Any:
    """A hyperparameter as a param value: estimators by class, lists of steps by their names."""
    if _is_estimator(value):
        return class_path(value)
    described = _distribution(value)
    if described is not None:
        return described
    if depth < 3 and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return param_rule.normalize({k: param_value(v, depth + 1) for k, v in value.items()})
    if depth < 3 and isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return param_rule.normalize([param_value(v, depth + 1) for v in value])  # a list of grids
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, tuple) and v and isinstance(v[0], str)
                                                          for v in value):
        # steps / transformers / estimators: [(name, estimator, columns?)] -> names, classes, columns
        return [[v[0], *(param_value(x) if i == 0 else param_rule.normalize(x) for i, x in enumerate(v[1:]))]
                for v in value]
    if callable(value) and hasattr(value, "__qualname__") and not hasattr(value, "get_params"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return param_rule.normalize(value)


def hyperparameters(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=True)`` with nested step names as keys (``preprocess__num__scaler__with_mean``)."""
    try:
        raw = estimator.get_params(deep=True)
    except Exception:  # noqa: BLE001 - a custom estimator with a broken get_params
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or len(key) > validation.MAX_KEY or not key or key != key.strip():
            continue
        out[key] = param_value(value)
    return out


def json_list(values: list[Any], limit: int = validation.MAX_TAG_VALUE) -> str:
    """A JSON list that fits in a tag: cut, with the number left out as the last item."""
    items = [str(v) for v in values]
    shown = items[:MAX_FEATURES_SHOWN]
    text = json.dumps(shown, separators=(",", ":"))
    while len(text) > limit - 40 and shown:
        shown = shown[: max(len(shown) // 2, 0)]
        text = json.dumps(shown, separators=(",", ":"))
    if len(shown) < len(items):
        text = json.dumps([*shown, f"... {len(items) - len(shown)} more"], separators=(",", ":"))
    return text


def features_in(estimator: Any) -> list[str] | None:
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return None
    return [str(n) for n in names]


def features_out(estimator: Any) -> list[str] | None:
    """What the estimator outputs (a transformer) or what its final step sees (a predicting pipeline)."""
    target = estimator
    if hasattr(estimator, "steps") and not hasattr(estimator, "transform") and len(estimator.steps) > 1:
        try:
            target = estimator[:-1]
        except Exception:  # noqa: BLE001
            return None
    if not hasattr(target, "get_feature_names_out") or not hasattr(target, "transform"):
        return None
    try:
        return [str(n) for n in target.get_feature_names_out()]
    except Exception:  # noqa: BLE001 - not every transformer can name its outputs
        return None


def library_versions() -> dict[str, str]:
    """Versions of the libraries a pickled model needs, of those already imported."""
    import platform

    versions = {"python": platform.python_version()}
    for name in ("sklearn", "numpy", "scipy", "pandas", "joblib"):
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None)
        if version:
            versions["scikit-learn" if name == "sklearn" else name] = str(version)
    return versions


def is_transformer_only(estimator: Any) -> bool:
    """A transformer fit on its own (nothing that predicts): its run is feature engineering.

    ``score_samples`` and ``score`` do not make a model: PCA and FactorAnalysis
    have them (a likelihood of the data), and they are still transformers."""
    return (hasattr(estimator, "transform") or hasattr(estimator, "fit_transform")) and not any(
        hasattr(estimator, m) for m in ("predict", "predict_proba", "decision_function", "fit_predict"))


def shape_of(value: Any) -> list[int] | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        try:
            return [len(value)]
        except TypeError:
            return None
    try:
        return [int(s) for s in shape]
    except (TypeError, ValueError):
        return None
