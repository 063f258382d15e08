"""Runtimes of other languages through the Lambda Runtime API: real processes, real HTTP.

Node.js handlers run on our bootstrap (cumulo/runtime/inside/node/bootstrap.js); custom runtimes
(``provided.al2023``) are the function's own ``bootstrap``: bash with curl, a C program, AWS's
Python runtime client, and a raw-socket Python prober that exercises every error path of the API.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Callable

import pytest

from cumulo import Cumulo
from cumulo.config import Settings
from tests.integration import envid

CodeDir = Callable[..., Path]


@pytest.fixture
def code_dir(tmp_path: Path) -> CodeDir:
    """``code_dir(**{"index.js": "...", "bootstrap": "..."})``: files as given; ``bootstrap`` executable."""
    counter = iter(range(10_000))

    def make(**files: str) -> Path:
        folder = tmp_path / f"fn{next(counter)}"
        folder.mkdir()
        for name, text in files.items():
            path = folder / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
            if name == "bootstrap":
                path.chmod(0o755)
        return folder

    return make


def _fn(cumulo: Cumulo, folder: Path, runtime: str, handler: str = "index.handler", **options: object) -> str:
    name = f"f{abs(hash((str(folder), runtime))) % 10**8}"
    cumulo.create_function(name, folder, handler, runtime=runtime, **options)
    return name


def _report(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("REPORT"))


def _timed_out_after(message: str, timeout_s: float) -> None:
    """AWS prints the measured time ("Task timed out after 3.01 seconds"): its form, and a value
    at the timeout or a little past it (the killing thread may wake late on a busy machine)."""
    m = re.search(r"Task timed out after (\d+\.\d\d) seconds", message)
    assert m, message
    assert timeout_s <= float(m.group(1)) < timeout_s + 1.0, message


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


# -- Node.js ------------------------------------------------------------------------------
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="[node] Node.js is not installed")

CONTEXT_JS = """
    let count = 0;
    exports.handler = async (event, context) => {
      count += 1;
      console.log("line one\\nline two", { count });
      return {
        count, event, envid: ENVID,
        context: {
          functionName: context.functionName, functionVersion: context.functionVersion,
          invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
          awsRequestId: context.awsRequestId, logGroupName: context.logGroupName,
          logStreamName: context.logStreamName, remaining: context.getRemainingTimeInMillis(),
          waits: context.callbackWaitsForEmptyEventLoop, identity: context.identity || null,
          clientContext: context.clientContext || null,
          kinds: [typeof context.done, typeof context.succeed, typeof context.fail],
        },
        env: {
          exec: process.env.AWS_EXECUTION_ENV, runtimeDir: process.env.LAMBDA_RUNTIME_DIR,
          api: process.env.AWS_LAMBDA_RUNTIME_API, handler: process.env._HANDLER,
          trace: process.env._X_AMZN_TRACE_ID || null, taskRoot: process.env.LAMBDA_TASK_ROOT,
          bootstrapThere: require('fs').existsSync(require('path').join(process.env.LAMBDA_RUNTIME_DIR, 'bootstrap.js')),
        },
      };
    };
