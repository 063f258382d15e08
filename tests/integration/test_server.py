"""The control plane as a boto3 user meets it: a real ``cumulo up`` process, a real boto3 client.

The server runs as a subprocess on a free port; its stderr is drained by a thread (the
announcement gives the endpoint and the key). One server serves the whole module; each
test uses functions of its own. Server lifecycle and authentication: ``test_server_auth``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

ANNOUNCED = re.compile(r"Cumulo is up: AWS Lambda API at (http://\S+)")
CREDENTIALS = re.compile(r"AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)")
ROLE = "arn:aws:iam::000000000000:role/cumulo-test"

APP = '''
import os
import time

def handler(event, context):
    event = event if isinstance(event, dict) else {"value": event}
    if "print" in event:
        print(event["print"])
    time.sleep(event.get("sleep", 0))
    if "fail" in event:
        raise ValueError(event["fail"])
    cc = context.client_context
    return {"event": event, "marker": MARKER, "version": context.function_version,
            "arn": context.invoked_function_arn, "stage": os.environ.get("STAGE"),
            "custom": cc.custom if cc else None}
'''


class CumuloServer:
    """A ``cumulo up`` process. Its stderr is drained by a thread so the server never blocks on a full pipe."""

    def __init__(self, home: Path, *args: str, timeout: float = 60.0, env: dict[str, str] | None = None,
                 store: str = "") -> None:
        """``store``: a PostgreSQL database's URL (``--store``; the ``new_store`` fixture makes one), or
        "" for SQLite files under ``home``."""
        self.home = home
        self.store = store
        if store:
            args = (*args, "--store", store)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen([sys.executable, "-m", "cumulo", "--home", str(home), "up", "--port", "0", "--console-port", "0",
                                      "--gateway-port", "0", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, **(env or {})})
        self._reader = threading.Thread(target=self._drain, name="cumulo-up-stderr", daemon=True)
        self._reader.start()
        try:
            self.endpoint, self.key_id, self.secret = self._announcement(timeout)
        except BaseException:
            self.close()
            raise

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)
        self._queue.put(None)

    def _announcement(self, timeout: float) -> tuple[str, str, str]:
        deadline = time.monotonic() + timeout
        endpoint = credentials = None
        while endpoint is None or credentials is None:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"`cumulo up` did not announce itself within {timeout} s:\n{self.output}") from None
            if line is None:
                raise AssertionError(f"`cumulo up` exited with {self.proc.wait()} before announcing:\n{self.output}")
            endpoint = endpoint or (m.group(1) if (m := ANNOUNCED.search(line)) else None)
            credentials = credentials or (m.groups() if (m := CREDENTIALS.search(line)) else None)
        return endpoint, credentials[0], credentials[1]

    def kept_at_rest(self) -> dict[str, bytes]:
        """What this server's store keeps, by where: the files of its home but the master key, and on
        PostgreSQL each table of its database (its rows as PostgreSQL's text: bytea in hex)."""
        kept = {str(p): p.read_bytes() for p in self.home.rglob("*") if p.is_file() and p.name != "master.key"}
        if self.store:
            import psycopg

            with psycopg.connect(self.store) as db:
                for (table,) in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall():
                    rows = db.execute(f'SELECT t::text FROM "{table}" t').fetchall()
                    kept[f"table {table}"] = "\n".join(row[0] for row in rows).encode()
        return kept

    @property
    def cli_env(self) -> dict[str, str]:
        """The environment of a ``cumulo --home <home> …`` command on this server's store (as a user
        of ``--store`` gives it: ``CUMULO_STORE``)."""
        return {**os.environ, **({"CUMULO_STORE": self.store} if self.store else {})}

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def console_url(self) -> str:
        """Where ``cumulo up`` said its web console is (``console     http://…/``), without the slash."""
        found = re.search(r"^  console +(http://\S+?)/? ", self.output, re.M)
        assert found, f"`cumulo up` announced no console:\n{self.output}"
        return found.group(1)

    def wait_for_output(self, text: str, timeout: float = 10.0) -> str:
        """The output once ``text`` is in it (``cumulo up`` prints what it deployed after announcing)."""
        deadline = time.monotonic() + timeout
        while text not in self.output and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.output

    def client(self, key_id: str | None = None, secret: str | None = None, **config: Any) -> BaseClient:
        return lambda_client(self.endpoint, key_id or self.key_id, secret or self.secret, **config)

    def aws(self, service: str, **config: Any) -> BaseClient:
        """A boto3 client of ``service`` (sqs, events, kinesis, stepfunctions …) for this server,
        never retrying."""
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret, config=Config(**{"retries": {"max_attempts": 0}, **config}))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Signal the server and return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(30)
        if self.proc.stderr is not None and not self._reader.is_alive():
            self.proc.stderr.close()


