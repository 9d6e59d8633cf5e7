"""One Airflow task instance try, recorded as one ModelDB run.

Everything here runs inside the listener, in the worker process that runs
the task. What is read from Airflow (ids, arguments, params, inlets and
outlets, the return value) is gathered in the hook's own thread and recorded
through the tracking runtime.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Iterable

from modeldb_core import calls, phases
from modeldb_core import fingerprint as fp
from modeldb_core import validation
from modeldb_core.model import ArtifactVersion
from modeldb_core.safety import safe_call
from modeldb_core.task import project_for, tracked

from . import dag as dag_rules

ORCHESTRATOR = "airflow"
# Context entries Airflow injects into a callable by name: never user params.
_CONTEXT_NAMES = {
    "ti", "task_instance", "dag", "dag_run", "task", "params", "conf", "ds", "ds_nodash", "ts",
    "ts_nodash", "ts_nodash_with_tz", "logical_date", "data_interval_start", "data_interval_end",
    "run_id", "macros", "var", "conn", "outlets", "inlets", "outlet_events", "inlet_events",
    "triggering_asset_events", "map_index_template", "prev_data_interval_start_success",
    "prev_data_interval_end_success", "prev_start_date_success", "prev_end_date_success",
    "start_date", "test_mode", "expanded_ti_count", "templates_dict", "task_reschedule_count",
}
_PYTHON_FIELDS = {"op_args", "op_kwargs", "templates_dict"}


def external_id(dag_id: str, run_id: str, task_id: str, map_index: int | None) -> str:
    """``<dag>/<run>/<task>`` (``[i]`` appended for a mapped task); the try is ``try_number``."""
    base = f"{dag_id}/{run_id}/{task_id}"
    return f"{base}[{map_index}]" if map_index is not None and map_index >= 0 else base


def lineage_item(item: Any) -> tuple[str | None, Any] | None:
    """An inlet or outlet (Asset, File-like, URI string) as ``(name, uri)``."""
    uri = getattr(item, "uri", None)
    if uri is None and isinstance(item, str):
        uri = item
    if uri is None and hasattr(item, "url"):
        uri = item.url
    if not uri:
        return None
    name = getattr(item, "name", None)
    return (name if isinstance(name, str) and validation.is_valid_key(name) else None), uri


# The URI of an Airflow Asset declared by name only (its Airflow URI has no scheme).
ASSET_SCHEME = "airflow-asset"


def _is_asset(item: Any) -> bool:
    from airflow.sdk import Asset

    return isinstance(item, Asset)


@functools.lru_cache(maxsize=1024)
def _signature(fn: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _xcom_fed(value: Any) -> bool:
    from airflow.sdk.definitions.xcom_arg import XComArg

    return next(iter(XComArg.iter_xcom_references(value)), None) is not None


class TaskRecord:
    """What one try of one task instance hands to tracking."""

    def __init__(self, ti: Any):
        task = ti.task
        self.ti = ti
        self.task = task
        self.dag = task.dag
        self.dag_id: str = ti.dag_id
        self.task_id: str = ti.task_id
        self.run_id: str = ti.run_id
        self.map_index: int | None = getattr(ti, "map_index", None)
        self.try_number: int | None = getattr(ti, "try_number", None)
        self.callable = getattr(task, "python_callable", None)
        self.tracker = tracked(self.callable) if self.callable is not None else None
        self.external_id = external_id(self.dag_id, self.run_id, self.task_id, self.map_index)
        self.result: Any = None
        self.has_result = False
        self._context: dict[str, Any] | None = None
        self._dag_params: dict[str, Any] | None = None
        self._sources: dict[str, tuple[Any, bool]] | None = None
        self._upstream: list[tuple[str, str, int | None]] | None = None

    @property
    def key(self) -> tuple:
        return (self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number)

    # -- who and what ------------------------------------------------------
    def tags(self) -> dict[str, Any]:
        tags = {"airflow.dag_id": self.dag_id, "airflow.task_id": self.task_id,
                "airflow.run_id": self.run_id, "airflow.try_number": self.try_number,
                "airflow.operator": type(self.task).__name__}
        if self.map_index is not None and self.map_index >= 0:
            tags["airflow.map_index"] = self.map_index
        if self.tracker is not None and self.tracker.tags:
            tags.update(self.tracker.tags)
        return tags

    @property
    def project(self) -> str | None:
        """``@tracked_task(project=)`` of the callable, which logs into this task's run (None:
        the configured project, ``MODELDB_PROJECT``)."""
        return project_for(self.callable)

    def phase(self, params: dict[str, Any]) -> str | None:
        """The one phase rule (``modeldb_core.phases``): the ``modeldb_phase`` param, then
        ``@tracked_task(phase=)``, then a DAG tag ``phase:<phase>``, then the task id's words."""
        return phases.phase_for(self.task_id, task=params.get(dag_rules.PHASE_PARAM),
                                function=self.callable, pipeline=dag_rules.tag_phase(self.dag))

    def context(self) -> dict[str, Any]:
        if self._context is None:
            # The task runner built (and cached) the context before calling the
            # listener; building it again would validate every param again (~1 ms).
            cached = getattr(self.ti, "_cached_template_context", None)
            try:
                self._context = cached if isinstance(cached, dict) else self.ti.get_template_context()
            except Exception:  # noqa: BLE001 - no context: params fall back to the defaults
                self._context = {}
        return self._context

    def dag_params(self) -> dict[str, Any]:
        """The DAG and task params as this run resolved them (run conf included)."""
        if self._dag_params is None:  # asked for the phase, then again for the params
            params = self.context().get("params") or getattr(self.task, "params", None) or {}
            self._dag_params = {str(k): params[k] for k in list(params.keys())}
        return self._dag_params

    def dag_run_start(self) -> float | None:
        try:
            return self.context()["dag_run"].start_date.timestamp()
        except Exception:  # noqa: BLE001
            return None

    # -- params and inputs -------------------------------------------------
    def arguments(self) -> dict[str, Any]:
        """The callable's arguments, bound by name with defaults applied (context names left out)."""
        args = list(getattr(self.task, "op_args", None) or ())
        kwargs = dict(getattr(self.task, "op_kwargs", None) or {})
        signature = _signature(self.callable)
        try:
            if signature is None:
                raise TypeError("no signature")
            bound = signature.bind_partial(*args, **kwargs)
            bound.apply_defaults()
        except TypeError:
            named = {f"arg{i}": v for i, v in enumerate(args)}
            named.update(kwargs)
            return named
        out: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                out.update({k: v for k, v in value.items() if k not in _CONTEXT_NAMES})
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                out.update({f"{name}[{i}]": v for i, v in enumerate(value)})
            elif name not in _CONTEXT_NAMES and name not in ("self", "cls"):
                out[name] = value
        return out

    def _argument_sources(self) -> dict[str, tuple[Any, bool]]:
        """Each argument as the DAG was written (an XComArg where an upstream task feeds it),
        and whether the task is expanded over it."""
        if self._sources is None:  # asked for the upstream tries, then for what XCom fed
            self._sources = self._read_argument_sources()
        return self._sources

    def _read_argument_sources(self) -> dict[str, tuple[Any, bool]]:
        original = self.dag.task_dict.get(self.task_id) if self.dag is not None else None
        if original is None or self.callable is None:
            return {}
        sources: dict[str, tuple[Any, bool]] = {}
        expand = self._expand_input(original)
        if expand is not None:
            partial = getattr(original, "partial_kwargs", None) or {}
            plain = dict(partial.get("op_kwargs") or {})
            positional = list(partial.get("op_args") or ())
        else:
            plain = dict(getattr(original, "op_kwargs", None) or {})
            positional = list(getattr(original, "op_args", None) or ())
        signature = _signature(self.callable)
        names = list(signature.parameters) if signature is not None else []
        for i, value in enumerate(positional):
            sources[names[i] if i < len(names) else f"arg{i}"] = (value, False)
        sources.update({name: (value, False) for name, value in plain.items()})
        sources.update({name: (value, True) for name, value in (expand or {}).items()})
        return sources

    def xcom_fed_names(self) -> set[str]:
        """Which arguments came from an upstream task's XCom (read off the DAG as written)."""
        return {name for name, (value, _) in self._argument_sources().items() if _xcom_fed(value)}

    @staticmethod
    def _expand_input(original: Any) -> dict[str, Any] | None:
        getter = getattr(original, "_get_specified_expand_input", None)
        try:
            value = getter().value if getter is not None else None
        except Exception:  # noqa: BLE001 - not a mapped operator after all
            return None
        return value if isinstance(value, dict) else None

    def upstream_tries(self, arguments: dict[str, Any] | None = None) -> list[tuple[str, str, int | None]]:
        """``(input name, upstream task id, its map index)``: the upstream tries whose whole
        return value is an input of this try, where the value this try receives is not that
        return value itself, so the input is found in the store (by the listener):

        - a mapped try expanded over an upstream's list receives one element of it: its input
          is the upstream's whole output, or, when the upstream is mapped too (a map over a
          map), the output of the upstream's try with the same map index;
        - a task given a mapped upstream's results (a reduce) receives a lazy sequence: its
          inputs are the outputs of each of the upstream's tries (``name[i]``)."""
        if self._upstream is not None:  # asked for the params, then again for the inputs
            return self._upstream
        from airflow.sdk.definitions.mappedoperator import MappedOperator
        from airflow.sdk.definitions.xcom_arg import XComArg

        arguments = self.arguments() if arguments is None else arguments
        mapped_try = self.map_index is not None and self.map_index >= 0
        found: list[tuple[str, str, int | None]] = []
        sources = [(name, operator, expanded) for name, (value, expanded) in self._argument_sources().items()
                   for operator, key in XComArg.iter_xcom_references(value)
                   if key == "return_value" and validation.is_valid_key(name)]
        for name, operator, expanded in sources:
            upstream_mapped = isinstance(operator, MappedOperator)
            if expanded and mapped_try:
                found.append((name, operator.task_id, self.map_index if upstream_mapped else None))
            elif upstream_mapped and not expanded:
                count = safe_call("count a mapped task's results", len, arguments.get(name), default=0) or 0
                found += [(f"{name}[{i}]", operator.task_id, i) for i in range(min(count, calls.MAX_ITEMS))]
        self._upstream = found
        return found

    def params_and_inputs(self) -> tuple[dict[str, Any], list[tuple[str | None, ArtifactVersion]]]:
        params: dict[str, Any] = {}
        inputs: list[tuple[str | None, ArtifactVersion]] = []
        if self.callable is not None:
            arguments = {k: v for k, v in self.arguments().items() if validation.is_valid_key(k)}
            for name in {name.split("[", 1)[0] for name, _, _ in self.upstream_tries(arguments)}:
                value = arguments.get(name)
                if name in arguments and not fp.is_artifact(value):
                    # An element of an upstream's output, or a lazy sequence of a mapped
                    # upstream's results: its inputs are upstream outputs (found in the store
                    # by the listener, ``upstream_tries``); the value is a param.
                    value = arguments.pop(name)
                    if not isinstance(value, (str, int, float, bool, list, dict, tuple)):
                        value = safe_call("read a mapped task's results", list, value) or repr(value)
                    params[name] = value
            # The one rule of every integration (modeldb_core.calls), XCom-fed arguments
            # being handed over by their upstream task.
            found, found_inputs = calls.split_arguments(arguments, handed_over=self.xcom_fed_names())
            params.update(found)
            inputs += found_inputs
            templates = getattr(self.task, "templates_dict", None)
            if templates:
                params["templates_dict"] = templates
        for field in getattr(self.task, "template_fields", ()) or ():
            if field in _PYTHON_FIELDS and self.callable is not None:
                continue
            value = getattr(self.task, field, None)
            if value is not None and value != "" and validation.is_valid_key(field):
                params.setdefault(field, value)
        for name, value in self.dag_params().items():
            if name != dag_rules.PHASE_PARAM:
                params.setdefault(f"params.{name}", value)
        inputs.extend(self.declared("inlets"))
        return params, inputs

    def declared(self, which: str) -> list[tuple[str | None, ArtifactVersion]]:
        """Inlets or outlets (Assets, URIs, File-likes) as artifact versions."""
        found = []
        items: Iterable[Any] = getattr(self.task, which, None) or ()
        for item in items:
            named = lineage_item(item)
            if named is None:
                continue
            name, uri = named
            if "://" not in uri and _is_asset(item):
                # Asset(name="x") has the URI "x": an identity in Airflow, not a path; read as
                # one, it would name a file in whatever folder the worker runs in.
                found.append((name, fp.fingerprint(f"{ASSET_SCHEME}://{uri}", kind="asset")))
                continue
            # A file keeps the kind "file" so a Luigi or Prefect task that reads the same
            # path joins the same lineage node; any other Asset URI is an "asset".
            kind = None if uri.startswith("file://") or "://" not in uri else "asset"
            found.append((name, fp.fingerprint(uri, kind=kind)))
        return found

    # -- the result ------------------------------------------------------------
    def capture_result(self) -> None:
        """Keep the return value as ``execute`` hands it to XCom, without reading XCom back."""
        task = self.task
        original = task.execute

        def execute(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self.result, self.has_result = result, True
            return result

        # The worker runs a per-try copy of the operator (``prepare_for_execution``),
        # so this shadows ``execute`` on that copy only.
        task.execute = execute

    def outputs(self) -> list[tuple[str | None, ArtifactVersion]]:
        outputs: list[tuple[str | None, ArtifactVersion]] = []
        if self.has_result:
            # The one rule (modeldb_core.calls): what XCom pushes is handed over downstream.
            pushed = getattr(self.task, "do_xcom_push", True)
            outputs += calls.outputs_of(self.result, handed_over=pushed)
            if pushed and getattr(self.task, "multiple_outputs", False) and isinstance(self.result, dict):
                # Each key is an XCom of its own, handed over alone (``summary["total"]``).
                named = {name for name, _ in outputs}
                for key, value in self.result.items():
                    if isinstance(key, str) and f"{calls.RETURN}.{key}" not in named:
                        outputs += calls.versions_of(f"{calls.RETURN}.{key}", value, handed_over=True)
        outputs.extend(self.declared("outlets"))
        return outputs