""".replace("ENVID", envid.NODE)


@needs_node
def test_node_commonjs_async_handler_gets_aws_context_and_environment(cumulo: Cumulo, code_dir: CodeDir) -> None:
    name = _fn(cumulo, code_dir(**{"index.js": CONTEXT_JS}), "nodejs20.x", memory_size=256, timeout=7)
    result = cumulo.invoke(name, b'{"hello": "node"}', client_context={"custom": {"k": "v"}},
                           identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
    assert result.function_error is None, result.payload
    body = result.json()
    ctx = body["context"]
    assert body["event"] == {"hello": "node"} and body["count"] == 1
    assert ctx["functionName"] == name and ctx["functionVersion"] == "$LATEST"
    assert ctx["invokedFunctionArn"].endswith(f":function:{name}")
    assert ctx["memoryLimitInMB"] == "256" and ctx["awsRequestId"] == result.request_id
    assert ctx["logGroupName"] == f"/aws/lambda/{name}" and "[$LATEST]" in ctx["logStreamName"]
    assert 5000 < ctx["remaining"] <= 7000 and ctx["waits"] is True
    assert ctx["kinds"] == ["function"] * 3
    assert ctx["clientContext"] == {"custom": {"k": "v"}}
    assert ctx["identity"] == {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    env = body["env"]
    assert env["exec"] == "AWS_Lambda_nodejs20.x" and env["handler"] == "index.handler"
    assert env["bootstrapThere"] is True
    if cumulo.sandbox.level.value == "namespace":
        assert env["runtimeDir"] == "/var/runtime" and env["taskRoot"] == "/var/task"
    host, port = env["api"].split(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert env["trace"].startswith("Root=")
    # console lines as AWS's Node.js runtime writes them: one line per call, newlines as \r
    line = next(l for l in result.log_lines if "\tINFO\t" in l)
    stamp, rid, level, message = line.split("\t")
    assert stamp.endswith("Z") and rid == result.request_id and level == "INFO"
    assert message == "line one\rline two { count: 1 }"
    assert "Init Duration: " in _report(result.log_lines)


@needs_node
def test_node_environment_is_reused_warm(cumulo: Cumulo, code_dir: CodeDir) -> None:
    name = _fn(cumulo, code_dir(**{"index.js": CONTEXT_JS}), "nodejs20.x")
    first, second = cumulo.invoke(name, b"{}"), cumulo.invoke(name, b'{"n": 2}')
    assert first.cold_start and not second.cold_start
    assert second.json()["count"] == 2 and first.json()["envid"] == second.json()["envid"]
    assert "Init Duration" not in _report(second.log_lines)
    lines = second.log_lines
    start = lines.index(f"START RequestId: {second.request_id} Version: $LATEST")
    assert lines[-2] == f"END RequestId: {second.request_id}" and lines[-1].startswith("REPORT")
    assert any("\tINFO\t" in l for l in lines[start:])


@needs_node
@pytest.mark.parametrize("files", [
    {"index.mjs": "export const handler = async (event) => ({ esm: true, event, url: import.meta.url.startsWith('file:') });"},
    {"package.json": '{"type": "module"}',
     "index.js": "export async function handler(event) { return { esm: true, event, url: import.meta.url.startsWith('file:') }; }"},
], ids=["mjs", "type-module"])
def test_node_es_module_handlers(cumulo: Cumulo, code_dir: CodeDir, files: dict[str, str]) -> None:
    name = _fn(cumulo, code_dir(**files), "nodejs20.x")
    assert cumulo.invoke(name, b'{"x": 1}').json() == {"esm": True, "event": {"x": 1}, "url": True}


@needs_node
def test_node_handler_in_a_subfolder_with_a_nested_name(cumulo: Cumulo, code_dir: CodeDir) -> None:
    folder = code_dir(**{"src__app.js": "exports.api = { handle: async () => 'nested' };"})
    assert cumulo.invoke(_fn(cumulo, folder, "nodejs20.x", handler="src/app.api.handle")).json() == "nested"


@needs_node
def test_node_callback_handler_waits_for_the_event_loop_unless_told_not_to(cumulo: Cumulo, code_dir: CodeDir) -> None:
    folder = code_dir(**{"index.js": """
        let side = [];
        exports.handler = (event, context, callback) => {
          context.callbackWaitsForEmptyEventLoop = event.wait;
          side = ["called"];
          setTimeout(() => side.push("timer ran"), 150);
          callback(null, { side, wait: event.wait });
        };
    """})
    name = _fn(cumulo, folder, "nodejs20.x")
    waited = cumulo.invoke(name, b'{"wait": true}')
    assert waited.json() == {"side": ["called", "timer ran"], "wait": True}
    assert float(_report(waited.log_lines).split("Duration: ")[1].split(" ms")[0]) >= 140
    eager = cumulo.invoke(name, b'{"wait": false}')
    assert eager.json() == {"side": ["called"], "wait": False}


@needs_node
@pytest.mark.parametrize(("body", "expected"), [
    ("context.succeed({ via: 'succeed' })", {"via": "succeed"}),
    ("context.done(null, { via: 'done' })", {"via": "done"}),
    ("setTimeout(() => callback(null, 'later'), 20)", "later"),
])
def test_node_legacy_context_methods_and_late_callbacks(cumulo: Cumulo, code_dir: CodeDir, body: str,
                                                       expected: object) -> None:
    folder = code_dir(**{"index.js": f"exports.handler = (event, context, callback) => {{ {body}; }};"})
    result = cumulo.invoke(_fn(cumulo, folder, "nodejs20.x"))
    assert result.function_error is None and result.json() == expected


@needs_node
@pytest.mark.parametrize(("body", "error_type", "message"), [
    ("async () => { throw new TypeError('bad input'); }", "TypeError", "bad input"),
    ("(e, c, cb) => cb(new RangeError('out of range'))", "RangeError", "out of range"),
    ("(e, c, cb) => cb('just a string')", "string", "just a string"),
    ("(e, context) => context.fail(new Error('failed'))", "Error", "failed"),
    ("async () => Promise.reject(new SyntaxError('rejected'))", "SyntaxError", "rejected"),
])
def test_node_errors_reach_the_caller_as_aws_documents(cumulo: Cumulo, code_dir: CodeDir, body: str,
                                                      error_type: str, message: str) -> None:
    name = _fn(cumulo, code_dir(**{"index.js": f"exports.handler = {body};"}), "nodejs20.x")
    result = cumulo.invoke(name)
    assert result.function_error == "Unhandled"
    doc = result.json()
    assert doc["errorType"] == error_type and doc["errorMessage"] == message
    assert isinstance(doc["trace"], list)
    if error_type != "string":
        assert doc["trace"][0] == f"{error_type}: {message}"
    assert any("\tERROR\tInvoke Error \t" in l for l in result.log_lines)
    assert cumulo.invoke(name).function_error == "Unhandled"   # the environment survives a handled error


@needs_node
@pytest.mark.parametrize(("files", "handler", "error_type", "message"), [
    ({"index.js": "exports.other = 1;"}, "index.handler", "Runtime.HandlerNotFound",
     "index.handler is undefined or not exported"),
    ({"index.js": "exports.handler = 1;"}, "missing.handler", "Runtime.ImportModuleError",
     "Error: Cannot find module 'missing'"),
    ({"index.js": "exports.handler = async () => 1;"}, "nodots", "Runtime.MalformedHandlerName", "Bad handler"),
    ({"index.js": "this is not javascript"}, "index.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: "),
    ({"index.js": "throw new Error('top level');"}, "index.handler", "Error", "top level"),
])
def test_node_init_errors(cumulo: Cumulo, code_dir: CodeDir, files: dict[str, str], handler: str,
                          error_type: str, message: str) -> None:
    name = _fn(cumulo, code_dir(**files), "nodejs20.x", handler=handler)
    result = cumulo.invoke(name)
    assert result.function_error == "Unhandled"
    doc = result.json()
    assert doc["errorType"] == error_type and doc["errorMessage"].startswith(message)
    report = next(l for l in result.log_lines if l.startswith("INIT_REPORT"))
    assert f"Status: error\tError Type: {error_type}" in report
    assert any("INIT_ERROR" in l for l in result.log_lines)


@needs_node
def test_node_timeout_kills_the_environment_and_the_next_call_is_cold(cumulo: Cumulo, code_dir: CodeDir) -> None:
    folder = code_dir(**{"index.js": """
        exports.handler = async (event) => {
          if (event.hang) await new Promise(() => setInterval(() => {}, 1000));
          return ENVID;
        };
    """.replace("ENVID", envid.NODE)})
    name = _fn(cumulo, folder, "nodejs20.x", timeout=1)
    env = cumulo.invoke(name).json()
    pid = envid.host_pid(env)
    assert pid is not None
    result = cumulo.invoke(name, b'{"hang": true}')
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Sandbox.Timedout"
    _timed_out_after(result.json()["errorMessage"], 1.0)
    _timed_out_after(next(l for l in result.log_lines if "Task timed out" in l), 1.0)
    assert not _alive(pid)     # the platform answers once the process is reaped
    after = cumulo.invoke(name)
    assert after.cold_start and after.json() != env


@needs_node
def test_node_process_exit_mid_invoke_is_runtime_exit_error(cumulo: Cumulo, code_dir: CodeDir) -> None:
    folder = code_dir(**{"index.js": "exports.handler = async (e) => { if (e.exit) process.exit(3); return ENVID; };"
                                     .replace("ENVID", envid.NODE)})
    name = _fn(cumulo, folder, "nodejs20.x")
    env = cumulo.invoke(name).json()
    pid = envid.host_pid(env)
    assert pid is not None
    result = cumulo.invoke(name, b'{"exit": true}')
    doc = result.json()
    assert result.function_error == "Unhandled" and doc["errorType"] == "Runtime.ExitError"
    assert doc["errorMessage"] == f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 3"
    assert "Runtime.ExitError" in result.log_lines
    assert not _alive(pid)
    after = cumulo.invoke(name)
    assert after.cold_start and after.json() != env


@needs_node
def test_node_uncaught_exception_fails_the_invocation_and_the_environment(cumulo: Cumulo, code_dir: CodeDir) -> None:
    folder = code_dir(**{"index.js": """
        exports.handler = (e, c, cb) => { setTimeout(() => { throw new Error('async boom'); }, 5); };
    """})
    result = cumulo.invoke(_fn(cumulo, folder, "nodejs20.x"))
    assert result.function_error == "Unhandled"
    assert result.json()["errorMessage"] == "async boom"


def test_get_function_reports_the_runtime_version(cumulo: Cumulo, code_dir: CodeDir) -> None:
    folder = code_dir(bootstrap="#!/bin/sh\nexit 0\n")
    doc = cumulo.get_function(_fn(cumulo, folder, "provided.al2023"))["Configuration"]
    assert doc["Runtime"] == "provided.al2023"
    assert doc["RuntimeVersionConfig"]["RuntimeVersionArn"].startswith("arn:aws:lambda:us-east-1::runtime:")


# -- custom runtimes: bash + curl, C ------------------------------------------------------
BASH_BOOTSTRAP = """
    #!/bin/bash
    set -euo pipefail
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    ENVID="SHELL_ENVID"
    echo "bash runtime starting; exec env: ${AWS_EXECUTION_ENV:-none}; runtime dir: ${LAMBDA_RUNTIME_DIR}"
    while true; do
      HEADERS="$(mktemp)"
      EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
      ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
      DEADLINE="$(grep -Fi Lambda-Runtime-Deadline-Ms "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
      echo "handling $ID"
      if [ "$EVENT" = '{"exit": 7}' ]; then exit 7; fi
      if [ "$EVENT" = '{"segv": true}' ]; then kill -SEGV $$; fi
      if [ "$EVENT" = '{"sleep": true}' ]; then sleep 30; fi
      curl -sS -o /dev/null "$API/invocation/$ID/response" \
        -d "{\\"event\\": $EVENT, \\"env\\": \\"$ENVID\\", \\"deadline\\": $DEADLINE, \\"handler\\": \\"$_HANDLER\\", \\"exec\\": \\"${AWS_EXECUTION_ENV:-}\\"}"
    done
