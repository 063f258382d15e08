"""Step Functions: state machines and their executions, driven by the pure ASL core.

``StateMachines`` answers the API (documents boto3's ``stepfunctions`` client
returns); its ``Engine`` thread owns every running execution:

- **Standard** executions are durable. Each transition is one transaction in the
  message store — the interpreter's snapshot, the new history events, timers,
  task tokens — committed before any command is obeyed. After a crash (or on a
  new leader), each running execution is restored from its snapshot and its
  outstanding tasks and timers are issued again: waits keep their deadline, a
  task in flight runs again (at least once, as on AWS).
- **Express** executions live in memory (at least once, five minutes at most);
  ``StartSyncExecution`` waits for one and returns its result.

External inputs (starts from other processes, SendTask*, StopExecution) travel
through the durable ``~sfn-inbox`` queue, so a CLI beside a running server (or
another node) reaches the one engine holding the ``states-engine`` lease.
Tasks run on worker threads (``stepfunctions/tasks.py``); their results come back to the
engine thread, which alone advances executions.

Hostile input is refused at the API with AWS's errors: an execution input or
a SendTaskSuccess output over 256 KiB, a definition over 1 MiB, an error over
256 or a cause over 32,768 characters (``ValidationException``, the quota's
constraint message), JSON nested deeper than ``MAX_DEPTH``.

**Poisoned executions.** Before the engine evaluates a Standard execution it
writes the execution's ARN (and its own pid) to ``<home>/sfn-evaluating`` and
blanks it after the step is committed: two ``pwrite``s, no fsync (a killed
process's writes survive in the page cache). An engine that starts and finds an
ARN there left by a dead process knows that process died evaluating it (killed
by the kernel for memory, a crash, or an operator's ``kill -9`` of a hung
server) and counts a crash against it in its document. The first is forgiven
(an operator's kill can land on any execution); at the second the execution is
failed with ``States.Runtime`` ("could not be resumed") without being run
again, so one bad definition cannot take the server down at every restart. A
step that commits clears the count. An execution whose stored state cannot be
loaded at all (an exception while restoring it) is failed the same way.
"""

from __future__ import annotations

import base64
import heapq
import json
import logging
import os
import queue
import re
import secrets
import socket
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List

from cumulo.errors import ServiceError
from cumulo.model.function import Arns
from cumulo.observe.metrics import NO_METRICS, MetricRecorder
from cumulo.observe.traces import NO_TRACES, TraceRecorder, segment_id
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents, ServiceCalls, Targets
from cumulo.ports import now_ms as clock_ms
from cumulo.stepfunctions.tasks import run_task
from cumulo.stepfunctions.asl import (
    CancelTimer, Execution, ExecutionContext, ExecutionStatus, Fail, HistoryEvent, InvokeTask, SeededEntropy,
    StartTimer, Step, StopExecution, Succeed, TaskFailed, TaskHeartbeat, TaskSucceeded, TimerFired, event_from_json,
    event_to_json, parse_definition,
)
from cumulo.stepfunctions.asl.limits import MAX_DEFINITION, MAX_DEPTH, MAX_PAYLOAD, TooLarge, measure, utf8_size
from cumulo.store.ports import Executions, Leases, NewMessage, QueueMessages, lease_owner
from cumulo.store.health import log_failure

__all__ = ["StateMachines", "SfnError"]

log = logging.getLogger("cumulo.sfn")

INBOX = "~sfn-inbox"
EXPRESS_LIMIT_S = 300
# Express executions keep no history on AWS, so its 25,000-event quota does not bind them; this
# bound only stops a runaway Pass/Choice loop from holding the engine.
EXPRESS_MAX_EVENTS = 250_000
MAX_INPUT = MAX_PAYLOAD
MAX_LOADED = 256                # Standard executions kept in memory between steps (the rest reload from the store)
MAX_EXPRESS_RUNNING = 1_000     # Express executions running at once (they live in memory only)
MAX_HISTORY_PAGE = 16 * 1024 * 1024   # bytes of events in one GetExecutionHistory page (then a nextToken)
MAX_ERROR = 256                 # AWS API: SendTaskFailure/StopExecution error, at most 256 characters
MAX_CAUSE = 32_768              # and cause, at most 32,768
REDRIVE_PERIOD_S = 14 * 86_400   # AWS: an execution may be redriven within 14 days of its stop
MAX_REDRIVE_EVENTS = 24_999     # AWS: not once its history holds this many events (no room to go on)
MAX_BATCH = 1000                # events the engine takes at once (_gather)
GROUP_WAIT_S = 0.001            # how long a batch waits for more results of tasks still running
CRASHES_TO_FAIL = 2             # dead engines found evaluating one execution before it is failed, not resumed
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_NAME_RE = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


class SfnError(ServiceError):
    """Step Functions' own errors; ``code`` is the name boto3 reports (400)."""


def _too_long(member: str, limit: int) -> SfnError:
    """AWS's constraint error for a member over its length (the value is not echoed: it may be huge)."""
    return SfnError("ValidationException", f"1 validation error detected: Value at '{member}' failed to satisfy "
                                           f"constraint: Member must have length less than or equal to {limit}")


def _check_text(member: str, value: Any, limit: int, utf8: bool = False) -> None:
    if isinstance(value, str) and (utf8_size(value) if utf8 else len(value)) > limit:
        raise _too_long(member, limit)


def _parse_json(text: str) -> Any:
    """JSON text from a client: ValueError if invalid or nested deeper than MAX_DEPTH."""
    try:
        value = json.loads(text)
        measure(value, 8 * len(text) + 64)       # for the depth: its text is already within the quota
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except TooLarge as exc:
        raise ValueError(exc.reason) from None
    return value


@dataclass
class _Live:
    execution: Execution
    doc: dict[str, Any]
    durable: bool
    done: threading.Event = field(default_factory=threading.Event)


