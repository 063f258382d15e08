"""The Python runtime inside an execution environment.

Runs in the forked child after the sandbox is set up: Init (import the handler
module), then one invocation at a time over the channel socket, answering each
with a result frame. Mirrors AWS's Python runtime contract: the context object,
the error document, the ``Runtime.*`` init error types, and the log format of
the root logger. Standard library only.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import os
import resource
import socket
import sys
import time
import traceback
from typing import Any, Callable

from cumulo.runtime.inside import protocol

# The pid the supervisor knows this environment by, where ``os.getpid()`` is not it: in a pid
# namespace of its own, its init's pid on the host (set by the zygote or the template).
reported_pid: int | None = None

__all__ = ["LambdaContext", "run", "initialise", "init_error", "serve", "error_document", "maxrss_kb"]


class CognitoIdentity:
    def __init__(self, data: dict | None) -> None:
        data = data or {}
        self.cognito_identity_id = data.get("cognitoIdentityId") or data.get("cognito_identity_id")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId") or data.get("cognito_identity_pool_id")


class Client:
    def __init__(self, data: dict) -> None:
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")


class ClientContext:
    def __init__(self, data: dict) -> None:
        self.client = Client(data["client"]) if data.get("client") else None
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """The ``context`` argument, with the attributes AWS documents."""

    # set from ``environment_fields()`` (the same for every invocation of one environment)
    function_name: str
    function_version: str
    memory_limit_in_mb: str
    log_group_name: str
    log_stream_name: str

    def __init__(self, header: dict, fixed: dict[str, str] | None = None) -> None:
        self.aws_request_id: str = header["id"]
        self.invoked_function_arn: str = header["arn"]
        self.__dict__.update(fixed if fixed is not None else environment_fields())
        self.identity = CognitoIdentity(header.get("identity"))
        cc = header.get("client_context")
        self.client_context = ClientContext(cc) if isinstance(cc, dict) else None
        self.tenant_id = header.get("tenant_id")
        self._deadline_ms: int = header["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg: str) -> None:
        sys.stdout.write(msg)
        sys.stdout.flush()

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn}])")


def environment_fields() -> dict[str, str]:
    """The context's attributes that the environment's variables give (the same for every invocation
    of one environment: ``serve`` reads them once, not five ``os.environ`` lookups per invocation)."""
    env = os.environ
    return {"function_name": env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
            "function_version": env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            "memory_limit_in_mb": env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            "log_group_name": env.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
            "log_stream_name": env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")}


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


# LoggingConfig's ApplicationLogLevel names -> Python's levels (TRACE below DEBUG, FATAL is CRITICAL)
_LEVELS = {"TRACE": 5, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
           "WARNING": logging.WARNING, "ERROR": logging.ERROR, "FATAL": logging.CRITICAL,
           "CRITICAL": logging.CRITICAL}
# what a LogRecord always has: everything else on it was added (``extra=``) and goes into the JSON
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                                  "aws_request_id"}


def _json_logs() -> bool:
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


class _JsonFormatter(logging.Formatter):
    """``LogFormat: JSON``: one JSON object per record, with the fields Lambda's Python runtime
    writes (timestamp, level, message, logger, requestId; an exception's errorType, errorMessage,
    stackTrace and location) and whatever ``extra=`` added."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": {"WARNING": "WARN", "CRITICAL": "FATAL", "Level 5": "TRACE"}.get(record.levelname,
                                                                                      record.levelname),
            "message": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            doc.update(errorType=type(exc).__name__, errorMessage=str(exc),
                       stackTrace=traceback.format_tb(exc.__traceback__),
                       location=f"{record.pathname}:{record.funcName}:{record.lineno}")
        request_id = getattr(record, "aws_request_id", "")
        if request_id:
            doc["requestId"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in doc:
                doc[key] = value
        return json.dumps(doc, default=str, ensure_ascii=False) + "\n"


def _install_logging() -> _RequestIdFilter:
    """The root logger as AWS's Python runtime sets it up: tab-separated text, or JSON objects with
    ``LogFormat: JSON``; the level is ``AWS_LAMBDA_LOG_LEVEL`` (ApplicationLogLevel) when set."""
    handler = logging.StreamHandler(sys.stdout)
    if _json_logs():
        handler.setFormatter(_JsonFormatter())
    else:
        formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                                      "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    request_filter = _RequestIdFilter()
    handler.addFilter(request_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    root.setLevel(_LEVELS.get(level.upper(), logging.WARNING) if level else logging.WARNING)
    return request_filter


def error_document(exc: BaseException, request_id: str, error_type: str | None = None,
                   message: str | None = None, with_trace: bool = True) -> dict[str, Any]:
    frames = traceback.format_list(traceback.extract_tb(exc.__traceback__)) if with_trace else []
    return {
        "errorMessage": str(exc) if message is None else message,
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": frames,
    }


def _log_error(doc: dict[str, Any]) -> None:
    if _json_logs():     # as an ERROR record of the JSON format
        record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "ERROR",
                  "message": doc["errorMessage"], "logger": "root", "errorType": doc["errorType"],
                  "errorMessage": doc["errorMessage"], "stackTrace": doc["stackTrace"]}
        if doc.get("requestId"):
            record["requestId"] = doc["requestId"]
        sys.stdout.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    trace = "".join(doc["stackTrace"])
    sys.stdout.write(f"[ERROR] {doc['errorType']}: {doc['errorMessage']}\n"
                     + (f"Traceback (most recent call last):\n{trace}" if trace else ""))
    sys.stdout.flush()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def load_handler(handler: str) -> Callable[..., Any]:
    """Import the handler's module and find the function, as AWS's runtime does.

    Raises ``_InitError`` carrying AWS's error type for each way this fails.
    """
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as exc:
        raise _InitError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}", exc) from None
    modname = modname.replace("/", ".")
    if modname.startswith("__"):
        raise _InitError("Runtime.BuiltInModuleConflict",
                         f"Cannot use built-in module {modname} as a handler module", None)
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        raise _InitError("Runtime.ImportModuleError", f"Unable to import module '{modname}': {exc}", exc) from None
    except SyntaxError as exc:
        raise _InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {exc}", exc) from None
    fn = getattr(module, fname, None)
    if fn is None:
        raise _InitError("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'", None)
    return fn


