"""Native scikit-learn logging: ``from modeldb_core.sklearn import autolog; autolog()``.

Data scientists keep writing plain scikit-learn; with ``autolog()`` on (or
``@tracked_task(sklearn_autolog=True)``), ModelDB records:

- **Every outermost fit** (``fit``, ``fit_transform``, ``fit_predict`` of any
  estimator, scikit-learn's or the user's own) as one run. The fits a
  Pipeline, ColumnTransformer, FeatureUnion, search or other meta-estimator
  makes inside it are part of that run, not runs of their own; so are fits in
  other threads while it runs (joblib workers). A fit inside an active run
  (a ``@tracked_task``, ``start_run``) is a child run of it. Fits that
  scikit-learn's own functions make (``classification_report``'s
  ``LabelEncoder``, ``log_loss``'s ``LabelBinarizer``, ``k_means``) are not runs:
  only fits the user's code makes, directly or through a meta-estimator.
  Phase ``training``; ``feature_engineering`` for a transformer fit alone
  (anything that transforms and does not predict; ``score_samples`` is not a prediction).
- **Params**: ``get_params(deep=True)`` with nested step names as keys
  (``preprocess__num__scaler__with_mean``); estimators as their class path,
  lists of steps as ``[[name, class], ...]``.
- **Tags**: ``sklearn.estimator_class``, ``sklearn.estimator_module``,
  ``sklearn.version``, ``sklearn.method``, ``sklearn.features_in`` /
  ``sklearn.features_out`` (JSON lists, cut to fit a tag, with
  ``sklearn.n_features_in`` / ``sklearn.n_features_out``), and
  ``sklearn.pipeline_graph``: the structure as compact JSON
  ``{"nodes": [{"id", "label", "class", "module", "columns"?, "branch"?}], "edges": [[a, b]], "root"}``
  (format in :mod:`modeldb_core.sklearn.graph`; node ids are the
  ``get_params`` prefixes; a graph over 5,000 characters goes to the artifact
  store and ``sklearn.pipeline_graph_artifact`` holds its hash).
- **Metrics**: ``fit_time_s``, ``model_serialization_s``; ``training_score`` (the estimator's own
  ``score``) and for regressors ``training_r2_score``,
  ``training_mean_squared_error``, ``training_mean_absolute_error``, for
  classifiers ``training_accuracy_score`` and weighted
  ``training_precision_score`` / ``training_recall_score`` / ``training_f1_score``.
  A multi-metric search adds ``training_score_<scorer>`` for each of its scorers
  (the refit best estimator on the training data); refit by a callable, where
  scikit-learn's ``search.score`` has no scorer and raises, ``training_score`` is
  the best estimator's own ``score``.
  After the fit, a ``sklearn.metrics`` function called on the model's
  predictions is logged on the model's run under its name
  (see :mod:`modeldb_core.sklearn.evaluation`), and ``model.score(X, y)`` as
  ``score``.
- **Inputs**: ``X_train`` and ``y_train`` fingerprinted by
  :mod:`modeldb_core.fingerprint` (numpy, pandas, scipy sparse; lists as
  arrays): full SHA-256 up to 256 MiB, sampled beyond, the method recorded.
  ``X_eval`` / ``y_eval`` for post-training metrics.
- **Output** ``model``: the fitted estimator pickled (protocol 5) into the
  content-addressed artifact store (:mod:`modeldb_core.artifact_store`), with
  its hash, size, format, class and library versions; nothing is unpickled to
  show it.
- **Searches** (``GridSearchCV``, ``RandomizedSearchCV``, ``Halving*SearchCV``):
  one child run per candidate (see :mod:`modeldb_core.sklearn.search`), the
  best marked ``sklearn.best_candidate = "true"``.
- **Cross-validation** (``cross_validate``, ``cross_val_score``,
  ``cross_val_predict``): one run per call, phase ``evaluation``, named
  ``cross_val_score(Ridge)``: the estimator's params, ``X`` / ``y`` as inputs,
  per-fold ``test_score`` (and ``train_score``) series with ``mean_*`` /
  ``std_*``, ``cv_time_s``; its folds are not runs (whatever ``n_jobs``), and
  metrics on ``cross_val_predict``'s output are logged on it.
- A failing fit is recorded as ``failed`` (error type, message, traceback)
  and its exception re-raised unchanged; an error in logging is reported once
  and never breaks ``fit``. ``autolog(disable=True)`` puts every original
  method and function back. The replaced functions pickle as the originals
  (a scorer, a search, a model saved while autolog is on loads without ModelDB).
"""
from __future__ import annotations

from .recorder import autolog, is_enabled, run_of, settings

__all__ = ["autolog", "is_enabled", "run_of", "settings"]
