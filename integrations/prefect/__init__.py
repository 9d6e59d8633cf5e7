"""ModelDB tracking for Prefect 3.9 flows: one decorator, no change to the flow.

Install with the ``prefect`` extra (``pip install 'modeldb[prefect]'``). Then::

    from prefect import flow, task
    from modeldb_core.integrations.prefect import tracked_flow

    @tracked_flow(project="pricing", phases={"train": "training"})
    @flow
    def pricing(raw: str = "data/raw.csv"):
        frame = prep(raw)
        features = featurize(frame)
        return train(features)

or, for a flow defined elsewhere, ``tracked = track(pricing, project=...)``.

What is recorded
----------------
- The flow run is a pipeline run of the pipeline (project, flow name,
  ``prefect``), versioned by the flow's version and the tasks its code names;
  its status follows the flow's final state.
- Each attempt of each task run is a run: named after the task, external id
  the task run id, tags ``prefect.flow_run_id``, ``prefect.task_run_id``,
  ``prefect.task_run_name``, ``prefect.task_key`` and ``prefect.state``; try
  number the attempt's; params the bound parameters with defaults (artifact-like
  ones as inputs); the result's fingerprint as output (see ``values``). A
  retried attempt is ``failed`` with the error and tagged ``prefect.retried``;
  the next attempt is a new run. Cancelled task runs are ``killed``, crashed
  ones ``killed`` (interrupt, exit, signal) or ``failed``, with the reason.
- Lineage: Prefect's ``task_inputs`` (the upstream task runs whose results
  feed this one) become input edges to the artifact versions those runs
  produced. ``inputs=`` / ``outputs=`` (task name -> parameter names, paths
  or URIs) add files and tables.
- Inside a task, ``modeldb_core.log_metric`` and friends log into its run; a
  function that is also ``@tracked_task`` logs into it too.

How tasks are seen without decorating each one
----------------------------------------------
Prefect 3.9 has flow hooks (``on_running``, ``on_completion``, ``on_failure``,
``on_cancellation``, ``on_crashed``) and task hooks (``on_running``,
``on_completion``, ``on_failure``), but no hook for "every task run": the
task engine runs the hooks of the ``Task`` object it was handed. So:

1. ``track`` returns ``flow.with_options(...)`` with ModelDB's five flow hooks
   added after the flow's own. ``on_running`` registers the flow run id.
2. ``Task.__call__``, ``Task.submit`` and ``Task.map`` (every way a flow runs a
   task: direct calls, futures, mapping) are wrapped once per process. When the
   current ``FlowRunContext`` is a registered flow run, the call runs on a copy
   of the task made with ``with_options`` that adds ModelDB's task hooks; the
   copy is made once per task object. Otherwise the original call runs
   untouched. User task objects are never modified.

This was chosen over the alternatives because it sees every task the flow
runs however it is reached (helper functions, tasks built with
``with_options`` inside the flow, ``.map``), uses only public Prefect API for
what it records (state hooks, ``TaskRunContext.parameters``,
``task_run.task_inputs``), and costs an untracked flow one context lookup per
task call. Scanning the flow function for task objects misses indirect calls;
a custom task runner misses direct calls, which do not go through it.

Task runs are the core's deferred runs, batched (``start_run(defer=True,
batch=True)``), as Luigi's are. Why: most task runs of a big flow take
milliseconds, and inside a Prefect process every database statement made
from the task's thread competes for the GIL with Prefect's own threads, so a
write there costs several milliseconds. The hooks only check, fingerprint and
buffer; a quick run, succeeded or failed, is written once, lineage and error
included, together with its neighbours, off the task's thread (a run that runs
long is written while it runs). The flow's terminal hook flushes what waits
(``modeldb_core.flush()``), so when a flow call returns its runs are in the
store.

Tracking never breaks a flow: every hook body runs under
``modeldb_core.safety.safe_call`` (errors are logged once, never raised), and
Prefect itself logs and ignores a hook that raises. The flow's states and
results are the ones it would have without tracking.

Limits: task hooks run in the process that runs the task, so tasks run by a
task runner in other processes (Dask, Ray) are not recorded; a subflow's tasks
are recorded when the subflow is itself tracked; a flow whose final state
fires no Prefect hook (it returned a Cancelled or Paused state) has its
pipeline run ended as ``killed`` when the process exits.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from . import flow_hooks, task_hooks
from .flow_run import Options

__all__ = ["track", "tracked_flow"]



def track(flow: Any, *, project: str | None = None, phase: str | None = None,
          phases: Mapping[str, str] | None = None, inputs: Mapping[str, Iterable[Any]] | None = None,
          outputs: Mapping[str, Iterable[Any]] | None = None, capture_results: bool = True) -> Any:
    """A copy of the Prefect ``flow`` whose runs and task runs ModelDB records.

    ``project``: the project (default: the configured one). ``phase``: the phase
    of every task run; ``phases``: task name -> phase, for some tasks.
    ``inputs`` / ``outputs``: task name -> what the task also reads / writes,
    each item the name of one of its parameters (that value is fingerprinted)
    or a path or URI. ``capture_results=False`` records no result fingerprints.
    """
    from prefect.flows import Flow

    if not isinstance(flow, Flow):
        raise TypeError(f"track() needs a Prefect flow (a function decorated with @flow), "
                        f"got {type(flow).__module__}.{type(flow).__qualname__}")
    options = Options.checked(project, phase, phases, inputs, outputs, capture_results)
    _check_version()
    task_hooks.install()
    ours = flow_hooks.hooks(options, flow_hooks.structure(flow))
    tracked = flow.with_options(
        on_running=[ours["on_running"], *flow.on_running_hooks],
        on_completion=[*flow.on_completion_hooks, ours["on_completion"]],
        on_failure=[*flow.on_failure_hooks, ours["on_failure"]],
        on_cancellation=[*flow.on_cancellation_hooks, ours["on_cancellation"]],
        on_crashed=[*flow.on_crashed_hooks, ours["on_crashed"]],
    )
    tracked.__modeldb_options__ = options
    return tracked


def _check_version() -> None:
    """The hooks rely on Prefect 3.9's task and flow engines: say so once when another is in use."""
    import prefect

    version = getattr(prefect, "__version__", "")
    if not version.startswith("3.9."):
        from modeldb_core.safety import report

        report("check the Prefect version", RuntimeError(
            f"prefect {version} is installed; ModelDB's Prefect integration is built and tested for 3.9 "
            "(pip install 'modeldb[prefect]' installs it)"))


def tracked_flow(fn: Any = None, **options: Any) -> Any:
    """Decorator form of ``track``: put it above ``@flow`` (or on a plain function,
    which then becomes a flow with Prefect's defaults). Takes ``track``'s options."""

    def decorate(target: Any) -> Any:
        from prefect.flows import Flow

        if not isinstance(target, Flow):
            if not callable(target):
                raise TypeError(f"@tracked_flow decorates a flow or a function, got {target!r}")
            from prefect import flow as make_flow

            target = make_flow(target)
        return track(target, **options)

    if fn is not None:
        return decorate(fn)
    return decorate
