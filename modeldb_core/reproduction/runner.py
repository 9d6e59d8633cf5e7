"""The process that re-executes a run: ``python -m modeldb_core.reproduction.runner SPEC.json``.

Started by ``modeldb reproduce`` with the checked-out code first on ``sys.path``. For a
``@tracked_task`` run it imports the entry point, seeds as the run was seeded,
re-creates the arguments and calls the function; the first run it starts takes the id
the spec gives and is linked to the original run (``recipe.Reproducing``).

An orchestrator's run names its own runner in its recipe (``entry["runner"]``, an
importable ``module:function``; Luigi's is ``integrations/luigi/reproduction.py``): the
extension point. It is called with the spec and returns ``{"run_id": the new run,
"reused": [what it did not need to run again]}``, having linked the new run itself.
Either way the result is written to ``spec["result"]`` for ``modeldb reproduce``.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import pathlib
import sys
from typing import Any


def _load(spec: dict[str, Any]) -> Any:
    module_name, qualname = spec["target"].split(":", 1)
    if module_name == "__main__":  # a script: its file, without running its main block
        loader = importlib.util.spec_from_file_location("__modeldb_reproduced__", spec["source_file"])
        module = importlib.util.module_from_spec(loader)
        sys.modules[loader.name] = module
        loader.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _argument(how: dict[str, Any], store: Any) -> Any:
    if "pickle" in how:
        import pickle

        return pickle.loads(store.path(how["pickle"]).read_bytes())  # noqa: S301 - our own snapshot
    value = how["value"]
    if how.get("type") == "path":
        return pathlib.Path(value)
    if how.get("type") == "tuple":
        return tuple(value)
    return value


def arguments_of(spec: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments, re-created as the spec says (what a runner passes the function)."""
    from modeldb_core.artifact_store import ArtifactStore
    from modeldb_core.client import get_client

    store = ArtifactStore(get_client().settings.artifacts)
    return {name: _argument(how, store) for name, how in spec.get("arguments", {}).items()}


def seed(spec: dict[str, Any]) -> None:
    """Seed as the run was seeded (``seed_everything``), if it was."""
    if spec.get("seed_everything") is not None:
        from modeldb_core.seeds import seed_everything

        seed_everything(int(spec["seed_everything"]))


def load(target: str, source_file: str | None = None) -> Any:
    """The object ``module:qualname`` names (a ``__main__`` one from its source file)."""
    return _load({"target": target, "source_file": source_file})


def main(spec_path: str) -> int:
    spec = json.loads(pathlib.Path(spec_path).read_text())
    sys.path.insert(0, spec["import_root"])
    from modeldb_core.errors import ReproductionError

    try:
        result = load(spec["runner"])(spec) if spec.get("runner") else run_function(spec)
    except ReproductionError as exc:  # a clear reason (a DAG file that does not parse): said as it is
        pathlib.Path(spec["result"]).write_text(json.dumps({"error": str(exc)}))
        return 1
    pathlib.Path(spec["result"]).write_text(json.dumps(result))
    return 0


def run_function(spec: dict[str, Any]) -> dict[str, Any]:
    from modeldb_core import recipe
    from modeldb_core.client import get_client

    client = get_client()
    client.reproducing = recipe.Reproducing(spec["original"], spec["run_id"])
    seed(spec)
    fn = _load(spec)
    fn(**arguments_of(spec))
    client.flush()
    return {"run_id": spec["run_id"], "reused": []}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
