"""CloudWatch metric alarms: static thresholds on one metric (or a metric-math query),
evaluated each minute; a change of state runs its actions (topics, functions) through the target
router (docs/metrics.md).

An alarm is a document (kind ``cloudwatch-alarm``) holding its configuration, state and history
(the newest ``HISTORY_MAX`` items). Evaluation reads the last ``EvaluationPeriods`` periods up to
now (the current one included): ``DatapointsToAlarm`` of them breaching is ALARM; otherwise OK,
unless there is no data at all — then ``TreatMissingData`` decides: ``missing`` →
INSUFFICIENT_DATA, ``ignore`` → the state stays, ``breaching`` / ``notBreaching`` → missing
periods count as such.

A composite alarm may name an ``ActionsSuppressor`` (CloudWatch's action suppression): while that
alarm is in ALARM the composite's actions are suppressed (``ActionsSuppressedBy: Alarm``); when
the composite goes into ALARM with the suppressor not in ALARM, its actions wait up to
``ActionsSuppressorWaitPeriod`` seconds for the suppressor to get there (``WaitPeriod``); after the
suppressor leaves ALARM, they wait ``ActionsSuppressorExtensionPeriod`` more (``ExtensionPeriod``).
A suppressed action runs when its wait ends with the composite still in the state it was for
(checked at each evaluation and at each state change), and never if the composite left it.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import threading
from datetime import datetime, timezone
from typing import Any

from cumulo.metrics import alarm_rule
from cumulo.metrics.service import (
    CloudWatchError, MetricsService, _dims_of, _name, _period, invalid, missing, statistic_value, valid_statistic,
)
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, Send, Target, TargetFailed, Targets
from cumulo.store.health import log_failure

__all__ = ["Alarms", "KIND", "HISTORY_MAX", "evaluate_state", "check_alarm"]

log = logging.getLogger("cumulo.alarms")

KIND = "cloudwatch-alarm"
HISTORY_MAX = 100
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
OPERATORS = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_SYMBOL = {"GreaterThanOrEqualToThreshold": ">=", "GreaterThanThreshold": ">", "LessThanThreshold": "<",
           "LessThanOrEqualToThreshold": "<="}
TREAT = ("breaching", "notBreaching", "ignore", "missing")
INTERNAL = frozenset({"history", "pending", "left_alarm_at"})   # kept in the document, never answered
SUPPRESSOR_PERIOD_DEFAULT = 60


@functools.lru_cache(maxsize=1024)
def _rule(text: str) -> tuple[alarm_rule.Rule, frozenset[str]]:
    """A composite alarm's rule parsed once per text (rules are immutable trees), with the alarms
    it names: evaluations run each minute and on every state change of a named alarm."""
    rule = alarm_rule.parse(text)
    return rule, frozenset(alarm_rule.alarms_of(rule))


def not_found(name: str) -> CloudWatchError:
    return CloudWatchError(f"Alarm {name} not found", "ResourceNotFound", "ResourceNotFound", 404)


def evaluate_state(values: list[float | None], threshold: float, operator: str, to_alarm: int, treat: str,
                   current: str) -> tuple[str, int]:
    """(the new state, how many periods breached) for the newest ``values`` (None: no data)."""
    compare = OPERATORS[operator]
    present = [v for v in values if v is not None]
    breaching = sum(1 for v in present if compare(v, threshold))
    missing_n = len(values) - len(present)
    if treat == "breaching":
        breaching += missing_n
    if breaching >= to_alarm:
        return "ALARM", breaching
    if not present and treat in ("missing", "ignore"):
        return ("INSUFFICIENT_DATA" if treat == "missing" else current), breaching
    return "OK", breaching


def _type_of(doc: dict[str, Any]) -> str:
    return "CompositeAlarm" if "AlarmRule" in doc else "MetricAlarm"


def _check_actions(d: dict[str, Any]) -> None:
    for key in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        value = d.get(key, [])
        if not isinstance(value, list) or len(value) > 5 or not all(isinstance(a, str) and a for a in value):
            raise invalid(f"The collection {key} must hold up to 5 ARNs.")


def _suppressor(d: dict[str, Any]) -> dict[str, Any] | None:
    """PutCompositeAlarm's action suppression members, checked; None without ``ActionsSuppressor``
    (its periods are then not kept, as they mean nothing without it)."""
    name = d.get("ActionsSuppressor")
    if name is None:
        return None
    if not isinstance(name, str) or not 1 <= len(name) <= 1600:
        raise invalid("The parameter ActionsSuppressor must be a string of 1 to 1600 characters.")
    out: dict[str, Any] = {"ActionsSuppressor": name}
    for key in ("ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod"):
        value = d.get(key, SUPPRESSOR_PERIOD_DEFAULT)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2 ** 31 - 1:
            raise invalid(f"The parameter {key} must be a whole number of seconds, 0 or more.")
        out[key] = value
    return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def check_alarm(d: dict[str, Any]) -> str:
    """PutMetricAlarm's checks (also a template's ``AWS::CloudWatch::Alarm``); the alarm's name."""
    name = _name(d.get("AlarmName"), "AlarmName")
    evaluation = d.get("EvaluationPeriods")
    if evaluation is None:
        raise missing("EvaluationPeriods")
    if isinstance(evaluation, bool) or not isinstance(evaluation, int) or evaluation < 1:
        raise invalid("The parameter EvaluationPeriods must be 1 or more.")
    to_alarm = d.get("DatapointsToAlarm", evaluation)
    if isinstance(to_alarm, bool) or not isinstance(to_alarm, int) or not 1 <= to_alarm <= evaluation:
        raise invalid("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
    operator = d.get("ComparisonOperator")
    if operator is None:
        raise missing("ComparisonOperator")
    if operator not in OPERATORS:
        raise invalid(f"The value {str(operator)[:64]} for parameter ComparisonOperator is not supported "
                      "(static thresholds only).")
    threshold = d.get("Threshold")
    if threshold is None:
        raise missing("Threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise invalid("The parameter Threshold must be a number.")
    treat = d.get("TreatMissingData", "missing")
    if treat not in TREAT:
        raise invalid(f"The value {str(treat)[:64]} for parameter TreatMissingData is not one of "
                      "breaching, notBreaching, ignore, missing.")
    metrics = d.get("Metrics")
    if metrics is not None:
        if d.get("MetricName") is not None or d.get("Namespace") is not None:
            raise CloudWatchError("Metrics and MetricName/Namespace are mutually exclusive.",
                                  "InvalidParameterCombinationException", "InvalidParameterCombination")
        if not isinstance(metrics, list) or not 1 <= len(metrics) <= 10 or \
                sum(1 for m in metrics if isinstance(m, dict) and m.get("ReturnData", True)) != 1:
            raise invalid("Metrics must hold 1 to 10 queries, exactly one of them with ReturnData true.")
    else:
        _name(d.get("MetricName"), "MetricName")
        _name(d.get("Namespace"), "Namespace")
        _period(d.get("Period"))
        _dims_of(d.get("Dimensions"), "Dimensions")
        stat, ext = d.get("Statistic"), d.get("ExtendedStatistic")
        if (stat is None) == (ext is None):
            raise CloudWatchError("Exactly one of Statistic and ExtendedStatistic must be given.",
                                  "InvalidParameterCombinationException", "InvalidParameterCombination")
        if not valid_statistic(stat if stat is not None else ext):
            raise invalid(f"The value {str(stat or ext)[:64]} for the statistic is invalid.")
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        actions = d.get(key) or []
        if not isinstance(actions, list) or len(actions) > 5:
            raise invalid(f"The collection {key} must not have more than 5 members.")
        for a in actions:
            if not isinstance(a, str) or Target.parse(a).kind is None and not a.startswith("arn:aws:automate:"):
                raise invalid(f"Invalid arn for {key}: {str(a)[:128]}")
    return name


class Alarms:
    def __init__(self, store: Documents, metrics: MetricsService, targets: Targets, region: str, account: str,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._store, self._metrics, self._targets = store, metrics, targets
        self._region, self._account, self._clock = region, account, clock
        self._lock = threading.Lock()

    def arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self._region}:{self._account}:alarm:{name}"

    # -- configuration --------------------------------------------------------------------------
    def put_metric_alarm(self, d: dict[str, Any]) -> None:
        name = check_alarm(d)
        treat = d.get("TreatMissingData", "missing")
        now = self._clock.now()
        config = {k: v for k, v in d.items() if k in (
            "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
            "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
            "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
            "Metrics")}
        config.setdefault("ActionsEnabled", True)
        config.setdefault("TreatMissingData", treat)
        for key in ("OKActions", "AlarmActions", "InsufficientDataActions", "Dimensions"):
            config.setdefault(key, [])
        with self._lock:
            old = self._store.get_document(KIND, name)
            doc = {**config, "AlarmArn": self.arn(name), "AlarmConfigurationUpdatedTimestamp": now,
                   "StateValue": old["StateValue"] if old else "INSUFFICIENT_DATA",
                   "StateReason": old["StateReason"] if old else "Unchecked: Initial alarm creation",
                   "StateUpdatedTimestamp": old["StateUpdatedTimestamp"] if old else now,
                   "StateTransitionedTimestamp": old.get("StateTransitionedTimestamp", now) if old else now,
                   "history": (old or {}).get("history", [])}
            self._history(doc, "ConfigurationUpdate",
                          f"Alarm \"{name}\" {'updated' if old else 'created'}", {"type": "Update" if old else "Create"},
                          now)
            self._store.put_document(KIND, name, doc)

    def put_composite_alarm(self, d: dict[str, Any]) -> None:
        """A composite alarm: ALARM while its rule (``alarm_rule.py``) is true of the other alarms'
        states, else OK; evaluated at once and whenever an alarm it names changes state."""
        name = _name(d.get("AlarmName"), "AlarmName")
        text = d.get("AlarmRule")
        if text is None:
            raise missing("AlarmRule")
        try:
            rule, refs = _rule(text) if isinstance(text, str) else (alarm_rule.parse(text), frozenset())
        except alarm_rule.RuleError as exc:
            raise CloudWatchError(str(exc), "ValidationError", "ValidationError") from None
        _check_actions(d)
        suppressor = _suppressor(d)
        now = self._clock.now()
        with self._lock:
            named = {self._name_of(ref) for ref in refs}
            if suppressor is not None:
                sname = self._name_of(suppressor["ActionsSuppressor"])
                if sname == name or self._store.get_document(KIND, sname) is None:
                    raise CloudWatchError(f"Could not save the composite alarm as the actions suppressor {sname!r} "
                                          "does not exist or is the alarm itself", "ValidationError", "ValidationError")
            absent = sorted(n for n in named if n != name and self._store.get_document(KIND, n) is None)
            if absent:
                raise CloudWatchError(f"Could not save the composite alarm as alarms {absent} in the alarm rule do "
                                      "not exist", "ValidationError", "ValidationError")
            if name in named or self._reaches(named, name):
                raise CloudWatchError("The composite alarm's rule refers back to the alarm itself (a cycle).",
                                      "ValidationError", "ValidationError")
            old = self._store.get_document(KIND, name)
            if old is not None and "AlarmRule" not in old:
                raise CloudWatchError(f"The alarm {name} is a metric alarm: a composite alarm needs a name of its own.",
                                      "ValidationError", "ValidationError")
            config = {k: v for k, v in d.items() if k in ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions",
                                                          "AlarmActions", "InsufficientDataActions", "AlarmRule")}
            config.setdefault("ActionsEnabled", True)
            for key in ("OKActions", "AlarmActions", "InsufficientDataActions"):
                config.setdefault(key, [])
            config.update(suppressor or {})
            keep: dict[str, Any] = {k: old[k] for k in ("pending", "left_alarm_at", "ActionsSuppressedBy", "ActionsSuppressedReason")
                    if old is not None and suppressor is not None and k in old}
            doc = {**config, **keep, "AlarmArn": self.arn(name), "AlarmConfigurationUpdatedTimestamp": now,
                   "StateValue": old["StateValue"] if old else "INSUFFICIENT_DATA",
                   "StateReason": old["StateReason"] if old else "Unchecked: Initial alarm creation",
                   "StateUpdatedTimestamp": old["StateUpdatedTimestamp"] if old else now,
                   "StateTransitionedTimestamp": old.get("StateTransitionedTimestamp", now) if old else now,
                   "history": (old or {}).get("history", [])}
            self._history(doc, "ConfigurationUpdate", f"Alarm \"{name}\" {'updated' if old else 'created'}",
                          {"type": "Update" if old else "Create"}, now)
            self._store.put_document(KIND, name, doc)
            self._evaluate_composites(None)

    def _name_of(self, ref: str) -> str:
        """An alarm's name from a rule's reference to it (its name, or an ARN of this account's)."""
        prefix = f"arn:aws:cloudwatch:{self._region}:{self._account}:alarm:"
        return ref[len(prefix):] if ref.startswith(prefix) else ref

    def _reaches(self, names: set[str], target: str) -> bool:
        """Whether a composite alarm among ``names`` names ``target``, directly or through others."""
        seen, stack = set(), list(names)
        while stack:
            doc = self._store.get_document(KIND, stack.pop())
            if doc is None or "AlarmRule" not in doc or doc["AlarmName"] in seen:
                continue
            seen.add(doc["AlarmName"])
            for ref in _rule(doc["AlarmRule"])[1]:
                if self._name_of(ref) == target:
                    return True
                stack.append(self._name_of(ref))
        return False

    def _evaluate_composites(self, changed: str | None) -> int:
        """Composite alarms against the other alarms' states now, until none changes (a composite
        may name another); ``changed``: the alarm whose transition started it, for the reason."""
        moved = 0
        for _ in range(10):
            docs = {d["AlarmName"]: d for d in self._store.list_documents(KIND)}
            step = 0
            for doc in docs.values():
                if "AlarmRule" not in doc:
                    continue
                value = alarm_rule.evaluate(_rule(doc["AlarmRule"])[0], lambda ref: docs.get(
                    self._name_of(ref), {}).get("StateValue", "INSUFFICIENT_DATA"))
                state = "ALARM" if value else "OK"
                if state != doc["StateValue"]:
                    trigger = docs.get(changed or "")
                    reason = (f"{trigger['AlarmArn']} transitioned to {trigger['StateValue']} at "
                              f"{_iso(trigger['StateUpdatedTimestamp'])}" if trigger is not None else
                              f"The alarm rule evaluated to {'TRUE' if value else 'FALSE'}")
                    self._transition(doc, state, reason, None, cascade=False)
                    changed, step = doc["AlarmName"], step + 1
            moved += step
            if not step:
                break
        self._release_suppressed()
        return moved

    def _suppressor_state(self, a: dict[str, Any]) -> tuple[str, float | None]:
        """The suppressor's state and, when it is not in ALARM, when it last left ALARM."""
        doc = self._store.get_document(KIND, self._name_of(a["ActionsSuppressor"]))
        if doc is None:
            return "INSUFFICIENT_DATA", None
        return str(doc["StateValue"]), doc.get("left_alarm_at")

    def _suppression(self, a: dict[str, Any], state: str, now: float) -> tuple[str, float | None] | None:
        """Why the actions of ``a``'s move into ``state`` wait, and until when (None: until the
        suppressor leaves ALARM); None when they run now."""
        sup_state, left = self._suppressor_state(a)
        if sup_state == "ALARM":
            return "Alarm", None
        extension = int(a.get("ActionsSuppressorExtensionPeriod", SUPPRESSOR_PERIOD_DEFAULT))
        if left is not None and now < left + extension:
            return "ExtensionPeriod", left + extension
        wait = int(a.get("ActionsSuppressorWaitPeriod", SUPPRESSOR_PERIOD_DEFAULT))
        if state == "ALARM" and wait > 0:
            return "WaitPeriod", now + wait
        return None

    def _suppress(self, a: dict[str, Any], by: str, until: float | None) -> None:
        a["pending"] = {**a.get("pending", {}), "by": by, "until": until}
        a["ActionsSuppressedBy"] = by
        a["ActionsSuppressedReason"] = f"Actions suppressed by {by}"

    def _release_suppressed(self) -> None:
        """Composites whose actions wait: run them when the wait is over and the composite is
        still in the state they were for; follow the suppressor's moves in between."""
        now = self._clock.now()
        for a in self._store.list_documents(KIND):
            pending = a.get("pending")
            if not pending:
                continue
            if a["StateValue"] != pending["state"] or not a.get("ActionsSuppressor"):
                self._unsuppress(a)
                self._store.put_document(KIND, a["AlarmName"], a)
                continue
            sup_state, left = self._suppressor_state(a)
            if sup_state == "ALARM":
                if pending["by"] != "Alarm":
                    self._suppress(a, "Alarm", None)
                    self._store.put_document(KIND, a["AlarmName"], a)
                continue
            if pending["by"] == "Alarm":
                extension = int(a.get("ActionsSuppressorExtensionPeriod", SUPPRESSOR_PERIOD_DEFAULT))
                self._suppress(a, "ExtensionPeriod", (left if left is not None else now) + extension)
                pending = a["pending"]
            if pending["until"] is not None and now >= pending["until"]:
                self._unsuppress(a)
                self._run_actions(a, pending["state"], pending["old_state"], pending["old_reason"], now)
            self._store.put_document(KIND, a["AlarmName"], a)

    @staticmethod
    def _unsuppress(a: dict[str, Any]) -> None:
        for key in ("pending", "ActionsSuppressedBy", "ActionsSuppressedReason"):
            a.pop(key, None)

    def _history(self, doc: dict[str, Any], kind: str, summary: str, data: dict[str, Any], now: float) -> None:
        doc["history"] = [{"AlarmName": doc["AlarmName"], "AlarmType": _type_of(doc), "Timestamp": now,
                           "HistoryItemType": kind, "HistorySummary": summary,
                           "HistoryData": json.dumps(data)}, *doc.get("history", [])][:HISTORY_MAX]

    def _get(self, name: str) -> dict[str, Any]:
        doc = self._store.get_document(KIND, name)
        if doc is None:
            raise not_found(name)
        return doc

    def state(self, name: str) -> str | None:
        """An alarm's StateValue (OK, ALARM, INSUFFICIENT_DATA), or None where there is no such alarm."""
        doc = self._store.get_document(KIND, name)
        return None if doc is None else str(doc["StateValue"])

    def describe_alarms(self, d: dict[str, Any]) -> dict[str, Any]:
        names, prefix, state = d.get("AlarmNames"), d.get("AlarmNamePrefix"), d.get("StateValue")
        if names is not None and prefix is not None:
            raise CloudWatchError("AlarmNames and AlarmNamePrefix are mutually exclusive.",
                                  "InvalidParameterCombinationException", "InvalidParameterCombination")
        if state is not None and state not in STATES:
            raise invalid(f"The value {str(state)[:64]} for parameter StateValue is invalid.")
        types = d.get("AlarmTypes")
        docs = sorted(self._store.list_documents(KIND), key=lambda a: a["AlarmName"])
        out = []
        for a in docs:
            if names is not None and a["AlarmName"] not in names:
                continue
            if prefix is not None and not a["AlarmName"].startswith(prefix):
                continue
            if state is not None and a["StateValue"] != state:
                continue
            action = d.get("ActionPrefix")
            if action and not any(x.startswith(action) for k in ("OKActions", "AlarmActions",
                                                                 "InsufficientDataActions") for x in a.get(k, [])):
                continue
            out.append({k: v for k, v in a.items() if k not in INTERNAL})
        metric = [a for a in out if "AlarmRule" not in a]
        composite = [a for a in out if "AlarmRule" in a]
        limit = d.get("MaxRecords") or 50
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise invalid("The parameter MaxRecords must be between 1 and 100.")
        token = d.get("NextToken") or "0"
        if not isinstance(token, str) or not re.fullmatch(r"\d{1,9}", token):
            raise CloudWatchError("The NextToken is not valid.", "InvalidNextToken", "InvalidNextToken")
        start = int(token)
        # as CloudWatch: without AlarmTypes only metric alarms are answered, even where composites exist
        wanted = (metric if types in (None, []) or "MetricAlarm" in types else []) + \
            (composite if isinstance(types, list) and "CompositeAlarm" in types else [])
        page = wanted[start:start + limit]
        result: dict[str, Any] = {"MetricAlarms": [a for a in page if "AlarmRule" not in a],
                                  "CompositeAlarms": [a for a in page if "AlarmRule" in a]}
        if start + limit < len(wanted):
            result["NextToken"] = str(start + limit)
        return result

    def describe_alarm_history(self, d: dict[str, Any]) -> dict[str, Any]:
        name, kind = d.get("AlarmName"), d.get("HistoryItemType")
        if kind is not None and kind not in ("ConfigurationUpdate", "StateUpdate", "Action", "AlarmContributorStateUpdate",
                                             "AlarmContributorAction"):
            raise invalid(f"The value {str(kind)[:64]} for parameter HistoryItemType is invalid.")
        start, end = d.get("StartDate"), d.get("EndDate")
        docs = [self._store.get_document(KIND, name)] if name else self._store.list_documents(KIND)
        items = [h for a in docs if a for h in a.get("history", [])
                 if (kind is None or h["HistoryItemType"] == kind)
                 and (start is None or h["Timestamp"] >= start) and (end is None or h["Timestamp"] <= end)]
        items.sort(key=lambda h: h["Timestamp"], reverse=d.get("ScanBy") != "TimestampAscending")
        limit = d.get("MaxRecords") or 100
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise invalid("The parameter MaxRecords must be between 1 and 100.")
        token = d.get("NextToken") or "0"
        if not isinstance(token, str) or not re.fullmatch(r"\d{1,9}", token):
            raise CloudWatchError("The NextToken is not valid.", "InvalidNextToken", "InvalidNextToken")
        first = int(token)
        result: dict[str, Any] = {"AlarmHistoryItems": items[first:first + limit]}
        if first + limit < len(items):
            result["NextToken"] = str(first + limit)
        return result

    def delete_alarms(self, d: dict[str, Any]) -> None:
        names = d.get("AlarmNames")
        if names is None:
            raise missing("AlarmNames")
        if not isinstance(names, list) or len(names) > 100:
            raise invalid("The collection AlarmNames must not have more than 100 members.")
        absent = [n for n in names if self._store.get_document(KIND, str(n)) is None]
        if absent:
            raise not_found(str(absent[0]))
        for n in names:
            self._store.delete_document(KIND, n)

    def set_alarm_state(self, d: dict[str, Any]) -> None:
        name = _name(d.get("AlarmName"), "AlarmName")
        state = d.get("StateValue")
        if state is None:
            raise missing("StateValue")
        if state not in STATES:
            raise invalid(f"The value {str(state)[:64]} for parameter StateValue is invalid.")
        reason = _name(d.get("StateReason"), "StateReason", 1023)
        data = d.get("StateReasonData")
        if data is not None:
            try:
                json.loads(data)
            except (TypeError, ValueError):
                raise CloudWatchError("The StateReasonData is not valid JSON.", "InvalidFormatFault",
                                      "InvalidFormat") from None
        with self._lock:
            doc = self._get(name)
            self._transition(doc, state, reason, None)

    # -- evaluation -------------------------------------------------------------------------------
    def evaluate(self) -> int:
        """Every alarm against its metric now, then composite alarms against them; how many changed state."""
        changed = 0
        for doc in self._store.list_documents(KIND):
            if "AlarmRule" in doc:
                continue
            try:
                with self._lock:
                    fresh = self._store.get_document(KIND, doc["AlarmName"])
                    if fresh is None:
                        continue
                    if self._evaluate_one(fresh):
                        changed += 1
            except Exception:
                log_failure(log, "evaluating alarm %s failed", doc.get("AlarmName"))
        try:
            with self._lock:
                changed += self._evaluate_composites(None)
        except Exception:
            log_failure(log, "evaluating composite alarms failed")
        return changed

    def _values(self, a: dict[str, Any]) -> tuple[list[float | None], int]:
        n = int(a["EvaluationPeriods"])
        now = self._clock.now()
        if a.get("Metrics"):
            period = next((q.get("MetricStat", {}).get("Period") or q.get("Period") for q in a["Metrics"]
                           if q.get("MetricStat") or q.get("Period")), 60) or 60
            last = int(now) // period * period
            start = last - (n - 1) * period
            result = self._metrics.get_metric_data({"MetricDataQueries": a["Metrics"], "StartTime": float(start),
                                                    "EndTime": float(last + period),
                                                    "ScanBy": "TimestampAscending"})
            found = result["MetricDataResults"][0] if result["MetricDataResults"] else {"Timestamps": [], "Values": []}
            points = dict(zip((int(t) for t in found["Timestamps"]), found["Values"]))
        else:
            period = int(a["Period"])
            last = int(now) // period * period
            start = last - (n - 1) * period
            dims = [(x["Name"], x["Value"]) for x in a.get("Dimensions", [])]
            aggs = self._metrics.series(a["Namespace"], a["MetricName"], dims, period, start, last + period)
            stat = str(a.get("Statistic") or a.get("ExtendedStatistic"))
            points = {t: v for t, agg in aggs.items() if (a.get("Unit") is None or agg.unit == a["Unit"])
                      and (v := statistic_value(agg, stat)) is not None}
        return [points.get(start + i * period) for i in range(n)], period

    def _evaluate_one(self, a: dict[str, Any]) -> bool:
        values, period = self._values(a)
        state, breaching = evaluate_state(values, float(a["Threshold"]), a["ComparisonOperator"],
                                          int(a.get("DatapointsToAlarm") or a["EvaluationPeriods"]),
                                          a.get("TreatMissingData", "missing"), a["StateValue"])
        if state == a["StateValue"]:
            return False
        shown = [v for v in values if v is not None]
        symbol = _SYMBOL[a["ComparisonOperator"]]
        if state == "INSUFFICIENT_DATA":
            reason = f"Insufficient Data: {len(values)} datapoints were unknown."
        else:
            verb = "was" if state == "ALARM" else "was not"
            reason = (f"Threshold Crossed: {len(shown)} datapoint{'s' if len(shown) != 1 else ''} "
                      f"[{', '.join(f'{v:g}' for v in shown)}] {verb} {'greater' if '>' in symbol else 'less'} than "
                      f"{'or equal to ' if '=' in symbol else ''}the threshold ({float(a['Threshold']):g}).")
        self._transition(a, state, reason, {"version": "1.0", "evaluatedDatapoints": [
            {"value": v} for v in shown], "period": period, "threshold": a["Threshold"]})
        return True

    def _transition(self, a: dict[str, Any], state: str, reason: str, data: dict[str, Any] | None,
                    cascade: bool = True) -> None:
        now = self._clock.now()
        old_state = a["StateValue"]
        old_reason = a.get("StateReason", "")
        a.update(StateValue=state, StateReason=reason, StateUpdatedTimestamp=now)
        if data is not None:
            a["StateReasonData"] = json.dumps(data)
        else:
            a.pop("StateReasonData", None)
        if state != old_state:
            a["StateTransitionedTimestamp"] = now
            if old_state == "ALARM":
                a["left_alarm_at"] = now         # an actions suppressor's extension period starts
        self._history(a, "StateUpdate", f"Alarm updated from {old_state} to {state}",
                      {"version": "1.0", "oldState": {"stateValue": old_state, "stateReason": old_reason},
                       "newState": {"stateValue": state, "stateReason": reason}}, now)
        self._store.put_document(KIND, a["AlarmName"], a)
        if state != old_state and a.get("ActionsEnabled", True):
            self._unsuppress(a)                  # a wait for another state's actions is over
            why = self._suppression(a, state, now) if a.get("ActionsSuppressor") else None
            if why is not None:
                a["pending"] = {"state": state, "old_state": old_state, "old_reason": old_reason}
                self._suppress(a, *why)
            else:
                self._run_actions(a, state, old_state, old_reason, now)
            self._store.put_document(KIND, a["AlarmName"], a)
        if state != old_state and cascade:
            self._evaluate_composites(a["AlarmName"])     # the composites naming it follow at once

    def _run_actions(self, a: dict[str, Any], state: str, old_state: str, old_reason: str, now: float) -> None:
        key = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}[state]
        for action in a.get(key, []):
            self._act(a, action, old_state, old_reason, now)

    def _act(self, a: dict[str, Any], action: str, old_state: str, old_reason: str, now: float) -> None:
        target = Target.parse(action)
        try:
            if target.kind is not None and target.service == "sns":
                self._targets.send(target, Send(payload=json.dumps(self._sns_message(a, old_state, now)),
                                                subject=f"{a['StateValue']}: \"{a['AlarmName']}\" in "
                                                        f"{self._region}"[:100], platform=True))
            elif target.kind is not None and target.service == "lambda":
                self._targets.send(target, Send(payload=json.dumps(self._lambda_event(a, old_state, old_reason, now)),
                                                invocation_type="Event", platform=True))
            else:
                raise TargetFailed(f"Cumulo does not run actions of {action}", retryable=False)
            summary, ok = f"Successfully executed action {action}", True
        except Exception as exc:   # a failed action is history, not an error of the evaluation
            summary, ok = f"Failed to execute action {action}: {exc}", False
        self._history(a, "Action", summary, {"actionState": "Succeeded" if ok else "Failed",
                                            "notificationResource": action}, now)

    def _trigger(self, a: dict[str, Any]) -> dict[str, Any]:
        return {"MetricName": a.get("MetricName"), "Namespace": a.get("Namespace"),
                "StatisticType": "Statistic" if a.get("Statistic") else "ExtendedStatistic",
                "Statistic": (a.get("Statistic") or a.get("ExtendedStatistic") or "").upper(),
                "Unit": a.get("Unit"),
                "Dimensions": [{"value": x["Value"], "name": x["Name"]} for x in a.get("Dimensions", [])],
                "Period": a.get("Period"), "EvaluationPeriods": a["EvaluationPeriods"],
                "DatapointsToAlarm": a.get("DatapointsToAlarm", a["EvaluationPeriods"]),
                "ComparisonOperator": a["ComparisonOperator"], "Threshold": a["Threshold"],
                "TreatMissingData": a.get("TreatMissingData", "missing"), "EvaluateLowSampleCountPercentile": ""}

    def _sns_message(self, a: dict[str, Any], old_state: str, now: float) -> dict[str, Any]:
        return {"AlarmName": a["AlarmName"], "AlarmDescription": a.get("AlarmDescription"),
                "AWSAccountId": self._account, "AlarmConfigurationUpdatedTimestamp":
                    _iso(a["AlarmConfigurationUpdatedTimestamp"]),
                "NewStateValue": a["StateValue"], "NewStateReason": a["StateReason"],
                "StateChangeTime": _iso(now), "Region": self._region, "AlarmArn": a["AlarmArn"],
                "OldStateValue": old_state, "OKActions": a.get("OKActions", []),
                "AlarmActions": a.get("AlarmActions", []),
                "InsufficientDataActions": a.get("InsufficientDataActions", []),
                **({"AlarmRule": a["AlarmRule"]} if "AlarmRule" in a else {"Trigger": self._trigger(a)})}

    def _lambda_event(self, a: dict[str, Any], old_state: str, old_reason: str, now: float) -> dict[str, Any]:
        configuration = {"description": a.get("AlarmDescription"), "alarmRule": a["AlarmRule"],
                         **({"actionsSuppressor": a["ActionsSuppressor"],
                             "actionsSuppressorWaitPeriod": a.get("ActionsSuppressorWaitPeriod"),
                             "actionsSuppressorExtensionPeriod": a.get("ActionsSuppressorExtensionPeriod")}
                            if a.get("ActionsSuppressor") else {})} \
            if "AlarmRule" in a else {"description": a.get("AlarmDescription"), "metrics": self._metrics_of(a)}
        stamp = _iso(now).replace("+0000", "Z")
        return {"source": "aws.cloudwatch", "alarmArn": a["AlarmArn"], "accountId": self._account,
                "time": stamp, "region": self._region,
                "alarmData": {"alarmName": a["AlarmName"],
                              "state": {"value": a["StateValue"], "reason": a["StateReason"],
                                        "timestamp": stamp},
                              "previousState": {"value": old_state, "reason": old_reason},
                              "configuration": configuration}}

    def _metrics_of(self, a: dict[str, Any]) -> list[dict[str, Any]]:
        return a.get("Metrics") or [{"id": "m1", "metricStat": {
            "metric": {"namespace": a.get("Namespace"), "name": a.get("MetricName"),
                       "dimensions": {x["Name"]: x["Value"] for x in a.get("Dimensions", [])}},
            "period": a.get("Period"), "stat": a.get("Statistic") or a.get("ExtendedStatistic")},
            "returnData": True}]
