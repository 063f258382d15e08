"""Outbound network off, per function and for the whole server: Cumulo's VPC analogue.

A function with a ``VpcConfig`` (subnets and security groups, as CreateFunction, UpdateFunctionConfiguration
and SAM take it) runs as a Lambda function in a VPC without a NAT gateway does: no outbound network at
all, only a loopback of its own. ``no_network`` does the same for every function of a server. Each test
has its positive control: the same outbound connection, to a listener this test opens on the host's own
non-loopback address (reached through slirp4netns), succeeds from a function without the setting.
Every kind of environment that takes its own path is covered: forked from a template, on-demand,
Node.js and a custom runtime's ``bootstrap``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import sys
import textwrap
import threading
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from cumulo import Cumulo
from cumulo.runtime import catalog
from tests.integration.test_server import ROLE, CumuloServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="[namespace] environments get network namespaces at the "
                                                          "namespace level, which needs root (at the process level "
                                                          "neither setting is enforced: test_attacks_ordinary_user)")

VPC = {"SubnetIds": ["subnet-0a1b2c3d", "subnet-0e5f6a7b"], "SecurityGroupIds": ["sg-0c8d9e0f"]}

PYTHON = '''
import json, socket

def interfaces():
    with open("/proc/net/dev") as f:           # this process's network namespace
        return sorted(line.split(":")[0].strip() for line in f.readlines()[2:])

def handler(event, context):
    try:
        with socket.create_connection((event["host"], event["port"]), timeout=3) as conn:
            reached = conn.recv(16).decode()
    except OSError as exc:
        reached = type(exc).__name__ + ": " + str(exc)
    return {"reached": reached, "interfaces": interfaces(),
            "indexed": sorted(name for _, name in socket.if_nameindex())}
'''

NODE = '''
const fs = require('fs');
const net = require('net');
const interfaces = () => fs.readFileSync('/proc/net/dev', 'utf8').split('\\n').slice(2)
  .filter((line) => line.includes(':')).map((line) => line.split(':')[0].trim()).sort();
exports.handler = (event) => new Promise((resolve) => {
  const conn = net.connect({host: event.host, port: event.port, timeout: 3000});
  const done = (reached) => { conn.destroy(); resolve({reached, interfaces: interfaces()}); };
  conn.on('data', (data) => done(data.toString()));
  conn.on('timeout', () => done('timeout'));
  conn.on('error', (err) => done('error: ' + err.code));
});
'''

# A custom runtime in bash: the outbound connection through bash's /dev/tcp.
BOOTSTRAP = r'''#!/bin/bash
set -uo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
  ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  HOST="$(echo "$EVENT" | sed -E 's/.*"host": *"([^"]*)".*/\1/')"
  PORT="$(echo "$EVENT" | sed -E 's/.*"port": *([0-9]+).*/\1/')"
  REACHED="$(timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$PORT && head -c 5 <&3" 2>/dev/null || echo failed)"
  IFACES="$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | sed 's/.*/"&"/' | paste -sd, -)"
  curl -sS -o /dev/null "$API/invocation/$ID/response" -d "{\"reached\": \"$REACHED\", \"interfaces\": [$IFACES]}"
done
'''


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name == "bootstrap" else 0o644) << 16
            zf.writestr(info, text if name == "bootstrap" else textwrap.dedent(text))
    return buffer.getvalue()


def _host_address() -> str:
    """An address of this machine that is not loopback (the source address of its default route)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("198.51.100.1", 9))     # no packet is sent: only the route is looked up
        address = probe.getsockname()[0]
    except OSError:
        address = "127.0.0.1"
    finally:
        probe.close()
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address for functions to reach")
    return address


