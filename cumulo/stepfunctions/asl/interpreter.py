"""The deterministic interpreter: an execution as frames of control, events in, commands out.

A **frame** runs one graph of states: the machine itself, one Parallel branch or one Map
iteration. A frame either runs (Pass, Choice, Succeed, Fail finish at once) or waits on exactly
one thing, its ``work``: a task, a timer (Wait, a retry delay), or its child frames (Parallel,
Map). ``advance`` routes an event to the frame waiting on its id and runs every frame that can run
until all wait again; what they ask for is returned as commands, what they did as history events.

**Persistence**: the whole state is plain JSON (``snapshot()``/``restore()``), small and taken
after each ``advance``; a Standard execution stores it with the new history events in one
transaction, and after a crash ``restore`` plus ``outstanding()`` re-issues the tasks and timers
in flight (a task may then run twice: at-least-once, as AWS). Because the core is deterministic
(injected clock and entropy, ids from counters) the log of fed events also replays to the same
state. The snapshot is the primary form: resuming costs its size rather than a replay of up to
25,000 events, and it does not require this interpreter to decide every past step exactly as the
version that recorded them did (replay breaks on an upgrade that changes any decision, temporal's
"non-determinism" problem); only the snapshot format must stay readable (it carries a version).
Version 2 stores a Parallel branch's or Map iteration's variables as what differs from its parent's
(they start as the parent's), so forty iterations under 10 MiB of variables do not write 400 MiB.

**Bounds** (``limits``; every definition and input is hostile): a state's output, a task's
parameters, an iteration's or branch's input and a Catch's output are at most 256 KiB
(``States.DataLimitExceeded``, terminal: ``States.ALL`` does not catch it); a task's result over
256 KiB fails the *task* (``…Failed`` event, AWS's cause naming the resource; ``States.ALL`` catches
that one, as AWS records it). A Map or Parallel state's gathered results count as they arrive and
fail the state past 256 KiB instead of after. Inline Map runs at most 40 iterations at once (AWS).
Variables: one Assign at most 256 KiB, all a frame sees at most 10 MiB (AWS). What the running
frames hold together (inputs, own variables, a Map's items and results) is at most
``MAX_LIVE_STATE`` (ours), checked before a Parallel state starts its branches and after every step;
past it the execution fails with ``States.DataLimitExceeded`` rather than grow the snapshot a
Standard execution writes on every transition. One step's events hold at most about
``MAX_STEP_BYTES`` of inputs and outputs: past that the frames still ready *yield* (a timer due at
once resumes them in a later step), so a loop of Pass states over a 256 KiB payload is written out
as it goes instead of piling up 25,000 events (6 GB) before the first commit. The shell can keep
no history in memory (``keep_history=False``): its events are in each ``Step``.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from dataclasses import fields, replace
from typing import Any, Mapping

from cumulo.stepfunctions.asl import errors as E
from cumulo.stepfunctions.asl.dataflow import Outcome, Scope
from cumulo.stepfunctions.asl.definition import parse_definition
from cumulo.stepfunctions.asl.errors import StatesFailure, error_matches
from cumulo.stepfunctions.asl.frames import (Frame, command_from_json, command_to_json, context_object, decode_task_token,
                                  encode_task_token, retry_delay)
from cumulo.stepfunctions.asl.history import task_event, text_details, without_none
from cumulo.stepfunctions.asl.interfaces import (CancelTask, CancelTimer, Clock, Command, Entropy, Event, ExecutionContext,
                                      ExecutionStatus, Fail, HistoryEvent, InvokeTask, SeededEntropy, StartTimer,
                                      Step, StopExecution, Succeed, TaskFailed, TaskHeartbeat, TaskSucceeded,
                                      TimerFired)
from cumulo.stepfunctions.asl.limits import (MAX_INLINE_CONCURRENCY, MAX_PAYLOAD, MAX_VARIABLES, TooLarge, measure,
                                  utf8_size)
from cumulo.stepfunctions.asl.model import (ChoiceState, FailState, MapState, ParallelState, PassState, State,
                                 StateMachine, SucceedState, TaskState, WaitState)
from cumulo.stepfunctions.asl.paths import dumps
from cumulo.stepfunctions.asl.resources import Integration, Pattern, lambda_invoke_result

__all__ = ["Execution", "retry_delay", "decode_task_token", "MAX_PAYLOAD", "MAX_HISTORY", "MAX_LIVE_STATE"]

Json = Any
MAX_HISTORY = 25_000
# Ours: what one execution's running frames may hold together (see the module's docstring). Forty
# Map iterations of a full 256 KiB each take 10 MiB; a nested Map of 40 × 40 such inputs would not fit.
MAX_LIVE_STATE = 32 * 1024 * 1024
# Ours, with an ItemBatcher: all batches of one Map state together (each is at most 256 KiB).
MAX_BATCHES = 16 * MAX_PAYLOAD
# Ours: the event texts one step may pile up before its ready frames yield to a later step.
MAX_STEP_BYTES = 8 * 1024 * 1024
_TEXT_MEMBERS = ("input", "output", "parameters", "cause", "assignedVariables")
SNAPSHOT_VERSION = 2
_FRAME_FIELDS = tuple(f.name for f in fields(Frame))
_UNSUCCESSFUL = (ExecutionStatus.FAILED, ExecutionStatus.ABORTED, ExecutionStatus.TIMED_OUT)


class _Draws:
    """The interpreter's view of the injected entropy: one counter, persisted in the snapshot."""

    def __init__(self, execution: "Execution") -> None:
        self._execution = execution

    def random(self) -> float:
        return self._execution._entropy.random(self._execution._next_draw())

    def uuid(self) -> str:
        return self._execution._entropy.uuid(self._execution._next_draw())