""".replace("SHELL_ENVID", envid.SHELL)


@pytest.mark.skipif(shutil.which("curl") is None, reason="[curl] curl is not installed")
def test_bash_and_curl_bootstrap(cumulo: Cumulo, code_dir: CodeDir) -> None:
    name = _fn(cumulo, code_dir(bootstrap=BASH_BOOTSTRAP), "provided.al2023", handler="function.handler")
    first = cumulo.invoke(name, b'{"a": 1}')
    assert first.function_error is None, first.payload
    body = first.json()
    assert body["event"] == {"a": 1} and body["handler"] == "function.handler"
    assert body["exec"] == ""                               # AWS sets no AWS_EXECUTION_ENV for provided
    assert body["deadline"] > time.time() * 1000
    assert "bash runtime starting; exec env: none; runtime dir: /var/runtime" in first.log_lines
    assert f"handling {first.request_id}" in first.log_lines
    second = cumulo.invoke(name, b'{"a": 2}')
    assert not second.cold_start and second.json()["env"] == body["env"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="[curl] curl is not installed")
def test_bootstrap_exit_crash_and_timeout_are_handled_like_python(cumulo: Cumulo, code_dir: CodeDir) -> None:
    name = _fn(cumulo, code_dir(bootstrap=BASH_BOOTSTRAP), "provided.al2023", timeout=1)
    env = cumulo.invoke(name).json()["env"]
    pid = envid.host_pid(env)
    assert pid is not None
    exited = cumulo.invoke(name, b'{"exit": 7}')
    assert exited.json()["errorType"] == "Runtime.ExitError"
    assert exited.json()["errorMessage"].endswith("Runtime exited with error: exit status 7")
    assert not _alive(pid)
    crashed = cumulo.invoke(name, b'{"segv": true}')
    assert crashed.cold_start
    assert crashed.json()["errorMessage"].endswith("Runtime exited with error: signal: segmentation fault")
    after_crash = cumulo.invoke(name).json()["env"]       # a fresh environment after each
    assert after_crash != env
    slow = cumulo.invoke(name, b'{"sleep": true}')
    assert slow.json()["errorType"] == "Sandbox.Timedout"
    assert slow.json()["errorMessage"].startswith(f"RequestId: {slow.request_id} Error: Task timed out after ")
    _timed_out_after(slow.json()["errorMessage"], 1.0)
    ok = cumulo.invoke(name)
    assert ok.cold_start and ok.function_error is None and ok.json()["env"] not in (env, after_crash)


C_BOOTSTRAP = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int dial(void) {
    char api[64]; strncpy(api, getenv("AWS_LAMBDA_RUNTIME_API"), sizeof api - 1); api[63] = 0;
    char *colon = strchr(api, ':'); *colon = 0;
    struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(atoi(colon + 1));
    inet_pton(AF_INET, api, &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); exit(2); }
    return s;
}

/* read one HTTP response: its head into head, its body (Content-Length) into a malloc'd buffer */
static char *read_reply(int s, char *head, size_t cap, long *len) {
    size_t got = 0; char *end = NULL;
    while (!(end = strstr(head, "\r\n\r\n"))) {
        ssize_t n = read(s, head + got, cap - 1 - got); if (n <= 0) exit(3);
        got += n; head[got] = 0;
    }
    size_t head_len = end + 4 - head; *len = 0;
    for (char *p = head; p < end; p = strstr(p, "\r\n") + 2)
        if (!strncasecmp(p, "Content-Length:", 15)) *len = atol(p + 15);
    char *body = malloc(*len + 1); size_t have = got - head_len;
    memcpy(body, head + head_len, have);
    while ((long)have < *len) { ssize_t n = read(s, body + have, *len - have); if (n <= 0) exit(4); have += n; }
    body[*len] = 0; *end = 0;
    return body;
}

ENVID_C

int main(void) {
    printf("c runtime up\n"); fflush(stdout);
    int s = dial();
    char head[8192], id[128], req[1024];
    for (;;) {
        const char *next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
        write(s, next, strlen(next));
        memset(head, 0, sizeof head);
        long len; char *event = read_reply(s, head, sizeof head, &len);
        char *h = strcasestr(head, "Lambda-Runtime-Aws-Request-Id:") + 30;
        while (*h == ' ') h++;
        size_t n = strcspn(h, "\r\n"); memcpy(id, h, n); id[n] = 0;
        char *out = malloc(len + 64);
        int out_len = sprintf(out, "{\"from\": \"c\", \"env\": \"%s\", \"event\": %s}", envid(), event);
        int req_len = snprintf(req, sizeof req, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\n"
                               "Host: x\r\nContent-Length: %d\r\n\r\n", id, out_len);
        write(s, req, req_len); write(s, out, out_len);
        memset(head, 0, sizeof head);
        long ack_len; free(read_reply(s, head, sizeof head, &ack_len));
        free(event); free(out);
    }
}
""".replace("ENVID_C", envid.C)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="[gcc] gcc is not installed")
def test_compiled_c_bootstrap(cumulo: Cumulo, code_dir: CodeDir, tmp_path: Path) -> None:
    source = tmp_path / "bootstrap.c"
    source.write_text(C_BOOTSTRAP)
    folder = code_dir()
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-Wno-unused-result", "-o", str(folder / "bootstrap"), str(source)], check=True)
    name = _fn(cumulo, folder, "provided.al2023", handler="unused")
    first = cumulo.invoke(name, b'{"n": 1}')
    assert first.function_error is None, first.payload
    assert first.json()["from"] == "c" and first.json()["event"] == {"n": 1}
    assert "c runtime up" in first.log_lines
    second = cumulo.invoke(name, b'{"n": 2}')
    assert second.json()["env"] == first.json()["env"] and not second.cold_start


