"""A function's LoggingConfig as Lambda applies it, with unchanged boto3 against a real ``cumulo up``:
``LogFormat: JSON`` writes the platform's records (``platform.start``, ``platform.report``) and the
Python runtime's ``logging`` as JSON objects; ApplicationLogLevel filters the function's logging,
SystemLogLevel the platform's records; LogGroup is where the lines go."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_cloudwatch import ROLE, zipped
from tests.integration.test_server import CumuloServer

LOGGING = """
import logging
logger = logging.getLogger("orders")
def handler(event, context):
    logger.debug("too fine")
    logger.info("placed")
    logger.warning("low stock", extra={"sku": "A-1"})
    print("a plain print")
    if event.get("fail"):
        raise KeyError("missing")
    return "ok"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("logcfg") / "home", "--iam", "off")
    yield s
    s.close()


def create(server: CumuloServer, name: str, logging_config: dict[str, str] | None) -> dict[str, Any]:
    extra = {"LoggingConfig": logging_config} if logging_config is not None else {}
    return server.client().create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Timeout=30,
        Code={"ZipFile": zipped({"app.py": LOGGING})}, **extra)


def tail(server: CumuloServer, name: str, event: dict[str, Any] | None = None) -> list[str]:
    got = server.client().invoke(FunctionName=name, LogType="Tail", Payload=json.dumps(event or {}))
    return base64.b64decode(got["LogResult"]).decode().splitlines()


def records(lines: list[str]) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def test_json_format_writes_platform_records_and_the_runtimes_logging_as_json(server: CumuloServer) -> None:
    config = create(server, "structured", {"LogFormat": "JSON", "ApplicationLogLevel": "INFO"})
    assert config["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
                                       "LogGroup": "/aws/lambda/structured"}
    tail(server, "structured")                   # the cold start's lines are not the subject here
    lines = tail(server, "structured")
    docs = records(lines)
    start, report = docs[0], docs[-1]
    assert start["type"] == "platform.start" and start["record"]["version"] == "$LATEST"
    request_id = start["record"]["requestId"]
    assert report["type"] == "platform.report" and report["record"]["requestId"] == request_id
    assert report["record"]["status"] == "success"
    assert set(report["record"]["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"}
    app = [d for d in docs if "level" in d]
    assert [(d["level"], d["message"], d["logger"]) for d in app] == [("INFO", "placed", "orders"),
                                                                       ("WARN", "low stock", "orders")]
    assert app[1]["sku"] == "A-1" and app[1]["requestId"] == request_id
    assert "a plain print" in lines                 # print() is not the logging module's: left as written
    assert not any(line.startswith(("START", "END", "REPORT")) for line in lines)

    failed = records(tail(server, "structured", {"fail": True}))
    error = next(d for d in failed if d.get("level") == "ERROR")
    assert error["errorType"] == "KeyError" and error["stackTrace"]
    assert failed[-1]["record"]["status"] == "error"


def test_levels_filter_the_functions_logging_and_the_platforms_records(server: CumuloServer) -> None:
    create(server, "quiet", {"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "WARN"})
    lines = tail(server, "quiet")
    docs = records(lines)
    assert [d.get("message") for d in docs] == ["low stock"]     # no platform record, no INFO
    create(server, "plain", None)
    lines = tail(server, "plain")
    assert lines[0].startswith("INIT_START") or lines[0].startswith("START")
    assert any(line.startswith("REPORT RequestId:") for line in lines) and "a plain print" in lines
    assert not any("placed" in line for line in lines)           # Text: the root logger's WARNING
    assert server.client().get_function_configuration(FunctionName="plain")["LoggingConfig"] == {
        "LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}


def test_a_log_group_of_its_own_receives_the_functions_lines(server: CumuloServer) -> None:
    create(server, "grouped", {"LogFormat": "JSON", "LogGroup": "/shop/orders"})
    tail(server, "grouped")
    logs = server.aws("logs")
    deadline, events = time.monotonic() + 10, []
    while not events and time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName="/shop/orders").get("events", [])
        time.sleep(0.2)
    assert any('"platform.report"' in e["message"] for e in events)
    assert any(e["message"] == "a plain print" for e in events)


@pytest.mark.parametrize("config, code", [
    ({"LogFormat": "Text", "ApplicationLogLevel": "INFO"}, "InvalidParameterValueException"),
    ({"LogFormat": "XML"}, "ValidationException"),
    ({"LogFormat": "JSON", "SystemLogLevel": "ERROR"}, "ValidationException"),
])
def test_logging_configs_lambda_refuses_are_refused(server: CumuloServer, config: dict[str, str], code: str) -> None:
    with pytest.raises(ClientError) as caught:
        create(server, "refused", config)
    assert caught.value.response["Error"]["Code"] == code
