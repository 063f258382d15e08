"""Parse and validate a state machine definition into ``model.StateMachine``.

``parse_definition`` refuses what CreateStateMachine refuses, with every finding at once
(``InvalidDefinition.diagnostics``), worded as AWS words them where we know it:

    SCHEMA_VALIDATION_FAILED   a field missing, unsupported for the state type or query language,
                               of the wrong type, a bad path, intrinsic call or JSONata expression
    MISSING_TRANSITION_TARGET  a Next/Default/StartAt naming no state; a state nothing reaches
    MISSING_END_STATE          a graph with no terminal state (suppresses the reachability check)
    INVALID_RESOURCE           a Task Resource that is no known ARN

Nested graphs (Parallel branches, Map processors) are checked the same way; their states take the
machine's top-level QueryLanguage unless they set their own.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from cumulo.stepfunctions.asl import choice as _choice
from cumulo.stepfunctions.asl import jsonata as _jsonata
from cumulo.stepfunctions.asl import templates as _templates
from cumulo.stepfunctions.asl.errors import ALL, Diagnostic, InvalidDefinition
from cumulo.stepfunctions.asl.model import (DOLLAR, Catcher, ChoiceBranch, ChoiceState, FailState, ItemBatcher, MapState,
                                 ParallelState, PassState, QueryLanguage, Retrier, State, StateMachine, SucceedState,
                                 TaskState, WaitState)
from cumulo.stepfunctions.asl.paths import Path, PathSyntaxError, parse_path
from cumulo.stepfunctions.asl.resources import classify

__all__ = ["parse_definition", "validate_definition"]

Json = Any
SCHEMA = "SCHEMA_VALIDATION_FAILED"
MISSING_TARGET = "MISSING_TRANSITION_TARGET"
MAX_NAME = 80

_COMMON = {"Type", "Comment", "QueryLanguage"}
_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Assign",
                       "Output"},
    "Task": _COMMON | {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry",
                       "Catch", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
                       "HeartbeatSecondsPath", "Credentials", "Arguments", "Output", "Assign"},
    "Choice": _COMMON | {"InputPath", "OutputPath", "Choices", "Default", "Assign", "Output"},
    "Wait": _COMMON | {"Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath",
                       "TimestampPath", "Assign", "Output"},
    "Succeed": _COMMON | {"InputPath", "OutputPath", "Output"},
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON | {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector",
                           "Retry", "Catch", "Branches", "Assign", "Output", "Arguments"},
    "Map": _COMMON | {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ItemSelector",
                      "ResultSelector", "Retry", "Catch", "ItemsPath", "Items", "MaxConcurrency", "MaxConcurrencyPath",
                      "Iterator", "ItemProcessor", "ItemReader", "ItemBatcher", "ResultWriter",
                      "ToleratedFailureCount", "ToleratedFailureCountPath", "ToleratedFailurePercentage",
                      "ToleratedFailurePercentagePath", "Label", "Assign", "Output"},
}
_JSONPATH_ONLY = {"InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Result", "ItemsPath",
                  "MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath",
                  "TimeoutSecondsPath", "HeartbeatSecondsPath", "SecondsPath", "TimestampPath", "ErrorPath",
                  "CausePath"}
_JSONATA_ONLY = {"Output", "Arguments", "Items"}
_TRANSITIONS = {"Task", "Pass", "Wait", "Parallel", "Map"}


def parse_definition(definition: str | Mapping[str, Json]) -> StateMachine:
    """The checked, compiled machine; raises ``InvalidDefinition`` listing every finding."""
    machine, diagnostics = _check(definition)
    if diagnostics or machine is None:
        raise InvalidDefinition(diagnostics)
    return machine


def validate_definition(definition: str | Mapping[str, Json]) -> list[Diagnostic]:
    """ValidateStateMachineDefinition: the findings, empty when the definition is valid."""
    return _check(definition)[1]


def _check(definition: str | Mapping[str, Json]) -> tuple[StateMachine | None, list[Diagnostic]]:
    try:
        return _check_nested(definition)
    except RecursionError:                 # JSON, states or expressions nested deeper than we recurse
        return None, [Diagnostic(SCHEMA, "The definition is nested too deeply", None)]


def _check_nested(definition: str | Mapping[str, Json]) -> tuple[StateMachine | None, list[Diagnostic]]:
    if isinstance(definition, str):
        try:
            raw = json.loads(definition)
        except ValueError as exc:
            return None, [Diagnostic("INVALID_JSON_DESCRIPTION", f"Invalid JSON: {exc}", None)]
    else:
        raw = definition
    checker = _Checker()
    machine = checker.machine(raw, "", None)
    return machine, checker.diagnostics


class _Checker:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.top_language = QueryLanguage.JSONPATH

    def report(self, message: str, location: str | None, code: str = SCHEMA) -> None:
        self.diagnostics.append(Diagnostic(code, message, location if location != "" else "/"))

    # ---- graphs --------------------------------------------------------------------------------

    def machine(self, raw: Json, location: str, parent: QueryLanguage | None) -> StateMachine | None:
        top = parent is None
        if not isinstance(raw, dict):
            self.report("The state machine definition must be a JSON object", location)
            return None
        allowed = {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"} if top \
            else {"Comment", "StartAt", "States", "ProcessorConfig"}
        self._unknown(raw, allowed, location)
        language = self.top_language if not top else self._language(raw, location, None)
        if top:
            self.top_language = language
        timeout = self._positive_int(raw, "TimeoutSeconds", location) if top else None
        start_at = raw.get("StartAt")
        if not isinstance(start_at, str):
            self.report("These fields are required: [StartAt]" if start_at is None
                        else "The value for the field 'StartAt' must be a string", location)
        raw_states = raw.get("States")
        if not isinstance(raw_states, dict) or not raw_states:
            self.report("These fields are required: [States]" if raw_states is None
                        else "The field 'States' must be a non-empty object", location)
            return None
        states: dict[str, State] = {}
        for name, body in raw_states.items():
            if len(name) > MAX_NAME:
                self.report(f"State name '{name[:20]}...' is longer than {MAX_NAME} characters",
                            f"{location}/States/{name}")
            state = self.state(name, body, f"{location}/States/{name}", language)
            if state is not None:
                states[name] = state
        machine = StateMachine(start_at if isinstance(start_at, str) else "", states, language, timeout,
                               raw.get("Comment"), raw.get("Version"))
        if isinstance(start_at, str) and len(states) == len(raw_states):
            self.graph(machine, location)
        return machine

    def graph(self, machine: StateMachine, location: str) -> None:
        if machine.start_at not in machine.states:
            self.report(f"Missing 'StartAt' target: {machine.start_at}", f"{location}/StartAt", MISSING_TARGET)
            return
        edges: dict[str, list[str]] = {}
        for name, state in machine.states.items():
            where = f"{location}/States/{name}"
            targets = [(state.next, f"{where}/Next")]
            if isinstance(state, ChoiceState):
                targets += [(b.next, f"{where}/Choices[{i}]/Next") for i, b in enumerate(state.choices)]
                targets.append((state.default, f"{where}/Default"))
            for i, catcher in enumerate(getattr(state, "catch", ())):
                targets.append((catcher.next, f"{where}/Catch[{i}]/Next"))
            edges[name] = []
            for target, at in targets:
                if target is None:
                    continue
                if target not in machine.states:
                    self.report(f"Missing 'Next' target: {target}", at, MISSING_TARGET)
                else:
                    edges[name].append(target)
        terminal = [n for n, s in machine.states.items() if s.end or isinstance(s, (SucceedState, FailState))]
        if not terminal:
            self.diagnostics.append(Diagnostic("MISSING_END_STATE", "Workflow has no terminal state", None))
            return
        reached, frontier = {machine.start_at}, [machine.start_at]
        while frontier:
            for target in edges.get(frontier.pop(), []):
                if target not in reached:
                    reached.add(target)
                    frontier.append(target)
        for name in machine.states:
            if name not in reached:
                self.report(f'State "{name}" is not reachable.', f"{location}/States/{name}", MISSING_TARGET)

    # ---- states --------------------------------------------------------------------------------

    def state(self, name: str, raw: Json, location: str, inherited: QueryLanguage) -> State | None:
        if not isinstance(raw, dict):
            self.report("A state must be a JSON object", location)
            return None
        kind = raw.get("Type")
        if not isinstance(kind, str) or kind not in _FIELDS:
            self.report("These fields are required: [Type]" if kind is None else
                        f"The value for the field 'Type' must be one of [{', '.join(_FIELDS)}]", location)
            return None
        language = self._language(raw, location, inherited)
        for key in raw:
            if key not in _FIELDS[kind]:
                self.report(f"Field '{key}' is not supported", location)
            elif language is QueryLanguage.JSONATA and key in _JSONPATH_ONLY:
                self.report(f"The QueryLanguage is set to 'JSONata', but field '{key}' is only supported for the "
                            "'JSONPath' QueryLanguage", location)
            elif language is QueryLanguage.JSONPATH and key in _JSONATA_ONLY:
                self.report(f"The QueryLanguage is set to 'JSONPath', but field '{key}' is only supported for the "
                            "'JSONata' QueryLanguage", location)
        common: dict[str, Any] = {"name": name, "query_language": language, "comment": raw.get("Comment")}
        if kind in _TRANSITIONS:
            common.update(self._transition(raw, location))
        jsonata = language is QueryLanguage.JSONATA
        if kind != "Fail":
            common["input_path"] = self._path(raw, "InputPath", location, default=DOLLAR)
            common["output_path"] = self._path(raw, "OutputPath", location, default=DOLLAR)
            if jsonata and "Output" in raw:
                common["output"] = _jsonata.compile_template(raw["Output"], f"{location}/Output", self.report)
                common["has_output"] = True
        if "Assign" in raw:
            common["assign"] = self._assign(raw["Assign"], f"{location}/Assign", jsonata)
        builder: Callable[[Json, str, dict[str, Any]], State | None] = getattr(self, "_" + kind.lower())
        return builder(raw, location, common)

    def _result_fields(self, raw: Json, location: str, jsonata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"result_path": self._path(raw, "ResultPath", location, default=DOLLAR, reference=True)}
        for key, attr in (("Parameters", "parameters"), ("ResultSelector", "result_selector")):
            if key in raw and not jsonata:
                out[attr] = self._template(raw[key], f"{location}/{key}")
        if "Arguments" in raw and jsonata:
            out["arguments"] = _jsonata.compile_template(raw["Arguments"], f"{location}/Arguments", self.report)
            out["has_arguments"] = True
        return out

    def _recovery_fields(self, raw: Json, location: str, jsonata: bool) -> dict[str, Any]:
        return {"retry": self._retriers(raw.get("Retry"), f"{location}/Retry"),
                "catch": self._catchers(raw.get("Catch"), f"{location}/Catch", jsonata)}

    def _pass(self, raw: Json, location: str, common: dict[str, Any]) -> State:
        jsonata = common["query_language"] is QueryLanguage.JSONATA
        return PassState(**common, **self._result_fields(raw, location, jsonata),
                         result=raw.get("Result"), has_result="Result" in raw)

    def _task(self, raw: Json, location: str, common: dict[str, Any]) -> State | None:
        jsonata = common["query_language"] is QueryLanguage.JSONATA
        arn = raw.get("Resource")
        resource = None
        if not isinstance(arn, str):
            self.report("These fields are required: [Resource]" if arn is None
                        else "The value for the field 'Resource' must be a string", location)
        else:
            resource = classify(arn)
            if resource is None:
                self.report(f"The resource provided {arn} is not recognized. The value is not a valid resource ARN, "
                            "or the resource is not available in this region.", f"{location}/Resource",
                            "INVALID_RESOURCE")
        timeout = self._number_or_expression(raw, "TimeoutSeconds", location, jsonata, minimum=1)
        heartbeat = self._number_or_expression(raw, "HeartbeatSeconds", location, jsonata, minimum=1)
        self._exclusive(raw, location, "TimeoutSeconds", "TimeoutSecondsPath")
        self._exclusive(raw, location, "HeartbeatSeconds", "HeartbeatSecondsPath")
        if isinstance(timeout, int) and isinstance(heartbeat, int) and heartbeat >= timeout:
            self.report("HeartbeatSeconds must be smaller than TimeoutSeconds", f"{location}/HeartbeatSeconds")
        return TaskState(**common, **self._result_fields(raw, location, jsonata),
                         **self._recovery_fields(raw, location, jsonata), resource=resource,
                         timeout_seconds=timeout, heartbeat_seconds=heartbeat,
                         timeout_seconds_path=self._path(raw, "TimeoutSecondsPath", location, reference=True),
                         heartbeat_seconds_path=self._path(raw, "HeartbeatSecondsPath", location, reference=True),
                         credentials=raw.get("Credentials"))

    def _choice(self, raw: Json, location: str, common: dict[str, Any]) -> State | None:
        jsonata = common["query_language"] is QueryLanguage.JSONATA
        choices = raw.get("Choices")
        if not isinstance(choices, list) or not choices:
            self.report("These fields are required: [Choices]" if choices is None
                        else "The field 'Choices' must be a non-empty array", location)
            choices = []
        branches = []
        for i, body in enumerate(choices):
            where = f"{location}/Choices[{i}]"
            branch = self._choice_branch(body, where, jsonata)
            if branch is not None:
                branches.append(branch)
        default = raw.get("Default")
        if default is not None and not isinstance(default, str):
            self.report("The value for the field 'Default' must be a string", f"{location}/Default")
            default = None
        return ChoiceState(**common, choices=tuple(branches), default=default)

    def _choice_branch(self, body: Json, where: str, jsonata: bool) -> ChoiceBranch | None:
        if not jsonata:
            rule = _choice.compile_rule(body, where, self.report, top=True)
            if rule is None or not isinstance(body.get("Next"), str):
                return None
            assign = self._assign(body["Assign"], f"{where}/Assign", False) if "Assign" in body else None
            return ChoiceBranch(body["Next"], rule=rule, assign=assign)
        if not isinstance(body, dict):
            self.report("Value must be an object", where)
            return None
        self._unknown(body, {"Condition", "Next", "Comment", "Assign", "Output"}, where)
        condition = body.get("Condition")
        if condition is None:
            self.report("These fields are required: [Condition]", where)
        elif _jsonata.is_expression(condition):
            condition = _jsonata.compile_template(condition, f"{where}/Condition", self.report)
        elif not isinstance(condition, bool):
            self.report("The value for the field 'Condition' must be a JSONata expression or a boolean",
                        f"{where}/Condition")
        if not isinstance(body.get("Next"), str):
            self.report("These fields are required: [Next]", where)
            return None
        return ChoiceBranch(body["Next"], condition=condition,
                            assign=self._assign(body["Assign"], f"{where}/Assign", True) if "Assign" in body else None,
                            output=_jsonata.compile_template(body.get("Output"), f"{where}/Output", self.report),
                            has_output="Output" in body)

    def _wait(self, raw: Json, location: str, common: dict[str, Any]) -> State | None:
        jsonata = common["query_language"] is QueryLanguage.JSONATA
        present = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in raw]
        if len(present) != 1:
            self.report("A Wait state needs exactly one of [Seconds, Timestamp, SecondsPath, TimestampPath]", location)
        seconds = self._number_or_expression(raw, "Seconds", location, jsonata, minimum=0)
        timestamp = raw.get("Timestamp")
        if timestamp is not None:
            if jsonata and _jsonata.is_expression(timestamp):
                timestamp = _jsonata.compile_template(timestamp, f"{location}/Timestamp", self.report)
            elif not isinstance(timestamp, str) or _choice.parse_timestamp(timestamp) is None:
                self.report("The value for the field 'Timestamp' must be a valid timestamp", f"{location}/Timestamp")
                timestamp = None
        return WaitState(**common, seconds=seconds, timestamp=timestamp,
                         seconds_path=self._path(raw, "SecondsPath", location, reference=True),
                         timestamp_path=self._path(raw, "TimestampPath", location, reference=True))

    def _succeed(self, raw: Json, location: str, common: dict[str, Any]) -> State:
        return SucceedState(**common)

    def _fail(self, raw: Json, location: str, common: dict[str, Any]) -> State:
        jsonata = common["query_language"] is QueryLanguage.JSONATA
        fields: dict[str, Any] = {}
        for key in ("Error", "Cause"):
            self._exclusive(raw, location, key, key + "Path")
            value = raw.get(key)
            if value is not None and not isinstance(value, str):
                self.report(f"The value for the field '{key}' must be a string", f"{location}/{key}")
            elif jsonata and _jsonata.is_expression(value):
                value = _jsonata.compile_template(value, f"{location}/{key}", self.report)
            fields[key.lower()] = value
            if key + "Path" in raw:
                fields[key.lower() + "_path"] = _templates.compile_selector(raw[key + "Path"], key + "Path",
                                                                            f"{location}/{key}Path", self.report)
        return FailState(**common, **fields)

    def _parallel(self, raw: Json, location: str, common: dict[str, Any]) -> State | None:
        jsonata = common["query_language"] is QueryLanguage.JSONATA
        branches = raw.get("Branches")
        graphs = []
        if not isinstance(branches, list) or not branches:
            self.report("These fields are required: [Branches]" if branches is None
                        else "The field 'Branches' must be a non-empty array", location)
        else:
            for i, body in enumerate(branches):
                graph = self.machine(body, f"{location}/Branches[{i}]", common["query_language"])
                if graph is not None:
                    graphs.append(graph)
        return ParallelState(**common, **self._result_fields(raw, location, jsonata),
                             **self._recovery_fields(raw, location, jsonata), branches=tuple(graphs))

    def _map(self, raw: Json, location: str, common: dict[str, Any]) -> State | None:
        jsonata = common["query_language"] is QueryLanguage.JSONATA
        fields: dict[str, Any] = {}
        key = "ItemProcessor" if "ItemProcessor" in raw else "Iterator"
        if ("ItemProcessor" in raw) == ("Iterator" in raw):
            self.report("A Map state needs exactly one of [ItemProcessor, Iterator]", location)
        body = raw.get(key)
        if key in raw and not isinstance(body, dict):
            self.report(f"The field '{key}' must be an object", location)
        if isinstance(body, dict):
            if "QueryLanguage" in body:
                self.report("Field 'QueryLanguage' is not supported", f"{location}/{key}")
            config = body.get("ProcessorConfig") or {}
            mode = config.get("Mode", "INLINE") if isinstance(config, dict) else None
            if mode not in ("INLINE", "DISTRIBUTED"):
                self.report("The value for the field 'Mode' must be one of [INLINE, DISTRIBUTED]",
                            f"{location}/{key}/ProcessorConfig")
                mode = "INLINE"
            fields["mode"], fields["execution_type"] = mode, config.get("ExecutionType") if isinstance(config, dict) else None
            fields["processor"] = self.machine({k: v for k, v in body.items() if k != "QueryLanguage"},
                                               f"{location}/{key}", common["query_language"])
        self._exclusive(raw, location, "Parameters", "ItemSelector")
        selector = raw.get("ItemSelector", raw.get("Parameters"))
        if selector is not None:
            where = f"{location}/{'ItemSelector' if 'ItemSelector' in raw else 'Parameters'}"
            fields["item_selector"] = (_jsonata.compile_template(selector, where, self.report) if jsonata
                                       else self._template(selector, where))
        fields["items_path"] = self._path(raw, "ItemsPath", location, default=DOLLAR, reference=True) or DOLLAR
        if jsonata and "Items" in raw:
            fields["items"] = _jsonata.compile_template(raw["Items"], f"{location}/Items", self.report)
            fields["has_items"] = True
        for name, minimum in (("MaxConcurrency", 0), ("ToleratedFailureCount", 0),
                              ("ToleratedFailurePercentage", 0)):
            self._exclusive(raw, location, name, name + "Path")
            attr = {"MaxConcurrency": "max_concurrency", "ToleratedFailureCount": "tolerated_failure_count",
                    "ToleratedFailurePercentage": "tolerated_failure_percentage"}[name]
            value = self._number_or_expression(raw, name, location, jsonata, minimum=minimum,
                                               integer=name != "ToleratedFailurePercentage")
            if name == "ToleratedFailurePercentage" and isinstance(value, (int, float)) and value > 100:
                self.report("Maximum value is 100.0", f"{location}/{name}")
            if value is not None:
                fields[attr] = value
            fields[attr + "_path"] = self._path(raw, name + "Path", location, reference=True)
        if "ItemReader" in raw or "ResultWriter" in raw:
            self.report("ItemReader and ResultWriter (S3 sources and sinks of a Distributed Map) are not supported",
                        location, "UNSUPPORTED_FEATURE")
        if "ItemBatcher" in raw:
            fields["item_batcher"] = self._batcher(raw["ItemBatcher"], f"{location}/ItemBatcher", jsonata)
        fields["label"] = raw.get("Label")
        return MapState(**common, **self._result_fields(raw, location, jsonata),
                        **self._recovery_fields(raw, location, jsonata), **fields)

    def _batcher(self, raw: Json, location: str, jsonata: bool) -> ItemBatcher | None:
        if not isinstance(raw, dict):
            self.report("The field 'ItemBatcher' must be an object", location)
            return None
        self._unknown(raw, {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
                            "MaxInputBytesPerBatchPath", "BatchInput"}, location)
        batch_input = raw.get("BatchInput")
        if batch_input is not None:
            batch_input = (_jsonata.compile_template(batch_input, f"{location}/BatchInput", self.report) if jsonata
                           else self._template(batch_input, f"{location}/BatchInput"))
        return ItemBatcher(
            self._number_or_expression(raw, "MaxItemsPerBatch", location, jsonata, minimum=1),
            self._path(raw, "MaxItemsPerBatchPath", location, reference=True),
            self._number_or_expression(raw, "MaxInputBytesPerBatch", location, jsonata, minimum=1),
            self._path(raw, "MaxInputBytesPerBatchPath", location, reference=True), batch_input)

    # ---- Retry and Catch -----------------------------------------------------------------------

    def _error_equals(self, body: dict[str, Json], where: str, last: bool) -> tuple[str, ...]:
        errors = body.get("ErrorEquals")
        if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
            self.report("The field 'ErrorEquals' must be a non-empty array of strings", where)
            return ()
        if ALL in errors and (len(errors) > 1 or not last):
            self.report(f"{ALL} must appear alone in ErrorEquals and in the last retrier or catcher",
                        f"{where}/ErrorEquals")
        return tuple(errors)

    def _retriers(self, raw: Json, location: str) -> tuple[Retrier, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.report("The field 'Retry' must be an array", location)
            return ()
        out = []
        for i, body in enumerate(raw):
            where = f"{location}[{i}]"
            if not isinstance(body, dict):
                self.report("A retrier must be an object", where)
                continue
            self._unknown(body, {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
                                 "JitterStrategy", "Comment"}, where)
            errors = self._error_equals(body, where, i == len(raw) - 1)
            interval = self._positive_int(body, "IntervalSeconds", where)
            attempts = body.get("MaxAttempts", 3)
            if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
                self.report("The value for the field 'MaxAttempts' must be a non-negative integer",
                            f"{where}/MaxAttempts")
                attempts = 3
            backoff = body.get("BackoffRate", 2.0)
            if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or backoff < 1.0:
                self.report("The value for the field 'BackoffRate' must be a number of at least 1.0",
                            f"{where}/BackoffRate")
                backoff = 2.0
            jitter = body.get("JitterStrategy", "NONE")
            if jitter not in ("FULL", "NONE"):
                self.report("The value for the field 'JitterStrategy' must be one of [FULL, NONE]",
                            f"{where}/JitterStrategy")
                jitter = "NONE"
            out.append(Retrier(errors, interval or 1, attempts, float(backoff),
                               self._positive_int(body, "MaxDelaySeconds", where), jitter))
        return tuple(out)

    def _catchers(self, raw: Json, location: str, jsonata: bool) -> tuple[Catcher, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.report("The field 'Catch' must be an array", location)
            return ()
        out = []
        for i, body in enumerate(raw):
            where = f"{location}[{i}]"
            if not isinstance(body, dict):
                self.report("A catcher must be an object", where)
                continue
            allowed = {"ErrorEquals", "Next", "Comment", "Assign"} | ({"Output"} if jsonata else {"ResultPath"})
            self._unknown(body, allowed, where)
            errors = self._error_equals(body, where, i == len(raw) - 1)
            nxt = body.get("Next")
            if not isinstance(nxt, str):
                self.report("These fields are required: [Next]", where)
                continue
            out.append(Catcher(
                errors, nxt, self._path(body, "ResultPath", where, default=DOLLAR, reference=True),
                self._assign(body["Assign"], f"{where}/Assign", jsonata) if "Assign" in body else None,
                _jsonata.compile_template(body.get("Output"), f"{where}/Output", self.report), "Output" in body))
        return tuple(out)

    # ---- field helpers -------------------------------------------------------------------------

    def _unknown(self, raw: dict[str, Json], allowed: set[str], location: str) -> None:
        for key in raw:
            if key not in allowed:
                self.report(f"Field '{key}' is not supported", location)

    def _exclusive(self, raw: dict[str, Json], location: str, *keys: str) -> None:
        if sum(k in raw for k in keys) > 1:
            self.report(f"There should only be one of the following fields: [{', '.join(keys)}]", location)

    def _language(self, raw: dict[str, Json], location: str, inherited: QueryLanguage | None) -> QueryLanguage:
        value = raw.get("QueryLanguage")
        if value is None:
            return inherited or QueryLanguage.JSONPATH
        if value not in ("JSONPath", "JSONata"):
            self.report("The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata]",
                        f"{location}/QueryLanguage")
            return inherited or QueryLanguage.JSONPATH
        language = QueryLanguage(value)
        if inherited is QueryLanguage.JSONATA and language is QueryLanguage.JSONPATH:
            self.report("'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", location)
        return language

    def _transition(self, raw: dict[str, Json], location: str) -> dict[str, Any]:
        nxt, end = raw.get("Next"), raw.get("End")
        if end is not None and not isinstance(end, bool):
            self.report("The value for the field 'End' must be a boolean", f"{location}/End")
        if nxt is not None and not isinstance(nxt, str):
            self.report("The value for the field 'Next' must be a string", f"{location}/Next")
            nxt = None
        if (nxt is not None) == (end is True):
            self.report("Exactly one of the fields [Next, End] must be set", location)
        return {"next": nxt, "end": end is True and nxt is None}

    def _path(self, raw: dict[str, Json], key: str, location: str, *, default: Path | None = None,
              reference: bool = False) -> Path | None:
        if key not in raw:
            return default
        value = raw[key]
        if value is None and key in ("InputPath", "OutputPath", "ResultPath"):
            return None
        try:
            path = parse_path(value) if isinstance(value, str) else None
        except PathSyntaxError:
            path = None
        if path is None:
            self.report(f"The value for the field '{key}' must be a valid JSONPath", f"{location}/{key}")
        elif reference and (not path.reference or key != "ItemsPath" and path.root.name == "CONTEXT"
                            or key == "ResultPath" and path.root.name != "INPUT"):
            self.report(f"The value for the field '{key}' must be a valid ReferencePath", f"{location}/{key}")
            return None
        return path

    def _template(self, raw: Json, location: str) -> _templates.Template | None:
        if not isinstance(raw, dict):
            self.report("The value must be a JSON object", location)
            return None
        return _templates.compile_template(raw, location, self.report)

    def _assign(self, raw: Json, location: str, jsonata: bool) -> Any:
        if not isinstance(raw, dict) and not (jsonata and _jsonata.is_expression(raw)):
            self.report("The field 'Assign' must be an object", location)
            return None
        for key in raw if isinstance(raw, dict) else ():
            name = key[:-2] if key.endswith(".$") and not jsonata else key
            if not _is_variable_name(name):
                self.report(f"The variable name '{name}' is not valid", location)
        if jsonata:
            return _jsonata.compile_template(raw, location, self.report)
        return _templates.compile_template(raw, location, self.report)

    def _positive_int(self, raw: dict[str, Json], key: str, location: str) -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.report(f"The value for the field '{key}' must be a positive integer", f"{location}/{key}")
            return None
        return value

    def _number_or_expression(self, raw: dict[str, Json], key: str, location: str, jsonata: bool, *,
                              minimum: int, integer: bool = True) -> Any:
        value = raw.get(key)
        if value is None:
            return None
        if jsonata and _jsonata.is_expression(value):
            return _jsonata.compile_template(value, f"{location}/{key}", self.report)
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            self.report(f"The value for the field '{key}' must be {'an integer' if integer else 'a number'}",
                        f"{location}/{key}")
            return None
        if value < minimum:
            self.report(f"Minimum value is {minimum if integer else float(minimum)}", f"{location}/{key}")
            return None
        return value


def _is_variable_name(name: str) -> bool:
    from cumulo.stepfunctions.asl.paths import VARIABLE_NAME
    return bool(VARIABLE_NAME.fullmatch(name)) and len(name) <= MAX_NAME and name != "states"
