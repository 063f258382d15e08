"""``cumulo up`` as a process: SigV4 authentication, access keys, persistence, shutdown, one server per home."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator
from unittest import mock
from urllib.error import HTTPError

import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.client import BaseClient
from botocore.compat import get_current_datetime
from botocore.exceptions import ClientError, EndpointConnectionError

from test_server import CumuloServer, clients, create, error_of, invoke, lam, server, unique, zip_of  # noqa: F401

from tests.integration import envid


def cli(home: Path, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo", "--home", str(home), *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout)


def raw(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    """An unsigned request, as urllib sends it: status, headers (lower-cased) and JSON body."""
    request = urllib.request.Request(url, data=body, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            status, headers, data = resp.status, dict(resp.headers.items()), resp.read()
    except HTTPError as err:
        with err:
            status, headers, data = err.code, dict(err.headers.items()), err.read()
    return status, {k.lower(): v for k, v in headers.items()}, json.loads(data) if data else None


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Callable[..., CumuloServer]]:
    """Servers of this test alone (started on demand, on ``tmp_path/home`` by default); always stopped."""
    started: list[CumuloServer] = []

    def start(*args: str, home: Path | None = None) -> CumuloServer:
        started.append(CumuloServer(home or tmp_path / "home", *args))
        return started[-1]

    yield start
    for srv in started:
        srv.close()


# -- authentication -----------------------------------------------------------------
def test_unsigned_request_is_refused(server: CumuloServer, clients: Callable[..., BaseClient]) -> None:
    status, headers, body = raw(f"{server.endpoint}/2015-03-31/functions")
    assert status == 403 and headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert body["message"] == "Missing Authentication Token" and headers["x-amzn-requestid"]
    with pytest.raises(ClientError) as info:
        clients(signature_version=UNSIGNED).list_functions()
    assert error_of(info) == ("MissingAuthenticationTokenException", 403)


def test_wrong_secret_is_refused(server: CumuloServer, clients: Callable[..., BaseClient]) -> None:
    with pytest.raises(ClientError) as info:
        clients(server.key_id, server.secret[:-1] + ("A" if server.secret[-1] != "A" else "B")).list_functions()
    assert error_of(info) == ("InvalidSignatureException", 403)
    assert "signature we calculated does not match" in info.value.response["Error"]["Message"]


def test_unknown_key_is_refused(clients: Callable[..., BaseClient]) -> None:
    with pytest.raises(ClientError) as info:
        clients("AKIAUNKNOWNUNKNOWN22", "secret").list_functions()
    assert error_of(info) == ("UnrecognizedClientException", 403)


def test_signature_older_than_15_minutes_has_expired(lam: BaseClient) -> None:
    past = get_current_datetime() - timedelta(minutes=20)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=past):
        with pytest.raises(ClientError) as info:
            lam.list_functions()
    assert error_of(info) == ("InvalidSignatureException", 403)
    assert info.value.response["Error"]["Message"].startswith("Signature expired")
    assert "Functions" in lam.list_functions()


def test_created_key_works_and_deleted_key_stops_working(server: CumuloServer,
                                                         clients: Callable[..., BaseClient]) -> None:
    made = cli(server.home, "keys", "create")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["AccessKeyId"].startswith("AKIA") and key["AccessKeyId"] != server.key_id
    client = clients(key["AccessKeyId"], key["SecretAccessKey"])
    assert "Functions" in client.list_functions()
    listed = cli(server.home, "keys", "list")
    assert listed.returncode == 0 and key["AccessKeyId"] in listed.stdout and server.key_id in listed.stdout
    deleted = cli(server.home, "keys", "delete", key["AccessKeyId"])
    assert deleted.returncode == 0, deleted.stderr
    with pytest.raises(ClientError) as info:
        client.list_functions()
    assert error_of(info) == ("UnrecognizedClientException", 403)
    assert "Functions" in clients().list_functions(), "deleting one key affected another"


def test_no_auth_on_loopback_accepts_unsigned_requests(own_server: Callable[..., CumuloServer]) -> None:
    srv = own_server("--no-auth")
    assert any("auth        OFF" in line for line in srv.lines)
    status, _, body = raw(f"{srv.endpoint}/2015-03-31/functions")
    assert status == 200 and body["Functions"] == []
    status, _, body = raw(f"{srv.endpoint}/2016-08-19/account-settings")
    assert status == 200 and body["AccountUsage"]["FunctionCount"] == 0


def test_no_auth_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    proc = cli(tmp_path / "home", "up", "--port", "0", "--console-port", "0", "--no-auth", "--host", "0.0.0.0")
    assert proc.returncode == 2, proc.stderr
    assert "loopback" in proc.stderr


# -- the server process ---------------------------------------------------------------
def test_second_server_on_the_same_home_is_refused(server: CumuloServer, lam: BaseClient) -> None:
    proc = cli(server.home, "up", "--port", "0", "--gateway-port", "0", "--console-port", "0")
    assert proc.returncode != 0
    assert "another `cumulo up` is already serving" in proc.stderr and server.endpoint in proc.stderr
    assert "Functions" in lam.list_functions()


@pytest.mark.parametrize("flag", ["--port", "--gateway-port", "--console-port"])
def test_a_port_in_use_is_named_with_the_option_that_changes_it(tmp_path: Path, flag: str) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "hello-sam" / "template.yaml"
    with socket.socket() as taken:                   # another program listens there
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = {"--port": "0", "--gateway-port": "0", "--console-port": "0", flag: str(busy)}
        proc = cli(tmp_path / "home", "up", str(example), *(a for kv in ports.items() for a in kv))
    assert proc.returncode == 3, proc.stderr
    assert f"127.0.0.1:{busy}" in proc.stderr and "already in use" in proc.stderr, proc.stderr
    assert f"choose another port with {flag} PORT" in proc.stderr and "Traceback" not in proc.stderr
    listed = cli(tmp_path / "home", "function", "list")
    assert "hello-sam" not in listed.stdout, "deployed although the server could not start"


def test_the_same_port_twice_is_a_usage_error(tmp_path: Path) -> None:
    proc = cli(tmp_path / "home", "up", "--port", "9123", "--gateway-port", "9123")
    assert proc.returncode == 2 and "--port and --gateway-port are both 9123" in proc.stderr, proc.stderr


def test_functions_survive_a_restart(own_server: Callable[..., CumuloServer]) -> None:
    first = own_server()
    name = unique()
    client = first.client()
    try:
        created = create(client, name)
        assert invoke(client, name, {"n": 1})[1]["event"] == {"n": 1}
    finally:
        client.close()
    assert first.stop() == 0, first.output

    second = own_server(home=first.home)
    assert (second.key_id, second.secret) == (first.key_id, first.secret)
    client = second.client()
    try:
        config = client.get_function_configuration(FunctionName=name)
        assert config["CodeSha256"] == created["CodeSha256"] and config["RevisionId"] == created["RevisionId"]
        resp, body = invoke(client, name, {"n": 2})
        assert resp["StatusCode"] == 200 and body["event"] == {"n": 2}
    finally:
        client.close()


def test_sigterm_lets_the_inflight_invoke_finish(own_server: Callable[..., CumuloServer]) -> None:
    srv = own_server()
    name = unique()
    client = srv.client()
    try:
        create(client, name)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(invoke, client, name, {"sleep": 2, "n": 7})
            time.sleep(0.5)
            assert not pending.done() and srv.proc.poll() is None
            srv.proc.send_signal(signal.SIGTERM)
            resp, body = pending.result(timeout=60)
        assert resp["StatusCode"] == 200 and body["event"] == {"sleep": 2, "n": 7}
        assert srv.stop() == 0, srv.output
        with pytest.raises(EndpointConnectionError):
            client.list_functions()
    finally:
        client.close()


def test_cli_invoke_goes_through_the_running_server(own_server: Callable[..., CumuloServer], tmp_path: Path) -> None:
    srv = own_server()
    code = tmp_path / "counter"
    code.mkdir()
    (code / "app.py").write_text("import os\nn = 0\ndef handler(e, c):\n    global n\n    n += 1\n    return [n, "
                                 + envid.PYTHON + "]\n")
    assert cli(srv.home, "function", "create", "counter", "--code", str(code), "--handler", "app.handler").returncode == 0
    first = json.loads(cli(srv.home, "invoke", "counter").stdout)
    second = json.loads(cli(srv.home, "invoke", "counter").stdout)
    # two CLI processes, one warm environment: the server's
    assert second == [first[0] + 1, first[1]]
    tail = cli(srv.home, "invoke", "counter", "--tail")
    assert "REPORT RequestId:" in tail.stderr
    _, _, body = raw(srv.endpoint + "/2015-03-31/functions/counter/invocations", "POST", b"{}")
    assert body["message"] == "Missing Authentication Token", "the CLI signed its requests; others still must"
    missing = cli(srv.home, "invoke", "nope")
    assert missing.returncode == 3 and "ResourceNotFoundException" in missing.stderr


def test_aws_cli_works_unchanged(server: CumuloServer, lam: BaseClient, tmp_path: Path) -> None:
    import os
    import shutil

    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    assert aws, "the dev extra installs the AWS CLI"
    fn = unique("awscli")
    create(lam, fn)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    base = [aws, "--endpoint-url", server.endpoint, "lambda"]
    listed = subprocess.run([*base, "get-function-configuration", "--function-name", fn], env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["FunctionName"] == fn
    out = tmp_path / "out.json"
    invoked = subprocess.run([*base, "invoke", "--function-name", fn, "--payload", '{"k": "v"}', str(out)], env=env,
                             capture_output=True, text=True, timeout=60)
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)["StatusCode"] == 200
    assert out.read_text()
    missing = subprocess.run([*base, "get-function", "--function-name", "nope-" + fn], env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


def test_up_with_the_example_template_serves_it(own_server: Callable[..., CumuloServer]) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "hello-sam" / "template.yaml"
    srv = own_server(str(example))
    expected = "hello-sam-HelloWorldFunction (HelloWorldFunction): create"
    assert expected in srv.wait_for_output(expected)
    result = srv.client().invoke(FunctionName="hello-sam-HelloWorldFunction", Payload=b"{}")
    doc = json.loads(result["Payload"].read())
    assert doc["statusCode"] == 200 and json.loads(doc["body"]) == {"message": "hello world"}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="the split needs two CPUs")
def test_the_server_and_its_environments_run_on_separate_cpus(tmp_path: Path) -> None:
    srv = CumuloServer(tmp_path / "home", env={"CUMULO_CPU_SPLIT": "1"})
    allowed = sorted(os.sched_getaffinity(0))
    server_cpus, env_cpus = {allowed[0]}, set(allowed[1:])
    line = srv.wait_for_output("cpus ")
    assert f"server on CPU {allowed[0]}" in line
    name = unique()
    client = srv.client()
    try:
        create(client, name, zip_of(**{"app.py": "import os, time\ndef handler(e, c):\n"
                                                 "    time.sleep(0.3)\n    return sorted(os.sched_getaffinity(0))\n"}))
        with ThreadPoolExecutor(3) as pool:      # three environments at once
            answers = list(pool.map(lambda _: invoke(client, name)[1], range(3)))
        assert all(set(cpus) == env_cpus for cpus in answers), answers
        threads = [int(t) for t in os.listdir(f"/proc/{srv.proc.pid}/task")]
        assert {frozenset(os.sched_getaffinity(t)) for t in threads} == {frozenset(server_cpus)}
    finally:
        client.close()
        srv.close()


def test_without_the_cpu_split_the_server_may_run_anywhere(tmp_path: Path) -> None:
    srv = CumuloServer(tmp_path / "home")     # the default: environments keep every CPU
    try:
        assert "cpus " not in srv.output
        assert os.sched_getaffinity(srv.proc.pid) == os.sched_getaffinity(0)
    finally:
        srv.close()
