"""Promotion policies: the rules an alias move must pass, and their evaluation.

A policy is stored per model and alias as JSON::

    {"thresholds": ["rmse <= 30"],                 # the candidate's metric against a number
     "beat_holder": {"metric": "rmse", "goal": "min"},  # better than the version it replaces
     "approvals": {"count": 1, "approvers": ["alice"]}, # who may approve, and how many must
     "evaluation": {"dataset": "file:///data/test.csv"}}  # an evaluation run read the model and this data

``evaluate`` is pure: the store gathers the facts (metrics, holder, approvals,
evaluation runs), this module says which rule failed and with what numbers.
"""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from modeldb_core import validation
from modeldb_core.errors import ValidationError

_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_THRESHOLD = re.compile(r"\s*(?P<metric>[^<>=\s]+)\s*(?P<op><=|>=|<|>)\s*(?P<value>\S+)\s*\Z")


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass
class Policy:
    thresholds: list[Threshold] = field(default_factory=list)
    beat_metric: str | None = None
    beat_goal: str = "min"
    approvals: int = 0
    approvers: list[str] = field(default_factory=list)
    evaluation_dataset: str | None = None

    @property
    def metrics(self) -> set[str]:
        return {t.metric for t in self.thresholds} | ({self.beat_metric} if self.beat_metric else set())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.thresholds:
            out["thresholds"] = [str(t) for t in self.thresholds]
        if self.beat_metric:
            out["beat_holder"] = {"metric": self.beat_metric, "goal": self.beat_goal}
        if self.approvals:
            out["approvals"] = {"count": self.approvals, "approvers": list(self.approvers)}
        if self.evaluation_dataset:
            out["evaluation"] = {"dataset": self.evaluation_dataset}
        return out


def threshold(text: Any) -> Threshold:
    """``rmse <= 30`` → Threshold; a clear error naming the text otherwise."""
    found = _THRESHOLD.match(text) if isinstance(text, str) else None
    if not found:
        raise ValidationError("policy threshold", text, "must read '<metric> <op> <number>' with op one of "
                                                        "<, <=, >, >= (e.g. 'rmse <= 30')")
    try:
        value = float(found["value"])
    except ValueError:
        raise ValidationError("policy threshold", text, f"{found['value']!r} is not a number") from None
    if not math.isfinite(value):
        raise ValidationError("policy threshold", text, "the bound must be a finite number")
    return Threshold(validation.key("policy metric", found["metric"]), found["op"], value)


def parse(rules: Any) -> Policy:
    """A policy from its JSON form (what ``to_json`` writes), checked."""
    if not isinstance(rules, dict):
        raise ValidationError("policy", rules, "must be a JSON object")
    unknown = set(rules) - {"thresholds", "beat_holder", "approvals", "evaluation"}
    if unknown:
        raise ValidationError("policy", sorted(unknown), "unknown rules; known: thresholds, beat_holder, "
                                                         "approvals, evaluation")
    policy = Policy(thresholds=[threshold(t) for t in rules.get("thresholds") or ()])
    beat = rules.get("beat_holder")
    if beat:
        policy.beat_metric = validation.key("policy beat_holder metric", beat.get("metric"))
        policy.beat_goal = beat.get("goal", "min")
        if policy.beat_goal not in ("min", "max"):
            raise ValidationError("policy beat_holder goal", policy.beat_goal, "must be 'min' or 'max'")
    approvals = rules.get("approvals") or {}
    count = approvals.get("count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValidationError("policy approvals count", count, "must be a whole number, 0 or more")
    policy.approvals = count
    policy.approvers = [validation.name("policy approver", a) for a in approvals.get("approvers") or ()]
    evaluation = rules.get("evaluation") or {}
    if evaluation.get("dataset"):
        policy.evaluation_dataset = validation.uri("policy evaluation dataset", evaluation["dataset"])
    return policy


@dataclass
class Facts:
    """What the store found about a promotion: the numbers the rules compare."""

    candidate: int
    metrics: dict[str, float]
    holder: int | None = None
    holder_metrics: dict[str, float] = field(default_factory=dict)
    approvers: list[str] = field(default_factory=list)
    evaluation_runs: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    rule: str
    passed: bool
    detail: str
    values: dict[str, Any] = field(default_factory=dict)


def evaluate(policy: Policy, facts: Facts) -> list[Verdict]:
    """Every rule's verdict, in the policy's order; the first failed one is why a promotion is refused."""
    verdicts = []
    # The evaluation first: the thresholds then compare what it measured on the named data set.
    if policy.evaluation_dataset:
        ok = bool(facts.evaluation_runs)
        verdicts.append(Verdict(f"evaluation on {policy.evaluation_dataset}", ok,
                                f"version {facts.candidate} has {len(facts.evaluation_runs)} evaluation run(s) "
                                f"that read it and {policy.evaluation_dataset}",
                                {"dataset": policy.evaluation_dataset, "runs": facts.evaluation_runs}))
    for rule in policy.thresholds:
        value = facts.metrics.get(rule.metric)
        if value is None:
            verdicts.append(Verdict(f"threshold {rule}", False,
                                    f"version {facts.candidate} has no metric {rule.metric!r}",
                                    {"metric": rule.metric, "bound": rule.value, "value": None}))
            continue
        ok = _OPS[rule.op](value, rule.value)
        verdicts.append(Verdict(f"threshold {rule}", ok,
                                f"version {facts.candidate} has {rule.metric} = {value:g}, "
                                f"{'within' if ok else 'outside'} {rule}",
                                {"metric": rule.metric, "bound": rule.value, "value": value}))
    if policy.beat_metric and facts.holder is not None:
        metric, goal = policy.beat_metric, policy.beat_goal
        mine, theirs = facts.metrics.get(metric), facts.holder_metrics.get(metric)
        if mine is None or theirs is None:
            ok = theirs is None and mine is not None
            detail = (f"version {facts.candidate} has no metric {metric!r}" if mine is None
                      else f"the holder, version {facts.holder}, has no metric {metric!r}")
        else:
            ok = mine < theirs if goal == "min" else mine > theirs
            word = "lower" if goal == "min" else "higher"
            detail = (f"version {facts.candidate} has {metric} = {mine:g}, the holder version {facts.holder} "
                      f"has {metric} = {theirs:g}; it must be {word}")
        verdicts.append(Verdict(f"beat the holder on {metric} ({goal})", ok, detail,
                                {"metric": metric, "candidate": mine, "holder": theirs,
                                 "holder_version": facts.holder}))
    if policy.approvals:
        valid = [a for a in facts.approvers if not policy.approvers or a in policy.approvers]
        ok = len(valid) >= policy.approvals
        verdicts.append(Verdict(f"{policy.approvals} approval(s)", ok,
                                f"version {facts.candidate} has {len(valid)} approval(s) "
                                f"of the {policy.approvals} required"
                                + (f" (from {', '.join(policy.approvers)})" if policy.approvers else ""),
                                {"required": policy.approvals, "approved_by": valid}))
    return verdicts
