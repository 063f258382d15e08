"""Synchronous invocation: the one path from any trigger to an environment.

Checks (payload size, concurrency) happen before any environment is touched.
An invocation's outcome becomes AWS's result — the payload or error document,
``FunctionError``, the executed version — and its log lines (INIT_START, the
function's output, START/END/REPORT) go to the log sink off the hot path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from cumulo import ids
from cumulo.errors import (
    InvalidParameterValueException, InvalidRequestContentException, RequestTooLargeException, SnapStartException,
    SnapStartTimeoutException, TooManyRequestsException,
)
from cumulo.invoke.concurrency import ConcurrencyLimiter, Slot
from cumulo.invoke.pool import EnvironmentPool, InitType, PoolKey
from cumulo.model import limits
from cumulo.model.function import Arns, FunctionConfiguration
from cumulo.model.layer import LayerRef
from cumulo.observe.metrics import LAMBDA, NO_METRICS, MetricRecorder
from cumulo.observe.traces import NO_TRACES, Trace, TraceRecorder
from cumulo.observe.logs import (
    LogSink, end_line, init_report_line, init_start_line, log_group_key, platform_json, report_line,
    restore_report_line, restore_start_line, start_line,
)
from cumulo.runtime.interfaces import (
    Crashed, EnvironmentSpec, FunctionFailed, InitFailed, InvalidPayload, LogLine, Outcome, RestoreFailed, Succeeded,
    TimedOut,
)
from cumulo.runtime import catalog
from cumulo.runtime.node_sdk import folder as node_sdk_folder
from cumulo.runtime.environment import LOOP_PAYLOAD_MAX, Environment
from cumulo.runtime.interfaces import ExecutionEnvironment
from cumulo.runtime.sandbox import SandboxLevel, SandboxPolicy
from cumulo.store.base import LogRecord

__all__ = ["InvocationRequest", "InvocationResult", "InvocationType", "Invoker"]


class InvocationType:
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"
    ALL = (REQUEST_RESPONSE, EVENT, DRY_RUN)


@dataclass(frozen=True)
class InvocationRequest:
    payload: bytes = b""
    invocation_type: str = InvocationType.REQUEST_RESPONSE
    log_type: str = "None"                  # "Tail" returns the last 4 KB of the log
    client_context: dict | None = None      # decoded ClientContext
    identity: dict | None = None
    request_id: str | None = None           # given for an asynchronous event (the id its 202 named)
    trace_header: str | None = None         # the caller's X-Amzn-Trace-Id (observe/traces.py)


@dataclass(frozen=True)
class InvocationResult:
    status_code: int
    payload: bytes
    executed_version: str
    request_id: str
    function_error: str | None = None       # "Unhandled" when the function failed
    log_result: str | None = None           # with log_type "Tail": the last 4 KB of the log, as text
    cold_start: bool = False
    log_lines: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


@dataclass
class _Run:
    """What one invocation produced, before it becomes a result."""

    outcome: Outcome
    cold: bool
    init_ms: float | None
    init_lines: list[LogLine]
    max_memory_mb: int
    stream: str
    restore_ms: float | None = None          # forked from a template (SnapStart)
    billed_restore_ms: float | None = None
    template_init_ms: float | None = None    # this cold start created the template
    template_init_lines: list[LogLine] = field(default_factory=list)
    provisioned: tuple[int, int, bool] | None = None    # pool.provisioned_use: a version with provisioned concurrency
    failed_start: bool = False               # no environment started: the outcome is its Init's


class Invoker:
    def __init__(self, pool: EnvironmentPool, limiter: ConcurrencyLimiter, logs: LogSink, arns: Arns,
                 code_dir: Callable[[str], Path], sandbox: Callable[[], SandboxPolicy], tmp_root: Path,
                 sync_payload_max: int, snap_start: Callable[[FunctionConfiguration], bool] = lambda c: False,
                 layers_dir: Callable[[tuple[LayerRef, ...]], Path | None] = lambda refs: None,
                 spin_us: int = 0,
                 credentials: Callable[[FunctionConfiguration], dict[str, str]] = lambda config: {},
                 metrics: MetricRecorder = NO_METRICS, traces: TraceRecorder = NO_TRACES) -> None:
        self._pool, self._limiter, self._logs, self._arns = pool, limiter, logs, arns
        self._code_dir, self._sandbox, self._tmp_root = code_dir, sandbox, tmp_root
        self._sync_payload_max = sync_payload_max
        self._snap_start = snap_start   # whether this configuration's cold starts fork a template
        self._layers_dir = layers_dir   # the merged /opt tree of an ordered list of layers
        self._spin_us = spin_us         # a lone invocation's poll-before-sleep window (environment.py)
        self._credentials = credentials   # AWS_ENDPOINT_URL and the role's session for a configuration
        self._metrics = metrics         # Lambda's metrics, aggregated in memory (observe/metrics.py)
        self._traces = traces           # X-Ray segments of traced functions (observe/traces.py)

    # -- entry ----------------------------------------------------------------
    def invoke(self, config: FunctionConfiguration, request: InvocationRequest,
               invoked_arn: str | None = None, may_wait: bool = True, slot: Slot | None = None) -> InvocationResult:
        """``slot``: the concurrency slot the caller took already (``invoke_on_loop``), given back here."""
        try:
            self._check(request)
        except BaseException:
            if slot is not None:
                self._limiter.release(slot)
            raise
        if request.invocation_type == InvocationType.DRY_RUN:
            if slot is not None:
                self._limiter.release(slot)
            return InvocationResult(204, b"", config.version, str(uuid.uuid4()))
        if slot is None:
            slot = self._acquire(config.name)
        trace = self._begin_trace(config, request)
        try:
            request_id = request.request_id or ids.request_id()
            arn = invoked_arn or self._arns.function(config.name, None if config.version == "$LATEST" else config.version)
            run = self._run(config, request, request_id, arn, may_wait, trace)
        finally:
            self._limiter.release(slot)
        answered = time.monotonic() if trace is not None else 0.0
        result = self._finish(config, request, request_id, run)
        self._record(config.name, arn, run.outcome, result.function_error is not None, run.provisioned)
        if trace is not None and trace.sampled:
            self._trace(trace, config, arn, request_id, run, result, answered)
        return result

    def _check(self, request: InvocationRequest) -> None:
        if request.invocation_type not in InvocationType.ALL:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{request.invocation_type}' at 'invocationType' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
        if request.invocation_type == InvocationType.EVENT:
            raise InvalidParameterValueException(
                "InvocationType Event (asynchronous invocation) is not available in this Cumulo build yet.")
        if len(request.payload) > self._sync_payload_max:
            raise RequestTooLargeException(
                f"Request must be smaller than {self._sync_payload_max} bytes for the InvokeFunction operation")

    async def invoke_on_loop(self, config: FunctionConfiguration, request: InvocationRequest,
                             invoked_arn: str | None, executor: Executor,
                             busy: Callable[[], bool] | None = None) -> InvocationResult:
        """``invoke`` for callers on an event loop: a warm environment is driven by the loop itself
        (no thread hop); anything else — a cold start, a large payload, DryRun — runs ``invoke`` in
        ``executor``. Same checks, limits, results and logs either way."""
        loop = asyncio.get_running_loop()
        key = PoolKey(config.name, config.version, config.revision_id)
        if request.invocation_type != InvocationType.REQUEST_RESPONSE or len(request.payload) > LOOP_PAYLOAD_MAX:
            return await loop.run_in_executor(executor, self.invoke, config, request, invoked_arn)
        # The slot first, as AWS counts a request in flight from its arrival: a caller waiting for
        # a released environment holds one, so a burst above the limit is throttled at once
        # (waiters without one had all run, one after another, within the limit).
        slot = self._acquire(config.name)
        env, waited = None, False
        try:
            got = self._pool.take_idle_or_queue(key, loop)
            if isinstance(got, asyncio.Future):     # busy, and a release comes sooner than a cold start
                self._pool.note_wait(key, lambda init_type: self.spec(config, init_type),
                                     lambda: self._snap_start(config), lambda: self._limiter.ceiling(config.name))
                try:
                    env, waited = await got, True
                except asyncio.CancelledError:
                    handed = got.result() if got.done() and not got.cancelled() else None
                    if handed is not None:
                        self._pool.release(key, handed)   # handed over just as we were cancelled
                    raise
            else:
                env = got
        except BaseException:
            self._limiter.release(slot)
            raise
        if env is None:
            try:
                job = executor.submit(self.invoke, config, request, invoked_arn, not waited, slot)
            except BaseException:
                self._limiter.release(slot)
                raise
            try:
                return await asyncio.wrap_future(job, loop=loop)
            except asyncio.CancelledError:
                if job.cancelled():     # it never ran, so the slot is still ours to give back
                    self._limiter.release(slot)
                raise
        trace = self._begin_trace(config, request)
        try:
            request_id = request.request_id or ids.request_id()
            arn = invoked_arn or self._arns.function(config.name, None if config.version == "$LATEST" else config.version)
            outcome = await env.invoke_on_loop(self._header(config, request, request_id, arn, busy, trace),
                                               request.payload, time.monotonic() + config.timeout, loop, busy)
            run = self._ran(config, env, outcome, cold=False)
            run.provisioned = self._pool.provisioned_use(key, env)
        finally:
            self._limiter.release(slot)
            self._pool.release(key, env)
        answered = time.monotonic() if trace is not None else 0.0
        result = self._finish(config, request, request_id, run)
        self._record(config.name, arn, outcome, result.function_error is not None, run.provisioned)
        if trace is not None and trace.sampled:
            self._trace(trace, config, arn, request_id, run, result, answered)
        return result

    def _begin_trace(self, config: FunctionConfiguration, request: InvocationRequest) -> Trace | None:
        """The invocation's trace, or None (the common case: not traced and no caller's header),
        when ``ids.trace_id()`` is its whole header."""
        if config.tracing == "Active" or request.trace_header is not None:
            return self._traces.begin(config.tracing == "Active", request.trace_header)
        return None

    def _trace(self, trace: Trace, config: FunctionConfiguration, arn: str, request_id: str, run: _Run,
               result: InvocationResult, answered: float) -> None:
        """The segments Lambda reports for one traced invocation (``TraceRecorder.invocation``);
        ``answered``: when the environment's answer was in (monotonic), Overhead's start."""
        error_type = None
        if result.function_error:
            try:
                error_type = json.loads(result.payload).get("errorType")
            except (ValueError, AttributeError):
                pass
        self._traces.invocation(trace, name=config.name, arn=arn, account=self._arns.account, request_id=request_id,
                                duration_ms=getattr(run.outcome, "duration_ms", 0.0),
                                overhead_ms=(time.monotonic() - answered) * 1000.0,
                                init_ms=(run.restore_ms or run.init_ms) if run.cold else None,
                                error=result.function_error, error_type=error_type,
                                restored=run.cold and run.restore_ms is not None)

    def _acquire(self, function: str) -> Any:
        """A concurrency slot; a refusal is counted as Lambda's Throttles."""
        try:
            return self._limiter.acquire(function)
        except TooManyRequestsException:
            self._metrics.add(LAMBDA, "Throttles", (("FunctionName", function),), 1.0, "Count")
            raise

    def _record(self, function: str, arn: str, outcome: Outcome, error: bool,
                provisioned: tuple[int, int, bool] | None = None) -> None:
        """Lambda's Invocations, Errors, Duration and ConcurrentExecutions for one invocation (and
        the ProvisionedConcurrency* metrics for a version with provisioned concurrency); its
        ``Resource`` dimension is ``name:qualifier`` when it was invoked qualified."""
        metrics = self._metrics
        if metrics.enabled:
            qualifier = arn.split(":", 7)[7] if arn.count(":") == 7 else None
            limiter = self._limiter
            own = 0 if limiter.reserved(function) is not None else 1      # it ran in the unreserved pool
            resource = f"{function}:{qualifier}" if qualifier else None
            metrics.invocation(function, resource, getattr(outcome, "duration_ms", 0.0), error,
                               limiter.in_flight(function) + 1, limiter.total + 1, limiter.unreserved_in_flight + own)
            if provisioned is not None:
                metrics.provisioned(function, resource, *provisioned)
            lines = getattr(outcome, "lines", None)
            if lines:
                metrics.emf(function, lines)

    def _run(self, config: FunctionConfiguration, request: InvocationRequest, request_id: str, arn: str,
             may_wait: bool = True, trace: Trace | None = None) -> _Run:
        key = PoolKey(config.name, config.version, config.revision_id)
        env, failure, cold = self._pool.acquire(key, lambda init_type: self.spec(config, init_type),
                                                snap_start=lambda: self._snap_start(config), may_wait=may_wait,
                                                ceiling=lambda: self._limiter.ceiling(config.name))
        if env is None:
            assert failure is not None
            return _Run(failure, True, failure.duration_ms, [], _failed_start_memory_mb(config, failure), "",
                        failed_start=True)
        try:
            outcome = env.invoke(self._header(config, request, request_id, arn, None, trace), request.payload,
                                 time.monotonic() + config.timeout)
            run = self._ran(config, env, outcome, cold)
            run.provisioned = self._pool.provisioned_use(key, env)
            return run
        finally:
            self._pool.release(key, env)

    def _header(self, config: FunctionConfiguration, request: InvocationRequest, request_id: str, arn: str,
                busy: Callable[[], bool] | None = None, trace: Trace | None = None) -> dict:
        header = {"id": request_id, "arn": arn, "deadline_ms": int(time.time() * 1000) + config.timeout * 1000,
                  "trace_id": ids.trace_id() if trace is None else trace.header}
        # Alone — nothing else in flight, and the caller has no other work — a CPU is free to poll on.
        if self._spin_us and self._limiter.total == 1 and (busy is None or not busy()):
            header["spin"] = self._spin_us
        if request.client_context is not None:
            header["client_context"] = request.client_context
        if request.identity is not None:
            header["identity"] = request.identity
        return header

    @staticmethod
    def _ran(config: FunctionConfiguration, env: ExecutionEnvironment, outcome: Outcome, cold: bool) -> _Run:
        if isinstance(outcome, InvalidPayload):
            raise InvalidRequestContentException(f"Could not parse request body into json: {outcome.reason}")
        init_lines, env.init_lines = env.init_lines, []
        # Measured, whatever the outcome: after a crash (an out-of-memory kill too), the peak of the
        # environment's memory cgroup where it has one.
        run = _Run(outcome, cold, env.init_ms if cold else None, init_lines, env.max_memory_mb, env.spec.stream)
        if cold and isinstance(env, Environment) and env.restore_ms is not None:   # forked from a template
            run.init_ms, run.restore_ms, run.billed_restore_ms = None, env.restore_ms, env.billed_restore_ms
            run.template_init_ms, run.template_init_lines = env.template_init_ms, env.template_init_lines
            env.template_init_lines = []
        return run

    # -- environment spec -----------------------------------------------------
    def spec(self, config: FunctionConfiguration, init_type: str) -> EnvironmentSpec:
        stream = f"{datetime.now(timezone.utc):%Y/%m/%d}/[{config.version}]{uuid.uuid4().hex}"
        sandbox = self._sandbox()
        if config.no_network and sandbox.level is SandboxLevel.NAMESPACE and not sandbox.no_network:
            # A function in a VPC (Cumulo's has no NAT): each of its environments gets a network
            # namespace of its own with only a loopback, whichever path builds it.
            sandbox = dataclasses.replace(sandbox, no_network=True)
        code_dir = self._code_dir(config.code_hex)
        layers_dir = self._layers_dir(config.layers)
        # /opt exists only in a private mount namespace; at the process level the merged tree's
        # own path stands in for it wherever AWS's environment names /opt.
        opt = "/opt" if layers_dir is None or sandbox.level is SandboxLevel.NAMESPACE else str(layers_dir)
        task = "/var/task" if sandbox.level is SandboxLevel.NAMESPACE else str(code_dir)
        runtime = catalog.runtime_of(config.runtime)
        env = {
            "PATH": f"/usr/local/bin:/usr/bin:/bin:{opt}/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "LD_LIBRARY_PATH": f"{opt}/lib",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "_HANDLER": config.handler,
            "AWS_REGION": self._arns.region,
            "AWS_DEFAULT_REGION": self._arns.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": init_type,
            "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            **runtime.environment,
        }
        if config.log_json:     # LoggingConfig, as the runtimes' clients read it (awslambdaric too)
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            env["AWS_LAMBDA_LOG_LEVEL"] = config.application_log_level
        if runtime.execution_env is None:   # custom runtimes: AWS sets no AWS_EXECUTION_ENV
            del env["AWS_EXECUTION_ENV"]
        node_sdk = None
        if config.runtime.startswith("nodejs"):
            major = config.runtime[len("nodejs"):].split(".")[0]
            node_sdk = node_sdk_folder()
            # the SDK for JavaScript: at /var/runtime/node_modules in a namespace, as on AWS; in place otherwise
            sdk = "/var/runtime/node_modules" if sandbox.level is SandboxLevel.NAMESPACE or node_sdk is None \
                else str(node_sdk)
            env["NODE_PATH"] = (f"{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:"
                                f"{sdk}:/var/runtime:{task}")
        env.update(config.environment)
        env.update(self._credentials(config))   # reserved names: never among the function's own variables
        if init_type == InitType.SNAP_START:   # AWS: not available in SnapStart functions
            env.pop("AWS_LAMBDA_LOG_GROUP_NAME", None)
            env.pop("AWS_LAMBDA_LOG_STREAM_NAME", None)
        return EnvironmentSpec(
            function=config.name, version=config.version, handler=config.handler,
            memory_mb=config.memory_size, timeout_s=config.timeout, ephemeral_mb=config.ephemeral_storage,
            env=env, code_dir=code_dir, tmp_root=self._tmp_root, sandbox=sandbox,
            max_response=limits.SYNC_PAYLOAD_MAX, nofile=limits.NOFILE_LIMIT, log_stream=stream,
            layers_dir=layers_dir, runtime=config.runtime, entrypoint=runtime.entrypoint,
            runtime_dir=runtime.runtime_dir,
            sdk=runtime.entrypoint is None and catalog.uses_runtime_sdk(code_dir, layers_dir),
            node_sdk=node_sdk,
        )

    # -- results and logs -----------------------------------------------------
    def _finish(self, config: FunctionConfiguration, request: InvocationRequest, request_id: str,
                run: _Run) -> InvocationResult:
        outcome = run.outcome
        if not run.cold and not config.logging_config and isinstance(outcome, (Succeeded, FunctionFailed)):
            return self._finish_warm(config, request, request_id, run, outcome)
        # The platform's lines are written now, after the fact: each is stamped when its phase began
        # or ended (worked back from the measured durations), then kept in order with the
        # function's own lines, which were stamped as they were read (``_in_order``).
        now = _now_ms()
        duration = 0.0 if isinstance(outcome, (InitFailed, RestoreFailed)) else outcome.duration_ms
        invoked: float
        started: float
        if run.failed_start:      # Init failed, timed out or crashed: it took the outcome's time
            invoked, started = now, now - outcome.duration_ms
        else:
            invoked = now - duration                                       # when the invocation began
            started = invoked - (run.restore_ms or run.init_ms or 0.0)     # when Init/Restore began
        lines: list[LogLine] = []
        platform: set[int] = set()      # indices of the platform's own lines (their stamps may move)

        def platform_line(ts: float, text: str) -> None:
            platform.add(len(lines))
            lines.append(LogLine(int(ts), text))

        version_arn = self._arns.function(config.name, config.version) if run.cold else ""
        if run.template_init_ms is not None:
            platform_line(started - run.template_init_ms, init_start_line(config.runtime, version_arn))
            lines.extend(run.template_init_lines)
            platform_line(started, init_report_line(run.template_init_ms))
        if isinstance(outcome, RestoreFailed):
            return self._restore_failed(config, request_id, run, outcome, lines, platform)
        payload, function_error, trailing = _result_of(outcome, request_id)
        if run.cold and run.restore_ms is not None:
            platform_line(started, restore_start_line(config.runtime, version_arn))
            lines.extend(run.init_lines)
            platform_line(invoked, restore_report_line(run.restore_ms))
        elif run.cold:
            platform_line(started, init_start_line(config.runtime, version_arn))
            lines.extend(run.init_lines)
        if isinstance(outcome, InitFailed):
            lines.extend(outcome.lines)
            error_type = json.loads(outcome.payload).get("errorType", "Unknown")
            platform_line(now, f"INIT_REPORT Init Duration: {outcome.duration_ms:.2f} ms\tPhase: init\t"
                               f"Status: error\tError Type: {error_type}")
        platform_line(invoked, start_line(request_id, config.version))
        if not isinstance(outcome, InitFailed):
            lines.extend(outcome.lines)
        for text in trailing:
            platform_line(now, text)
        platform_line(now, end_line(request_id))
        init_ms = run.init_ms if run.cold and not isinstance(outcome, InitFailed) else None
        platform_line(now, report_line(request_id, duration, config.memory_size, run.max_memory_mb, init_ms,
                                       run.restore_ms if run.cold else None,
                                       run.billed_restore_ms if run.cold else None))
        if isinstance(outcome, TimedOut):
            platform_line(now, f"{_iso_now()} {request_id} Task timed out after {outcome.duration_ms / 1000:.2f} seconds")
        lines = _in_order(lines, platform)
        key = config.name
        if config.logging_config:     # LoggingConfig: JSON platform records, the SystemLogLevel, the LogGroup
            lines, key = _configured(config, lines, platform, outcome), log_group_key(config.log_group)
        self._logs.emit([LogRecord(key, config.version, run.stream, request_id, ts, text) for ts, text in lines])
        texts = [text for _, text in lines]
        tail = None
        if request.log_type == "Tail":
            tail = ("\n".join(texts) + "\n").encode()[-limits.LOG_TAIL_BYTES:].decode(errors="ignore")
        return InvocationResult(200, payload, config.version, request_id, function_error, tail, run.cold, texts)


    def _finish_warm(self, config: FunctionConfiguration, request: InvocationRequest, request_id: str, run: _Run,
                     outcome: Succeeded | FunctionFailed) -> InvocationResult:
        """``_finish`` for the common case, a warm environment that answered: START, the output,
        END and REPORT, built without intermediate objects."""
        now = _now_ms()
        duration = outcome.duration_ms
        texts = [start_line(request_id, config.version), *[text for _, text in outcome.lines], end_line(request_id),
                 report_line(request_id, duration, config.memory_size, run.max_memory_mb)]
        stamps = [now - int(duration), *[ts for ts, _ in outcome.lines], now, now]
        name, version, stream = config.name, config.version, run.stream
        self._logs.emit([LogRecord(name, version, stream, request_id, ts, text) for ts, text in zip(stamps, texts)])
        tail = None
        if request.log_type == "Tail":
            tail = ("\n".join(texts) + "\n").encode()[-limits.LOG_TAIL_BYTES:].decode(errors="ignore")
        error = None if isinstance(outcome, Succeeded) else "Unhandled"
        return InvocationResult(200, outcome.payload, version, request_id, error, tail, False, texts)

    def _restore_failed(self, config: FunctionConfiguration, request_id: str, run: _Run, outcome: RestoreFailed,
                        lines: list[LogLine], platform: set[int]) -> InvocationResult:
        """An after-restore hook raised or ran out of time: logged, then the Invoke fails, as on AWS."""
        now = _now_ms()
        platform.add(len(lines))
        lines.append(LogLine(int(now - outcome.duration_ms),
                             restore_start_line(config.runtime, self._arns.function(config.name, config.version))))
        lines.extend(outcome.lines)
        error_type = "SnapStartTimeoutException" if outcome.timed_out else "SnapStartException"
        if outcome.payload:
            error_type = json.loads(outcome.payload).get("errorType", error_type)
        platform.add(len(lines))
        lines.append(LogLine(now, restore_report_line(outcome.duration_ms, error_type)))
        lines = _in_order(lines, platform)
        self._logs.emit([LogRecord(config.name, config.version, run.stream, request_id, ts, text) for ts, text in lines])
        if outcome.timed_out:
            raise SnapStartTimeoutException("Lambda couldn't restore the snapshot within the timeout limit.")
        raise SnapStartException(
            "The afterRestore() runtime hook encountered an error. For more information, check the Amazon CloudWatch logs.")