class _InitError(Exception):
    def __init__(self, error_type: str, message: str, cause: BaseException | None) -> None:
        super().__init__(message)
        self.error_type, self.message, self.cause = error_type, message, cause


def maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run(chan: socket.socket, handler_name: str, max_response: int, init_started: float) -> None:
    """Init, report readiness, then serve invocations until the channel closes."""
    loaded = initialise(chan, handler_name)
    if loaded is None:
        return
    handler, request_filter = loaded
    init_ms = (time.perf_counter() - init_started) * 1000
    protocol.send(chan, {"op": "ready", "pid": os.getpid(), "init_ms": init_ms, "maxrss_kb": maxrss_kb()})
    serve(chan, handler, request_filter, max_response)


def initialise(chan: socket.socket, handler_name: str) -> tuple[Callable[..., Any], _RequestIdFilter] | None:
    """Send ``started``, then Init: the handler and the log filter, or None once ``init_error`` is sent."""
    request_filter = _install_logging()
    protocol.send(chan, {"op": "started", "pid": reported_pid or os.getpid()})
    try:
        handler = load_handler(handler_name)
    except _InitError as err:
        doc = {"errorMessage": err.message, "errorType": err.error_type, "requestId": "", "stackTrace": []}
        if err.cause is not None and err.error_type == "Runtime.UserCodeSyntaxError":
            doc["stackTrace"] = [f'  File "{getattr(err.cause, "filename", "")}" Line {getattr(err.cause, "lineno", "")}\n']
        init_error(chan, doc)
        return None
    except BaseException as exc:  # top-level code of the module raised
        if isinstance(exc, SystemExit):
            raise
        init_error(chan, error_document(exc, ""))
        return None
    return handler, request_filter