def holding(kept: dict[str, bytes], needle: bytes) -> list[str]:
    """Where of ``kept`` (``CumuloServer.kept_at_rest``) ``needle`` is in the clear: as it is, or as
    PostgreSQL's hex text of a bytea."""
    return [where for where, data in kept.items()
            if needle in data or (where.startswith("table ") and needle.hex().encode() in data)]


def lambda_client(endpoint: str, key_id: str, secret: str, **config: Any) -> BaseClient:
    """boto3's Lambda client, never retrying (throttling must show, not be retried away)."""
    options: dict[str, Any] = {"retries": {"max_attempts": 0}, "read_timeout": 120, **config}
    return boto3.session.Session().client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                                          config=Config(**options))


def zip_of(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():   # a fixed date: the same files give the same bytes (and CodeSha256)
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), textwrap.dedent(text))
    return buffer.getvalue()


def app_zip(marker: str = "one") -> bytes:
    return zip_of(**{"app.py": f"MARKER = {marker!r}\n{APP}"})


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def unique(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(lam: BaseClient, name: str, code: bytes | None = None, **options: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler", "Timeout": 10,
                              **options}
    return lam.create_function(FunctionName=name, Code={"ZipFile": code or app_zip()}, **params)


def invoke(lam: BaseClient, name: str, event: Any = None, **options: Any) -> tuple[dict[str, Any], Any]:
    """Invoke; return the response and its payload decoded (None when empty)."""
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}), **options)
    body = resp["Payload"].read()
    resp["Payload"].close()
    return resp, json.loads(body) if body else None


def error_of(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_store: Callable[[], str]) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("server") / "home", store=new_store())
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def lam(server: CumuloServer) -> Iterator[BaseClient]:
    client = server.client()
    yield client
    client.close()


@pytest.fixture
def clients(server: CumuloServer) -> Iterator[Callable[..., BaseClient]]:
    """More clients of the module's server (other keys, other config), closed after the test."""
    made: list[BaseClient] = []

    def make(key_id: str | None = None, secret: str | None = None, **config: Any) -> BaseClient:
        made.append(server.client(key_id, secret, **config))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def fn(lam: BaseClient) -> str:
    """A new function running ``APP``."""
    name = unique()
    create(lam, name)
    return name


# -- functions ------------------------------------------------------------------
def test_create_function_answers_like_aws(lam: BaseClient) -> None:
    name, code = unique(), app_zip()
    resp = create(lam, name, code, Description="made by boto3", MemorySize=256,
                  Environment={"Variables": {"STAGE": "test"}})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert resp["FunctionName"] == name
    assert resp["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert resp["CodeSha256"] == sha256_b64(code)
    assert resp["CodeSize"] == len(code)
    assert resp["State"] == "Active" and resp["LastUpdateStatus"] == "Successful"
    assert resp["Version"] == "$LATEST"
    assert resp["RevisionId"]
    assert resp["Runtime"] == "python3.11" and resp["Handler"] == "app.handler"
    assert resp["MemorySize"] == 256 and resp["Timeout"] == 10 and resp["Description"] == "made by boto3"
    assert resp["Environment"] == {"Variables": {"STAGE": "test"}}


def test_get_function_and_configuration_with_qualifier(lam: BaseClient, fn: str) -> None:
    published = lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=app_zip("two"))
    got = lam.get_function(FunctionName=fn)
    assert got["Configuration"]["FunctionName"] == fn and got["Configuration"]["Version"] == "$LATEST"
    assert got["Configuration"]["CodeSha256"] == sha256_b64(app_zip("two"))
    assert got["Code"]["Location"]
    v1 = lam.get_function(FunctionName=fn, Qualifier="1")["Configuration"]
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(f":function:{fn}:1")
    assert v1["CodeSha256"] == published["CodeSha256"] == sha256_b64(app_zip())
    config = lam.get_function_configuration(FunctionName=fn, Qualifier="1")
    assert config["Version"] == "1" and config["RevisionId"] == published["RevisionId"]
    latest = lam.get_function_configuration(FunctionName=fn, Qualifier="$LATEST")
    assert latest["Version"] == "$LATEST" and latest["CodeSha256"] == sha256_b64(app_zip("two"))
    with pytest.raises(ClientError) as info:
        lam.get_function_configuration(FunctionName=fn, Qualifier="7")
    assert error_of(info) == ("ResourceNotFoundException", 404)


