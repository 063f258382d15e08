"""``AWS::CloudWatch::Alarm``: a metric alarm (``metrics/alarms.py``, docs/metrics.md), made with
PutMetricAlarm's checks from the resource's properties (the same names), updated in place (its
state kept), and deleted when the template drops it. ``AWS::CloudWatch::CompositeAlarm`` the same
way through PutCompositeAlarm, after the alarms its rule names (metric alarms first, then
composites in the order their rules need).

``Ref`` is the alarm's name (``AlarmName``, or ``<stack>-<LogicalId>-<suffix>``); ``Fn::GetAtt``
gives ``Arn``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cumulo.deploy.intrinsics import NO_VALUE, IntrinsicError, resolve, to_str
from cumulo.deploy.kinds.base import Attributes, Change, Deploy, Entry, Kind, Load, error, property_error
from cumulo.deploy.properties import plain
from cumulo.errors import CumuloError
from cumulo.metrics import alarm_rule
from cumulo.metrics.alarms import KIND as ALARM_DOCUMENT, check_alarm
from cumulo.model.function import Arns

__all__ = ["Alarm", "ALARM_TYPE", "COMPOSITE_TYPE"]

ALARM_TYPE = "AWS::CloudWatch::Alarm"
COMPOSITE_TYPE = "AWS::CloudWatch::CompositeAlarm"
_COMPOSITE_KNOWN = frozenset({"AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions",
                              "InsufficientDataActions", "AlarmRule", "ActionsSuppressor",
                              "ActionsSuppressorExtensionPeriod", "ActionsSuppressorWaitPeriod", "Tags"})
_COMPOSITE_CONFIG = ("AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions",
                     "AlarmRule", "ActionsSuppressor", "ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod")
_INTS = ("Period", "EvaluationPeriods", "DatapointsToAlarm", "ActionsSuppressorWaitPeriod",
         "ActionsSuppressorExtensionPeriod")
_KNOWN = frozenset({"AlarmName", "AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions",
                    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
                    "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
                    "ComparisonOperator", "TreatMissingData", "Metrics", "EvaluateLowSampleCountPercentile",
                    "ThresholdMetricId", "Tags"})
_CONFIG = ("AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions", "MetricName",
           "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit", "EvaluationPeriods",
           "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "Metrics")


@dataclass(frozen=True)
class AlarmSpec:
    logical_id: str
    line: int
    name: str
    arn: str
    request: dict[str, Any]          # PutMetricAlarm's request


def _number(value: Any, integer: bool) -> Any:
    text = to_str(value)
    try:
        return int(text) if integer else float(text)
    except ValueError:
        raise IntrinsicError(f"'{text}' is not a number") from None


def _request(name: str, props: dict[str, Any], composite: bool = False) -> dict[str, Any]:
    unknown = sorted(set(props) - (_COMPOSITE_KNOWN if composite else _KNOWN))
    if unknown:
        raise IntrinsicError(f"unknown property '{unknown[0]}'")
    request: dict[str, Any] = {"AlarmName": name}
    for key in _COMPOSITE_CONFIG if composite else _CONFIG:
        if key not in props:
            continue
        value = props[key]
        if key in _INTS:
            value = _number(value, True)
        elif key == "Threshold":
            value = _number(value, False)
        elif key == "ActionsEnabled":
            value = str(value).lower() == "true"
        elif key == "Metrics" and isinstance(value, list):
            value = [{**q, **({"Period": _number(q["Period"], True)} if "Period" in q else {}),
                      **({"ReturnData": str(q["ReturnData"]).lower() == "true"} if "ReturnData" in q else {}),
                      **({"MetricStat": {**q["MetricStat"], "Period": _number(q["MetricStat"].get("Period", 60), True)}}
                         if isinstance(q.get("MetricStat"), dict) else {})}
                     for q in value if isinstance(q, dict)]
        request[key] = value
    return request


class Alarm(Kind):
    name = "alarm"
    types = (ALARM_TYPE, COMPOSITE_TYPE)
    after = ("function", "topic")      # its actions name them
    listed = 85
    record_key = "alarms"

    def names(self, entries: list[Entry], load: Load) -> tuple[dict[str, Any], Attributes]:
        named: dict[str, str] = {}
        attributes: Attributes = {}
        for entry in entries:
            try:
                given = resolve(entry.properties.get("AlarmName", NO_VALUE), load.plain)
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            if given is NO_VALUE:
                suffix = hashlib.sha256(f"{load.stack}:{entry.logical_id}".encode()).hexdigest()[:12].upper()
                name = f"{load.stack}-{entry.logical_id}-{suffix}"
            else:
                name = to_str(given)
            if not 1 <= len(name) <= 255:
                raise error(entry.where, "property AlarmName: must be 1 to 255 characters", entry.logical_id,
                            entry.line)
            named[entry.logical_id] = name
            attributes.update(_attributes(entry.logical_id, name, _arn(load.arns, name)))
        return named, attributes

    def read(self, entries: list[Entry], named: dict[str, Any], load: Load) -> list[Any]:
        specs = []
        for entry in entries:
            name = named[entry.logical_id]
            props: dict[str, Any] = {}
            for key, value in entry.properties.items():     # each property's own line in what is reported
                try:
                    props[key] = plain(resolve(value, load.scope))
                except IntrinsicError as exc:
                    raise property_error(entry, IntrinsicError(f"property {key}: {exc.message}", exc.line)) from None
            composite = entry.type == COMPOSITE_TYPE
            try:
                request = _request(name, {k: v for k, v in props.items() if v is not NO_VALUE}, composite)
                if composite:                   # what PutCompositeAlarm refuses of the rule itself
                    alarm_rule.parse(request.get("AlarmRule", ""))
                else:
                    check_alarm(request)        # what PutMetricAlarm refuses, refused before anything is made
            except IntrinsicError as exc:
                raise property_error(entry, exc) from None
            except alarm_rule.RuleError as exc:
                raise error(entry.where, f"property AlarmRule: {exc}", entry.logical_id, entry.line) from None
            except CumuloError as exc:
                raise error(entry.where, exc.message, entry.logical_id, entry.line) from None
            specs.append(AlarmSpec(entry.logical_id, entry.line, name, _arn(load.arns, name), request))
        return _in_order(specs)

    def attributes(self, spec: AlarmSpec, arns: Arns) -> Attributes:
        return _attributes(spec.logical_id, spec.name, spec.arn)

    def plan(self, spec: AlarmSpec, deploy: Deploy) -> Change:
        doc = deploy.c.store.get_document(ALARM_DOCUMENT, spec.name)
        if doc is None:
            return Change(spec.logical_id, spec.name, "create", kind=self.name)
        details = _details(doc, spec)
        return Change(spec.logical_id, spec.name, "update" if details else "unchanged", details, self.name)

    def removed(self, specs: list[AlarmSpec], deploy: Deploy) -> list[Change]:
        wanted = {spec.name for spec in specs}
        return [Change(logical_id, name, "delete", kind=self.name)
                for logical_id, name in sorted((deploy.before(self) or {}).items())
                if name not in wanted and deploy.c.store.get_document(ALARM_DOCUMENT, name) is not None]

    def apply(self, spec: AlarmSpec, change: Change | None, deploy: Deploy) -> None:
        store = deploy.c.store
        doc = store.get_document(ALARM_DOCUMENT, spec.name)
        if doc is not None and not _details(doc, spec):
            return
        composite = "AlarmRule" in spec.request
        try:
            if composite:
                deploy.c.alarms.put_composite_alarm(dict(spec.request))
            else:
                deploy.c.alarms.put_metric_alarm(dict(spec.request))
        except CumuloError as exc:
            raise error(f"resource {spec.logical_id} ({COMPOSITE_TYPE if composite else ALARM_TYPE})", exc.message,
                        spec.logical_id, spec.line) from None
        if doc is None:
            deploy.undo.append(lambda: store.delete_document(ALARM_DOCUMENT, spec.name))
        else:
            deploy.undo.append(lambda: store.put_document(ALARM_DOCUMENT, spec.name, doc))

    def record(self, applied: list[tuple[AlarmSpec, Any]]) -> dict[str, str]:
        return {spec.logical_id: spec.name for spec, _ in applied}

    def remove(self, previous: Any, current: dict[str, str], deploy: Deploy) -> None:
        wanted = set(current.values())
        for name in (previous or {}).values():
            if name not in wanted:
                deploy.c.store.delete_document(ALARM_DOCUMENT, name)

    def summary(self, spec: AlarmSpec) -> list[str]:
        r = spec.request
        if "AlarmRule" in r:
            return [f"composite alarm {spec.name} ({spec.logical_id}): {r['AlarmRule']}"]
        what = r.get("MetricName") or "metric math"
        return [f"alarm {spec.name} ({spec.logical_id}): {what} {r.get('ComparisonOperator')} {r.get('Threshold')}"]


def _in_order(specs: list[AlarmSpec]) -> list[AlarmSpec]:
    """Metric alarms, then composite alarms each after the template's composites its rule (and its
    actions suppressor) names."""
    ordered = [s for s in specs if "AlarmRule" not in s.request]
    waiting = [s for s in specs if "AlarmRule" in s.request]
    composite_names = {s.name for s in waiting}
    while waiting:
        done = {s.name for s in ordered}
        ready = [s for s in waiting if not ({ref.rsplit(":", 1)[-1] for ref in [*alarm_rule.alarms_of(
            alarm_rule.parse(s.request["AlarmRule"])), *([s.request["ActionsSuppressor"]] if isinstance(
                s.request.get("ActionsSuppressor"), str) else [])]} & composite_names) - done]
        if not ready:          # a cycle among them: PutCompositeAlarm says so when the first is put
            ready = waiting[:1]
        ordered.extend(ready)
        waiting = [s for s in waiting if s not in ready]
    return ordered


def _arn(arns: Arns, name: str) -> str:
    return f"arn:aws:cloudwatch:{arns.region}:{arns.account}:alarm:{name}"


def _attributes(logical_id: str, name: str, arn: str) -> Attributes:
    return {(logical_id, "Ref"): name, (logical_id, "Arn"): arn}


def _details(doc: dict[str, Any], spec: AlarmSpec) -> list[str]:
    keys = _COMPOSITE_CONFIG if "AlarmRule" in spec.request else _CONFIG
    return [key for key in keys if key in spec.request and doc.get(key) != spec.request[key]]