def test_missing_or_unrunnable_bootstrap_is_an_invalid_entrypoint(cumulo: Cumulo, code_dir: CodeDir) -> None:
    missing = cumulo.invoke(_fn(cumulo, code_dir(**{"README": "no bootstrap here"}), "provided.al2023"))
    doc = missing.json()
    assert missing.function_error == "Unhandled" and doc["errorType"] == "Runtime.InvalidEntrypoint"
    assert doc["errorMessage"].startswith("Couldn't find valid bootstrap(s): [")
    folder = code_dir(**{"bootstrap": "echo hi"})
    (folder / "bootstrap").chmod(0o644)
    denied = cumulo.invoke(_fn(cumulo, folder, "provided.al2023"))
    assert denied.json()["errorType"] == "Runtime.InvalidEntrypoint"
    assert denied.json()["errorMessage"].endswith("bootstrap: permission denied")


# -- every error path of the API, seen from a raw-socket runtime -----------------------
# The interpreter itself, not a virtualenv's link to it: a venv under /tmp (a CI checkout) is out of
# an environment's sight once its private /tmp is mounted, and these bootstraps need only the stdlib.
HOST_PYTHON = os.path.realpath(sys.executable)

PROBE = """
    #!{python} -IS
    import json, os, socket, sys
    HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    BASE = "/2018-06-01/runtime"
    MODE = os.environ.get("MODE", "")

    def exchange(raw):
        s = socket.create_connection((HOST, int(PORT)))
        s.sendall(raw)
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return 0, {{}}, b""
            data += chunk
        head, _, body = data.partition(b"\\r\\n\\r\\n")
        lines = head.decode().split("\\r\\n")
        headers = dict(l.split(": ", 1) for l in lines[1:])
        length = int(headers.get("Content-Length", 0))
        while len(body) < length:
            body += s.recv(65536)
        s.close()
        return int(lines[0].split()[1]), headers, body

    def call(method, path, body=b"", headers=()):
        extra = "".join(f"{{k}}: {{v}}\\r\\n" for k, v in headers)
        raw = f"{{method}} {{BASE}}{{path}} HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: {{len(body)}}\\r\\n{{extra}}\\r\\n"
        return exchange(raw.encode() + body)

    def answer(status, body):
        return {{"status": status, "body": json.loads(body) if body else None}}

    if MODE == "init-error":
        call("POST", "/init/error", b'{{"errorType": "Custom.Boom", "errorMessage": "cannot start"}}',
             [("Lambda-Runtime-Function-Error-Type", "Custom.Boom")])
        sys.exit(1)
    if MODE == "init-error-text":
        call("POST", "/init/error", b"plain words", [("Lambda-Runtime-Function-Error-Type", "Custom.Text")])
        sys.exit(1)
    if MODE == "init-crash":
        print("dying during init", flush=True)
        sys.exit(5)
    if MODE == "never-next":
        import time
        time.sleep(60)

    notes = {{}}
    while True:
        status, headers, event = call("GET", "/invocation/next")
        rid = headers["Lambda-Runtime-Aws-Request-Id"]
        request = json.loads(event)
        what = request.get("do") if isinstance(request, dict) else None
        if what == "probe":
            notes["wrong_id"] = answer(*call("POST", "/invocation/not-a-request/response", b"{{}}")[::2])
            notes["unknown_path"] = call("GET", "/nothing/here")[0]
            notes["wrong_method"] = call("POST", "/invocation/next")[0]
            notes["garbage"] = exchange(b"THIS IS NOT HTTP\\r\\n\\r\\n")[0]
            notes["bad_chunk"] = exchange(f"POST {{BASE}}/invocation/{{rid}}/response HTTP/1.1\\r\\nHost: x\\r\\n"
                                          "Transfer-Encoding: chunked\\r\\n\\r\\nzz\\r\\n".encode())[0]
            notes["late_init_error"] = call("POST", "/init/error", b"{{}}")[0]
            body = json.dumps({{"notes": notes, "headers": headers}}).encode()
            chunked = f"POST {{BASE}}/invocation/{{rid}}/response HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
            raw = chunked.encode() + b"".join(b"%x\\r\\n%s\\r\\n" % (len(p), p) for p in (body[:7], body[7:])) + b"0\\r\\n\\r\\n"
            notes["chunked_response"] = exchange(raw)[0]
        elif what == "twice":
            notes["first"] = call("POST", f"/invocation/{{rid}}/response", b'"first"')[0]
            notes["second"] = answer(*call("POST", f"/invocation/{{rid}}/response", b'"second"')[::2])
            notes["error_after"] = call("POST", f"/invocation/{{rid}}/error", b"{{}}")[0]
        elif what == "huge":
            notes["huge"] = answer(*call("POST", f"/invocation/{{rid}}/response", b'"' + b"x" * (6 * 1024 * 1024) + b'"')[::2])
        elif what == "error-json":
            call("POST", f"/invocation/{{rid}}/error", b'{{"errorType": "Mine", "errorMessage": "posted", "stackTrace": ["a"]}}',
                 [("Lambda-Runtime-Function-Error-Type", "Mine")])
        elif what == "error-text":
            call("POST", f"/invocation/{{rid}}/error", b"<html>not json</html>",
                 [("Lambda-Runtime-Function-Error-Type", "Runtime.Custom")])
        elif what == "stop":
            call("POST", f"/invocation/{{rid}}/response", b'"bye"')
            import time
            time.sleep(60)
        else:
            call("POST", f"/invocation/{{rid}}/response", json.dumps({{"notes": notes, "env": ENVID}}).encode())
"""