class Listener:
    """A TCP service on the host's own address that greets and counts each connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server((_host_address(), 0))
        self.host, self.port = self.sock.getsockname()[:2]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.sendall(b"hello")

    @property
    def target(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port}

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)    # wakes the blocked accept() now (close alone does not)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    service = Listener()
    yield service
    service.close()


HOST_PYTHON = "python%d.%d" % sys.version_info[:2]
# (kind, runtime, files, extra CreateFunction members): every path that builds environments its own way.
KINDS = [("forked", HOST_PYTHON, {"app.py": PYTHON}, {}),
         ("on-demand", HOST_PYTHON, {"app.py": PYTHON}, {"SnapStart": {"ApplyOn": "None"}}),
         ("node", "nodejs20.x", {"index.js": NODE}, {}),
         ("bootstrap", "provided.al2023", {"bootstrap": BOOTSTRAP}, {})]


def _missing(kind: str) -> str | None:
    """Why ``kind``'s runtime cannot run here (a bracketed skip reason), or None."""
    if kind == "node" and catalog.unavailable("nodejs20.x") is not None:
        return f"[node] {catalog.unavailable('nodejs20.x')}"
    if kind == "bootstrap" and shutil.which("curl") is None:
        return "[curl] curl is not installed: the custom runtime's bootstrap needs it"
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    running = CumuloServer(tmp_path_factory.mktemp("network") / "home")
    try:
        if "outbound through slirp4netns" not in running.output:
            pytest.skip("functions have no outbound network here (slirp4netns is not installed): no positive "
                        "control for taking it away")
        lam = running.client()
        for kind, runtime, files, extra in KINDS:
            if _missing(kind):
                continue
            handler = "app.handler" if runtime.startswith("python") else "index.handler"
            for vpc in (False, True):
                lam.create_function(FunctionName=f"{kind}-{'vpc' if vpc else 'open'}", Runtime=runtime, Role=ROLE,
                                    Handler=handler, Code={"ZipFile": _zip(files)}, Timeout=15,
                                    **({"VpcConfig": VPC} if vpc else {}), **extra)
        yield running
    finally:
        running.close()


def _call(server: CumuloServer, name: str, listener: Listener) -> dict[str, Any]:
    answer = server.client().invoke(FunctionName=name, Payload=json.dumps(listener.target).encode(), LogType="Tail")
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    body["log"] = base64.b64decode(answer["LogResult"]).decode()
    return body


@pytest.mark.parametrize("kind", [k[0] for k in KINDS])
def test_a_function_in_a_vpc_has_no_outbound_network_and_the_others_keep_theirs(
        server: CumuloServer, listener: Listener, kind: str) -> None:
    if (why := _missing(kind)) is not None:
        pytest.skip(why)
    before = listener.accepted
    open_ = _call(server, f"{kind}-open", listener)
    assert open_["reached"] == "hello", open_                 # the positive control
    assert listener.accepted == before + 1
    isolated = _call(server, f"{kind}-vpc", listener)
    assert isolated["reached"] != "hello", isolated
    if kind == "forked":      # its environment was forked from the version's template
        assert "Restore Duration" in isolated["log"], isolated["log"]
    assert isolated["interfaces"] == ["lo"], isolated
    if "indexed" in isolated:
        assert isolated["indexed"] == ["lo"], isolated
    assert listener.accepted == before + 1                    # nothing arrived from the isolated one
    # Warm environments stay as they were: the open one still reaches out, the isolated one does not.
    assert _call(server, f"{kind}-open", listener)["reached"] == "hello"
    assert _call(server, f"{kind}-vpc", listener)["reached"] != "hello"
    assert listener.accepted == before + 2