def init_error(chan: socket.socket, doc: dict[str, Any], op: str = "init_error") -> None:
    """Log the error document as AWS's runtime does and report it to the supervisor."""
    _log_error(doc)
    protocol.send(chan, {"op": op, "maxrss_kb": maxrss_kb()}, json.dumps(doc).encode())


def serve(chan: socket.socket, handler: Callable[..., Any], request_filter: _RequestIdFilter,
          max_response: int) -> None:
    """Serve invocations until the channel closes.

    An invocation whose header carries ``spin`` (microseconds) is followed by polling the channel
    without sleeping for that long before blocking. The supervisor asks for it when nothing else
    is in flight and the previous request came within that window (``Environment._spin_header``):
    a sleeping process is woken by an inter-processor interrupt, which on a virtual machine costs
    both sides tens of microseconds.
    """
    # One recv usually holds a whole request frame: read into a frame reader rather than
    # three exact-size reads (prefix, header, body), each a system call.
    reader = protocol.FrameReader(1 << 30)
    import select
    poller = select.poll()
    poller.register(chan, select.POLLIN)
    clock = time.perf_counter_ns
    spin_ns = answered = 0
    fixed = environment_fields()
    while True:
        data = None
        if spin_ns and not reader.pending:
            end = answered + spin_ns
            while True:
                try:
                    data = chan.recv(1 << 16, socket.MSG_DONTWAIT)
                    break
                except BlockingIOError:
                    if clock() >= end:
                        break
        if data is None:
            # A blocking recv is one system call where poll-then-recv is two; poll only if
            # someone made the channel non-blocking.
            size = 1 << 16 if reader.pending < 1 << 20 else 1 << 22
            try:
                data = chan.recv(size)
            except BlockingIOError:
                poller.poll()
                data = chan.recv(size)
        if not data:
            return
        spin_ns = 0
        for header, body in reader.feed(data):
            _invoke(chan, handler, header, body, request_filter, max_response, fixed)
            spin_ns = header.get("spin", 0) * 1000
            answered = clock()


def _invoke(chan: socket.socket, handler: Callable[..., Any], header: dict, body: bytes,
            request_filter: _RequestIdFilter, max_response: int, fixed: dict[str, str] | None = None) -> None:
    request_id = header["id"]
    request_filter.request_id = request_id
    os.environ["_X_AMZN_TRACE_ID"] = header.get("trace_id", "")
    try:
        event = json.loads(body) if body.strip() else {}
    except ValueError as exc:
        protocol.send(chan, {"op": "invalid_payload", "maxrss_kb": maxrss_kb()}, str(exc).encode())
        return
    context = LambdaContext(header, fixed)
    status, payload = "ok", b""
    try:
        result = handler(event, context)
    except Exception as exc:
        doc = error_document(exc, request_id)
        _log_error(doc)
        status, payload = "error", json.dumps(doc).encode()
    else:
        try:
            payload = json.dumps(result, default=_json_default).encode()
        except (TypeError, ValueError, RecursionError) as exc:
            doc = {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError",
                   "requestId": request_id, "stackTrace": []}
            _log_error(doc)
            status, payload = "error", json.dumps(doc).encode()
        else:
            if len(payload) > max_response:
                doc = {"errorMessage": f"Response payload size exceeded maximum allowed payload size ({max_response + 100} bytes).",
                       "errorType": "Function.ResponseSizeTooLarge"}
                status, payload = "error", json.dumps(doc).encode()
    sys.stdout.flush()
    sys.stderr.flush()
    # The result frame's header, written without the JSON encoder: its fields are ours and fixed.
    head = b'{"op":"result","status":"%s","maxrss_kb":%d}' % (status.encode(), maxrss_kb())
    chan.sendall(protocol.PREFIX.pack(len(head), len(payload)) + head + payload)