def test_list_functions_pages_with_marker_and_paginator(lam: BaseClient) -> None:
    prefix = unique("page")
    mine = {f"{prefix}-{i}" for i in range(5)}
    for name in sorted(mine):
        create(lam, name)
    seen: list[str] = []
    marker: str | None = None
    for _ in range(100):
        page = lam.list_functions(MaxItems=2, **({"Marker": marker} if marker else {}))
        assert 1 <= len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    else:
        pytest.fail("ListFunctions never stopped answering NextMarker")
    assert len(seen) == len(set(seen)), "a function appeared on two pages"
    assert mine <= set(seen)
    paginated = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 2}) for f in page["Functions"]]
    assert paginated == seen


def test_list_functions_marker_continues_after_the_last_name_while_functions_are_created(lam: BaseClient) -> None:
    """The marker names where the page ended, not how many came before: a function created between
    two pages, sorting before the marker, neither repeats nor hides one."""
    prefix = unique("mark")
    for i in range(3):
        create(lam, f"{prefix}-{i}")
    first = lam.list_functions(MaxItems=2)
    before = [f["FunctionName"] for f in first["Functions"]]
    create(lam, "0" + unique("early"))                          # sorts before every name so far
    rest = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 2, "StartingToken": first["NextMarker"]}) for f in page["Functions"]]
    assert not set(before) & set(rest), "a function appeared on two pages"
    assert rest == sorted(rest) and rest[0] > before[-1]
    with pytest.raises(ClientError) as info:
        lam.list_functions(Marker="not a marker!")
    assert error_of(info)[0] == "InvalidParameterValueException"


def test_update_code_and_configuration_with_revision_ids(lam: BaseClient, fn: str) -> None:
    before = lam.get_function_configuration(FunctionName=fn)
    code = app_zip("two")
    updated = lam.update_function_code(FunctionName=fn, ZipFile=code, RevisionId=before["RevisionId"])
    assert updated["CodeSha256"] == sha256_b64(code) and updated["RevisionId"] != before["RevisionId"]
    assert updated["LastUpdateStatus"] == "Successful" and updated["State"] == "Active"
    assert invoke(lam, fn)[1]["marker"] == "two"

    for stale_update in (
        lambda: lam.update_function_configuration(FunctionName=fn, Timeout=20, RevisionId=before["RevisionId"]),
        lambda: lam.update_function_code(FunctionName=fn, ZipFile=app_zip("three"), RevisionId=before["RevisionId"]),
    ):
        with pytest.raises(ClientError) as info:
            stale_update()
        assert error_of(info) == ("PreconditionFailedException", 412)

    changed = lam.update_function_configuration(FunctionName=fn, Timeout=20, Description="changed",
                                                Environment={"Variables": {"STAGE": "prod"}},
                                                RevisionId=updated["RevisionId"])
    assert changed["Timeout"] == 20 and changed["Description"] == "changed"
    assert changed["RevisionId"] not in (before["RevisionId"], updated["RevisionId"])
    assert changed["CodeSha256"] == sha256_b64(code)
    _, body = invoke(lam, fn)
    assert body["stage"] == "prod" and body["marker"] == "two"


def test_delete_function(lam: BaseClient, fn: str) -> None:
    resp = lam.delete_function(FunctionName=fn)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    for call in (lambda: lam.get_function(FunctionName=fn), lambda: invoke(lam, fn),
                 lambda: lam.delete_function(FunctionName=fn)):
        with pytest.raises(ClientError) as info:
            call()
        assert error_of(info) == ("ResourceNotFoundException", 404)