def _failed_start_memory_mb(config: FunctionConfiguration, failure: Outcome) -> int:
    """REPORT's Max Memory Used when no environment started: what Init measured, the memory size
    when the kernel's OOM killer ended it, else (nothing measured) the memory size."""
    if isinstance(failure, InitFailed) and failure.max_memory_kb > 0:
        return min(-(-failure.max_memory_kb // 1024), config.memory_size)
    return config.memory_size


def _configured(config: FunctionConfiguration, lines: list[LogLine], platform: set[int],
                outcome: Outcome) -> list[LogLine]:
    """``lines`` as a function's LoggingConfig wants them: with ``LogFormat: JSON`` the platform's
    lines become Lambda's ``platform.*`` JSON records (END and, at SystemLogLevel WARN, all of them
    left out); the function's own lines are as its runtime wrote them."""
    if not config.log_json:
        return lines
    status = "success" if isinstance(outcome, Succeeded) else "timeout" if isinstance(outcome, TimedOut) \
        else "failure" if isinstance(outcome, Crashed) else "error"
    out = []
    for i, (ts, text) in enumerate(lines):
        if i in platform:
            converted = platform_json(text, ts, status, config.system_log_level)
            if converted is None:
                continue
            text = converted
        out.append(LogLine(ts, text))
    return out


def _in_order(lines: list[LogLine], platform: set[int]) -> list[LogLine]:
    """``lines`` with the platform's stamps moved, where needed, so that no line is stamped before
    the one above it: each platform line no later than the line after it (an INIT_START is not
    after Init's output), then no earlier than the line before it. The function's own lines keep
    the stamps they were read at."""
    stamps = [ts for ts, _ in lines]
    for i in range(len(stamps) - 2, -1, -1):
        if i in platform and stamps[i] > stamps[i + 1]:
            stamps[i] = stamps[i + 1]
    for i in range(1, len(stamps)):
        if i in platform and stamps[i] < stamps[i - 1]:
            stamps[i] = stamps[i - 1]
    return [LogLine(ts, text) for ts, (_, text) in zip(stamps, lines)]


def _result_of(outcome: Outcome, request_id: str) -> tuple[bytes, str | None, list[str]]:
    """(payload, FunctionError, extra log lines) for each way an invocation ends."""
    if isinstance(outcome, Succeeded):
        return outcome.payload, None, []
    if isinstance(outcome, (FunctionFailed, InitFailed)):
        return outcome.payload, "Unhandled", []
    if isinstance(outcome, TimedOut):
        message = f"RequestId: {request_id} Error: Task timed out after {outcome.duration_ms / 1000:.2f} seconds"
        return _doc("Sandbox.Timedout", message), "Unhandled", []
    assert isinstance(outcome, Crashed)
    error_type = "Runtime.OutOfMemory" if outcome.out_of_memory else "Runtime.ExitError"
    message = f"RequestId: {request_id} Error: Runtime exited with error: {outcome.reason}"
    return _doc(error_type, message), "Unhandled", [message, error_type]


def _doc(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