@pytest.fixture
def probe(cumulo: Cumulo, code_dir: CodeDir) -> Callable[..., str]:
    return lambda mode="", **options: _probe(cumulo, code_dir, mode, **options)


def _probe(cumulo: Cumulo, code_dir: CodeDir, mode: str = "", **options: object) -> str:
    folder = code_dir(bootstrap=PROBE.replace("{python}", HOST_PYTHON).replace("{{", "{").replace("}}", "}")
                      .replace("ENVID", envid.PYTHON))
    return _fn(cumulo, folder, "provided.al2023", environment={"MODE": mode} if mode else {}, **options)


def test_api_answers_wrong_ids_bad_paths_and_malformed_http_as_aws_does(cumulo: Cumulo, probe: Callable[..., str]) -> None:
    name = probe()
    result = cumulo.invoke(name, b'{"do": "probe"}', client_context={"a": 1})
    assert result.function_error is None, result.payload
    notes, headers = result.json()["notes"], result.json()["headers"]
    assert notes["wrong_id"] == {"status": 400, "body": {"errorMessage": "Invalid request ID",
                                                          "errorType": "InvalidRequestID"}}
    assert notes["unknown_path"] == 404 and notes["wrong_method"] == 405
    assert notes["garbage"] == 400 and notes["bad_chunk"] == 400
    assert notes["late_init_error"] == 403
    assert headers["Lambda-Runtime-Aws-Request-Id"] == result.request_id
    assert headers["Lambda-Runtime-Invoked-Function-Arn"].endswith(f":function:{name}")
    assert int(headers["Lambda-Runtime-Deadline-Ms"]) > time.time() * 1000
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")
    assert json.loads(headers["Lambda-Runtime-Client-Context"]) == {"a": 1}
    assert "Lambda-Runtime-Cognito-Identity" not in headers
    later = cumulo.invoke(name)
    assert later.json()["notes"]["chunked_response"] == 202


def test_a_second_response_is_refused_and_the_first_one_counts(cumulo: Cumulo, probe: Callable[..., str]) -> None:
    name = probe()
    assert cumulo.invoke(name, b'{"do": "twice"}').json() == "first"
    notes = cumulo.invoke(name).json()["notes"]
    assert notes["first"] == 202
    assert notes["second"]["status"] == 403 and notes["second"]["body"]["errorType"] == "InvalidStateTransition"
    assert notes["error_after"] == 403


def test_a_response_over_6_mb_is_413_to_the_runtime_and_an_error_to_the_caller(cumulo: Cumulo,
                                                                                probe: Callable[..., str]) -> None:
    name = probe()
    result = cumulo.invoke(name, b'{"do": "huge"}')
    assert result.function_error == "Unhandled"
    assert result.json() == {"errorMessage": "Response payload size exceeded maximum allowed payload size "
                                             "(6291556 bytes).", "errorType": "Function.ResponseSizeTooLarge"}
    after = cumulo.invoke(name)
    assert not after.cold_start and after.json()["notes"]["huge"]["status"] == 413


def test_posted_errors_reach_the_caller(cumulo: Cumulo, probe: Callable[..., str]) -> None:
    name = probe()
    posted = cumulo.invoke(name, b'{"do": "error-json"}')
    assert posted.function_error == "Unhandled"
    assert posted.json() == {"errorType": "Mine", "errorMessage": "posted", "stackTrace": ["a"]}
    text = cumulo.invoke(name, b'{"do": "error-text"}')
    assert text.json() == {"errorType": "Runtime.Custom", "errorMessage": "<html>not json</html>"}
    assert not text.cold_start