# -- invoke -----------------------------------------------------------------------
def test_invoke_round_trips_the_payload(lam: BaseClient, fn: str) -> None:
    event = {"name": "Ada", "list": [1, 2.5, None], "nested": {"ü": "✓"}}
    resp, body = invoke(lam, fn, event)
    assert resp["StatusCode"] == 200 and resp["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in resp
    assert body["event"] == event and body["version"] == "$LATEST"
    assert body["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{fn}"


def test_invoke_with_response_stream(lam: BaseClient, fn: str) -> None:
    resp = lam.invoke_with_response_stream(FunctionName=fn, Payload=json.dumps({"print": "x" * 100_000}),
                                           LogType="Tail")
    assert resp["StatusCode"] == 200 and resp["ExecutedVersion"] == "$LATEST"
    chunks, complete = [], None
    for event in resp["EventStream"]:
        if "PayloadChunk" in event:
            chunks.append(event["PayloadChunk"]["Payload"])
        elif "InvokeComplete" in event:
            complete = event["InvokeComplete"]
    assert len(chunks) >= 2                                    # over 64 KB: more than one chunk
    assert json.loads(b"".join(chunks))["event"]["print"] == "x" * 100_000
    assert complete is not None and "ErrorCode" not in complete
    assert "REPORT RequestId" in base64.b64decode(complete["LogResult"]).decode()
    failed = lam.invoke_with_response_stream(FunctionName=fn, Payload=json.dumps({"fail": "streamed boom"}))
    done = [e["InvokeComplete"] for e in failed["EventStream"] if "InvokeComplete" in e]
    assert done[0]["ErrorCode"] == "Unhandled" and "streamed boom" in done[0]["ErrorDetails"]


def test_invoke_function_error_is_a_result(lam: BaseClient, fn: str) -> None:
    resp, body = invoke(lam, fn, {"fail": "boom"})
    assert resp["StatusCode"] == 200 and resp["FunctionError"] == "Unhandled"
    assert body["errorMessage"] == "boom" and body["errorType"] == "ValueError"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]


def test_invoke_tail_returns_the_log(lam: BaseClient, fn: str) -> None:
    line = f"printed-{uuid.uuid4().hex}"
    resp, body = invoke(lam, fn, {"print": line}, LogType="Tail")
    log = base64.b64decode(resp["LogResult"]).decode()
    request_id = resp["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id}" in log
    assert line in log
    assert f"END RequestId: {request_id}" in log and f"REPORT RequestId: {request_id}" in log
    assert (log.index(f"START RequestId: {request_id}") < log.index(line) < log.index(f"END RequestId: {request_id}")
            < log.index(f"REPORT RequestId: {request_id}"))   # INIT_/RESTORE_ lines may come first
    assert "LogResult" not in invoke(lam, fn)[0]


def test_invoke_qualifier_runs_that_version(lam: BaseClient, fn: str) -> None:
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=app_zip("two"))
    resp, body = invoke(lam, fn, Qualifier="1")
    assert resp["ExecutedVersion"] == "1" and body["marker"] == "one" and body["version"] == "1"
    assert body["arn"].endswith(f":function:{fn}:1")
    resp, body = invoke(lam, fn, Qualifier="$LATEST")
    assert resp["ExecutedVersion"] == "$LATEST" and body["marker"] == "two"
    resp, body = invoke(lam, f"{fn}:1")
    assert resp["ExecutedVersion"] == "1" and body["marker"] == "one"


def test_invoke_client_context_reaches_the_handler(lam: BaseClient, fn: str) -> None:
    context = {"custom": {"user": "ada", "n": 3}, "env": {"platform": "test"}, "client": {}}
    encoded = base64.b64encode(json.dumps(context).encode()).decode()
    _, body = invoke(lam, fn, ClientContext=encoded)
    assert body["custom"] == {"user": "ada", "n": 3}
    with pytest.raises(ClientError) as info:
        invoke(lam, fn, ClientContext="not base64 json!")
    assert error_of(info) == ("InvalidRequestContentException", 400)


def test_invoke_dry_run(lam: BaseClient, fn: str) -> None:
    resp, body = invoke(lam, fn, {"print": "never"}, InvocationType="DryRun")
    assert resp["StatusCode"] == 204 and body is None


def test_invoke_event_is_accepted_with_202(lam: BaseClient, fn: str) -> None:
    resp, body = invoke(lam, fn, {"print": "later"}, InvocationType="Event")
    assert resp["StatusCode"] == 202 and body is None
    assert resp["ResponseMetadata"]["RequestId"]


def test_invoke_payload_over_6_mb(lam: BaseClient, fn: str) -> None:
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName=fn, Payload=json.dumps("x" * (6 * 1024 * 1024)))
    assert error_of(info) == ("RequestEntityTooLargeException", 413)   # AWS's name on the wire
    assert info.value.response["Error"]["Message"] == ("Request must be smaller than 6291456 bytes for the "
                                                       "InvokeFunction operation")
    assert invoke(lam, fn, {"ok": True})[1]["event"] == {"ok": True}


