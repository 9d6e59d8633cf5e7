"""``modeldb demo``: a small house-price project, tracked end to end.

Plain tracked functions, pure Python, no setup: raw data is generated, cleaned,
turned into features and split; four model versions are trained with
different hyperparameters (gradient descent, a loss curve each); each is
evaluated on held-out data. With scikit-learn installed a real Pipeline and a
grid search are trained too. Then it prints what ModelDB kept.
"""
from __future__ import annotations

import csv
import json
import math
import random
import time
from pathlib import Path

from . import add_note, log_metric, set_tag, tracked_task
from .client import configure, get_client
from .redaction import redact_uri

PROJECT = "house-prices"
FEATURES = ["sqft", "bedrooms", "age", "distance_km", "garage", "sqft_per_bedroom", "log_distance"]


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
        price = 40_000 + 180 * sqft + 9_000 * bedrooms - 900 * age - 6_500 * math.log(distance) \
            + 25_000 * garage + rng.gauss(0, 25_000)
        row = [i, round(sqft, 1), bedrooms, age, round(distance, 2), int(garage), round(price, 2)]
        if rng.random() < 0.04:
            row[rng.randint(1, 5)] = ""
        out.append(row)
        if rng.random() < 0.01:
            out.append(list(row))
    _write_rows(Path(raw_path), ["id", "sqft", "bedrooms", "age", "distance_km", "garage", "price"], out)
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
    for _, sqft, bedrooms, age, distance, garage, price in rows:
        sqft, bedrooms, distance = float(sqft), float(bedrooms), float(distance)
        table.append([sqft, bedrooms, float(age), distance, float(garage), sqft / bedrooms,
                      math.log(distance), float(price)])
    columns = list(zip(*table))
    means = [sum(c) / len(c) for c in columns[:-1]]
    stds = [math.sqrt(sum((x - m) ** 2 for x in c) / len(c)) or 1.0 for c, m in zip(columns, means)]
    scaled = [[(x - m) / s for x, m, s in zip(row[:-1], means, stds)] + [row[-1] / 1000] for row in table]
    random.Random(seed).shuffle(scaled)
    cut = int(len(scaled) * (1 - test_fraction))
    _write_rows(Path(train_path), FEATURES + ["price_k"], scaled[:cut])
    _write_rows(Path(test_path), FEATURES + ["price_k"], scaled[cut:])
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


@tracked_task(project=PROJECT, phase="evaluation")
def evaluate_model(model_path: str, test_path: str) -> dict:
    model = json.loads(Path(model_path).read_text())
    X, y = _load(test_path, model["features"])
    predictions = [sum(w * x for w, x in zip(model["weights"], row)) + model["bias"] for row in X]
    errors = [p - t for p, t in zip(predictions, y)]
    mean = sum(y) / len(y)
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors))
    metrics = {
        "rmse": rmse,
        "mae": sum(abs(e) for e in errors) / len(errors),
        "r2": 1 - sum(e * e for e in errors) / sum((t - mean) ** 2 for t in y),
    }
    for key, value in metrics.items():
        log_metric(key, value)
    return metrics


VERSIONS = [
    {"learning_rate": 0.01, "epochs": 40, "l2": 0.0, "features": FEATURES[:4]},
    {"learning_rate": 0.05, "epochs": 60, "l2": 0.0, "features": FEATURES[:5]},
    {"learning_rate": 0.05, "epochs": 80, "l2": 0.01, "features": FEATURES},
    {"learning_rate": 0.1, "epochs": 80, "l2": 0.001, "features": FEATURES},
]


@tracked_task(project=PROJECT, phase="training", name="house_prices_pipeline", capture_return=False)
def house_prices_pipeline(workdir: str) -> list[dict]:
    """The whole project as one parent run; every step above is a child run."""
    folder = Path(workdir)
    raw = generate_raw_data(str(folder / "raw.csv"))
    clean = clean_data(raw, str(folder / "clean.csv"))
    build_features(clean, str(folder / "train.csv"), str(folder / "test.csv"))
    results = []
    for number, version in enumerate(VERSIONS, start=1):
        model_path = str(folder / f"model_v{number}.json")
        train_model(str(folder / "train.csv"), model_path, **version)
        metrics = evaluate_model(model_path, str(folder / "test.csv"))
        results.append({"version": number, **version, **metrics})
    best = min(results, key=lambda r: r["rmse"])
    set_tag("best_version", best["version"])
    add_note(f"version {best['version']} is best: rmse {best['rmse']:.2f}k on held-out data")
    return results


def _sklearn_stage(folder: Path) -> str | None:
    """The scikit-learn part, when scikit-learn is installed."""
    try:
        from .sklearn import demo as sklearn_demo
    except ImportError:
        return None
    runner = getattr(sklearn_demo, "run_demo_stage", None)
    if runner is None:
        return None
    return runner(project=PROJECT, workdir=str(folder))


def run_demo(uri: str | None = None, workdir: str | None = None) -> None:
    """Run the demo project into the store at ``uri`` (default: the configured store) and print it."""
    client = configure(uri=uri) if uri else get_client()
    folder = Path(workdir) if workdir else Path(client.settings.artifacts).parent / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results = house_prices_pipeline(str(folder))
    sklearn_summary = _sklearn_stage(folder)
    elapsed = time.time() - started
    _print_summary(client, results, sklearn_summary, elapsed)


def _print_summary(client, results: list[dict], sklearn_summary: str | None, elapsed: float) -> None:
    store = client.store
    runs = [r for r in store.list_runs(project=PROJECT, limit=1000) if r.started_at >= time.time() - elapsed - 60]
    print(f"ModelDB recorded {len(runs)} runs in {elapsed:.1f} s into {redact_uri(store.uri)}\n")
    print(f"{'run':>5}  {'phase':<20} {'name':<24} {'status':<10} {'seconds':>7}")
    for run in sorted(runs, key=lambda r: r.id):
        print(f"{run.id:>5}  {run.phase or '-':<20} {run.name:<24} {run.status:<10} {run.duration or 0:>7.3f}")
    print("\nModel versions (params -> held-out metrics):")
    for r in results:
        print(f"  v{r['version']}: lr={r['learning_rate']:<5} epochs={r['epochs']:<3} l2={r['l2']:<6} "
              f"features={len(r['features'])}  rmse={r['rmse']:.2f}  r2={r['r2']:.3f}")
    best = min(results, key=lambda r: r["rmse"])
    print(f"\nBest: v{best['version']} (rmse {best['rmse']:.2f}).")
    if sklearn_summary:
        print(sklearn_summary)
    print("\nNext: `modeldb runs list`, `modeldb runs show ID`, `modeldb lineage run:ID --up`, `modeldb ui`.")