def test_invalid_json_payload_is_refused_before_the_runtime(cumulo: Cumulo, probe: Callable[..., str]) -> None:
    from cumulo.errors import InvalidRequestContentException

    name = probe()
    with pytest.raises(InvalidRequestContentException):
        cumulo.invoke(name, b"{not json")
    assert cumulo.invoke(name).function_error is None


@pytest.mark.parametrize(("mode", "error_type", "message"), [
    ("init-error", "Custom.Boom", "cannot start"),
    ("init-error-text", "Custom.Text", "plain words"),
])
def test_init_error_posted_by_the_runtime(cumulo: Cumulo, probe: Callable[..., str], mode: str, error_type: str,
                                          message: str) -> None:
    result = cumulo.invoke(probe(mode))
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == error_type and result.json()["errorMessage"] == message
    assert any(l.startswith("INIT_REPORT") and f"Error Type: {error_type}" in l for l in result.log_lines)


def test_runtime_exiting_during_init(cumulo: Cumulo, probe: Callable[..., str]) -> None:
    result = cumulo.invoke(probe("init-crash"))
    assert result.json()["errorType"] == "Runtime.ExitError"
    assert result.json()["errorMessage"].endswith("Runtime exited with error: exit status 5")
    assert "dying during init" in result.log_lines


def test_runtime_that_stops_asking_for_next_times_out(cumulo: Cumulo, probe: Callable[..., str]) -> None:
    name = probe(timeout=1)
    assert cumulo.invoke(name, b'{"do": "stop"}').json() == "bye"
    stuck = cumulo.invoke(name)
    assert stuck.json()["errorType"] == "Sandbox.Timedout"
    fresh = cumulo.invoke(name)
    assert fresh.cold_start and fresh.function_error is None


def test_runtime_that_never_calls_next_hits_the_init_timeout(home: Path, code_dir: CodeDir) -> None:
    # The Init timeout is Settings.init_timeout_s (AWS's 10 s unless set): the same path, a shorter wait.
    assert Settings().init_timeout_s == 10.0
    with Cumulo(home=home, init_timeout_s=1.5) as c:
        name = _probe(c, code_dir, "never-next")
        started = time.monotonic()
        result = c.invoke(name)
        assert 1.5 <= time.monotonic() - started < 6
    assert result.function_error == "Unhandled"
    assert result.json()["errorType"] == "Sandbox.Timedout"


# -- AWS's own runtime clients ------------------------------------------------------------
@pytest.fixture(scope="module")
def awslambdaric_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ric")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "awslambdaric"],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.skip(f"[runtime-clients] awslambdaric cannot be installed here: {done.stderr[-300:]}")
    return target


def test_python_function_on_awslambdaric_runs_unchanged(cumulo: Cumulo, code_dir: CodeDir,
                                                        awslambdaric_dir: Path) -> None:
    folder = code_dir(**{
        "app.py": """
            import os
            count = 0
            def handler(event, context):
                global count
                count += 1
                print("ric handler", context.aws_request_id)
                if event.get("fail"):
                    raise ValueError("ric failure")
                return {"count": count, "event": event, "env": ENVID, "fn": context.function_name,
                        "remaining": context.get_remaining_time_in_millis() > 0}
        """.replace("ENVID", envid.PYTHON),
        "bootstrap": f"#!/bin/sh\nexec {HOST_PYTHON} -m awslambdaric app.handler\n",
    })
    shutil.copytree(awslambdaric_dir, folder, dirs_exist_ok=True)
    name = _fn(cumulo, folder, "provided.al2023", handler="app.handler")
    first = cumulo.invoke(name, b'{"x": 1}')
    assert first.function_error is None, first.payload
    assert first.json()["event"] == {"x": 1} and first.json()["fn"] == name and first.json()["remaining"]
    second = cumulo.invoke(name, b"{}")
    assert second.json()["count"] == 2 and second.json()["env"] == first.json()["env"]
    failed = cumulo.invoke(name, b'{"fail": true}')
    assert failed.function_error == "Unhandled"
    assert failed.json()["errorType"] == "ValueError" and failed.json()["errorMessage"] == "ric failure"
    assert any("ric handler" in l for l in first.log_lines)


# -- the sandbox is the Python environments' one ------------------------------------------
SANDBOX_BOOTSTRAP = """
    #!/bin/bash
    API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    while true; do
      HEADERS="$(mktemp)"
      curl -sS -o /dev/null -D "$HEADERS" "$API/invocation/next"
      ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
      if touch "$LAMBDA_TASK_ROOT/written" 2>/dev/null; then W=true; else W=false; fi
      if (exec 3<>/dev/tcp/1.1.1.1/53) 2>/dev/null; then NET=true; else NET=false; fi
      TMPFILES="$(ls /tmp | wc -l)"
      curl -sS -o /dev/null "$API/invocation/$ID/response" \
        -d "{\\"root\\": \\"$LAMBDA_TASK_ROOT\\", \\"cwd\\": \\"$PWD\\", \\"writable\\": $W, \\"net\\": $NET, \\"uid\\": $(id -u), \\"tmp\\": $TMPFILES}"
    done
"""


@pytest.mark.skipif(shutil.which("curl") is None, reason="[curl] curl is not installed")
def test_runtime_api_environments_get_the_sandbox(cumulo: Cumulo, code_dir: CodeDir) -> None:
    result = cumulo.invoke(_fn(cumulo, code_dir(bootstrap=SANDBOX_BOOTSTRAP), "provided.al2023"))
    body = result.json()
    assert body["writable"] is False and body["cwd"] == body["root"]
    if cumulo.sandbox.level.value == "namespace":
        assert body["root"] == "/var/task"