# -- versions and aliases -----------------------------------------------------------
def test_publish_and_list_versions(lam: BaseClient, fn: str) -> None:
    v1 = lam.publish_version(FunctionName=fn, Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1" and v1["Description"] == "first" and v1["FunctionArn"].endswith(f"{fn}:1")
    lam.update_function_code(FunctionName=fn, ZipFile=app_zip("two"))
    v2 = lam.publish_version(FunctionName=fn)
    assert v2["Version"] == "2" and v2["CodeSha256"] == sha256_b64(app_zip("two"))
    versions = lam.list_versions_by_function(FunctionName=fn)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    paged = [v["Version"] for page in lam.get_paginator("list_versions_by_function").paginate(
        FunctionName=fn, PaginationConfig={"PageSize": 1}) for v in page["Versions"]]
    assert paged == ["$LATEST", "1", "2"]


def test_aliases_and_weighted_routing(lam: BaseClient, fn: str) -> None:
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=app_zip("two"))
    lam.publish_version(FunctionName=fn)
    alias = lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1", Description="prod",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    assert alias["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert alias["AliasArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{fn}:live"
    assert alias["FunctionVersion"] == "1" and alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.3}}
    got = lam.get_alias(FunctionName=fn, Name="live")
    assert got["RevisionId"] == alias["RevisionId"] and got["Description"] == "prod"

    def one(_: int) -> tuple[str, str]:
        resp, body = invoke(lam, fn, Qualifier="live")
        assert body["version"] == resp["ExecutedVersion"]
        return resp["ExecutedVersion"], body["marker"]

    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(one, range(200)))
    assert set(seen) == {("1", "one"), ("2", "two")}
    share = sum(version == "2" for version, _ in seen) / len(seen)
    assert 0.18 < share < 0.42, share  # 0.3 expected; 4.5 standard deviations either way

    updated = lam.update_alias(FunctionName=fn, Name="live", FunctionVersion="2",
                               RoutingConfig={"AdditionalVersionWeights": {}}, RevisionId=alias["RevisionId"])
    assert updated["FunctionVersion"] == "2" and updated["RevisionId"] != alias["RevisionId"]
    assert not updated.get("RoutingConfig", {}).get("AdditionalVersionWeights")
    assert {invoke(lam, fn, Qualifier="live")[0]["ExecutedVersion"] for _ in range(10)} == {"2"}
    with pytest.raises(ClientError) as info:
        lam.update_alias(FunctionName=fn, Name="live", FunctionVersion="1", RevisionId=alias["RevisionId"])
    assert error_of(info) == ("PreconditionFailedException", 412)

    lam.create_alias(FunctionName=fn, Name="old", FunctionVersion="1")
    assert sorted(a["Name"] for a in lam.list_aliases(FunctionName=fn)["Aliases"]) == ["live", "old"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=fn, FunctionVersion="1")["Aliases"]] == ["old"]
    assert lam.delete_alias(FunctionName=fn, Name="old")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as info:
        lam.get_alias(FunctionName=fn, Name="old")
    assert error_of(info) == ("ResourceNotFoundException", 404)
    assert [a["Name"] for a in lam.list_aliases(FunctionName=fn)["Aliases"]] == ["live"]


# -- concurrency ------------------------------------------------------------------
def test_reserved_concurrency_zero_throttles(lam: BaseClient, fn: str) -> None:
    assert lam.get_function_concurrency(FunctionName=fn).get("ReservedConcurrentExecutions") is None
    assert lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)[
        "ReservedConcurrentExecutions"] == 0
    assert lam.get_function_concurrency(FunctionName=fn)["ReservedConcurrentExecutions"] == 0
    assert lam.get_function(FunctionName=fn)["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    with pytest.raises(ClientError) as info:
        invoke(lam, fn)
    assert error_of(info) == ("TooManyRequestsException", 429)
    assert info.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert lam.delete_function_concurrency(FunctionName=fn)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=fn)
    assert invoke(lam, fn)[0]["StatusCode"] == 200


