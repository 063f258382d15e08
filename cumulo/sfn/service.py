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
Tasks run on worker threads (``sfn/tasks.py``); their results come back to the
engine thread, which alone advances executions.
"""

from __future__ import annotations

import heapq
import json
import logging
import queue
import re
import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, List

from cumulo.errors import CumuloError
from cumulo.sfn.tasks import run_task
from cumulo.states import (
    CancelTimer, Execution, ExecutionContext, ExecutionStatus, Fail, HistoryEvent, InvokeTask, SeededEntropy,
    StartTimer, Step, StopExecution, Succeed, TaskFailed, TaskHeartbeat, TaskSucceeded, TimerFired, event_from_json,
    event_to_json, parse_definition,
)
from cumulo.store.messages import NewMessage, lease_owner

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["StateMachines", "SfnError"]

log = logging.getLogger("cumulo.sfn")

INBOX = "~sfn-inbox"
EXPRESS_LIMIT_S = 300
# Express executions keep no history on AWS, so its 25,000-event quota does not bind them; this
# bound only stops a runaway Pass/Choice loop from holding the engine.
EXPRESS_MAX_EVENTS = 250_000
MAX_INPUT = 256 * 1024
_NAME_RE = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")


class SfnError(CumuloError):
    """Step Functions' own errors; ``code`` is the name boto3 reports."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def type(self) -> str:
        return self.code


def _now() -> float:
    return time.time()


@dataclass
class _Live:
    execution: Execution
    doc: dict[str, Any]
    durable: bool
    history: list[HistoryEvent] = field(default_factory=list)        # Express only
    done: threading.Event = field(default_factory=threading.Event)