def test_vpc_config_is_reported_in_aws_shape_and_can_be_removed_and_set_again(
        server: CumuloServer, listener: Listener) -> None:
    lam = server.client()
    config = lam.get_function_configuration(FunctionName="forked-vpc")
    vpc = config["VpcConfig"]
    assert vpc["SubnetIds"] == VPC["SubnetIds"] and vpc["SecurityGroupIds"] == VPC["SecurityGroupIds"]
    assert vpc["VpcId"].startswith("vpc-") and len(vpc["VpcId"]) == 21 and vpc["Ipv6AllowedForDualStack"] is False
    assert lam.get_function(FunctionName="forked-vpc")["Configuration"]["VpcConfig"] == vpc
    assert "VpcConfig" not in lam.get_function_configuration(FunctionName="forked-open")

    lam.create_function(FunctionName="moving", Runtime=config["Runtime"], Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": _zip({"app.py": PYTHON})}, Timeout=15)
    assert _call(server, "moving", listener)["reached"] == "hello"
    updated = lam.update_function_configuration(FunctionName="moving", VpcConfig=VPC)
    assert updated["VpcConfig"]["SubnetIds"] == VPC["SubnetIds"]
    lam.get_waiter("function_updated_v2").wait(FunctionName="moving")
    assert _call(server, "moving", listener)["interfaces"] == ["lo"]      # its warm environment was replaced
    version = lam.publish_version(FunctionName="moving")["Version"]
    removed = lam.update_function_configuration(FunctionName="moving",
                                                VpcConfig={"SubnetIds": [], "SecurityGroupIds": []})
    assert "VpcConfig" not in removed
    assert _call(server, "moving", listener)["reached"] == "hello"
    # The published version keeps the configuration it was published with.
    assert lam.get_function_configuration(FunctionName="moving", Qualifier=version)["VpcConfig"]["SubnetIds"]
    answer = lam.invoke(FunctionName="moving", Qualifier=version, Payload=json.dumps(listener.target).encode())
    assert json.loads(answer["Payload"].read())["interfaces"] == ["lo"]


@pytest.mark.parametrize("vpc, error, message", [
    ({"SubnetIds": ["subnet-1"]}, "InvalidParameterValueException", "SubnetIds and SecurityIds must coexist"),
    ({"SubnetIds": [], "SecurityGroupIds": ["sg-1"]}, "InvalidParameterValueException", "must coexist"),
    ({"SubnetIds": ["net-1"], "SecurityGroupIds": ["sg-1"]}, "ValidationException", "vpcConfig.subnetIds"),
    ({"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["group-1"]}, "ValidationException",
     "vpcConfig.securityGroupIds"),
    ({"SubnetIds": [f"subnet-{i}" for i in range(17)], "SecurityGroupIds": ["sg-1"]}, "ValidationException",
     "less than or equal to 16"),
])
def test_vpc_config_is_checked_as_aws_checks_it(server: CumuloServer, vpc: dict[str, Any], error: str,
                                                 message: str) -> None:
    lam = server.client()
    with pytest.raises(lam.exceptions.ClientError) as info:
        lam.create_function(FunctionName="refused", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": _zip({"app.py": PYTHON})}, VpcConfig=vpc)
    assert info.value.response["Error"]["Code"] == error
    assert message in info.value.response["Error"]["Message"]


def test_a_sam_function_with_vpc_config_is_deployed_without_network(tmp_path: Path, listener: Listener) -> None:
    from cumulo.deploy.engine import deploy

    stack = tmp_path / "stack"
    (stack / "src").mkdir(parents=True)
    (stack / "src" / "app.py").write_text(textwrap.dedent(PYTHON))
    runtime = HOST_PYTHON
    body = ("Transform: AWS::Serverless-2016-10-31\nResources:\n"
            f"  Open:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n"
            f"      Handler: app.handler\n      Runtime: {runtime}\n      Timeout: 15\n"
            f"  Private:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n"
            f"      Handler: app.handler\n      Runtime: {runtime}\n      Timeout: 15\n"
            "      VpcConfig:\n        SubnetIds: [subnet-0a1b2c3d]\n        SecurityGroupIds: [sg-0c8d9e0f]\n")
    (stack / "template.yaml").write_text(body)
    with Cumulo(home=tmp_path / "home") as c:
        if c.pool.zygote().network != "isolated":
            pytest.skip("functions have no outbound network here (slirp4netns is not installed)")
        result = deploy(c, stack / "template.yaml")
        assert not any("VpcConfig" in w for w in result.warnings), result.warnings
        assert c.get_function("stack-Private")["Configuration"]["VpcConfig"]["SubnetIds"] == ["subnet-0a1b2c3d"]
        payload = json.dumps(listener.target).encode()
        assert c.invoke("stack-Open", payload).json()["reached"] == "hello"
        assert c.invoke("stack-Private", payload).json()["interfaces"] == ["lo"]
        # The template is the truth: without VpcConfig the function gets its network back.
        (stack / "template.yaml").write_text(body.split("      VpcConfig:")[0])
        again = deploy(c, stack / "template.yaml")
        assert any("vpc_config" in change.details for change in again.changes), again.summary()
        assert "VpcConfig" not in c.get_function("stack-Private")["Configuration"]
        assert c.invoke("stack-Private", payload).json()["reached"] == "hello"


def test_no_network_takes_it_away_from_every_function(tmp_path: Path, listener: Listener) -> None:
    payload = json.dumps(listener.target).encode()
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent(PYTHON))
    with Cumulo(home=tmp_path / "open") as c:                  # the positive control: the same server, without
        if c.pool.zygote().network != "isolated":
            pytest.skip("functions have no outbound network here (slirp4netns is not installed)")
        c.create_function("f", code, "app.handler", timeout=15)
        assert c.invoke("f", payload).json()["reached"] == "hello"
    before = listener.accepted
    with Cumulo(home=tmp_path / "closed", no_network=True) as c:
        assert any("no outbound access (no_network)" in line for line in c.isolation())
        c.create_function("f", code, "app.handler", timeout=15)
        c.create_function("g", code, "app.handler", timeout=15, snap_start="None")
        for name in ("f", "g"):
            seen = c.invoke(name, payload).json()
            assert seen["reached"] != "hello" and seen["interfaces"] == ["lo"], seen
    assert listener.accepted == before