def test_reserved_concurrency_admits_exactly_k(lam: BaseClient, fn: str) -> None:
    k = 2
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=k)
    start = threading.Barrier(k + 2)

    def one(i: int) -> str:
        start.wait(30)
        try:
            resp, body = invoke(lam, fn, {"sleep": 1.5, "i": i})
        except ClientError as err:
            return err.response["Error"]["Code"] + ":" + err.response.get("Reason", "")
        assert resp["StatusCode"] == 200 and body["event"]["i"] == i
        return "ok"

    with ThreadPoolExecutor(k + 2) as pool:
        outcomes = list(pool.map(one, range(k + 2)))
    assert sorted(outcomes) == ["TooManyRequestsException:ReservedFunctionConcurrentInvocationLimitExceeded"] * 2 \
        + ["ok"] * k, outcomes


def test_provisioned_concurrency_becomes_ready(lam: BaseClient, fn: str) -> None:
    version = lam.publish_version(FunctionName=fn)["Version"]
    with pytest.raises(ClientError) as info:
        lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="$LATEST",
                                               ProvisionedConcurrentExecutions=1)
    assert error_of(info) == ("InvalidParameterValueException", 400)
    put = lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier=version, ProvisionedConcurrentExecutions=1)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 1
    deadline = time.monotonic() + 30
    while (doc := lam.get_provisioned_concurrency_config(FunctionName=fn, Qualifier=version))["Status"] != "READY":
        assert doc["Status"] == "IN_PROGRESS" and time.monotonic() < deadline, doc
        time.sleep(0.1)
    assert doc["AvailableProvisionedConcurrentExecutions"] == 1 == doc["AllocatedProvisionedConcurrentExecutions"]
    assert invoke(lam, fn, Qualifier=version)[0]["ExecutedVersion"] == version
    lam.delete_provisioned_concurrency_config(FunctionName=fn, Qualifier=version)
    with pytest.raises(ClientError) as info:
        lam.get_provisioned_concurrency_config(FunctionName=fn, Qualifier=version)
    assert error_of(info) == ("ProvisionedConcurrencyConfigNotFoundException", 404)


# -- account and tags ---------------------------------------------------------------
def test_get_account_settings(lam: BaseClient, fn: str) -> None:
    settings = lam.get_account_settings()
    limit, usage = settings["AccountLimit"], settings["AccountUsage"]
    assert limit["ConcurrentExecutions"] >= limit["UnreservedConcurrentExecutions"] > 0
    assert limit["CodeSizeZipped"] == 50 * 1024 * 1024
    assert usage["FunctionCount"] >= 1 and usage["TotalCodeSize"] >= len(app_zip())