class StateMachines:
    def __init__(self, cumulo: "Cumulo") -> None:
        self._c = cumulo
        self._express: dict[str, _Live] = {}
        self._engine: Engine | None = None

    # -- naming ---------------------------------------------------------------
    def _arn(self, kind: str, *parts: str) -> str:
        return f"arn:aws:states:{self._c.arns.region}:{self._c.arns.account}:{kind}:" + ":".join(parts)

    def _machine(self, arn: Any) -> dict[str, Any]:
        if not isinstance(arn, str) or not arn.startswith("arn:aws:states:") or ":stateMachine:" not in arn:
            raise SfnError("InvalidArn", f"Invalid Arn: '{arn}'")
        doc = self._c.store.get_document("state-machine", arn.rsplit(":", 1)[1])
        if doc is None or doc["stateMachineArn"] != arn:
            raise SfnError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return doc

    # -- state machines -------------------------------------------------------
    def create_state_machine(self, name: Any, definition: Any, role_arn: Any = None, type_: Any = None,
                             logging_configuration: Any = None, tags: Any = None) -> dict[str, Any]:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise SfnError("InvalidName", f"Invalid Name: '{name}'")
        kind = type_ or "STANDARD"
        if kind not in ("STANDARD", "EXPRESS"):
            raise SfnError("ValidationException", f"1 validation error detected: Value '{kind}' at 'type' failed "
                                                  "to satisfy constraint: Member must satisfy enum value set: "
                                                  "[STANDARD, EXPRESS]")
        text = _definition_text(definition)
        parse_definition(text)                      # InvalidDefinition, with every finding
        arn = self._arn("stateMachine", name)
        existing = self._c.store.get_document("state-machine", name)
        if existing is not None:
            if existing["definition"] == text and existing["type"] == kind:
                return {"stateMachineArn": arn, "creationDate": existing["creationDate"]}
            raise SfnError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
        now = _now()
        doc = {"stateMachineArn": arn, "name": name, "status": "ACTIVE", "definition": text,
               "roleArn": role_arn or f"arn:aws:iam::{self._c.arns.account}:role/cumulo-states-role",
               "type": kind, "creationDate": now, "revisionId": str(uuid.uuid4()),
               "loggingConfiguration": logging_configuration or {"level": "OFF", "includeExecutionData": False}}
        self._c.store.put_document("state-machine", name, doc)
        return {"stateMachineArn": arn, "creationDate": now}

    @staticmethod
    def validate(definition: Any) -> dict[str, Any]:
        """ValidateStateMachineDefinition: OK, or FAIL with the diagnostics."""
        from cumulo.states import validate_definition
        found = validate_definition(_definition_text(definition))
        if not found:
            return {"result": "OK", "diagnostics": []}
        return {"result": "FAIL", "diagnostics": [{"severity": "ERROR", "code": d.code, "message": d.message,
                                                   **({"location": d.location} if d.location else {})}
                                                  for d in found]}

    def describe_state_machine(self, arn: Any) -> dict[str, Any]:
        return dict(self._machine(arn))

    def update_state_machine(self, arn: Any, definition: Any = None, role_arn: Any = None) -> dict[str, Any]:
        doc = self._machine(arn)
        if definition is None and role_arn is None:
            raise SfnError("MissingRequiredParameter", "Either the definition or the roleArn must be specified.")
        if definition is not None:
            text = _definition_text(definition)
            parse_definition(text)
            doc["definition"] = text
        if role_arn:
            doc["roleArn"] = role_arn
        doc["updateDate"] = _now()
        doc["revisionId"] = str(uuid.uuid4())
        self._c.store.put_document("state-machine", doc["name"], doc)
        return {"updateDate": doc["updateDate"], "revisionId": doc["revisionId"]}

    def list_state_machines(self) -> "List[dict[str, Any]]":
        return [{k: d[k] for k in ("stateMachineArn", "name", "type", "creationDate")}
                for d in sorted(self._c.store.list_documents("state-machine"), key=lambda d: d["name"])]

    def delete_state_machine(self, arn: Any) -> None:
        try:
            doc = self._machine(arn)
        except SfnError as err:
            if err.code == "StateMachineDoesNotExist":
                return
            raise
        self._c.store.delete_document("state-machine", doc["name"])

    # -- executions -----------------------------------------------------------
    def start_execution(self, machine_arn: Any, name: Any = None, input: Any = None,
                        parent: dict[str, Any] | None = None) -> dict[str, Any]:
        machine = self._machine(machine_arn)
        name = name if name is not None else str(uuid.uuid4())
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise SfnError("InvalidName", f"Invalid Name: '{name}'")
        text = "{}" if input is None else input
        if not isinstance(text, str) or len(text.encode()) > MAX_INPUT:
            raise SfnError("InvalidExecutionInput", "Invalid execution input: must be JSON text of at most 256 KB.")
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise SfnError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from None
        express = machine["type"] == "EXPRESS"
        arn = self._arn("express" if express else "execution", machine["name"], name)
        now = _now()
        doc = {"machine": machine["stateMachineArn"], "definition": machine["definition"], "input": text,
               "seed": secrets.token_hex(16), "started": False, "parent": parent, "type": machine["type"],
               "startDate": now}
        if express:
            self.engine.start_express(arn, name, doc, parsed)
            return {"executionArn": arn, "startDate": now}
        if not self._c.messages.insert_execution(arn, machine["stateMachineArn"], name, int(now * 1000), doc):
            status, _, started_ms, _, existing = self._c.messages.get_execution(arn) or ("", "", 0, None, {})
            if status == "RUNNING" and existing.get("input") == text:
                return {"executionArn": arn, "startDate": started_ms / 1000}
            raise SfnError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        self._c.messages.send(INBOX, [NewMessage(str(uuid.uuid4()), json.dumps({"start": arn}).encode())],
                              int(now * 1000))
        return {"executionArn": arn, "startDate": now}

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
            max(out.get("stopDate", _now()) - out["startDate"], 0.1) * 1000)}
        return out

    def describe_execution(self, arn: Any) -> dict[str, Any]:
        if isinstance(arn, str) and arn in self._express:
            return self._describe_live(arn, self._express[arn])
        if not isinstance(arn, str) or ":execution:" not in arn:
            raise SfnError("InvalidArn", f"Invalid Arn: '{arn}'")
        row = self._c.messages.get_execution(arn)
        if row is None:
            raise SfnError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        status, name, started_ms, stopped_ms, doc = row
        out: dict[str, Any] = {"executionArn": arn, "stateMachineArn": doc["machine"], "name": name,
                               "status": status, "startDate": started_ms / 1000, "input": doc["input"],
                               "inputDetails": {"included": True}, "redriveCount": 0}
        if stopped_ms is not None:
            out["stopDate"] = stopped_ms / 1000
        _result_fields(out, doc)
        return out

    def _describe_live(self, arn: str, live: _Live) -> dict[str, Any]:
        ex, doc = live.execution, live.doc
        out: dict[str, Any] = {"executionArn": arn, "stateMachineArn": doc["machine"], "name": arn.rsplit(":", 1)[1],
                               "status": ex.status.value, "startDate": doc["startDate"], "input": doc["input"],
                               "inputDetails": {"included": True}}
        if ex.status is not ExecutionStatus.RUNNING:
            out["stopDate"] = doc.get("stopDate", _now())
        _result_fields(out, {"output": doc.get("output"), "error": ex.error, "cause": ex.cause,
                             "status": ex.status.value})
        return out

    def list_executions(self, machine_arn: Any, status_filter: str | None = None) -> "List[dict[str, Any]]":
        machine = self._machine(machine_arn)
        out = []
        for arn, name, status, started_ms, stopped_ms in self._c.messages.list_executions(machine["stateMachineArn"],
                                                                                          status_filter):
            item: dict[str, Any] = {"executionArn": arn, "stateMachineArn": machine["stateMachineArn"], "name": name,
                                    "status": status, "startDate": started_ms / 1000}
            if stopped_ms is not None:
                item["stopDate"] = stopped_ms / 1000
            out.append(item)
        return out

    def get_execution_history(self, arn: Any, max_results: int | None = None, reverse: bool = False,
                              next_token: str | None = None, include_data: bool = True) -> dict[str, Any]:
        limit = max_results or 1000
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise SfnError("ValidationException", "maxResults must be between 1 and 1000.")
        if isinstance(arn, str) and arn in self._express:
            raise SfnError("InvalidArn", "Express executions have no execution history.")
        self.describe_execution(arn)
        after = int(next_token) if next_token else 0
        events = [json.loads(e) for e in self._c.messages.history(arn, after, limit + 1, reverse)]
        out: dict[str, Any] = {"events": events[:limit]}
        if len(events) > limit:
            out["nextToken"] = str(events[limit - 1]["id"])
        if not include_data:
            for e in out["events"]:
                for details in (v for k, v in e.items() if k.endswith("EventDetails") and isinstance(v, dict)):
                    for key in ("input", "output", "result", "parameters"):
                        details.pop(key, None)
        return out

    def stop_execution(self, arn: Any, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        described = self.describe_execution(arn)
        if described["status"] != "RUNNING":
            return {"stopDate": described.get("stopDate", _now())}      # already ended: nothing to stop
        self._inbox(arn, StopExecution(error, cause))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            now = self.describe_execution(arn)
            if now["status"] != "RUNNING":
                return {"stopDate": now.get("stopDate", _now())}
            time.sleep(0.02)
        return {"stopDate": _now()}

    def _inbox(self, arn: str, event: Any) -> None:
        if arn in self._express:
            self.engine.post(arn, event)
            return
        body = json.dumps({"arn": arn, "event": event_to_json(event)}).encode()
        self._c.messages.send(INBOX, [NewMessage(str(uuid.uuid4()), body)], int(_now() * 1000))

    # -- callbacks ------------------------------------------------------------
    def _token(self, token: Any) -> tuple[str, str]:
        if not isinstance(token, str) or not 1 <= len(token) <= 2048:
            raise SfnError("InvalidToken", "Invalid Token: the task token is malformed.")
        found = self._c.messages.task_token(token)
        if found is None:
            for arn, live in list(self._express.items()):
                task = live.doc.get("tokens", {}).get(token)
                if task:
                    return arn, task
            raise SfnError("TaskDoesNotExist", "Task Does Not Exist: the task token is unknown or the task ended.")
        return found

    def send_task_success(self, token: Any, output: Any) -> None:
        arn, task = self._token(token)
        try:
            value = json.loads(output) if isinstance(output, str) else None
        except ValueError:
            value = None
        if not isinstance(output, str) or (value is None and output.strip() != "null"):
            raise SfnError("InvalidOutput", "Invalid Output: the task output must be JSON text.")
        self._c.messages.delete_task_token(token)
        self._inbox(arn, TaskSucceeded(task, value))

    def send_task_failure(self, token: Any, error: str | None = None, cause: str | None = None) -> None:
        arn, task = self._token(token)
        self._c.messages.delete_task_token(token)
        self._inbox(arn, TaskFailed(task, error, cause))

    def send_task_heartbeat(self, token: Any) -> None:
        arn, task = self._token(token)
        self._inbox(arn, TaskHeartbeat(task))

    # -- the engine -----------------------------------------------------------
    @property
    def engine(self) -> "Engine":
        if self._engine is None:
            self._engine = Engine(self._c, self)
        return self._engine


def _definition_text(definition: Any) -> str:
    if isinstance(definition, dict):
        return json.dumps(definition)
    if not isinstance(definition, str) or not definition.strip():
        raise SfnError("InvalidDefinition", "Invalid State Machine Definition: 'definition is required'")
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

    def __init__(self, cumulo: "Cumulo", machines: StateMachines) -> None:
        self._c = cumulo
        self._machines = machines
        self._owner = lease_owner()
        self._local: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._live: dict[str, _Live] = {}
        self._timers: list[tuple[float, str, str]] = []          # Express timers: (fire_at, arn, timer id)
        self._tasks = ThreadPoolExecutor(max_workers=32, thread_name_prefix="cumulo-sfn-task")
        self._stop = threading.Event()
        self._leader = False
        self._lease_at = 0.0
        self._thread = threading.Thread(target=self._run, name="cumulo-sfn-engine", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._tasks.shutdown(wait=False, cancel_futures=True)

    def post(self, arn: str, event: Any) -> None:
        self._local.put((arn, event))

    # -- loop -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:
                log.exception("state machine engine tick failed")
                self._stop.wait(0.5)

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._lease_at > 2.0:
            leader = self._c.messages.take_lease("states-engine", self._owner, self.LEASE_MS, int(_now() * 1000))
            self._lease_at = now
            if leader and not self._leader:
                self._leader = True
                self._recover()
            elif not leader:
                self._leader = False
                self._live = {k: v for k, v in self._live.items() if not v.durable}
        batch: list[tuple[str, Any]] = []
        try:
            batch.append(self._local.get(timeout=0.02))
            while len(batch) < 1000:
                batch.append(self._local.get_nowait())
        except queue.Empty:
            pass
        self._handle_batch(batch)
        self._express_timers()
        if not self._leader:
            return
        store = self._c.messages
        for m in store.receive(INBOX, 50, 30_000, int(_now() * 1000)):
            try:
                item = json.loads(m.body)
                if "start" in item:
                    self._handle(item["start"], "start")
                else:
                    self._handle(item["arn"], event_from_json(item["event"]))
            except Exception:
                log.exception("state machine inbox message %s failed", m.id)
            store.delete(INBOX, [(m.seq, m.receipt.partition("-")[2])])
        for arn, timer_id in store.due_timers(int(_now() * 1000)):
            store.delete_timer(arn, timer_id)
            self._handle(arn, TimerFired(timer_id))

    def _recover(self) -> None:
        """A new leader: restore every running Standard execution and re-issue its work."""
        for arn in self._c.messages.running_executions():
            live = self._load(arn)
            if live is None:
                continue
            if not live.doc.get("started"):
                self._handle(arn, "start")
                continue
            self._obey(arn, live, Step(live.execution.outstanding(), []), resumed=True)

    def _load(self, arn: str) -> _Live | None:
        live = self._live.get(arn) or self._machines._express.get(arn)
        if live is not None:
            return live
        row = self._c.messages.get_execution(arn)
        if row is None or row[0] != "RUNNING":
            return None
        doc = row[4]
        context = ExecutionContext(execution_arn=arn, state_machine_arn=doc["machine"], region=self._c.arns.region)
        entropy = SeededEntropy(doc["seed"])
        if doc.get("snapshot"):
            execution = Execution.restore(doc["definition"], doc["snapshot"], context, clock=_now, entropy=entropy)
        else:
            execution = Execution(doc["definition"], json.loads(doc["input"]), context, clock=_now, entropy=entropy)
        live = _Live(execution, doc, durable=True)
        self._live[arn] = live
        return live

    def start_express(self, arn: str, name: str, doc: dict[str, Any], parsed_input: Any) -> None:
        if arn in self._machines._express and self._machines._express[arn].execution.status is ExecutionStatus.RUNNING:
            raise SfnError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        context = ExecutionContext(execution_arn=arn, state_machine_arn=doc["machine"], region=self._c.arns.region)
        execution = Execution(doc["definition"], parsed_input, context, clock=_now, entropy=SeededEntropy(doc["seed"]),
                              max_history=EXPRESS_MAX_EVENTS)
        live = _Live(execution, doc, durable=False)
        express = self._machines._express
        express[arn] = live
        if len(express) > 1000:                            # keep the newest finished ones for Describe
            for old in [k for k, v in express.items() if v.done.is_set()][:len(express) - 1000]:
                express.pop(old, None)
        heapq.heappush(self._timers, (_now() + EXPRESS_LIMIT_S, arn, "~express-limit"))
        self.post(arn, "start")

    # -- transitions ----------------------------------------------------------
    def _handle_batch(self, batch: list[tuple[str, Any]]) -> None:
        """Apply every queued event of an execution, then persist and obey once (group commit)."""
        by_arn: dict[str, list[Any]] = {}
        for arn, event in batch:
            by_arn.setdefault(arn, []).append(event)
        for arn, events in by_arn.items():
            live = self._load(arn)
            if live is None:
                continue
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
                live.doc["stopDate"] = _now()
        terminal = ex.status is not ExecutionStatus.RUNNING
        if terminal:
            live.doc.update(output=json.dumps(ex.output) if ex.status is ExecutionStatus.SUCCEEDED else None,
                            error=ex.error, cause=ex.cause, status=ex.status.value)
        if live.durable:
            live.doc["snapshot"] = ex.snapshot()
            self._c.messages.save_step(arn, ex.status.value, int(_now() * 1000) if terminal else None, live.doc,
                                       [(e.id, json.dumps(e.to_aws())) for e in step.events], timers_add,
                                       timers_del, tokens_add)
        else:
            live.history.extend(step.events)
            for timer_id, fire_ms in timers_add:
                heapq.heappush(self._timers, (fire_ms / 1000, arn, timer_id))
            live.doc.setdefault("tokens", {}).update(dict(tokens_add))
        for command in tasks:
            self._tasks.submit(self._task, arn, command)
        if terminal:
            self._finished(arn, live)

    def _task(self, arn: str, command: InvokeTask) -> None:
        try:
            event = run_task(self._c, arn, command)
        except Exception as exc:
            log.exception("task %s of %s failed in Cumulo", command.task_id, arn)
            event = TaskFailed(command.task_id, "States.Runtime", f"{type(exc).__name__}: {exc}")
        if event is not None:
            self.post(arn, event)

    def _express_timers(self) -> None:
        now = _now()
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
        live.done.set()
        if live.durable:
            self._live.pop(arn, None)
        parent = live.doc.get("parent")
        if not parent:
            return
        described = self._machines.describe_execution(arn)
        if live.execution.status is ExecutionStatus.SUCCEEDED:
            described["Output"] = live.execution.output if parent.get("sync_version") == 2 else described.get("output")
            result = {k[0].upper() + k[1:]: v for k, v in described.items() if k not in ("output", "outputDetails")}
            event: Any = TaskSucceeded(parent["task_id"], result)
        else:
            event = TaskFailed(parent["task_id"], "States.TaskFailed", json.dumps(described))
        self._machines._inbox(parent["arn"], event)

