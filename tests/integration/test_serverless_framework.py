"""The Serverless Framework (v3) pointed at Cumulo: ``serverless deploy`` of a service (a Python
function behind an HTTP API route), a re-deploy with changed code, and ``serverless remove``.

The framework's AWS SDK (v2 for JavaScript) ignores ``AWS_ENDPOINT_URL``; teams point it at a local
endpoint with the ``serverless-localstack`` plugin, whose ``host``/``edgePort`` name any endpoint:
here ``cumulo up``'s. Underneath: a change set creating the stack with its deployment bucket, the
code uploaded there, a change set updating the stack whose function's ``Code`` names that bucket by
``Ref``, and the framework deleting its change set's name before each deploy (answered as deleted
when there is none, as on AWS).

The npm packages are installed once into ``~/.cache/cumulo-tests/serverless`` (the npm registry);
without Node.js and npm this skips as ``[node]``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.test_server import CumuloServer

pytestmark = pytest.mark.slow
PACKAGES = ("serverless@3.40.0", "serverless-localstack@1.4.0")
CACHE = Path.home() / ".cache" / "cumulo-tests" / "serverless"

SERVICE = """\
service: greeter
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  region: us-east-1
package:
  patterns: ['!node_modules/**']
functions:
  hello:
    handler: handler.hello
    events:
      - httpApi: GET /hello
plugins:
  - serverless-localstack
custom:
  localstack:
    stages: [dev]
    host: http://127.0.0.1
    edgePort: {port}
    autostart: false
"""
HANDLER = """\
def hello(event, context):
    return {{"statusCode": 200, "body": "{word} from " + context.function_name}}
"""


@pytest.fixture(scope="module")
def serverless() -> Path:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"[node] {', '.join(missing)} not installed")
    marker = CACHE / ".installed"
    if not marker.exists() or marker.read_text() != " ".join(PACKAGES):
        CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(CACHE),
                               *PACKAGES], capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"[node] the Serverless Framework cannot be installed here: {done.stderr.strip()[-400:]}")
        marker.write_text(" ".join(PACKAGES))
    return CACHE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("sls") / "home")
    yield s
    s.close()


def _sls(serverless: Path, server: CumuloServer, service: Path, *args: str) -> str:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.key_id, "AWS_SECRET_ACCESS_KEY": server.secret,
           "AWS_REGION": "us-east-1", "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
           "NODE_PATH": str(serverless / "node_modules")}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    done = subprocess.run([str(serverless / "node_modules" / ".bin" / "serverless"), *args], cwd=service, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"serverless {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return str(answer.read().decode())


def test_serverless_deploy_redeploy_and_remove(serverless: Path, server: CumuloServer, tmp_path: Path) -> None:
    service = tmp_path / "greeter"
    service.mkdir()
    (service / "serverless.yml").write_text(SERVICE.format(port=server.endpoint.rsplit(":", 1)[1]))
    (service / "node_modules").symlink_to(serverless / "node_modules")     # where the framework finds plugins
    (service / "handler.py").write_text(HANDLER.format(word="hello"))

    said = _sls(serverless, server, service, "deploy")
    found = re.search(r"GET - (http://\S+/hello)", said)
    assert found, said
    assert _get(found.group(1)) == "hello from greeter-dev-hello"

    (service / "handler.py").write_text(HANDLER.format(word="goodbye"))
    _sls(serverless, server, service, "deploy")
    assert _get(found.group(1)) == "goodbye from greeter-dev-hello"

    _sls(serverless, server, service, "remove")
    names = [f["FunctionName"] for f in server.client().list_functions()["Functions"]]
    assert "greeter-dev-hello" not in names