def test_tags(lam: BaseClient) -> None:
    name = unique()
    arn = create(lam, name, Tags={"team": "core"})["FunctionArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "core"}
    assert lam.tag_resource(Resource=arn, Tags={"env": "dev", "cost": "1"})["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "core", "env": "dev", "cost": "1"}
    assert lam.untag_resource(Resource=arn, TagKeys=["team", "cost"])["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "dev"}
    assert lam.get_function(FunctionName=name)["Tags"] == {"env": "dev"}
    with pytest.raises(ClientError) as info:
        lam.list_tags(Resource=arn.replace(name, unique("missing")))
    assert error_of(info) == ("ResourceNotFoundException", 404)


# -- errors -------------------------------------------------------------------------
def test_every_answer_carries_a_request_id(lam: BaseClient, fn: str) -> None:
    answers = [lam.get_function(FunctionName=fn)["ResponseMetadata"], lam.list_functions()["ResponseMetadata"],
               lam.delete_function_concurrency(FunctionName=fn)["ResponseMetadata"],
               invoke(lam, fn)[0]["ResponseMetadata"]]
    with pytest.raises(ClientError) as info:
        lam.get_function(FunctionName=unique("missing"))
    answers.append(info.value.response["ResponseMetadata"])
    ids = [meta.get("RequestId") for meta in answers]
    assert all(ids) and len(set(ids)) == len(ids), ids


def _raw_exchange(endpoint: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` on a new connection; the one answer (status, lower-cased headers, body)."""
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        raw = b""
        while b"\r\n\r\n" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) < _length(raw):
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, body


def _length(raw: bytes) -> int:
    m = re.search(rb"(?i)content-length: *(\d+)", raw)
    return int(m.group(1)) if m else 0


def test_malformed_http_gets_an_aws_error_and_reaches_no_operation(server: CumuloServer) -> None:
    status, headers, body = _raw_exchange(server.endpoint, b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400 and headers["x-amzn-errortype"] == "BadRequestException", (headers, body)
    assert headers["x-amzn-requestid"] and json.loads(body)["message"]
    assert headers.get("connection") == "close"


def test_a_body_over_the_control_planes_limit_is_refused_before_it_is_sent(server: CumuloServer, fn: str) -> None:
    # 80 MB declared (the limit is 72 MB: a 50 MB zip in base64 inside JSON); only the head is sent.
    head = (f"POST /2015-03-31/functions/{fn}/invocations HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {80 * 1024 * 1024}\r\n\r\n").encode()
    status, headers, body = _raw_exchange(server.endpoint, head)
    assert status == 413 and headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert "smaller than 6291456 bytes" in json.loads(body)["message"]


def test_errors_have_aws_codes_and_statuses(lam: BaseClient, fn: str,
                                            clients: Callable[..., BaseClient]) -> None:
    missing = unique("missing")
    for call in (lambda: lam.get_function(FunctionName=missing),
                 lambda: lam.get_function_configuration(FunctionName=missing),
                 lambda: lam.update_function_code(FunctionName=missing, ZipFile=app_zip()),
                 lambda: lam.publish_version(FunctionName=missing),
                 lambda: lam.get_alias(FunctionName=fn, Name="nope")):
        with pytest.raises(ClientError) as info:
            call()
        assert error_of(info) == ("ResourceNotFoundException", 404)
        assert info.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as info:
        create(lam, fn)
    assert error_of(info) == ("ResourceConflictException", 409)

    name = unique()
    with pytest.raises(ClientError) as info:
        create(lam, name, Environment={"Variables": {"AWS_REGION": "eu-west-1"}})
    assert error_of(info) == ("InvalidParameterValueException", 400)
    assert "AWS_REGION" in info.value.response["Error"]["Message"]

    # boto3 refuses MemorySize 64 itself; switch its validation off to see the server's answer.
    unvalidated = clients(parameter_validation=False)
    with pytest.raises(ClientError) as info:
        create(unvalidated, name, MemorySize=64)
    assert error_of(info) == ("ValidationException", 400)
    assert "memorySize" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        lam.get_function(FunctionName=name)
    assert error_of(info) == ("ResourceNotFoundException", 404), "a refused CreateFunction left a function behind"


def test_list_provisioned_concurrency_configs(server, lam) -> None:
    fn = unique("plist")
    create(lam, fn)
    version = lam.publish_version(FunctionName=fn)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier=version, ProvisionedConcurrentExecutions=1)
    listed = lam.list_provisioned_concurrency_configs(FunctionName=fn)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == [version]
    assert listed[0]["RequestedProvisionedConcurrentExecutions"] == 1


def test_snapstart_configuration_round_trips_like_aws(lam: BaseClient) -> None:
    name = unique()
    resp = create(lam, name, SnapStart={"ApplyOn": "PublishedVersions"})
    assert resp["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}   # $LATEST
    version = lam.publish_version(FunctionName=name)
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    resp = lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"})
    assert resp["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    with pytest.raises(ClientError) as err:
        lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "Always"})
    assert error_of(err) == ("ValidationException", 400)
    default = create(lam, unique())   # Cumulo's default forks templates, reported as AWS reports ApplyOn None
    assert default["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}


def test_a_failing_after_restore_hook_is_snapstart_exception(lam: BaseClient, server: CumuloServer) -> None:
    name = unique()
    code = zip_of(**{"app.py": "from snapshot_restore_py import register_after_restore\n"
                               "register_after_restore(lambda: 1 / 0)\n"
                               "def handler(event, context):\n    return 1\n"})
    create(lam, name, code)
    try:
        resp, _ = invoke(lam, name)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "SnapStartException"
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    else:   # the namespace sandbox level keeps SnapStart off: the hook never runs
        assert resp["StatusCode"] == 200