class Execution:
    """One execution of a state machine. ``start()`` once, then ``advance(event)`` per event.

    ``entropy`` feeds States.UUID, MathRandom, $uuid/$random, retry jitter and task-token nonces.
    The default is seeded with the execution ARN, which is deterministic and fine for tests; a
    server must pass ``SeededEntropy(<a secret kept with the execution>)`` so task tokens cannot
    be guessed."""

    def __init__(self, definition: StateMachine | str | Mapping[str, Json], input: Json = None,
                 context: ExecutionContext | None = None, *, clock: Clock, entropy: Entropy | None = None,
                 max_history: int = MAX_HISTORY, keep_history: bool = True) -> None:
        self.max_history = max_history      # AWS's 25,000 for Standard; a shell may allow Express more
        self._keep_history = keep_history   # a shell that stores each Step's events needs no copy here
        self.machine = definition if isinstance(definition, StateMachine) else parse_definition(definition)
        self.context = context or ExecutionContext()
        self._clock = clock
        self._entropy: Entropy = entropy or SeededEntropy(self.context.execution_arn)
        self.input = {} if input is None else input
        self.status = ExecutionStatus.RUNNING
        self.output: Json = None
        self.error: str | None = None
        self.cause: str | None = None
        self.start_time = 0.0
        self.history: list[HistoryEvent] = []
        self._started = False
        self._next_event = 1
        self._seq = 0
        self._draws = 0
        self._frames: dict[str, Frame] = {}
        self._waits: dict[str, str] = {}
        self._timeout_timer: str | None = None
        self._timeout_at: float | None = None     # when TimeoutSeconds ends the execution (restarted by a redrive)
        self._resume: dict[str, Json] | None = None   # where an unsuccessful execution stopped: what redrive re-enters
        self._ready: deque[str] = deque()
        self._commands: list[Command] = []
        self._events: list[HistoryEvent] = []
        self._step_bytes = 0
        self._texts: dict[int, tuple[Json, str]] = {}   # id -> (value, its JSON text), see snapshot_text

    # ---- public API --------------------------------------------------------------------------

    def start(self) -> Step:
        if self._started:
            return Step([], [])
        self._started = True
        self.start_time = self._clock()
        try:
            measure(self.input, MAX_PAYLOAD)
            text = dumps(self.input)
            too_large = utf8_size(text) > MAX_PAYLOAD
        except TooLarge:
            too_large, text = True, ""
        if too_large:                      # the API refuses such input; a caller of the core may not have
            self._emit(None, "ExecutionStarted", {"input": "", "inputDetails": {"truncated": True},
                                                  "roleArn": self.context.role_arn})
            self._end(ExecutionStatus.FAILED, E.DATA_LIMIT_EXCEEDED, "The execution input has a size exceeding the "
                                                                     "maximum number of bytes service limit.")
            return self._run()
        self._emit(None, "ExecutionStarted", {**text_details("input", self.input, text),
                                              "roleArn": self.context.role_arn})
        top = Frame("f0", [], None, 0, {}, last_event=1)
        self._frames[top.id] = top
        self._arm_timeout(top, self.start_time)
        try:
            self._enter(top, self.machine.start_at, self.input, text)
            return self._run()
        except Exception as exc:
            return self._internal_error(exc)

    def _arm_timeout(self, top: Frame, since: float) -> None:
        if self.machine.timeout_seconds:
            self._timeout_at = since + self.machine.timeout_seconds
            self._timeout_timer = self._timer(top, self._timeout_at, "execution-timeout")

    @property
    def redrivable(self) -> bool:
        """Whether ``redrive`` can continue this execution: it ended unsuccessfully inside a state."""
        return self.status in _UNSUCCESSFUL and self._resume is not None

    def redrive(self, redrive_count: int) -> Step:
        """RedriveExecution: continue an unsuccessful execution from the top-level state it stopped in,
        entered again with the input it had then (retries counted afresh; the states before it are not
        run again). An ``ExecutionRedriven`` event first; TimeoutSeconds counts again from now."""
        if not self.redrivable:
            return Step([], [])
        resume = self._resume
        assert resume is not None
        self._resume = None
        self.status, self.error, self.cause, self.output = ExecutionStatus.RUNNING, None, None, None
        self.context = replace(self.context, redrive_count=redrive_count)
        redriven = self._emit(None, "ExecutionRedriven", {"redriveCount": redrive_count},
                              previous=self._next_event - 1)
        top = Frame("f0", [], None, 0, dict(resume["variables"]), last_event=redriven,
                    assigned=dict(resume.get("assigned", {})))
        self._frames[top.id] = top
        self._arm_timeout(top, self._clock())
        try:
            self._enter(top, resume["state"], resume["input"])
            top.partial = resume.get("partial")      # a Parallel/Map state runs only what had not succeeded
            return self._run()
        except Exception as exc:
            return self._internal_error(exc)

    def advance(self, event: Event) -> Step:
        if self.status is not ExecutionStatus.RUNNING or not self._started:
            return Step([], [])
        try:
            self._dispatch(event)
            return self._run()
        except Exception as exc:      # a defect of ours must still end as a value: the shell never sees a raise
            return self._internal_error(exc)

    def _internal_error(self, exc: Exception) -> Step:
        self._ready.clear()
        if self.status is ExecutionStatus.RUNNING:
            self._end(ExecutionStatus.FAILED, E.RUNTIME, f"Internal error of the interpreter: {type(exc).__name__}: {exc}")
        step = Step(self._commands, self._events)
        self._commands, self._events = [], []
        return step

    def outstanding(self) -> list[Command]:
        """The tasks and timers in flight: what to re-issue after ``restore``."""
        out: list[Command] = []
        for frame in self._frames.values():
            work = frame.work or {}
            if work.get("kind") == "task":
                out.append(command_from_json(work["command"]))
            for timer_id, (fire_at, purpose) in sorted(work.get("timers", {}).items()):
                out.append(StartTimer(timer_id, fire_at, purpose))
        if self._timeout_timer:
            fire_at = self._timeout_at if self._timeout_at is not None else \
                self.start_time + (self.machine.timeout_seconds or 0)
            out.append(StartTimer(self._timeout_timer, fire_at, "execution-timeout"))
        return out

    def snapshot(self) -> dict[str, Json]:
        """The execution as JSON; ``restore`` with the same definition continues it."""
        return json.loads(self.snapshot_text())

    def snapshot_text(self) -> str:
        """``snapshot()`` as JSON text, what a shell stores after each step. It is encoded straight
        from the live frames (no copy of them first), and the large values the execution never
        changes in place (its input, a frame's input, a Map's items: values are replaced, not
        changed, ``paths.put`` copies) are encoded once and their text reused while the same object
        is there: a Map over N items costs each step the encoder's time over its results, not N."""
        texts: dict[int, tuple[Json, str]] = {}
        head = json.dumps({
            "version": SNAPSHOT_VERSION, "status": self.status.value, "output": self.output,
            "error": self.error, "cause": self.cause, "start_time": self.start_time, "started": self._started,
            "next_event": self._next_event, "seq": self._seq, "draws": self._draws,
            "timeout_timer": self._timeout_timer, "timeout_at": self._timeout_at, "resume": self._resume,
            "context_redrive_count": self.context.redrive_count, "waits": self._waits})
        frames = ", ".join(self._frame_text(frame, texts) for frame in self._frames.values())
        text = f'{head[:-1]}, "input": {self._text(self.input, texts)}, "frames": [{frames}]}}'
        self._texts = texts            # what this snapshot used: the rest is let go
        return text

    def _text(self, value: Json, texts: dict[int, tuple[Json, str]]) -> str:
        """The JSON text of a value, the previous snapshot's when it is the same (large) object."""
        if not isinstance(value, (dict, list)) or not value:
            return json.dumps(value)
        hit = texts.get(id(value)) or self._texts.get(id(value))
        if hit is None or hit[0] is not value:      # the entry holds the object: its id is not reused
            hit = (value, json.dumps(value))
        texts[id(value)] = hit
        return hit[1]

    def _frame_text(self, frame: Frame, texts: dict[int, tuple[Json, str]]) -> str:
        """A frame's fields as JSON, its variables as what differs from its parent's (a child starts
        with the parent's, and the parent, waiting on its children, assigns nothing meanwhile)."""
        inherited = self._frames[frame.parent].variables if frame.parent in self._frames else {}
        data = {name: getattr(frame, name) for name in _FRAME_FIELDS if name not in ("input", "work")}
        data["variables"] = {k: v for k, v in frame.variables.items() if k not in inherited or inherited[k] is not v}
        work = frame.work
        if work is not None and "items" in work:
            rest = json.dumps({k: v for k, v in work.items() if k != "items"})
            work_text = f'{rest[:-1]}, "items": {self._text(work["items"], texts)}}}'
        else:
            work_text = json.dumps(work)
        return f'{json.dumps(data)[:-1]}, "input": {self._text(frame.input, texts)}, "work": {work_text}}}'

    @classmethod
    def restore(cls, definition: StateMachine | str | Mapping[str, Json], snapshot: Mapping[str, Json],
                context: ExecutionContext | None = None, *, clock: Clock, entropy: Entropy | None = None,
                keep_history: bool = True) -> "Execution":
        execution = cls(definition, snapshot["input"], context, clock=clock, entropy=entropy,
                        keep_history=keep_history)
        execution.status = ExecutionStatus(snapshot["status"])
        execution.output, execution.error, execution.cause = snapshot["output"], snapshot["error"], snapshot["cause"]
        execution.start_time, execution._started = snapshot["start_time"], snapshot["started"]
        execution._next_event, execution._seq = snapshot["next_event"], snapshot["seq"]
        execution._draws, execution._timeout_timer = snapshot["draws"], snapshot["timeout_timer"]
        execution._waits = dict(snapshot["waits"])
        execution._timeout_at = snapshot.get("timeout_at")
        execution._resume = copy.deepcopy(snapshot.get("resume"))
        if snapshot.get("context_redrive_count"):
            execution.context = replace(execution.context, redrive_count=int(snapshot["context_redrive_count"]))
        frames: dict[str, Frame] = {}
        for data in json.loads(json.dumps(snapshot["frames"])):
            frame = Frame(**data)
            parent = frames.get(frame.parent or "")
            if snapshot.get("version", 1) >= 2 and parent is not None:   # parents come before their children
                frame.variables = {**parent.variables, **frame.variables}
            frames[frame.id] = frame
        execution._frames = frames
        return execution

    # ---- events ------------------------------------------------------------------------------

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, StopExecution):
            self._abort(self._frames["f0"])
            self._end(ExecutionStatus.ABORTED, event.error, event.cause)
            return
        if isinstance(event, TimerFired) and event.timer_id == self._timeout_timer:
            self._timeout_timer = None
            self._abort(self._frames["f0"])
            self._end(ExecutionStatus.TIMED_OUT, E.TIMEOUT, "The execution timed out (TimeoutSeconds).")
            return
        key = event.timer_id if isinstance(event, TimerFired) else event.task_id
        frame = self._frames.get(self._waits.get(key, ""))
        if frame is None or frame.work is None:
            return
        work = frame.work
        if isinstance(event, TimerFired):
            self._waits.pop(key, None)
            _, purpose = work["timers"].pop(key)
            if purpose in ("timeout", "heartbeat"):
                self._task_timed_out(frame, purpose)
            elif purpose == "wait":
                frame.work = None
                self._finish_wait(frame)
            else:
                frame.work = None
                self._ready.append(frame.id)
        elif isinstance(event, TaskHeartbeat):
            for timer_id, (_, purpose) in list(work["timers"].items()):
                if purpose == "heartbeat":
                    self._cancel_timer(frame, timer_id)
                    self._timer(frame, self._clock() + work["heartbeat"], "heartbeat")
        elif isinstance(event, (TaskSucceeded, TaskFailed)) and work.get("task_id") == key:
            self._task_finished(frame, event)

    def _task_finished(self, frame: Frame, event: TaskSucceeded | TaskFailed) -> None:
        state = self._state(frame)
        assert isinstance(state, TaskState) and state.resource is not None
        self._clear_task(frame)
        resource = state.resource
        if isinstance(event, TaskFailed):
            kind, details = task_event(resource, "Failed", region=self.context.region, error=event.error,
                                       cause=event.cause)
            self._emit(frame, kind, details)
            self._state_failed(frame, state, event.error, event.cause)
            return
        result = event.output
        if resource.integration is Integration.LAMBDA_INVOKE and resource.pattern is not Pattern.WAIT_FOR_TASK_TOKEN:
            result = lambda_invoke_result(result, event.metadata)
        if not _fits(result):
            # AWS: the task fails (its …Failed event), naming the resource, and States.ALL catches it.
            label = resource.arn if resource.integration in (Integration.LAMBDA_FUNCTION, Integration.ACTIVITY) \
                else resource.resource_type
            cause = (f"The state/task '{label}' returned a result with a size exceeding the maximum number of "
                     "bytes service limit.")
            kind, details = task_event(resource, "Failed", region=self.context.region, error=E.DATA_LIMIT_EXCEEDED,
                                       cause=cause)
            self._emit(frame, kind, details)
            self._state_failed(frame, state, E.DATA_LIMIT_EXCEEDED, cause, terminal=False)
            return
        kind, details = task_event(resource, "Succeeded", region=self.context.region, output=result)
        self._emit(frame, kind, details)
        self._complete(frame, state, result)

    def _task_timed_out(self, frame: Frame, purpose: str) -> None:
        state = self._state(frame)
        assert isinstance(state, TaskState) and state.resource is not None
        task_id = frame.work["task_id"] if frame.work else ""
        self._clear_task(frame)
        self._commands.append(CancelTask(task_id))
        error = E.TIMEOUT if purpose == "timeout" else E.HEARTBEAT_TIMEOUT
        kind, details = task_event(state.resource, "TimedOut", region=self.context.region, error=error)
        self._emit(frame, kind, details)
        self._state_failed(frame, state, error, None)

    def _clear_task(self, frame: Frame) -> None:
        work = frame.work or {}
        self._waits.pop(work.get("task_id", ""), None)
        for timer_id in list(work.get("timers", {})):
            self._cancel_timer(frame, timer_id)
        frame.work = None

    # ---- running frames ----------------------------------------------------------------------

    def _run(self) -> Step:
        while self._ready and self.status is ExecutionStatus.RUNNING:
            if self._next_event > self.max_history:
                # AWS's hard quota; it also ends a machine that loops through Pass/Choice forever.
                self._end(ExecutionStatus.FAILED, E.RUNTIME, f"The execution reached the maximum number of "
                                                             f"history events ({self.max_history}).")
                break
            if self._step_bytes > MAX_STEP_BYTES:
                self._yield_ready()
                break
            frame = self._frames.get(self._ready.popleft())
            if frame is not None and not frame.done and frame.work is None:
                self._execute(frame)
        self._ready.clear()
        self._step_bytes = 0
        if self.status is ExecutionStatus.RUNNING and self.live_state() > MAX_LIVE_STATE:
            self._abort(self._frames["f0"])
            self._end(ExecutionStatus.FAILED, E.DATA_LIMIT_EXCEEDED,
                      f"The execution's running branches and iterations hold {self.live_state()} bytes of input, "
                      f"variables and results, more than {MAX_LIVE_STATE} bytes.")
        step = Step(self._commands, self._events)
        self._commands, self._events = [], []
        return step

    def _execute(self, frame: Frame) -> None:
        state = self._state(frame)
        scope = self._scope(frame, state)
        try:
            if isinstance(state, PassState):
                self._exit(frame, state, scope.pass_())
            elif isinstance(state, SucceedState):
                self._exit(frame, state, scope.plain())
            elif isinstance(state, FailState):
                frame.done, (frame.error, frame.cause) = "failed", scope.fail_values()
                self._finish(frame)
            elif isinstance(state, ChoiceState):
                target, outcome = scope.choose()
                self._exit(frame, state, outcome, target)
            elif isinstance(state, WaitState):
                fire_at = scope.wait_until()
                if fire_at <= scope.now:
                    self._finish_wait(frame)
                else:
                    frame.work = {"kind": "wait", "timers": {}}
                    self._timer(frame, fire_at, "wait")
            elif isinstance(state, TaskState):
                self._schedule(frame, state, scope)
            elif isinstance(state, ParallelState):
                self._start_parallel(frame, state, scope)
            elif isinstance(state, MapState):
                self._start_map(frame, state, scope)
        except StatesFailure as failure:
            self._drop_work(frame)
            self._state_failed(frame, state, failure.error, self._cause(frame, failure))

    def _yield_ready(self) -> None:
        """Pause the frames still ready: each waits on a timer due now, which resumes it next step."""
        now = self._clock()
        for frame_id in dict.fromkeys(self._ready):
            frame = self._frames.get(frame_id)
            if frame is not None and not frame.done and frame.work is None:
                frame.work = {"kind": "yield", "timers": {}}
                self._timer(frame, now, "yield")
        self._ready.clear()

    def live_state(self) -> int:
        """Bytes the running frames hold: inputs, the variables each assigned, Map items and results."""
        total = 0
        for frame in self._frames.values():
            total += frame.size + sum(frame.assigned.values())
            work = frame.work
            if work and work.get("kind") in ("map", "parallel"):
                total += work.get("items_size", 0) + work.get("result_size", 0)
        return total

    def _finish_wait(self, frame: Frame) -> None:
        state = self._state(frame)
        try:
            self._exit(frame, state, self._scope(frame, state).plain())
        except StatesFailure as failure:
            self._state_failed(frame, state, failure.error, self._cause(frame, failure))

    def _enter(self, frame: Frame, name: str, data: Json, text: str | None = None) -> None:
        """Enter state ``name`` with ``data`` (``text``: its ``dumps``, if known; callers bound its size)."""
        state = self._machine(frame).states[name]
        text = dumps(data) if text is None else text
        frame.state, frame.input, frame.retries, frame.retry_count = name, data, {}, 0
        frame.partial = None
        frame.size = utf8_size(text)
        frame.entered_time = self._clock()
        frame.entered_event = self._emit(frame, f"{state.type}StateEntered",
                                         {"name": name, **text_details("input", data, text)})
        self._ready.append(frame.id)

    def _exit(self, frame: Frame, state: State, outcome: Outcome, target: str | None = None) -> None:
        text = dumps(outcome.output)
        if self._too_large(frame, state, outcome.output, text):
            return
        details = {"name": state.name, **text_details("output", outcome.output, text)}
        if outcome.assigned:
            assigned = {k: dumps(v) for k, v in outcome.assigned.items()}
            if self._too_many_variables(frame, state, assigned):
                return
            details["assignedVariables"] = assigned
            details["assignedVariablesDetails"] = {"truncated": False}
        self._emit(frame, f"{state.type}StateExited", details)
        frame.variables.update(outcome.assigned)
        target = target or state.next
        if target is None:
            frame.done, frame.output, frame.output_size = "succeeded", outcome.output, utf8_size(text)
            self._finish(frame)
        else:
            self._enter(frame, target, outcome.output, text)

    def _too_many_variables(self, frame: Frame, state: State, assigned: dict[str, str]) -> bool:
        """Record the sizes of what a state assigns; AWS allows 10 MiB of variables per execution
        (counted here along the frame and its parents: what this frame sees)."""
        sizes = {k: utf8_size(v) for k, v in assigned.items()}
        visible = sum({**frame.assigned, **sizes}.values())
        parent = self._frames.get(frame.parent or "")
        while parent is not None:
            visible += sum(parent.assigned.values())
            parent = self._frames.get(parent.parent or "")
        if visible > MAX_VARIABLES:
            self._fail_frame(frame, E.DATA_LIMIT_EXCEEDED, f"The state '{state.name}' would store {visible} bytes of "
                                                           f"variables, more than the {MAX_VARIABLES} bytes allowed "
                                                           "per execution.")
            return True
        frame.assigned.update(sizes)
        return False

    def _fail_frame(self, frame: Frame, error: str, cause: str) -> None:
        """Fail a frame past Retry and Catch (for failures that must not loop through a catcher)."""
        self._drop_work(frame)
        frame.done, frame.error, frame.cause = "failed", error, cause
        self._finish(frame)

    def _complete(self, frame: Frame, state: State, result: Json) -> None:
        try:
            outcome = self._scope(frame, state).complete(result)
        except StatesFailure as failure:
            self._state_failed(frame, state, failure.error, self._cause(frame, failure))
            return
        self._exit(frame, state, outcome)

    def _too_large(self, frame: Frame, state: State, value: Json, text: str | None = None) -> bool:
        if text is None and _fits(value):
            return False
        if text is not None and utf8_size(text) <= MAX_PAYLOAD:
            return False
        self._state_failed(frame, state, E.DATA_LIMIT_EXCEEDED,
                           f"The state/task '{state.name}' returned a result with a size exceeding the maximum number "
                           f"of bytes service limit.")
        return True

    # ---- errors: Retry, Catch, failing the frame ----------------------------------------------

    def _state_failed(self, frame: Frame, state: State, error: str | None, cause: str | None,
                      terminal: bool | None = None, partial: dict[str, Json] | None = None) -> None:
        """Retry, Catch, or fail the frame; ``partial``: a Parallel/Map state's outputs that succeeded,
        kept on the frame only when it fails for good (a retry runs every branch again, as AWS)."""
        for index, retrier in enumerate(getattr(state, "retry", ())):
            if any(error_matches(pattern, error, terminal) for pattern in retrier.error_equals):
                # MaxAttempts counts every retry this retrier made in the state, whichever of its errors,
                # and the backoff grows with each: AWS's guide ("Handling errors in Step Functions
                # workflows", Example 4 - Complex retry scenario: ErrorA, ErrorB, ErrorC, then ErrorB
                # goes to the catcher, its retrier's two retries used).
                attempts = frame.retries.get(str(index), 0)
                if attempts < retrier.max_attempts:
                    attempt = frame.retries[str(index)] = attempts + 1
                    frame.retry_count += 1
                    draw = _Draws(self).random() if retrier.jitter_strategy == "FULL" else 1.0
                    frame.work = {"kind": "retry", "timers": {}}
                    self._timer(frame, self._clock() + retry_delay(retrier, attempt, draw), "retry")
                    return
                break
        for catcher in getattr(state, "catch", ()):
            if any(error_matches(pattern, error, terminal) for pattern in catcher.error_equals):
                try:
                    outcome = self._scope(frame, state).caught(catcher, error, cause)
                except StatesFailure as failure:
                    error, cause = failure.error, self._cause(frame, failure)
                    break
                text = dumps(outcome.output)       # input and an error output: both bounded, the sum checked
                if utf8_size(text) > MAX_PAYLOAD:
                    self._fail_frame(frame, E.DATA_LIMIT_EXCEEDED,
                                     f"The state/task '{state.name}' returned a result with a size exceeding the "
                                     "maximum number of bytes service limit.")
                    return
                if outcome.assigned and self._too_many_variables(
                        frame, state, {k: dumps(v) for k, v in outcome.assigned.items()}):
                    return
                self._emit(frame, f"{state.type}StateExited", {"name": state.name,
                                                               **text_details("output", outcome.output, text)})
                frame.variables.update(outcome.assigned)
                self._enter(frame, catcher.next, outcome.output, text)
                return
        frame.done, frame.error, frame.cause = "failed", error, cause
        frame.partial = partial or None
        self._finish(frame)

    def _cause(self, frame: Frame, failure: StatesFailure) -> str | None:
        if not failure.in_state:
            return failure.cause
        return (f"An error occurred while executing the state '{frame.state}' (entered at the event id "
                f"#{frame.entered_event}). {failure.cause}")

    def _finish(self, frame: Frame) -> None:
        if frame.parent is None:
            if frame.done == "succeeded":
                self._end(ExecutionStatus.SUCCEEDED, None, None, frame.output)
            else:
                self._end(ExecutionStatus.FAILED, frame.error, frame.cause)
            return
        parent = self._frames[frame.parent]
        if parent.work and parent.work.get("kind") == "map":
            self._iteration_finished(parent, frame)
        else:
            self._branch_finished(parent, frame)

    def _end(self, status: ExecutionStatus, error: str | None, cause: str | None, output: Json = None) -> None:
        top = self._frames.get("f0")
        self.status, self.error, self.cause, self.output = status, error, cause, output
        if self._timeout_timer and status is not ExecutionStatus.TIMED_OUT:
            self._commands.append(CancelTimer(self._timeout_timer))
            self._timeout_timer = None
        if status is ExecutionStatus.SUCCEEDED:
            self._emit(top, "ExecutionSucceeded", text_details("output", output))
            self._commands.append(Succeed(output))
        else:
            if top is not None and top.state:         # where a redrive continues (RedriveExecution)
                self._resume = {"state": top.state, "input": copy.deepcopy(top.input),
                                "variables": copy.deepcopy(top.variables), "assigned": dict(top.assigned),
                                "partial": copy.deepcopy(top.partial)}
            kind = {ExecutionStatus.FAILED: "ExecutionFailed", ExecutionStatus.ABORTED: "ExecutionAborted",
                    ExecutionStatus.TIMED_OUT: "ExecutionTimedOut"}[status]
            self._emit(top, kind, without_none({"error": error, "cause": cause}))
            self._commands.append(Fail(error, cause, status))
        self._frames.clear()
        self._waits.clear()

    # ---- Task ---------------------------------------------------------------------------------

    def _schedule(self, frame: Frame, state: TaskState, scope: Scope) -> None:
        assert state.resource is not None
        resource = state.resource
        task_id = self._mint("task")
        token = None
        if resource.pattern is Pattern.WAIT_FOR_TASK_TOKEN:
            token = encode_task_token(self.context.execution_arn, task_id, _Draws(self).uuid())
            scope.context["Task"] = {"Token": token}
        parameters = scope.arguments()
        timeout, heartbeat = scope.task_timeouts()
        if self._too_large(frame, state, parameters):
            return
        for phase in ("Scheduled", "Started"):
            kind, details = task_event(resource, phase, region=self.context.region, parameters=parameters,
                                       timeout=timeout, heartbeat=heartbeat)
            self._emit(frame, kind, details)
        command = InvokeTask(task_id, resource, parameters, state.name, timeout, heartbeat, token)
        frame.work = {"kind": "task", "task_id": task_id, "timers": {}, "heartbeat": heartbeat,
                      "command": command_to_json(command)}
        self._waits[task_id] = frame.id
        self._commands.append(command)
        now = self._clock()
        if timeout:
            self._timer(frame, now + timeout, "timeout")
        if heartbeat:
            self._timer(frame, now + heartbeat, "heartbeat")

    # ---- Parallel and Map ---------------------------------------------------------------------

    def _start_parallel(self, frame: Frame, state: ParallelState, scope: Scope) -> None:
        branch_input = scope.arguments()
        text = self._input_text(state, branch_input, "a branch")
        total = utf8_size(text) * len(state.branches)
        if self.live_state() + total > MAX_LIVE_STATE:      # before any branch holds it (and writes it)
            raise StatesFailure(E.DATA_LIMIT_EXCEEDED, f"The Parallel state '{state.name}' would give its "
                                                       f"{len(state.branches)} branches {total} bytes of input, more "
                                                       f"than the {MAX_LIVE_STATE} bytes an execution may hold.",
                                in_state=False)
        self._emit(frame, "ParallelStateStarted", None)
        carried, frame.partial = frame.partial or {}, None
        frame.work = {"kind": "parallel", "children": [], "results": [None] * len(state.branches),
                      "pending": len(state.branches), "result_size": 0, "ok": []}
        for index in range(len(state.branches)):          # a redrive: the branches that had succeeded
            if str(index) in carried:
                frame.work["results"][index] = carried[str(index)]
                frame.work["ok"].append(index)
                frame.work["pending"] -= 1
                frame.work["result_size"] += utf8_size(dumps(carried[str(index)])) + 1
        if frame.work["pending"] == 0:
            results = frame.work["results"]
            self._emit(frame, "ParallelStateSucceeded", None)
            frame.work = None
            self._complete(frame, state, results)
            return
        for index, branch in enumerate(state.branches):
            if index not in frame.work["ok"]:
                frame.work["children"].append(self._spawn(frame, [state.name, index], index, branch, branch_input,
                                                          text))

    def _input_text(self, state: State, value: Json, what: str) -> str:
        """The JSON text of what a Parallel/Map state hands ``what``; past the quota, DataLimitExceeded.
        (The value is an item of the input or what a template or JSONata built, each already bounded.)"""
        text = dumps(value)
        if utf8_size(text) > MAX_PAYLOAD:
            raise StatesFailure(E.DATA_LIMIT_EXCEEDED, f"The input the state '{state.name}' gives {what} has a size "
                                                       "exceeding the maximum number of bytes service limit.",
                                in_state=False)
        return text

    def _gathered(self, parent: Frame, state: State, child: Frame, size: int) -> bool:
        """Count one more result of a Map/Parallel state; past the quota, fail the state now (its
        running children aborted) rather than after gathering everything."""
        work = parent.work
        assert work is not None
        work["result_size"] = work.get("result_size", 0) + size + 1
        if work["result_size"] + 1 <= MAX_PAYLOAD:
            return False
        for sibling in list(work.get("children", [])) + list(work.get("running", {}).values()):
            if sibling in self._frames and sibling != child.id:
                self._abort(self._frames[sibling])
        parent.work = None
        self._fail_frame(parent, E.DATA_LIMIT_EXCEEDED, f"The state/task '{state.name}' returned a result with a "
                                                        "size exceeding the maximum number of bytes service limit.")
        return True

    def _branch_finished(self, parent: Frame, child: Frame) -> None:
        state = self._state(parent)
        work = parent.work
        assert work is not None and isinstance(state, ParallelState)
        self._frames.pop(child.id, None)
        if child.done == "succeeded":
            if self._gathered(parent, state, child, child.output_size):
                return
            work["results"][child.slot] = child.output
            work.setdefault("ok", []).append(child.slot)
            work["pending"] -= 1
            if work["pending"] == 0:
                self._emit(parent, "ParallelStateSucceeded", None, previous=child.last_event)
                parent.work = None
                self._complete(parent, state, work["results"])
            return
        for sibling in work["children"]:
            if sibling in self._frames:
                self._abort(self._frames[sibling])
        self._emit(parent, "ParallelStateFailed", None, previous=child.last_event)
        parent.work = None
        self._state_failed(parent, state, child.error, child.cause,
                           partial={str(i): work["results"][i] for i in work.get("ok", [])})

    def _start_map(self, frame: Frame, state: MapState, scope: Scope) -> None:
        items = scope.map_items()
        limits = scope.map_limits()
        selected = False
        if state.item_batcher is not None:
            items = scope.batches([scope.item_input(item, i) for i, item in enumerate(items)], MAX_BATCHES)
            selected = True
        # Items from a path are part of the input; JSONata's were converted within the quota; batches
        # were counted while made (at most MAX_BATCHES): the input's size stands for them.
        items_size = frame.size if not selected else MAX_BATCHES
        # AWS: an Inline Map runs at most 40 iterations at once (MaxConcurrency 0 included); Cumulo runs
        # Distributed maps inline too, with the same bound.
        concurrency = min(limits.max_concurrency or MAX_INLINE_CONCURRENCY, MAX_INLINE_CONCURRENCY)
        self._emit(frame, "MapStateStarted", {"length": len(items)})
        carried, frame.partial = frame.partial or {}, None
        frame.work = {"kind": "map", "items": items, "selected": selected, "results": [None] * len(items),
                      "running": {}, "next": 0, "done": 0, "failed": 0, "concurrency": concurrency,
                      "count": limits.tolerated_count, "percentage": limits.tolerated_percentage,
                      "items_size": items_size, "result_size": 0, "ok": [], "kept": bool(carried)}
        for key, output in carried.items():             # a redrive: the iterations that had succeeded
            if key.isdigit() and int(key) < len(items):
                frame.work["results"][int(key)] = output
                frame.work["ok"].append(int(key))
                frame.work["done"] += 1
                frame.work["result_size"] += utf8_size(dumps(output)) + 1
        if items and frame.work["done"] == len(items):
            self._emit(frame, "MapStateSucceeded", None)
            results = frame.work["results"]
            frame.work = None
            self._complete(frame, state, results)
            return
        if not items:
            self._emit(frame, "MapStateSucceeded", None)
            frame.work = None
            self._complete(frame, state, [])
            return
        self._launch(frame, state, scope)

    def _launch(self, frame: Frame, state: MapState, scope: Scope) -> None:
        work = frame.work
        assert work is not None and state.processor is not None
        while work["next"] < len(work["items"]) and (not work["concurrency"]
                                                    or len(work["running"]) < work["concurrency"]):
            index = work["next"]
            if work.get("kept", True) and index in work.get("ok", ()):   # kept from before a redrive
                work["next"] += 1
                continue
            item = work["items"][index]
            data = item if work["selected"] else scope.item_input(item, index)
            text = self._input_text(state, data, f"iteration {index}")
            work["next"] += 1
            self._emit(frame, "MapIterationStarted", {"name": state.name, "index": index})
            work["running"][str(index)] = self._spawn(frame, [state.name, 0], index, state.processor, data, text)

    def _iteration_finished(self, parent: Frame, child: Frame) -> None:
        state = self._state(parent)
        work = parent.work
        assert work is not None and isinstance(state, MapState)
        self._frames.pop(child.id, None)
        work["running"].pop(str(child.slot), None)
        details = {"name": state.name, "index": child.slot}
        if child.done == "succeeded":
            if self._gathered(parent, state, child, child.output_size):
                return
            work["results"][child.slot] = child.output
            work.setdefault("ok", []).append(child.slot)
            self._emit(parent, "MapIterationSucceeded", details, previous=child.last_event)
        else:
            self._emit(parent, "MapIterationFailed", details, previous=child.last_event)
            work["failed"] += 1
            tolerant = work["count"] is not None or work["percentage"] is not None
            exceeded = (work["count"] is not None and work["failed"] > work["count"]) or (
                work["percentage"] is not None and work["failed"] * 100.0 / len(work["items"]) > work["percentage"])
            if not tolerant or exceeded:
                for sibling in list(work["running"].values()):
                    if sibling in self._frames:
                        self._abort(self._frames[sibling], iteration=(state.name, self._frames[sibling].slot))
                error, cause = (child.error, child.cause) if not tolerant else (
                    E.EXCEED_TOLERATED_FAILURE_THRESHOLD, f"The specified tolerated failure threshold was exceeded "
                                                          f"in the Map state '{state.name}'")
                self._emit(parent, "MapStateFailed", None)
                parent.work = None
                self._state_failed(parent, state, error, cause,
                                   partial={str(i): work["results"][i] for i in work.get("ok", [])})
                return
            failure = without_none({"Error": child.error, "Cause": child.cause})
            if self._gathered(parent, state, child, utf8_size(dumps(failure))):
                return
            work["results"][child.slot] = failure
        work["done"] += 1
        if work["done"] == len(work["items"]):
            self._emit(parent, "MapStateSucceeded", None)
            parent.work = None
            self._complete(parent, state, work["results"])
            return
        try:
            self._launch(parent, state, self._scope(parent, state))
        except StatesFailure as failure:
            for sibling in list(work["running"].values()):
                if sibling in self._frames:
                    self._abort(self._frames[sibling])
            parent.work = None
            self._state_failed(parent, state, failure.error, self._cause(parent, failure))

    def _spawn(self, parent: Frame, step: list[Any], slot: int, machine: StateMachine, data: Json,
               text: str | None = None) -> str:
        child = Frame(self._mint("f"), parent.graph + [step], parent.id, slot, dict(parent.variables),
                       last_event=parent.last_event)
        self._frames[child.id] = child
        self._enter(child, machine.start_at, data, text)
        return child.id

    def _abort(self, frame: Frame, iteration: tuple[str, int] | None = None) -> None:
        """Stop a frame and everything below it: cancel its task and timers, say so in the history."""
        kind = (frame.work or {}).get("kind")
        state = self._machine(frame).states.get(frame.state)
        self._drop_work(frame)
        if state is not None and kind in ("task", "wait", "parallel", "map"):
            self._emit(frame, f"{state.type}StateAborted", None)      # AWS gives these events no details
        if iteration is not None:
            self._emit(frame, "MapIterationAborted", {"name": iteration[0], "index": iteration[1]})
        frame.done = "aborted"
        if frame.parent is not None:
            self._frames.pop(frame.id, None)

    def _drop_work(self, frame: Frame) -> None:
        """Cancel what a frame waits for (its task, timers, child frames) and forget it."""
        work = frame.work or {}
        if work.get("kind") == "task":
            self._commands.append(CancelTask(work["task_id"]))
            self._waits.pop(work["task_id"], None)
        for timer_id in list(work.get("timers", {})):
            self._cancel_timer(frame, timer_id)
        for child_id in list(work.get("children", [])) + list(work.get("running", {}).values()):
            child = self._frames.get(child_id)
            if child is not None:
                self._abort(child, (frame.state, child.slot) if work.get("kind") == "map" else None)
        frame.work = None

    # ---- plumbing ------------------------------------------------------------------------------

    def _machine(self, frame: Frame) -> StateMachine:
        machine = self.machine
        for name, index in frame.graph:
            state = machine.states[name]
            if isinstance(state, ParallelState):
                machine = state.branches[index]
            else:
                assert isinstance(state, MapState) and state.processor is not None
                machine = state.processor
        return machine

    def _state(self, frame: Frame) -> State:
        return self._machine(frame).states[frame.state]

    def _scope(self, frame: Frame, state: State) -> Scope:
        context = context_object(self.context, self.input, self.start_time, state.name, frame.entered_time,
                                 frame.retry_count)
        return Scope(state, frame.input, context, frame.variables, self._clock(), _Draws(self))

    def _emit(self, frame: Frame | None, kind: str, details: dict[str, Json] | None,
              previous: int | None = None) -> int:
        event_id = self._next_event
        self._next_event += 1
        prev = previous if previous is not None else (frame.last_event if frame is not None else 0)
        event = HistoryEvent(event_id, prev if event_id > 1 else 0, self._clock(), kind, details)
        if details:                                      # the texts this step piles up (see MAX_STEP_BYTES)
            for member in _TEXT_MEMBERS:
                text = details.get(member)
                if text is not None:
                    self._step_bytes += len(text) if isinstance(text, str) else sum(map(len, text.values()))
        if self._keep_history:
            self.history.append(event)
        self._events.append(event)
        if frame is not None:
            frame.last_event = event_id
        return event_id

    def _mint(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq}"

    def _next_draw(self) -> int:
        self._draws += 1
        return self._draws

    def _timer(self, frame: Frame, fire_at: float, purpose: str) -> str:
        timer_id = self._mint("timer")
        if frame.work is not None:
            frame.work.setdefault("timers", {})[timer_id] = (fire_at, purpose)
            self._waits[timer_id] = frame.id
        self._commands.append(StartTimer(timer_id, fire_at, purpose))
        return timer_id

    def _cancel_timer(self, frame: Frame, timer_id: str) -> None:
        if frame.work is not None:
            frame.work.get("timers", {}).pop(timer_id, None)
        self._waits.pop(timer_id, None)
        self._commands.append(CancelTimer(timer_id))


def _fits(value: Json) -> bool:
    """Whether a value's JSON text is within the payload quota, measured before it is written."""
    try:
        measure(value, MAX_PAYLOAD)
    except TooLarge:
        return False
    return utf8_size(dumps(value)) <= MAX_PAYLOAD