@pytest.mark.skipif(shutil.which("curl") is None, reason="[curl] curl is not installed")
def test_without_network_the_runtime_api_still_works_on_its_own_loopback(home: Path, code_dir: CodeDir) -> None:
    with Cumulo(home=home, no_network=True) as c:
        if c.sandbox.level.value != "namespace":
            pytest.skip("no_network needs the namespace level")
        result = c.invoke(_fn(c, code_dir(bootstrap=SANDBOX_BOOTSTRAP), "provided.al2023"))
        assert result.function_error is None, result.log_lines
        assert result.json()["net"] is False and result.json()["root"] == "/var/task"


@needs_node
def test_a_runtime_that_exits_after_answering_gives_the_next_call_a_fresh_environment(cumulo: Cumulo,
                                                                                      code_dir: CodeDir) -> None:
    folder = code_dir(**{"index.js": """
        exports.handler = (e, c, cb) => {
          if (e.boom) setTimeout(() => { throw new Error('async boom'); }, 5);
          else cb(null, ENVID);
        };
    """.replace("ENVID", envid.NODE)})
    name = _fn(cumulo, folder, "nodejs20.x")
    env = cumulo.invoke(name).json()
    pid = envid.host_pid(env)
    assert pid is not None
    assert cumulo.invoke(name, b'{"boom": true}').json()["errorMessage"] == "async boom"
    # The pool replaces an idle environment whose exit the zygote has reported: wait for that
    # report (it comes just after the reaping), not for a guessed time.
    deadline = time.monotonic() + 10
    while not all(e.zygote.has_exited(e.pid) for e in cumulo.pool.environments(name)):
        assert time.monotonic() < deadline, "the zygote never reported the exit"
        time.sleep(0.01)
    assert not _alive(pid)
    after = cumulo.invoke(name)
    assert after.function_error is None and after.cold_start and after.json() != env


RIC_CACHE_DAYS = 14
RIC_PARTS = ("package.json", "bin", "dist")     # what it needs at run time (the rest is its build)


@pytest.fixture(scope="module")
def aws_lambda_ric(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """AWS's Node.js runtime client, built (it compiles a native addon: a minute or more of CPU):
    ``$CUMULO_AWS_LAMBDA_RIC`` names a built ``node_modules/aws-lambda-ric`` to reuse; else the one npm
    installed and built for this Node.js within the last RIC_CACHE_DAYS, its run-time parts kept in the
    user's cache (``~/.cache/cumulo-tests``, under ``$XDG_CACHE_HOME`` if set; delete it to build
    afresh); else npm installs it now, and it is kept there for the next runs."""
    given = os.environ.get("CUMULO_AWS_LAMBDA_RIC")
    if given:
        return Path(given)
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("[node] npm is not installed")
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cumulo-tests" / f"aws-lambda-ric-{node}"
    if (cache / "dist" / "rapid-client.node").exists() and time.time() - cache.stat().st_mtime < RIC_CACHE_DAYS * 86400:
        return cache
    work = tmp_path_factory.mktemp("node-ric")
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "aws-lambda-ric"], cwd=work,
                          capture_output=True, text=True, timeout=1200)
    built = work / "node_modules" / "aws-lambda-ric"
    if done.returncode != 0 or not (built / "dist" / "rapid-client.node").exists():
        pytest.skip(f"[runtime-clients] aws-lambda-ric cannot be built here: {done.stderr[-300:]}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".staged-", dir=cache.parent))     # renamed into place whole
    try:
        for part in RIC_PARTS:
            (shutil.copytree if (built / part).is_dir() else shutil.copy)(built / part, staged / part)
        shutil.rmtree(cache, ignore_errors=True)
        os.rename(staged, cache)
    except OSError:
        return built        # another run's copy got there first, or the cache cannot be written
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return cache


@needs_node
@pytest.mark.slow
def test_node_function_on_aws_lambda_ric_runs_unchanged(cumulo: Cumulo, code_dir: CodeDir,
                                                        aws_lambda_ric: Path) -> None:
    folder = code_dir(**{
        "index.mjs": """
            import { createRequire } from 'node:module';
            const require = createRequire(import.meta.url);
            let count = 0;
            export const handler = async (event, context) => {
              count += 1;
              console.log("ric says hi");
              if (event.fail) throw new TypeError("ric failure");
              return { count, event, fn: context.functionName, id: context.awsRequestId, env: ENVID };
            };
        """.replace("ENVID", envid.NODE),
        "bootstrap": '#!/bin/sh\nexec node node_modules/aws-lambda-ric/bin/index.mjs "$_HANDLER"\n',
    })
    target = folder / "node_modules" / "aws-lambda-ric"
    target.mkdir(parents=True)
    for part in RIC_PARTS:
        source = aws_lambda_ric / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target / part)
    name = _fn(cumulo, folder, "provided.al2023")
    first = cumulo.invoke(name, b'{"x": 1}')
    assert first.function_error is None, first.payload
    assert first.json()["event"] == {"x": 1} and first.json()["fn"] == name and first.json()["id"] == first.request_id
    second = cumulo.invoke(name)
    assert second.json()["count"] == 2 and second.json()["env"] == first.json()["env"]
    failed = cumulo.invoke(name, b'{"fail": true}')
    assert failed.function_error == "Unhandled"
    assert failed.json()["errorType"] == "TypeError" and failed.json()["errorMessage"] == "ric failure"
    assert any("\tINFO\tric says hi" in line for line in first.log_lines)


@needs_node
def test_node_streamed_responses_are_buffered_for_invoke(cumulo: Cumulo, code_dir: CodeDir) -> None:
    folder = code_dir(**{"index.mjs": """
        export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
          if (event.http) {
            responseStream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201 });
          } else {
            responseStream.setContentType('text/plain');
          }
          for (const word of ['streamed ', 'in ', 'parts ', context.awsRequestId.slice(0, 4)]) {
            responseStream.write(word);
            await new Promise((r) => setTimeout(r, 5));
          }
          if (event.fail) throw new Error('broke mid-stream');
          responseStream.end();
        });
    """})
    name = _fn(cumulo, folder, "nodejs20.x")
    result = cumulo.invoke(name)
    assert result.function_error is None
    assert result.payload == f"streamed in parts {result.request_id[:4]}".encode()
    http = cumulo.invoke(name, b'{"http": true}')
    prelude, _, body = http.payload.partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 201} and body.startswith(b"streamed in parts ")
    failed = cumulo.invoke(name, b'{"fail": true}')
    assert failed.function_error == "Unhandled"
    assert failed.json()["errorType"] == "Error" and failed.json()["errorMessage"] == "broke mid-stream"
    assert not failed.cold_start


