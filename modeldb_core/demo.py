"""``modeldb demo``: a small house-price project tracked end to end.

Pure Python, no setup: raw data is generated, cleaned, turned into features
and split; four model versions are trained by gradient descent with different
hyperparameters (a loss curve each) and evaluated on held-out data. With
scikit-learn installed a Pipeline and a grid search are trained on the same
split and evaluated on the same held-out rows. Every model's held-out error is
the metric ``rmse`` (with ``mae`` and ``r2``), so the best model the demo names
in its note is the run ``modeldb best --metric rmse`` finds. Then it prints
what ModelDB kept.
"""
from __future__ import annotations

import csv
import json
import math
import random
import time
from pathlib import Path

from . import active_run, add_note, log_metric, set_tag, tracked_task
from .client import configure, get_client
from .redaction import redact_uri

PROJECT = "house-prices"
FEATURES = ["sqft", "bedrooms", "age", "distance_km", "garage", "sqft_per_bedroom", "log_distance"]
# A categorical column: the hand-written models leave it out, the scikit-learn pipeline encodes it.
NEIGHBORHOODS = {"riverside": 40_000, "old town": 25_000, "hills": 60_000, "harbour": 10_000}


def _write_rows(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _read_rows(path: str) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


@tracked_task(project=PROJECT, phase="data_prep", outputs=["raw_path"])
def generate_raw_data(raw_path: str, rows: int = 1500, seed: int = 7) -> str:
    """Simulate a property export: some rows miss values, some are duplicates."""
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        sqft = rng.gauss(1800, 500)
        bedrooms = max(1, round(sqft / 600 + rng.gauss(0, 0.7)))
        age = rng.randint(0, 90)
        distance = abs(rng.gauss(12, 8)) + 0.5
        garage = rng.random() < 0.6
        hood = rng.choice(sorted(NEIGHBORHOODS))
        price = 40_000 + 180 * sqft + 9_000 * bedrooms - 900 * age - 6_500 * math.log(distance) \
            + 25_000 * garage + NEIGHBORHOODS[hood] + rng.gauss(0, 25_000)
        row = [i, round(sqft, 1), bedrooms, age, round(distance, 2), int(garage), hood, round(price, 2)]
        if rng.random() < 0.04:
            row[rng.randint(1, 5)] = ""
        out.append(row)
        if rng.random() < 0.01:
            out.append(list(row))
    _write_rows(Path(raw_path), ["id", "sqft", "bedrooms", "age", "distance_km", "garage", "neighborhood", "price"],
                out)
    return raw_path


@tracked_task(project=PROJECT, phase="data_prep", outputs=["clean_path"])
def clean_data(raw_path: str, clean_path: str) -> str:
    header, rows = _read_rows(raw_path)
    seen, kept = set(), []
    for row in rows:
        if "" in row or row[0] in seen:
            continue
        seen.add(row[0])
        kept.append(row)
    log_metric("rows_in", len(rows))
    log_metric("rows_out", len(kept))
    _write_rows(Path(clean_path), header, kept)
    return clean_path


@tracked_task(project=PROJECT, phase="feature_engineering", outputs=["train_path", "test_path"])
def build_features(clean_path: str, train_path: str, test_path: str, test_fraction: float = 0.2,
                   seed: int = 11) -> dict:
    _, rows = _read_rows(clean_path)
    table = []
    hoods = []
    for _, sqft, bedrooms, age, distance, garage, hood, price in rows:
        sqft, bedrooms, distance = float(sqft), float(bedrooms), float(distance)
        table.append([sqft, bedrooms, float(age), distance, float(garage), sqft / bedrooms,
                      math.log(distance), float(price)])
        hoods.append(hood)
    columns = list(zip(*table))
    means = [sum(c) / len(c) for c in columns[:-1]]
    stds = [math.sqrt(sum((x - m) ** 2 for x in c) / len(c)) or 1.0 for c, m in zip(columns, means)]
    scaled = [[(x - m) / s for x, m, s in zip(row[:-1], means, stds)] + [hood, row[-1] / 1000]
              for row, hood in zip(table, hoods)]
    random.Random(seed).shuffle(scaled)
    cut = int(len(scaled) * (1 - test_fraction))
    header = FEATURES + ["neighborhood", "price_k"]
    _write_rows(Path(train_path), header, scaled[:cut])
    _write_rows(Path(test_path), header, scaled[cut:])
    log_metric("train_rows", cut)
    log_metric("test_rows", len(scaled) - cut)
    return {"features": FEATURES, "train_rows": cut}


def _load(path: str, features: list[str]) -> tuple[list[list[float]], list[float]]:
    header, rows = _read_rows(path)
    index = [header.index(f) for f in features]
    return [[float(r[i]) for i in index] for r in rows], [float(r[-1]) for r in rows]


@tracked_task(project=PROJECT, phase="training", outputs=["model_path"])
def train_model(train_path: str, model_path: str, features: list, learning_rate: float = 0.05,
                epochs: int = 60, l2: float = 0.0, seed: int = 0) -> str:
    """Linear regression by full-batch gradient descent; logs the loss of every epoch."""
    X, y = _load(train_path, features)
    rng = random.Random(seed)
    weights = [rng.gauss(0, 0.01) for _ in features]
    bias = sum(y) / len(y)
    n = len(y)
    for epoch in range(epochs):
        errors = [sum(w * x for w, x in zip(weights, row)) + bias - target for row, target in zip(X, y)]
        mse = sum(e * e for e in errors) / n
        log_metric("train_mse", mse, step=epoch)
        grads = [2 * sum(e * row[j] for e, row in zip(errors, X)) / n + 2 * l2 * weights[j]
                 for j in range(len(features))]
        weights = [w - learning_rate * g for w, g in zip(weights, grads)]
        bias -= learning_rate * 2 * sum(errors) / n
    Path(model_path).write_text(json.dumps({"features": features, "weights": weights, "bias": bias}))
    return model_path


def held_out_metrics(truth: list[float], predicted: list[float]) -> dict[str, float]:
    """The held-out metrics every model of the demo is judged by, under one set of names."""
    errors = [p - t for p, t in zip(predicted, truth)]
    mean = sum(truth) / len(truth)
    return {
        "rmse": math.sqrt(sum(e * e for e in errors) / len(errors)),
        "mae": sum(abs(e) for e in errors) / len(errors),
        "r2": 1 - sum(e * e for e in errors) / sum((t - mean) ** 2 for t in truth),
    }


@tracked_task(project=PROJECT, phase="evaluation")
def evaluate_model(model_path: str, test_path: str) -> dict:
    model = json.loads(Path(model_path).read_text())
    X, y = _load(test_path, model["features"])
    predictions = [sum(w * x for w, x in zip(model["weights"], row)) + model["bias"] for row in X]
    metrics = held_out_metrics(y, predictions)
    for key, value in metrics.items():
        log_metric(key, value)
    run = active_run()
    return {**metrics, "run_id": run.id if run is not None else None}


VERSIONS = [
    {"learning_rate": 0.01, "epochs": 40, "l2": 0.0, "features": FEATURES[:4]},
    {"learning_rate": 0.05, "epochs": 60, "l2": 0.0, "features": FEATURES[:5]},
    {"learning_rate": 0.05, "epochs": 80, "l2": 0.01, "features": FEATURES},
    {"learning_rate": 0.1, "epochs": 80, "l2": 0.001, "features": FEATURES},
]


@tracked_task(project=PROJECT, phase="training", name="house_prices_pipeline", capture_return=False,
              outputs=["workdir"])
def house_prices_pipeline(workdir: str) -> list[dict]:
    """The whole project as one parent run; every step is a child run.

    Returns one entry a model: ``model`` (its name), ``about``, ``run_id`` (the
    run holding its held-out ``rmse``), and the held-out metrics.
    """
    folder = Path(workdir)
    raw = generate_raw_data(str(folder / "raw.csv"))
    clean = clean_data(raw, str(folder / "clean.csv"))
    train_path, test_path = str(folder / "train.csv"), str(folder / "test.csv")
    build_features(clean, train_path, test_path)
    models = []
    for number, version in enumerate(VERSIONS, start=1):
        model_path = str(folder / f"model_v{number}.json")
        train_model(train_path, model_path, **version)
        metrics = evaluate_model(model_path, test_path)
        about = (f"gradient descent, lr={version['learning_rate']} epochs={version['epochs']} "
                 f"l2={version['l2']} features={len(version['features'])}")
        models.append({"model": f"v{number}", "about": about, **metrics})
    models += _sklearn_stage(train_path, test_path)
    best = min(models, key=lambda m: m["rmse"])
    set_tag("best_model", best["model"])
    set_tag("best_run", best["run_id"])
    add_note(f"best model: {best['model']} ({best['about']}), run {best['run_id']}: "
             f"held-out rmse {best['rmse']:.2f}k")
    return models


def _sklearn_stage(train_path: str, test_path: str) -> list[dict]:
    """The scikit-learn models, trained on the same split, when scikit-learn is installed."""
    try:
        from .sklearn import demo as sklearn_demo
    except ImportError:
        return []
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return []
    return sklearn_demo.demo_models(project=PROJECT, train_path=train_path, test_path=test_path)


def run_demo(uri: str | None = None, workdir: str | None = None) -> list[dict]:
    """Run the demo project into the store at ``uri`` (default: the configured store) and print it."""
    client = configure(uri=uri) if uri else get_client()
    folder = Path(workdir) if workdir else Path(client.settings.artifacts).parent / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    models = house_prices_pipeline(str(folder))
    elapsed = time.time() - started
    _print_summary(client, models, elapsed)
    return models


def _print_summary(client, models: list[dict], elapsed: float) -> None:
    store = client.store
    runs = [r for r in store.list_runs(project=PROJECT, limit=1000) if r.started_at >= time.time() - elapsed - 60]
    print(f"ModelDB recorded {len(runs)} runs in {elapsed:.1f} s into {redact_uri(store.uri)}\n")
    width = max((len(str(r.id)) for r in runs), default=3)
    print(f"{'run':<{width}}  {'phase':<20} {'name':<24} {'status':<10} {'seconds':>7}")
    for run in sorted(runs, key=lambda r: (r.started_at, str(r.id))):
        print(f"{run.id!s:<{width}}  {run.phase or '-':<20} {run.name:<24} {run.status:<10} "
              f"{run.duration or 0:>7.3f}")
    print("\nModels, judged on the same held-out rows (rmse and mae in thousands):")
    for m in models:
        print(f"  {m['model']:<9} run {m['run_id']!s}  rmse={m['rmse']:6.2f}  mae={m['mae']:6.2f}  "
              f"r2={m['r2']:.3f}  {m['about']}")
    best = min(models, key=lambda m: m["rmse"])
    print(f"\nBest: {best['model']}, run {best['run_id']} (rmse {best['rmse']:.2f}): "
          "what `modeldb best --metric rmse` finds.")
    print("\nNext: `modeldb runs list -p house-prices`, `modeldb best --metric rmse`, "
          f"`modeldb runs show {best['run_id']}`, `modeldb lineage run:{best['run_id']}`, `modeldb ui`.")