class _Evaluating:
    """Which Standard execution the engine is evaluating, in a file beside the store (see the module's
    docstring): ``begin``/``end`` around each step, ``left_by_dead_process`` at start-up."""

    SIZE = 2048

    def __init__(self, path: Any) -> None:
        self._path = path
        self._fd: int | None = None
        self._host = socket.gethostname()

    def _file(self) -> int:
        if self._fd is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def begin(self, arn: str) -> None:
        record = json.dumps({"host": self._host, "pid": os.getpid(), "arn": arn}).encode()
        os.pwrite(self._file(), record[:self.SIZE].ljust(self.SIZE), 0)

    def end(self) -> None:
        os.pwrite(self._file(), b" " * self.SIZE, 0)

    def left_by_dead_process(self) -> str | None:
        """The ARN a process that no longer exists was evaluating when it died, if any."""
        try:
            record = json.loads(os.pread(self._file(), self.SIZE, 0).strip() or b"null")
        except ValueError:
            return None
        if not isinstance(record, dict) or record.get("host") != self._host or record.get("pid") == os.getpid():
            return None
        try:
            os.kill(int(record["pid"]), 0)
            return None                                  # that process lives: it merely lost the lease
        except ProcessLookupError:
            return str(record.get("arn"))
        except (PermissionError, ValueError, TypeError, KeyError):
            return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class StateMachines:
    """``home``: the folder of ``sfn-evaluating``; ``targets``: where tasks reach their services."""

    def __init__(self, store: Documents, messages: QueueMessages, executions: Executions, leases: Leases, arns: Arns,
                 home: Path, targets: Targets, clock: Clock = SYSTEM_CLOCK, services: ServiceCalls | None = None,
                 metrics: MetricRecorder = NO_METRICS, traces: TraceRecorder = NO_TRACES) -> None:
        self._store, self._messages, self._arns, self._home, self._targets = store, messages, arns, home, targets
        self.metrics = metrics      # AWS/States: ExecutionsStarted/Succeeded/Failed/TimedOut/Aborted, ExecutionTime
        self.traces = traces        # X-Ray: executions of machines with TracingConfiguration enabled
        self._services = services   # services' APIs called directly (DynamoDB tasks, AWS SDK tasks)
        self._executions, self._leases = executions, leases
        self._clock = clock     # executions' time: history, timers, Wait states
        self._express: dict[str, _Live] = {}
        self._engine: Engine | None = None

    # -- naming ---------------------------------------------------------------
    def _arn(self, kind: str, *parts: str) -> str:
        return f"arn:aws:states:{self._arns.region}:{self._arns.account}:{kind}:" + ":".join(parts)

    def _machine(self, arn: Any) -> dict[str, Any]:
        if not isinstance(arn, str) or not arn.startswith("arn:aws:states:") or ":stateMachine:" not in arn:
            raise SfnError("InvalidArn", f"Invalid Arn: '{arn}'")
        doc = self._store.get_document("state-machine", arn.rsplit(":", 1)[1])
        if doc is None or doc["stateMachineArn"] != arn:
            raise SfnError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return doc

    def role_of(self, machine_arn: Any) -> str | None:
        """The role a machine's tasks call services as: its roleArn; None for the platform's own
        (what ``cumulo states create`` makes, without a role) or a machine gone."""
        try:
            doc = self._machine(machine_arn)
        except SfnError:
            return None
        role = doc.get("roleArn")
        if doc.get("platformRole") or not isinstance(role, str):
            return None
        if role == self._platform_role and self._services is not None \
                and not self._services.assumable(role, "states.amazonaws.com"):
            return None     # a store from before roles were checked: its machines made without one
        return role

    @property
    def _platform_role(self) -> str:
        return f"arn:aws:iam::{self._arns.account}:role/cumulo-states-role"

    def _check_role(self, role_arn: Any) -> str:
        """``roleArn`` as Step Functions checks it: an IAM role's ARN (``InvalidArn``) that Step
        Functions may assume, i.e. a stored role whose trust policy allows ``states.amazonaws.com``
        or its regional name (``AccessDeniedException``, AWS's message)."""
        if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
            raise SfnError("InvalidArn", f"Invalid Arn: '{role_arn}'")
        if self._services is not None and not self._services.assumable(role_arn, "states.amazonaws.com"):
            raise SfnError("AccessDeniedException", "Neither the global service principal states.amazonaws.com, "
                                                    "nor the regional one is authorized to assume the provided role.")
        return role_arn

    # -- state machines -------------------------------------------------------
    def create_state_machine(self, name: Any, definition: Any, role_arn: Any = None, type_: Any = None,
                             logging_configuration: Any = None, tags: Any = None,
                             tracing_configuration: Any = None) -> dict[str, Any]:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise SfnError("InvalidName", f"Invalid Name: '{name}'")
        kind = type_ or "STANDARD"
        if kind not in ("STANDARD", "EXPRESS"):
            raise SfnError("ValidationException", f"1 validation error detected: Value '{kind}' at 'type' failed "
                                                  "to satisfy constraint: Member must satisfy enum value set: "
                                                  "[STANDARD, EXPRESS]")
        text = _definition_text(definition)
        parse_definition(text)                      # InvalidDefinition, with every finding
        role = self._platform_role if role_arn is None else self._check_role(role_arn)
        tracing = _tracing(tracing_configuration)
        arn = self._arn("stateMachine", name)
        existing = self._store.get_document("state-machine", name)
        if existing is not None:
            if existing["definition"] == text and existing["type"] == kind and existing["roleArn"] == role and \
                    existing.get("tracingConfiguration", {"enabled": False}) == tracing:
                return {"stateMachineArn": arn, "creationDate": existing["creationDate"]}
            raise SfnError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
        now = self._clock.now()
        doc = {"stateMachineArn": arn, "name": name, "status": "ACTIVE", "definition": text,
               "roleArn": role, "type": kind, "creationDate": now, "revisionId": str(uuid.uuid4()),
               "loggingConfiguration": logging_configuration or {"level": "OFF", "includeExecutionData": False},
               "tracingConfiguration": tracing}
        if role_arn is None:
            doc["platformRole"] = True      # the platform's own: its tasks' calls are not asked (role_of)
        self._store.put_document("state-machine", name, doc)
        return {"stateMachineArn": arn, "creationDate": now}

    @staticmethod
    def validate(definition: Any) -> dict[str, Any]:
        """ValidateStateMachineDefinition: OK, or FAIL with the diagnostics."""
        from cumulo.stepfunctions.asl import validate_definition
        found = validate_definition(_definition_text(definition))
        if not found:
            return {"result": "OK", "diagnostics": []}
        return {"result": "FAIL", "diagnostics": [{"severity": "ERROR", "code": d.code, "message": d.message,
                                                   **({"location": d.location} if d.location else {})}
                                                  for d in found]}

    def describe_state_machine(self, arn: Any) -> dict[str, Any]:
        return {"tracingConfiguration": {"enabled": False},
                **{k: v for k, v in self._machine(arn).items() if k != "platformRole"}}

    def update_state_machine(self, arn: Any, definition: Any = None, role_arn: Any = None,
                             tracing_configuration: Any = None) -> dict[str, Any]:
        doc = self._machine(arn)
        if definition is None and role_arn is None and tracing_configuration is None:
            raise SfnError("MissingRequiredParameter", "Either the definition, the roleArn or the "
                                                       "tracingConfiguration must be specified.")
        if tracing_configuration is not None:
            doc["tracingConfiguration"] = _tracing(tracing_configuration)
        if definition is not None:
            text = _definition_text(definition)
            parse_definition(text)
            doc["definition"] = text
        if role_arn is not None:
            doc["roleArn"] = self._check_role(role_arn)
            doc.pop("platformRole", None)
        doc["updateDate"] = self._clock.now()
        doc["revisionId"] = str(uuid.uuid4())
        self._store.put_document("state-machine", doc["name"], doc)
        return {"updateDate": doc["updateDate"], "revisionId": doc["revisionId"]}

    def list_state_machines(self) -> "List[dict[str, Any]]":
        return [{k: d[k] for k in ("stateMachineArn", "name", "type", "creationDate")}
                for d in sorted(self._store.list_documents("state-machine"), key=lambda d: d["name"])]

    def delete_state_machine(self, arn: Any) -> None:
        try:
            doc = self._machine(arn)
        except SfnError as err:
            if err.code == "StateMachineDoesNotExist":
                return
            raise
        self._store.delete_document("state-machine", doc["name"])

    # -- executions -----------------------------------------------------------
    def start_execution(self, machine_arn: Any, name: Any = None, input: Any = None,
                        parent: dict[str, Any] | None = None, trace_header: str | None = None) -> dict[str, Any]:
        """``trace_header``: the caller's ``X-Amzn-Trace-Id``, carried on by the execution's tasks
        (docs/traces.md)."""
        machine = self._machine(machine_arn)
        name = name if name is not None else str(uuid.uuid4())
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise SfnError("InvalidName", f"Invalid Name: '{name}'")
        text = "{}" if input is None else input
        if not isinstance(text, str):
            raise SfnError("InvalidExecutionInput", "Invalid State Machine Execution Input: 'the input must be a "
                                                    "string of JSON text'")
        _check_text("input", text, MAX_INPUT, utf8=True)          # AWS's quota: 256 KiB, UTF-8 bytes
        try:
            parsed = _parse_json(text)
        except ValueError as exc:
            raise SfnError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from None
        express = machine["type"] == "EXPRESS"
        arn = self._arn("express" if express else "execution", machine["name"], name)
        now = self._clock.now()
        doc = {"machine": machine["stateMachineArn"], "definition": machine["definition"], "input": text,
               "seed": secrets.token_hex(16), "started": False, "parent": parent, "type": machine["type"],
               "startDate": now}
        # AWS: a running execution keeps the definition and role it started with (UpdateStateMachine
        # reaches new executions only); the role its tasks call as is decided once, here.
        doc["taskRole"] = self.role_of(machine["stateMachineArn"])
        if trace_header and len(trace_header) <= 1024:
            doc["trace"] = trace_header
        traced = bool(machine.get("tracingConfiguration", {}).get("enabled"))
        hop = self.traces.hop(True, doc.get("trace")) if traced else None   # else the header goes on as it came
        if hop is not None:         # the execution's segment, recorded when it ends (``ended``)
            doc["xray"] = {"root": hop.root, "id": hop.segment_id, "parent": hop.parent}
        if express:
            self.engine.start_express(arn, name, doc, parsed)
            self._count("ExecutionsStarted", machine["stateMachineArn"])
            return {"executionArn": arn, "startDate": now}
        if not self._executions.insert_execution(arn, machine["stateMachineArn"], name, int(now * 1000), doc):
            status, _, started_ms, _, existing = self._executions.get_execution(arn) or ("", "", 0, None, {})
            if status == "RUNNING" and existing.get("input") == text:
                return {"executionArn": arn, "startDate": started_ms / 1000}
            raise SfnError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        self._messages.send(INBOX, [NewMessage(str(uuid.uuid4()), json.dumps({"start": arn}).encode())],
                              int(now * 1000))
        self._count("ExecutionsStarted", machine["stateMachineArn"])
        return {"executionArn": arn, "startDate": now}

    def _count(self, metric: str, machine: str, value: float = 1.0, unit: str = "Count") -> None:
        if self.metrics.enabled:
            self.metrics.add("AWS/States", metric, (("StateMachineArn", machine),), value, unit)

    def traced_task(self, doc: dict[str, Any], command: Any, run: Any) -> Any:
        """``run(header)`` a task of a traced execution: the state's subsegment under the
        execution's segment, with the call into the task's service under it (``Lambda``, ``SQS`` …),
        whose id the service's own segment hangs under (docs/traces.md)."""
        xray = doc.get("xray")
        if not isinstance(xray, dict):
            return run(doc.get("trace"))
        call_id, started = segment_id(), self.traces.now()
        error = False
        try:
            event = run(f"Root={xray['root']};Parent={call_id};Sampled=1")
            error = type(event).__name__ in ("TaskFailed", "TaskTimedOut")
            return event
        except Exception:
            error = True
            raise
        finally:
            ended = max(self.traces.now(), started)
            call: dict[str, Any] = {"id": call_id, "name": _service_name(command.resource), "namespace": "aws",
                                    "start_time": started, "end_time": ended,
                                    "aws": {"resource": getattr(command.resource, "arn", "")}}
            state: dict[str, Any] = {"type": "subsegment", "trace_id": xray["root"], "parent_id": xray["id"],
                                     "id": segment_id(), "name": command.state_name, "start_time": started,
                                     "end_time": ended, "subsegments": [call]}
            if error:
                call["fault"] = state["fault"] = True
            self.traces.add([state])

    def _execution_segment(self, doc: dict[str, Any], status: str, arn: str | None) -> None:
        xray = doc.get("xray")
        if not isinstance(xray, dict) or not isinstance(doc.get("startDate"), (int, float)):
            return
        machine = str(doc.get("machine", ""))
        started = float(doc["startDate"])
        ended = max(float(doc.get("stopDate") or self._clock.now()), started)
        segment: dict[str, Any] = {
            "trace_id": xray["root"], "id": xray["id"], "name": machine.rsplit(":", 1)[-1],
            "origin": "AWS::StepFunctions::StateMachine", "start_time": started, "end_time": ended,
            "resource_arn": arn or machine,
            "aws": {"account_id": self._arns.account, "execution_arn": arn or "", "state_machine_arn": machine},
            "annotations": {"aws:execution_arn": arn or ""}}
        if xray.get("parent"):
            segment["parent_id"] = xray["parent"]
        if status in ("FAILED", "TIMED_OUT"):
            segment["fault"] = True
            segment["cause"] = {"exceptions": [{"id": segment_id(), "type": str(doc.get("error") or status),
                                                "message": str(doc.get("cause") or "")[:1000]}]}
        elif status == "ABORTED":
            segment["error"] = True
        self.traces.add([segment])

    def ended(self, doc: dict[str, Any], status: str, arn: str | None = None) -> None:
        """An execution ended: AWS/States' count for its status and its ExecutionTime; a traced
        one's segment."""
        self._execution_segment(doc, status, arn)
        metric = {"SUCCEEDED": "ExecutionsSucceeded", "FAILED": "ExecutionsFailed", "TIMED_OUT": "ExecutionsTimedOut",
                  "ABORTED": "ExecutionsAborted"}.get(status)
        machine = doc.get("machine")
        if metric is None or not isinstance(machine, str):
            return
        self._count(metric, machine)
        started, stopped = doc.get("startDate"), doc.get("stopDate") or self._clock.now()
        if isinstance(started, (int, float)):
            self._count("ExecutionTime", machine, max(float(stopped) - started, 0.0) * 1000, "Milliseconds")

    def start_sync_execution(self, machine_arn: Any, name: Any = None, input: Any = None) -> dict[str, Any]:
        machine = self._machine(machine_arn)
        if machine["type"] != "EXPRESS":
            raise SfnError("StateMachineTypeNotSupported", "This operation is not supported by this type of "
                                                           "state machine")
        started = self.start_execution(machine_arn, name, input)
        live = self._express[started["executionArn"]]
        live.done.wait(EXPRESS_LIMIT_S + 5)
        out = self._describe_live(started["executionArn"], live)
        out.pop("redriveCount", None)
        out["billingDetails"] = {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": int(
            max(out.get("stopDate", self._clock.now()) - out["startDate"], 0.1) * 1000)}
        return out

    def describe_execution(self, arn: Any) -> dict[str, Any]:
        if isinstance(arn, str) and arn in self._express:
            return self._describe_live(arn, self._express[arn])
        if not isinstance(arn, str) or ":execution:" not in arn:
            raise SfnError("InvalidArn", f"Invalid Arn: '{arn}'")
        row = self._executions.get_execution(arn)
        if row is None:
            raise SfnError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        status, name, started_ms, stopped_ms, doc = row
        out: dict[str, Any] = {"executionArn": arn, "stateMachineArn": doc["machine"], "name": name,
                               "status": status, "startDate": started_ms / 1000, "input": doc["input"],
                               "inputDetails": {"included": True}, "redriveCount": 0}
        if stopped_ms is not None:
            out["stopDate"] = stopped_ms / 1000
        _result_fields(out, doc)
        if doc.get("redriveCount"):
            out["redriveCount"], out["redriveDate"] = int(doc["redriveCount"]), doc.get("redriveDate")
        reason = self._not_redrivable(status, stopped_ms, doc)
        out["redriveStatus"] = "NOT_REDRIVABLE" if reason else "REDRIVABLE"
        if reason:
            out["redriveStatusReason"] = reason
        return out

    def _not_redrivable(self, status: str, stopped_ms: int | None, doc: dict[str, Any]) -> str | None:
        """Why RedriveExecution would refuse a Standard execution (AWS's redriveStatusReason), or None."""
        if status in ("RUNNING", "SUCCEEDED"):
            return f"Execution is {status} and cannot be redriven"
        machine = doc.get("machine")
        if not isinstance(machine, str) or self._store.get_document("state-machine", machine.rsplit(":", 1)[1]) \
                is None:
            return "State machine is in DELETING status"
        if stopped_ms is None or self._clock.now() - stopped_ms / 1000 > REDRIVE_PERIOD_S:
            return "Execution redrivable period exceeded"
        snapshot = doc.get("snapshot") or {}
        if int(snapshot.get("next_event", 1)) > MAX_REDRIVE_EVENTS:
            return "Execution history event limit exceeded"
        if not snapshot.get("resume"):
            # Ours: it failed before entering a state (its input refused) or was failed by the server
            # for crashing it (the module's docstring): there is no state to continue from.
            return "Execution did not stop in a state and cannot be redriven"
        return None

    def redrive_execution(self, arn: Any, client_token: Any = None) -> dict[str, Any]:
        """RedriveExecution: an unsuccessful Standard execution (FAILED, TIMED_OUT, ABORTED, within
        14 days) continues from the top-level state it stopped in, with that state's input; the
        engine does it (``Engine._redrive``) and this waits up to 5 s for it, as StopExecution does.
        The same ``clientToken`` again answers the first redrive's date without redriving again."""
        if client_token is not None and (not isinstance(client_token, str) or not 1 <= len(client_token) <= 64):
            raise SfnError("ValidationException", "1 validation error detected: Value at 'clientToken' failed to "
                                                  "satisfy constraint: Member must have length between 1 and 64")
        if isinstance(arn, str) and ":express:" in arn:
            raise SfnError("ExecutionNotRedrivable", f"Execution {arn} cannot be redriven: Express executions "
                                                     "cannot be redriven")
        if not isinstance(arn, str) or not arn.startswith("arn:aws:states:") or ":execution:" not in arn:
            raise SfnError("InvalidArn", f"Invalid Arn: '{arn}'")
        row = self._executions.get_execution(arn)
        if row is None:
            raise SfnError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        status, _, _, stopped_ms, doc = row
        if client_token is not None and doc.get("redriveToken") == client_token and doc.get("redriveDate"):
            return {"redriveDate": doc["redriveDate"]}
        reason = self._not_redrivable(status, stopped_ms, doc)
        if reason:
            raise SfnError("ExecutionNotRedrivable", f"Execution {arn} cannot be redriven: {reason}")
        count = int(doc.get("redriveCount", 0)) + 1
        now = self._clock.now()
        body = json.dumps({"redrive": arn, "count": count, "date": now, "token": client_token}).encode()
        self._messages.send(INBOX, [NewMessage(str(uuid.uuid4()), body)], int(now * 1000))
        deadline = self._clock.monotonic() + 5
        while self._clock.monotonic() < deadline:
            row = self._executions.get_execution(arn)
            if row is not None and int(row[4].get("redriveCount", 0)) >= count:
                return {"redriveDate": row[4].get("redriveDate", now)}
            self._clock.sleep(0.02)
        return {"redriveDate": now}

    def _describe_live(self, arn: str, live: _Live) -> dict[str, Any]:
        ex, doc = live.execution, live.doc
        out: dict[str, Any] = {"executionArn": arn, "stateMachineArn": doc["machine"], "name": arn.rsplit(":", 1)[1],
                               "status": ex.status.value, "startDate": doc["startDate"], "input": doc["input"],
                               "inputDetails": {"included": True}}
        if ex.status is not ExecutionStatus.RUNNING:
            out["stopDate"] = doc.get("stopDate", self._clock.now())
        _result_fields(out, {"output": doc.get("output"), "error": ex.error, "cause": ex.cause,
                             "status": ex.status.value})
        return out

    def list_executions(self, machine_arn: Any, status_filter: str | None = None,
                        redrive_filter: str | None = None) -> "List[dict[str, Any]]":
        """Every execution of the machine, newest first (the CLI's and console's listing);
        ``redrive_filter``: REDRIVEN (redriven at least once) or NOT_REDRIVEN."""
        out: "List[dict[str, Any]]" = []
        token: str | None = None
        while True:
            page = self.list_executions_page(machine_arn, status_filter, redrive_filter, 1000, token)
            out += page["executions"]
            token = page.get("nextToken")
            if token is None:
                return out

    def list_executions_page(self, machine_arn: Any, status_filter: str | None = None,
                             redrive_filter: str | None = None, max_results: Any = None,
                             next_token: Any = None) -> dict[str, Any]:
        """ListExecutions: one page of ``max_results`` (100 if none), newest first, read as one range
        of the store's index after the position the token names, so a page costs the same however
        many executions the machine kept (a list of all of them, sliced, cost 5 s at 100,000)."""
        if redrive_filter is not None and redrive_filter not in ("REDRIVEN", "NOT_REDRIVEN"):
            raise SfnError("ValidationException", f"1 validation error detected: Value '{str(redrive_filter)[:64]}' "
                                                  "at 'redriveFilter' failed to satisfy constraint: Member must "
                                                  "satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]")
        if max_results is not None and (not isinstance(max_results, int) or isinstance(max_results, bool)
                                        or not 0 <= max_results <= 1000):
            raise SfnError("ValidationException", f"1 validation error detected: Value '{str(max_results)[:64]}' at "
                                                  "'maxResults' failed to satisfy constraint: Member must have value "
                                                  "between 0 and 1000")
        size = max_results or 100
        position = _execution_position(next_token)
        machine = self._machine(machine_arn)
        machine_arn = machine["stateMachineArn"]
        out: "List[dict[str, Any]]" = []
        while len(out) < size:
            want = size - len(out)
            rows = self._executions.list_executions(machine_arn, status_filter, position, want + 1)
            more = len(rows) > want
            rows = rows[:want]
            redriven = self._executions.redrives(machine_arn, [r[0] for r in rows]) if rows else {}
            for arn, name, status, started_ms, stopped_ms in rows:
                position = (started_ms, arn)
                if redrive_filter is not None and (arn in redriven) != (redrive_filter == "REDRIVEN"):
                    continue
                item: dict[str, Any] = {"executionArn": arn, "stateMachineArn": machine_arn, "name": name,
                                        "status": status, "startDate": started_ms / 1000}
                if stopped_ms is not None:
                    item["stopDate"] = stopped_ms / 1000
                if arn in redriven:
                    item["redriveCount"], item["redriveDate"] = redriven[arn]
                out.append(item)
            if not more:
                return {"executions": out}
        assert position is not None
        return {"executions": out, "nextToken": _position_token(position)}

    def get_execution_history(self, arn: Any, max_results: int | None = None, reverse: bool = False,
                              next_token: str | None = None, include_data: bool = True) -> dict[str, Any]:
        limit = max_results or 1000
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise SfnError("ValidationException", "maxResults must be between 1 and 1000.")
        if isinstance(arn, str) and arn in self._express:
            raise SfnError("InvalidArn", "Express executions have no execution history.")
        self.describe_execution(arn)
        after = int(next_token) if next_token else 0
        events: list[dict[str, Any]] = []
        size, more = 0, False
        while True:                                # in chunks: a page stops at MAX_HISTORY_PAGE bytes of events
            want = limit - len(events)
            if want <= 0:
                more = bool(self._executions.history(arn, after, 1, reverse))
                break
            chunk = self._executions.history(arn, after, min(50, want), reverse)
            for text in chunk:
                if events and size + len(text) > MAX_HISTORY_PAGE:
                    more = True
                    break
                events.append(json.loads(text))
                size += len(text)
                after = events[-1]["id"]
            if more or len(chunk) < min(50, want):
                break
        out: dict[str, Any] = {"events": events}
        if more:
            out["nextToken"] = str(after)
        if not include_data:
            for e in out["events"]:
                for details in (v for k, v in e.items() if k.endswith("EventDetails") and isinstance(v, dict)):
                    for key in ("input", "output", "result", "parameters"):
                        details.pop(key, None)
        return out

    def stop_execution(self, arn: Any, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        _check_text("error", error, MAX_ERROR)
        _check_text("cause", cause, MAX_CAUSE)
        described = self.describe_execution(arn)
        if described["status"] != "RUNNING":
            return {"stopDate": described.get("stopDate", self._clock.now())}      # already ended: nothing to stop
        self._inbox(arn, StopExecution(error, cause))
        deadline = self._clock.monotonic() + 5
        while self._clock.monotonic() < deadline:
            now = self.describe_execution(arn)
            if now["status"] != "RUNNING":
                return {"stopDate": now.get("stopDate", self._clock.now())}
            self._clock.sleep(0.02)
        return {"stopDate": self._clock.now()}

    def _inbox(self, arn: str, event: Any) -> None:
        if arn in self._express:
            self.engine.post(arn, event)
            return
        body = json.dumps({"arn": arn, "event": event_to_json(event)}).encode()
        self._messages.send(INBOX, [NewMessage(str(uuid.uuid4()), body)], clock_ms(self._clock))

    # -- callbacks ------------------------------------------------------------
    def _token(self, token: Any) -> tuple[str, str]:
        if not isinstance(token, str) or not 1 <= len(token) <= 2048:
            raise SfnError("InvalidToken", "Invalid Token: the task token is malformed.")
        found = self._executions.task_token(token)
        if found is None:
            for arn, live in list(self._express.items()):
                task = live.doc.get("tokens", {}).get(token)
                if task:
                    return arn, task
            raise SfnError("TaskDoesNotExist", "Task Does Not Exist: the task token is unknown or the task ended.")
        return found

    def send_task_success(self, token: Any, output: Any) -> None:
        _check_text("output", output, MAX_PAYLOAD, utf8=True)
        arn, task = self._token(token)
        try:
            value = _parse_json(output) if isinstance(output, str) else None
        except ValueError:
            value = None
        if not isinstance(output, str) or (value is None and output.strip() != "null"):
            raise SfnError("InvalidOutput", "Invalid Output: the task output must be JSON text.")
        self._executions.delete_task_token(token)
        self._inbox(arn, TaskSucceeded(task, value))

    def send_task_failure(self, token: Any, error: str | None = None, cause: str | None = None) -> None:
        _check_text("error", error, MAX_ERROR)
        _check_text("cause", cause, MAX_CAUSE)
        arn, task = self._token(token)
        self._executions.delete_task_token(token)
        self._inbox(arn, TaskFailed(task, error, cause))

    def send_task_heartbeat(self, token: Any) -> None:
        arn, task = self._token(token)
        self._inbox(arn, TaskHeartbeat(task))

    # -- the engine -----------------------------------------------------------
    @property
    def engine(self) -> "Engine":
        if self._engine is None:
            self._engine = Engine(self, self._messages, self._executions, self._leases, self._arns,
                                  self._home / "sfn-evaluating", self._targets, self._clock, self._services)
        return self._engine


def _definition_text(definition: Any) -> str:
    if isinstance(definition, dict):
        definition = json.dumps(definition)
    if not isinstance(definition, str) or not definition.strip():
        raise SfnError("InvalidDefinition", "Invalid State Machine Definition: 'definition is required'")
    _check_text("definition", definition, MAX_DEFINITION)        # AWS's quota: 1 MB (1,048,576 characters)
    return definition


def _result_fields(out: dict[str, Any], doc: dict[str, Any]) -> None:
    if doc.get("output") is not None:
        out["output"] = doc["output"]
        out["outputDetails"] = {"included": True}
    if doc.get("error") is not None:
        out["error"] = doc["error"]
    if doc.get("cause") is not None:
        out["cause"] = doc["cause"]


class Engine:
    """The one thread that advances executions (while this process holds the engine lease)."""

    LEASE_MS = 10_000

    def __init__(self, machines: StateMachines, messages: QueueMessages, executions: Executions, leases: Leases,
                 arns: Arns, evaluating: Path, targets: Targets, clock: Clock = SYSTEM_CLOCK,
                 services: ServiceCalls | None = None) -> None:
        self._machines, self._messages, self._arns, self._targets = machines, messages, arns, targets
        self._services = services
        self._executions, self._leases = executions, leases
        self._clock = clock
        self._owner = lease_owner()
        self._local: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._live: OrderedDict[str, _Live] = OrderedDict()     # Standard executions loaded, least recent first
        self._timers: list[tuple[float, str, str]] = []          # Express timers: (fire_at, arn, timer id)
        self._tasks = ThreadPoolExecutor(max_workers=32, thread_name_prefix="cumulo-sfn-task")
        self._running = 0                       # tasks submitted whose run has not ended (``_gather``)
        self._running_lock = threading.Lock()
        self._stop = threading.Event()
        self._leader = False
        self._lease_at = 0.0
        self._evaluating = _Evaluating(evaluating)
        self._thread = threading.Thread(target=self._run, name="cumulo-sfn-engine", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._tasks.shutdown(wait=False, cancel_futures=True)
        if not self._thread.is_alive():
            self._evaluating.close()

    def post(self, arn: str, event: Any) -> None:
        self._local.put((arn, event))

    # -- loop -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:
                log_failure(log, "state machine engine tick failed")
                self._stop.wait(0.5)

    def _tick(self) -> None:
        now = self._clock.monotonic()
        if now - self._lease_at > 2.0:
            leader = self._leases.take_lease("states-engine", self._owner, self.LEASE_MS, clock_ms(self._clock))
            self._lease_at = now
            if leader and not self._leader:
                self._leader = True
                self._recover()
            elif not leader:
                self._leader = False
                self._live.clear()
        self._handle_batch(self._gather())
        self._express_timers()
        if not self._leader:
            return
        store = self._messages
        for m in store.receive(INBOX, 50, 30_000, clock_ms(self._clock)):
            try:
                item = json.loads(m.body)
                if "start" in item:
                    self._handle(item["start"], "start")
                elif "redrive" in item:
                    self._redrive(item)
                else:
                    self._handle(item["arn"], event_from_json(item["event"]))
            except Exception:
                log_failure(log, "state machine inbox message %s failed", m.id)
            store.delete(INBOX, [(m.seq, m.receipt.partition("-")[2])])
        for arn, timer_id in self._executions.due_timers(clock_ms(self._clock)):
            self._executions.delete_timer(arn, timer_id)
            self._handle(arn, TimerFired(timer_id))

    def _gather(self) -> list[tuple[str, Any]]:
        """The next batch of events (group commit): whatever is queued, and while tasks this engine
        started are still running, what they return within GROUP_WAIT_S of the first event, so a
        Map's iterations finishing close together are applied and committed as one step (each step
        is a transaction and re-encodes the execution's snapshot) rather than one step each."""
        batch: list[tuple[str, Any]] = []
        try:
            batch.append(self._local.get(timeout=0.02))
        except queue.Empty:
            return batch
        deadline = self._clock.monotonic() + GROUP_WAIT_S
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._local.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - self._clock.monotonic()
            with self._running_lock:
                running = self._running
            if running <= 0 or left <= 0:
                break
            try:
                batch.append(self._local.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _recover(self) -> None:
        """A new leader: count a crash against the execution a dead engine was evaluating, then restore
        every running Standard execution and re-issue its work; one that cannot be restored fails."""
        suspect = self._evaluating.left_by_dead_process()
        self._evaluating.end()
        if suspect is not None:
            self._crashed(suspect)
        for arn in self._executions.running_executions():
            self._evaluating.begin(arn)
            try:
                live = self._load(arn)
                if live is None:
                    continue
                if not live.doc.get("started"):
                    self._handle(arn, "start")
                    continue
                self._obey(arn, live, Step(live.execution.outstanding(), []), resumed=True)
            except Exception as exc:
                log_failure(log, "state machine execution %s could not be resumed", arn)
                self._live.pop(arn, None)
                self._fail_stored(arn, "States.Runtime", f"The execution could not be resumed: "
                                                         f"{type(exc).__name__}: {exc}")
            finally:
                self._evaluating.end()

    def _redrive(self, item: dict[str, Any]) -> None:
        """RedriveExecution's request (``StateMachines.redrive_execution``): the stored unsuccessful
        execution restored from its snapshot, continued, and committed as RUNNING in one step. A
        request whose count is not the next one (a second caller's, or one already done) is dropped."""
        arn, count = str(item["redrive"]), int(item["count"])
        row = self._executions.get_execution(arn)
        if row is None or row[0] not in ("FAILED", "TIMED_OUT", "ABORTED"):
            return
        doc = row[4]
        if int(doc.get("redriveCount", 0)) != count - 1 or not doc.get("snapshot"):
            return
        context = ExecutionContext(execution_arn=arn, state_machine_arn=doc["machine"], region=self._arns.region)
        self._evaluating.begin(arn)
        try:
            execution = Execution.restore(doc["definition"], doc["snapshot"], context, clock=self._clock.now,
                                          entropy=SeededEntropy(doc["seed"]), keep_history=False)
            if not execution.redrivable:
                return
            step = execution.redrive(count)
            for key in ("error", "cause", "output", "stopDate", "crashes", "parent"):
                doc.pop(key, None)
            doc.update(status="RUNNING", redriveCount=count, redriveDate=item.get("date") or self._clock.now(),
                       redriveToken=item.get("token"))
            live = _Live(execution, doc, durable=True)
            self._live[arn] = live
            self._machines._count("ExecutionsRedriven", doc["machine"])
            self._obey(arn, live, step)
        finally:
            self._evaluating.end()

    def _crashed(self, arn: str) -> None:
        """The engine process died while evaluating ``arn``: count it; at CRASHES_TO_FAIL, fail it."""
        row = self._executions.get_execution(arn)
        if row is None or row[0] != "RUNNING":
            return
        doc = row[4]
        doc["crashes"] = int(doc.get("crashes", 0)) + 1
        log.warning("the engine process died while evaluating %s (%d time(s))", arn, doc["crashes"])
        if doc["crashes"] >= CRASHES_TO_FAIL:
            self._fail_stored(arn, "States.Runtime",
                              f"The execution could not be resumed: the server stopped {doc['crashes']} times while "
                              "running it (out of memory, a crash or a hang); it is failed rather than run again.")
            return
        self._executions.save_step(arn, "RUNNING", None, doc, [], [], [], [])

    def _fail_stored(self, arn: str, error: str, cause: str) -> None:
        """End a stored running execution as FAILED without running any of it (it cannot be resumed)."""
        row = self._executions.get_execution(arn)
        if row is None or row[0] != "RUNNING":
            return
        doc = row[4]
        snapshot = doc.get("snapshot") or {}
        now = self._clock.now()
        events: list[HistoryEvent] = []
        next_id = int(snapshot.get("next_event", 1)) if doc.get("started") and snapshot else 1
        if next_id == 1:
            role = ExecutionContext().role_arn
            events.append(HistoryEvent(1, 0, now, "ExecutionStarted", {"input": doc["input"], "inputDetails": {
                "truncated": False}, "roleArn": role}))
            next_id = 2
        events.append(HistoryEvent(next_id, next_id - 1, now, "ExecutionFailed", {"error": error, "cause": cause}))
        doc.update(status="FAILED", error=error, cause=cause, output=None, stopDate=now, started=True)
        if snapshot:
            snapshot.update(status="FAILED", error=error, cause=cause, frames=[], waits={}, timeout_timer=None, resume=None,
                            next_event=next_id + 1)
        self._executions.save_step(arn, "FAILED", int(now * 1000), doc,
                                   [(e.id, json.dumps(e.to_aws())) for e in events], [], [], [])
        self._live.pop(arn, None)
        self._machines.ended(doc, "FAILED", arn)
        self._notify_parent(arn, doc, False, None)

    def _load(self, arn: str) -> _Live | None:
        live = self._live.get(arn)
        if live is not None:
            self._live.move_to_end(arn)
            return live
        live = self._machines._express.get(arn)
        if live is not None:
            return live
        row = self._executions.get_execution(arn)
        if row is None or row[0] != "RUNNING":
            return None
        doc = row[4]
        context = ExecutionContext(execution_arn=arn, state_machine_arn=doc["machine"], region=self._arns.region)
        entropy = SeededEntropy(doc["seed"])
        if doc.get("snapshot"):
            execution = Execution.restore(doc["definition"], doc["snapshot"], context, clock=self._clock.now,
                                          entropy=entropy, keep_history=False)
        else:
            execution = Execution(doc["definition"], json.loads(doc["input"]), context, clock=self._clock.now,
                                  entropy=entropy, keep_history=False)
        live = _Live(execution, doc, durable=True)
        self._live[arn] = live
        while len(self._live) > MAX_LOADED:       # every step is committed: the oldest reload when needed
            self._live.popitem(last=False)
        return live

    def start_express(self, arn: str, name: str, doc: dict[str, Any], parsed_input: Any) -> None:
        if arn in self._machines._express and self._machines._express[arn].execution.status is ExecutionStatus.RUNNING:
            raise SfnError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        if sum(not live.done.is_set() for live in self._machines._express.values()) >= MAX_EXPRESS_RUNNING:
            raise SfnError("ExecutionLimitExceeded", "The maximum number of running executions has been reached. "
                                                     "Running executions must end or be stopped before a new "
                                                     "execution can be started.")
        context = ExecutionContext(execution_arn=arn, state_machine_arn=doc["machine"], region=self._arns.region)
        execution = Execution(doc["definition"], parsed_input, context, clock=self._clock.now,
                              entropy=SeededEntropy(doc["seed"]), max_history=EXPRESS_MAX_EVENTS, keep_history=False)
        live = _Live(execution, doc, durable=False)
        express = self._machines._express
        express[arn] = live
        if len(express) > 1000:                            # keep the newest finished ones for Describe
            for old in [k for k, v in express.items() if v.done.is_set()][:len(express) - 1000]:
                express.pop(old, None)
        heapq.heappush(self._timers, (self._clock.now() + EXPRESS_LIMIT_S, arn, "~express-limit"))
        self.post(arn, "start")

    # -- transitions ----------------------------------------------------------
    def _handle_batch(self, batch: list[tuple[str, Any]]) -> None:
        """Apply every queued event of an execution, then persist and obey once (group commit)."""
        by_arn: dict[str, list[Any]] = {}
        for arn, event in batch:
            by_arn.setdefault(arn, []).append(event)
        for arn, events in by_arn.items():
            durable = arn not in self._machines._express
            if durable:
                self._evaluating.begin(arn)
            try:
                self._apply(arn, events)
            except Exception:
                self._live.pop(arn, None)              # the store stays the truth: reload it next time
                raise
            finally:
                if durable:
                    self._evaluating.end()

    def _apply(self, arn: str, events: list[Any]) -> None:
        try:
            live = self._load(arn)
        except Exception as exc:                       # its stored state cannot be restored: fail it
            log.exception("state machine execution %s could not be loaded", arn)
            self._fail_stored(arn, "States.Runtime", f"The execution could not be resumed: {type(exc).__name__}: "
                                                     f"{exc}")
            return
        if live is None:
            return
        commands: list[Any] = []
        history: list[HistoryEvent] = []
        for event in events:
            if event == "start":
                step = live.execution.start()
                live.doc["started"] = True
            elif live.execution.status is ExecutionStatus.RUNNING:
                step = live.execution.advance(event)
            else:
                continue
            commands += step.commands
            history += step.events
        if commands or history:
            if history:
                live.doc.pop("crashes", None)          # it made progress: a past crash is forgiven
            self._obey(arn, live, Step(commands, history))

    def _handle(self, arn: str, event: Any) -> None:
        self._handle_batch([(arn, event)])

    def _obey(self, arn: str, live: _Live, step: Step, resumed: bool = False) -> None:
        ex = live.execution
        timers_add, timers_del, tokens_add, tasks = [], [], [], []
        for command in step.commands:
            if isinstance(command, InvokeTask):
                tasks.append(command)
                if command.task_token:
                    tokens_add.append((command.task_token, command.task_id))
            elif isinstance(command, StartTimer):
                timers_add.append((command.timer_id, int(command.fire_at * 1000)))
            elif isinstance(command, CancelTimer):
                timers_del.append(command.timer_id)
            elif isinstance(command, (Succeed, Fail)):
                live.doc["stopDate"] = self._clock.now()
        terminal = ex.status is not ExecutionStatus.RUNNING
        if terminal:
            live.doc.update(output=json.dumps(ex.output) if ex.status is ExecutionStatus.SUCCEEDED else None,
                            error=ex.error, cause=ex.cause, status=ex.status.value)
        if live.durable:
            live.doc.pop("snapshot", None)             # stored, not kept: the live execution is the truth here
            doc_text = json.dumps(live.doc)[:-1] + ', "snapshot": ' + ex.snapshot_text() + "}"
            self._executions.save_step(arn, ex.status.value, clock_ms(self._clock) if terminal else None, doc_text,
                                       [(e.id, json.dumps(e.to_aws())) for e in step.events], timers_add,
                                       timers_del, tokens_add)
        else:                                          # Express: no history is kept (as on AWS)
            for timer_id, fire_ms in timers_add:
                heapq.heappush(self._timers, (fire_ms / 1000, arn, timer_id))
            live.doc.setdefault("tokens", {}).update(dict(tokens_add))
        role = None
        if tasks:           # the role decided at the start; an execution stored before it was kept asks now
            role = live.doc["taskRole"] if "taskRole" in live.doc else self._machines.role_of(live.doc.get("machine"))
        for command in tasks:
            with self._running_lock:
                self._running += 1
            self._tasks.submit(self._task, arn, command, role, live.doc)
        if terminal:
            self._finished(arn, live)

    def _task(self, arn: str, command: InvokeTask, role: str | None = None, doc: dict[str, Any] | None = None) -> None:
        try:
            event = self._machines.traced_task(doc or {}, command, lambda trace: run_task(
                self._targets, arn, command, self._services, role, trace))
        except Exception as exc:
            log.exception("task %s of %s failed in Cumulo", command.task_id, arn)
            event = TaskFailed(command.task_id, "States.Runtime", f"{type(exc).__name__}: {exc}")
        finally:
            with self._running_lock:        # before the post: a batch need not wait for this one
                self._running -= 1
        if event is not None:
            self.post(arn, event)

    def _express_timers(self) -> None:
        now = self._clock.now()
        while self._timers and self._timers[0][0] <= now:
            _, arn, timer_id = heapq.heappop(self._timers)
            if timer_id == "~express-limit":
                live = self._machines._express.get(arn)
                if live is not None and live.execution.status is ExecutionStatus.RUNNING:
                    self._handle(arn, StopExecution("States.Timeout", "Express executions run at most five "
                                                                      "minutes."))
                continue
            self._handle(arn, TimerFired(timer_id))

    def _finished(self, arn: str, live: _Live) -> None:
        self._machines.ended(live.doc, live.execution.status.value, arn)
        live.done.set()
        if live.durable:
            self._live.pop(arn, None)
        self._notify_parent(arn, live.doc, live.execution.status is ExecutionStatus.SUCCEEDED, live.execution.output)

    def _notify_parent(self, arn: str, doc: dict[str, Any], succeeded: bool, output: Any) -> None:
        """A child execution (``startExecution.sync``) ended: its parent's task gets the result."""
        parent = doc.get("parent")
        if not parent:
            return
        described = self._machines.describe_execution(arn)
        if succeeded:
            described["Output"] = output if parent.get("sync_version") == 2 else described.get("output")
            result = {k[0].upper() + k[1:]: v for k, v in described.items() if k not in ("output", "outputDetails")}
            event: Any = TaskSucceeded(parent["task_id"], result)
        else:
            event = TaskFailed(parent["task_id"], "States.TaskFailed", json.dumps(described))
        self._machines._inbox(parent["arn"], event)



def _tracing(value: Any) -> dict[str, bool]:
    """CreateStateMachine's ``tracingConfiguration``: ``{enabled: bool}`` (off when not given)."""
    if value is None:
        return {"enabled": False}
    if not isinstance(value, dict) or set(value) - {"enabled"} or not isinstance(value.get("enabled", False), bool):
        raise SfnError("ValidationException", "tracingConfiguration must be {\"enabled\": true|false}")
    return {"enabled": bool(value.get("enabled", False))}


_TASK_SERVICES = {"lambda": "Lambda", "sqs": "SQS", "sns": "SNS", "events": "EventBridge", "states": "STEPFUNCTIONS",
                  "dynamodb": "DynamoDB"}


def _service_name(resource: Any) -> str:
    """The name X-Ray gives a task's call: ``Lambda``, ``SQS`` …, from the resource's service."""
    service = str(getattr(resource, "service", "") or "")
    return _TASK_SERVICES.get(service, service.upper() or "Task")


def _position_token(position: tuple[int, str]) -> str:
    """ListExecutions' nextToken: the position (started ms, ARN) of the page's last execution."""
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode()


def _execution_position(token: Any) -> tuple[int, str] | None:
    if token is None or token == "":
        return None
    try:
        started, arn = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if isinstance(started, int) and isinstance(arn, str):
            return started, arn
    except (ValueError, TypeError):
        pass
    raise SfnError("InvalidToken", f"Invalid nextToken: {str(token)[:64]!r} is not a token this service gave.")