@needs_node
def test_node_over_its_memory_size_is_out_of_memory(cumulo: Cumulo, code_dir: CodeDir) -> None:
    if cumulo.memory_enforcement != "cgroup":
        pytest.skip("[cgroup] no writable memory cgroup on this machine")
    folder = code_dir(**{"index.js": """
        const hold = [];
        exports.handler = async (event) => {
          if (event.hog) for (;;) hold.push(Buffer.alloc(16 * 1024 * 1024, 1));
          return ENVID;
        };
    """.replace("ENVID", envid.NODE)})
    name = _fn(cumulo, folder, "nodejs20.x", memory_size=128, timeout=20)
    env = cumulo.invoke(name).json()
    pid = envid.host_pid(env)
    assert pid is not None
    result = cumulo.invoke(name, b'{"hog": true}')
    assert result.json()["errorType"] == "Runtime.OutOfMemory"
    assert result.json()["errorMessage"].endswith("Runtime exited with error: signal: killed")
    used = int(_report(result.log_lines).split("Max Memory Used: ")[1].split(" MB")[0])
    assert 120 <= used <= 128, _report(result.log_lines)     # measured: the cgroup's peak at the kill
    assert not _alive(pid)
    assert cumulo.invoke(name).json() != env


@needs_node
def test_node_provisioned_environments_are_initialised_ahead(cumulo: Cumulo, code_dir: CodeDir) -> None:
    folder = code_dir(**{"index.js": "exports.handler = async () => process.env.AWS_LAMBDA_INITIALIZATION_TYPE;"})
    name = _fn(cumulo, folder, "nodejs20.x")
    version = cumulo.publish_version(name).version
    cumulo.put_provisioned_concurrency_config(name, version, 1)
    assert cumulo.wait_provisioned(name, version)["Status"] == "READY"
    result = cumulo.invoke(name, qualifier=version)
    assert not result.cold_start and result.json() == "provisioned-concurrency"


@pytest.mark.parametrize("payload", [b'"\\ud800"', b"1e400", b'{"big": 123456789012345678901234567890}'])
def test_json_the_python_runtime_accepts_is_accepted(cumulo: Cumulo, probe: Callable[..., str], payload: bytes) -> None:
    assert cumulo.invoke(probe(), payload).function_error is None


@needs_node
@pytest.mark.skipif(shutil.which("curl") is None, reason="[curl] curl is not installed")
def test_the_hello_runtimes_example_deploys_and_answers(cumulo: Cumulo) -> None:
    from cumulo.deploy.engine import deploy

    example = Path(__file__).resolve().parents[2] / "examples" / "hello-runtimes" / "template.yaml"
    deploy(cumulo, example)
    node = cumulo.invoke("hello-runtimes-NodeFunction", b'{"rawPath": "/node"}').json()
    assert node["statusCode"] == 200 and json.loads(node["body"])["message"] == "hello from Node.js"
    bash = cumulo.invoke("hello-runtimes-BashFunction", b"{}")
    assert json.loads(bash.json()["body"]) == {"message": "hello from bash"}
    assert any(line.startswith("hello from bash, request ") for line in bash.log_lines)


@pytest.mark.skipif(shutil.which("curl") is None, reason="[curl] curl is not installed")
def test_curl_posting_a_large_response_does_not_wait_for_100_continue(cumulo: Cumulo, code_dir: CodeDir) -> None:
    folder = code_dir(bootstrap="""
        #!/bin/bash
        API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
        head -c 2000000 /dev/zero | tr '\\0' 'a' | sed 's/.*/"&"/' > "$TMPDIR/big.json"
        while true; do
          H="$(mktemp)"
          curl -sS -o /dev/null -D "$H" "$API/invocation/next"
          ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$H" | tr -d '[:space:]' | cut -d: -f2)"
          curl -sS -o /dev/null --expect100-timeout 60 "$API/invocation/$ID/response" --data-binary "@$TMPDIR/big.json"
        done
    """)
    # curl sends a body over 1 MB only after "100 Continue", or after --expect100-timeout (1 s by
    # default, too close to a slow run's time to tell apart): at 60 s, a missing 100 Continue is
    # the function's 10 s timeout, whatever the machine's load.
    name = _fn(cumulo, folder, "provided.al2023", timeout=10)
    cumulo.invoke(name)
    result = cumulo.invoke(name)
    assert result.function_error is None, result.log_lines
    assert len(result.payload) == 2_000_002


@needs_node
@pytest.mark.skipif(shutil.which("curl") is None, reason="[curl] curl is not installed")
def test_the_process_sandbox_level_runs_runtime_api_environments_too(home: Path, code_dir: CodeDir) -> None:
    with Cumulo(home=home, sandbox="process") as c:
        assert c.sandbox.level.value == "process"
        node = _fn(c, code_dir(**{"index.js": CONTEXT_JS}), "nodejs20.x")
        body = c.invoke(node, b'{"p": 1}').json()
        assert body["event"] == {"p": 1} and body["env"]["taskRoot"] != "/var/task"
        sandbox = c.invoke(_fn(c, code_dir(bootstrap=SANDBOX_BOOTSTRAP), "provided.al2023")).json()
        assert sandbox["cwd"] == sandbox["root"]   # (as root this level does not protect the code)
        timed = _fn(c, code_dir(bootstrap=BASH_BOOTSTRAP), "provided.al2023", timeout=1)
        assert c.invoke(timed, b'{"sleep": true}').json()["errorType"] == "Sandbox.Timedout"
