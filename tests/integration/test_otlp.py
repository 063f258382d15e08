"""Traces exported to an OpenTelemetry collector: ``cumulo up --otlp-endpoint`` posts OTLP/HTTP JSON
to a small receiver run by the test; a traced invocation arrives as spans of its trace, Lambda's
segments as SERVER spans under the caller's span id, their subsegments as their children."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from tests.integration.test_traces import ECHO, create, traced_client
from tests.integration.test_server import CumuloServer


class Collector:
    """An OTLP/HTTP receiver: the JSON bodies posted to /v1/traces."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        paths: list[tuple[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:      # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                paths.append((self.path, self.headers.get("Content-Type", "")))
                received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.received, self.paths = received, paths
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(resource attributes, span) of everything received."""
        out = []
        for body in list(self.received):
            for rs in body["resourceSpans"]:
                attrs = {a["key"]: next(iter(a["value"].values())) for a in rs["resource"]["attributes"]}
                for scope in rs["scopeSpans"]:
                    out += [(attrs, span) for span in scope["spans"]]
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[CumuloServer]:
    s = CumuloServer(tmp_path_factory.mktemp("otlp") / "home", "--iam", "off", "--otlp-endpoint", collector.url)
    yield s
    s.close()


def test_a_traced_invocation_reaches_the_collector_as_spans_of_its_trace(server: CumuloServer,
                                                                          collector: Collector) -> None:
    said = f"traces exported over OTLP to {collector.url}/v1/traces"
    assert said in server.wait_for_output(said)
    create(server, "echo", ECHO)
    epoch, rest, caller = f"{int(time.time()):08x}", "9a" * 12, "1234567890abcdef"
    traced_client(server, f"Root=1-{epoch}-{rest};Parent={caller};Sampled=1").invoke(FunctionName="echo")
    deadline, mine = time.monotonic() + 20, []
    while time.monotonic() < deadline:
        mine = [(r, s) for r, s in collector.spans() if s["traceId"] == epoch + rest]
        if {s["name"] for _, s in mine} >= {"echo", "Invocation", "Overhead"}:
            break
        time.sleep(0.2)
    assert collector.paths[0] == ("/v1/traces", "application/json")
    service = next(s for r, s in mine if r["service.name"] == "echo" and s.get("parentSpanId") == caller)
    assert service["kind"] == 2 and int(service["endTimeUnixNano"]) >= int(service["startTimeUnixNano"])
    function = next(s for _, s in mine if s.get("parentSpanId") == service["spanId"])
    children = {s["name"] for _, s in mine if s.get("parentSpanId") == function["spanId"]}
    assert {"Invocation", "Overhead"} <= children
    assert all(r["cloud.platform"] == "aws_lambda" for r, _ in mine)
