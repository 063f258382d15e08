"""The console without a browser: its login, sessions, CSRF and loopback rules, escaping of whatever
users put in (function descriptions, log lines, payloads, state names), and that its actions are the
API's own operations. A real ``Cumulo`` and ``ControlPlane``; requests go to ``Console.handle``."""

from __future__ import annotations

import html
import json
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote_plus, urlencode

import pytest
from hypothesis import given, strategies as st

from cumulo import Cumulo
from cumulo.api import sigv4
from cumulo.api.keys import first_key
from cumulo.api.server import ControlPlane
from cumulo.console import graph
from cumulo.console.html import Safe, esc, render
from cumulo.console.pages import execution_path, matches
from cumulo.console.server import COOKIE, Console, Incoming
from cumulo.console.telemetry import LogTelemetry
from cumulo.store.base import LogRecord

HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'; alert(1); '", "</textarea><b>x",
           "{csrf}", "&lt;already&gt;", "javascript:alert(1)", "\u2028\u0000<svg onload=alert(1)>"]
HOST = {"host": "127.0.0.1:8081"}


class Browser:
    """Cookies and the last page's CSRF token, as a browser keeps them."""

    def __init__(self, console: Console, client: str = "127.0.0.1", headers: dict[str, str] | None = None) -> None:
        self.console, self.client, self.headers = console, client, {**HOST, **(headers or {})}
        self.cookie = ""
        self.csrf = ""

    def send(self, method: str, path: str, form: dict[str, str] | None = None, **extra: str) -> Any:
        query = {}
        if "?" in path:
            path, _, qs = path.partition("?")
            query = dict(p.split("=", 1) for p in qs.split("&"))
        headers = {**self.headers, **extra, **({"cookie": self.cookie} if self.cookie else {})}
        reply = self.console.handle(Incoming(method, path, query, headers, urlencode(form or {}).encode(), self.client))
        for k, v in reply.headers:
            if k == "set-cookie":
                self.cookie = v.split(";")[0] if not v.startswith(f"{COOKIE}=;") else ""
        if m := re.search(rb'name="csrf" value="([^"]+)"', reply.body):
            self.csrf = m.group(1).decode()
        return reply

    def get(self, path: str, **extra: str) -> Any:
        return self.send("GET", path, **extra)

    def post(self, path: str, form: dict[str, str] | None = None, **extra: str) -> Any:
        return self.send("POST", path, {"csrf": self.csrf, **(form or {})}, **extra)


@pytest.fixture
def console(cumulo: Cumulo) -> Iterator[Callable[..., Console]]:
    planes: list[ControlPlane] = []

    def make(login: bool = True) -> Console:
        planes.append(ControlPlane(cumulo, auth=login, workers=4))
        return Console(cumulo, planes[-1], login=login)

    yield make
    for p in planes:
        p.close()


def logged_in(cumulo: Cumulo, console: Console) -> Browser:
    key, _ = first_key(cumulo.store)
    b = Browser(console)
    reply = b.send("POST", "/login", {"key_id": key.id, "secret": key.secret})
    assert reply.status == 303 and dict(reply.headers)["location"] == "/functions"
    b.get("/functions")
    return b


# -- escaping -------------------------------------------------------------------------
@given(st.text())
def test_text_is_never_markup(text: str) -> None:
    out = render("<p title=\"{t}\">{t}</p>", t=text)
    shown = esc(text)
    assert out == f'<p title="{shown}">{shown}</p>'
    assert not set('<>"\'') & set(shown)            # cannot open a tag nor close the attribute
    assert html.unescape(shown) == text


def test_safe_markup_passes_and_missing_slots_fail() -> None:
    assert render("<b>{x}</b>", x=Safe("<i>ok</i>")) == "<b><i>ok</i></b>"
    with pytest.raises(KeyError):
        render("{nope}")


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=6, unique=True))
def test_state_graph_is_well_formed_svg_whatever_the_state_names(names: list[str]) -> None:
    states = {n: {"Type": "Pass", "Next": names[i + 1]} for i, n in enumerate(names[:-1])}
    states[names[-1]] = {"Type": "Fail", "Error": "E"}
    try:
        svg = graph.svg({"StartAt": names[0], "States": states}, visited=set(names[:-1]), failed=names[-1])
    except ValueError:
        pytest.skip("names XML cannot carry at all")
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF or ord(ch) in (0xFFFE, 0xFFFF)
           for n in names for ch in n):
        return           # XML forbids them or normalises them in attributes; still escaped, checked above
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.findall(f"{ns}g")
    assert sorted(g.get("data-state") for g in groups) == sorted(names)
    assert [g.get("data-state") for g in groups if "failed" in (g.get("class") or "")] == [names[-1]]
    assert not root.findall(f".//{ns}script")


def test_parallel_and_map_branches_are_drawn_joined_to_the_next_state() -> None:
    definition = {"StartAt": "Fan", "States": {
        "Fan": {"Type": "Parallel", "Next": "Done", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Map", "End": True,
                                              "ItemProcessor": {"StartAt": "C", "States": {"C": {"Type": "Pass",
                                                                                                 "End": True}}}}}}]},
        "Done": {"Type": "Succeed"}}}
    g, where = graph.layout(definition)
    assert set(g.nodes) == {"Fan", "A", "B", "C", "Done"}
    assert ("Fan", "A", "branch") in g.edges and ("B", "C", "branch") in g.edges and ("A", "Done", "join") in g.edges
    assert where["Fan"][0] == 0 and where["A"][0] == where["B"][0] == 1


def test_execution_path_names_the_failing_and_the_current_state() -> None:
    def entered(n: str) -> dict[str, Any]:
        return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": n}}

    def exited(n: str) -> dict[str, Any]:
        return {"type": "TaskStateExited", "stateExitedEventDetails": {"name": n}}

    assert execution_path([entered("a"), exited("a"), entered("b"), {"type": "ExecutionFailed"}]) == (["a", "b"], "b", None)
    assert execution_path([entered("a"), exited("a"), entered("b")]) == (["a", "b"], None, "b")
    assert execution_path([entered("a"), exited("a"), {"type": "ExecutionSucceeded"}]) == (["a"], None, None)


def test_the_tails_filter_is_cloudwatchs_filter_pattern_syntax() -> None:
    assert matches("got 1 ERROR", "got ERROR") and not matches("got 1", "got ERROR")
    assert not matches("START RequestId", "-START") and matches("got", "-START") and matches("x", "")
    assert matches("a WARN here", "?WARN ?ERROR") and not matches("all fine", "?WARN ?ERROR")
    assert matches('{"level": "ERROR", "ms": 250}', '{ $.level = "ERROR" && $.ms > 200 }')
    assert not matches('{"level": "INFO", "ms": 250}', '{ $.level = "ERROR" }') and not matches("ERROR", "{ $.a = 1 }")
    assert matches("10.0.0.1 bob 503 12", "[ip, user, status = 5*, bytes]")
    assert matches("said exactly this phrase", '"exactly this"') and not matches("exactly, this", '"exactly this"')


def test_an_execution_path_starts_again_at_a_redrive() -> None:
    def entered(n: str) -> dict[str, Any]:
        return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": n}}

    first = [entered("a"), {"type": "ExecutionFailed"}]
    assert execution_path(first) == (["a"], "a", None)
    assert execution_path(first + [{"type": "ExecutionRedriven"}, entered("a")]) == (["a", "a"], None, "a")


# -- telemetry from REPORT lines -----------------------------------------------------------
def _rec(i: int, rid: str, message: str, ts: int) -> LogRecord:
    return LogRecord("f", "$LATEST", "s", rid, ts, message, i)


@given(st.lists(st.tuples(st.floats(0, 900_000, allow_nan=False), st.booleans()), max_size=30))
def test_invocations_come_newest_first_with_their_status(runs: list[tuple[float, bool]]) -> None:
    now = 10_000_000_000
    records = []
    for i, (duration, failed) in enumerate(runs):
        rid = f"r{i}"
        records.append(_rec(3 * i, rid, f"START RequestId: {rid} Version: $LATEST", now - 1000 + i))
        if failed:
            records.append(_rec(3 * i + 1, rid, "[ERROR] ValueError: no", now - 1000 + i))
        records.append(_rec(3 * i + 2, rid, f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: "
                                            f"{max(1, int(duration) + 1)} ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t",
                            now - 1000 + i))
    t = LogTelemetry(lambda fn, since, limit: [r for r in records if r.timestamp_ms >= since][:limit], lambda: now)
    found = t.invocations("f", limit=100)
    assert [i.request_id for i in found] == [f"r{i}" for i in reversed(range(len(runs)))]
    assert [i.failed for i in found] == [f for _, f in reversed(runs)]
    s = t.summary("f")
    assert (s.invocations, s.errors) == (len(runs), sum(f for _, f in runs))


def test_a_busy_function_shows_its_newest_invocations_and_says_its_count_is_a_lower_bound() -> None:
    from cumulo.console import telemetry

    now = 10_000_000_000
    records = []
    for i in range(3 * telemetry.LINES_PER_READ):      # one invocation every 20 ms, the last minute
        ts = now - 60_000 + i * 60_000 // (3 * telemetry.LINES_PER_READ)
        records.append(_rec(i, f"r{i}", f"REPORT RequestId: r{i}\tDuration: 1.00 ms\tBilled Duration: 1 ms\t"
                                        f"Memory Size: 128 MB\tMax Memory Used: 20 MB\t", ts))
    t = LogTelemetry(lambda fn, since, limit: [r for r in records if r.timestamp_ms >= since][:limit], lambda: now)
    newest = t.invocations("f", limit=5)
    assert [i.request_id for i in newest] == [f"r{i}" for i in range(len(records) - 1, len(records) - 6, -1)]
    s = t.summary("f")
    assert s.capped and s.window_ms == 1_000 and s.invocations == 100     # the last second: all a summary reads
    quiet = LogTelemetry(lambda fn, since, limit: [], lambda: now).summary("f")
    assert (quiet.invocations, quiet.last_ms, quiet.error_rate, quiet.window_ms) == (0, None, None, 7 * 86_400_000)


def test_a_store_that_walks_back_gives_the_newest_lines_however_old_the_burst(cumulo: Cumulo) -> None:
    """A burst of lines that ended minutes ago: the newest are read at once (SQLite's newest_logs)."""
    now = int(time.time() * 1000)
    burst = [LogRecord("f", "$LATEST", "s", f"r{i}", now - 300_000 + i, m) for i in range(3000) for m in (
        f"START RequestId: r{i} Version: $LATEST",
        f"REPORT RequestId: r{i}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t")]
    cumulo.store.append_logs(burst)
    newest = cumulo.store.newest_logs("f", 4)            # type: ignore[attr-defined]
    assert [r.message.split()[0] for r in newest] == ["START", "REPORT", "START", "REPORT"]
    assert [r.request_id for r in newest] == ["r2998", "r2998", "r2999", "r2999"]
    t = LogTelemetry(lambda fn, since, limit: cumulo.store.query_logs(fn, since, 0, limit),
                     newest=cumulo.store.newest_logs)    # type: ignore[attr-defined]
    assert [i.request_id for i in t.invocations("f", 3)] == ["r2999", "r2998", "r2997"]
    s = t.summary("f")
    assert s.capped and s.invocations == 50 and s.window_ms == 600_000 and s.last_ms == now - 300_000 + 2999


# -- login, sessions, CSRF -------------------------------------------------------------------
def test_pages_need_a_login_and_a_wrong_secret_is_refused(cumulo: Cumulo, console: Callable[..., Console]) -> None:
    c = console()
    key, _ = first_key(cumulo.store)
    b = Browser(c)
    assert dict(b.get("/functions").headers)["location"] == "/login"
    assert b.get("/logs/stream").status == 303 and b.get("/queues").status == 303
    assert b.send("POST", "/login", {"key_id": key.id, "secret": key.secret + "x"}).status == 401
    assert b.send("POST", "/login", {"key_id": "AKIANOTAKEY000000000", "secret": "x"}).status == 401
    assert not b.cookie
    reply = b.send("POST", "/login", {"key_id": key.id, "secret": key.secret})
    cookie = dict(reply.headers)["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and key.secret not in cookie
    page = b.get("/functions")
    assert page.status == 200 and key.secret.encode() not in page.body and key.id.encode() not in page.body
    assert b.post("/logout").status == 303 and b.get("/functions").status == 303


def test_every_post_needs_the_sessions_token_and_its_own_origin(cumulo: Cumulo, console: Callable[..., Console],
                                                              deploy: Callable[..., str]) -> None:
    name = deploy("def handler(e, c):\n    return 1\n")
    b = logged_in(cumulo, console())
    good = b.csrf
    b.csrf = "forged"
    assert b.post(f"/functions/{name}/invoke", {"payload": "{}"}).status == 403
    b.csrf = ""
    assert b.post(f"/functions/{name}/invoke", {"payload": "{}"}).status == 403
    b.csrf = good
    assert b.post(f"/functions/{name}/invoke", {"payload": "{}"}, origin="http://evil.example").status == 403
    assert b.post(f"/functions/{name}/invoke", {"payload": "{}"}, origin="null").status == 403
    other = logged_in(cumulo, b.console)
    b.csrf = other.csrf                        # another session's token
    assert b.post(f"/functions/{name}/invoke", {"payload": "{}"}).status == 403
    b.csrf = good
    ok = b.post(f"/functions/{name}/invoke", {"payload": "{}"}, origin="http://127.0.0.1:8081")
    assert ok.status == 200 and b"succeeded" in ok.body


def test_without_login_only_loopback_clients_and_hosts(cumulo: Cumulo, console: Callable[..., Console]) -> None:
    c = console(login=False)
    assert Browser(c).get("/functions").status == 200
    assert Browser(c, client="10.0.0.5").get("/functions").status == 403
    assert Browser(c, headers={"host": "attacker.example:8081"}).get("/functions").status == 403   # DNS rebinding
    b = Browser(c)
    b.get("/queues")
    assert b.cookie and b.post("/queues/q/redrive").status == 403      # a session, still a CSRF token to give


def test_hostile_strings_are_shown_as_text_everywhere(cumulo: Cumulo, console: Callable[..., Console],
                                                      deploy: Callable[..., str]) -> None:
    name = deploy("import json\ndef handler(e, c):\n    print(e['x'])\n    raise ValueError(e['x'])\n",
                  description=" ".join(HOSTILE))
    b = logged_in(cumulo, console())
    for text in HOSTILE:
        page = b.post(f"/functions/{name}/invoke", {"payload": json.dumps({"x": text})})
        assert page.status == 200
        body = page.body.decode()
        scripts = re.findall(r"<script\b[^>]*>", body)
        assert scripts == ['<script src="/static/console.js" defer>'], scripts
        assert "<img" not in body and "<svg onload" not in body and "</textarea><b>" not in body
    rid = re.search(r"/requests/([0-9a-f-]{36})", body).group(1)
    log = b.get(f"/functions/{name}/requests/{rid}").body.decode()
    assert html.escape(HOSTILE[-1].replace("\x00", "\ufffd")) in log or "&lt;svg onload" in log
    headers = dict(b.get("/functions").headers)
    assert "script-src 'self'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"


def test_a_missing_function_is_a_not_found_page(cumulo: Cumulo, console: Callable[..., Console]) -> None:
    b = logged_in(cumulo, console())
    reply = b.get("/functions/nope")
    assert reply.status == 404 and b"ResourceNotFoundException" in reply.body and b"nope" in reply.body
    reply = b.get("/functions/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert reply.status == 400 and b"&lt;script&gt;alert(1)" in reply.body and b"<script>alert" not in reply.body


def test_the_tail_takes_json_filter_patterns_and_refuses_unreadable_ones(
        cumulo: Cumulo, console: Callable[..., Console], deploy: Callable[..., str]) -> None:
    name = deploy("import json\ndef handler(e, c):\n    print(json.dumps({'level': e['level'], 'n': e['n']}))\n")
    c = console()
    stream = c.tail(name, '{ $.level = "ERROR" }', max_s=5, poll_s=0.05)
    assert next(stream) == b"retry: 2000\n\n"
    cumulo.invoke(name, json.dumps({"level": "INFO", "n": 1}))
    cumulo.invoke(name, json.dumps({"level": "ERROR", "n": 2}))
    got = []
    for chunk in stream:
        got += [json.loads(line[6:]) for line in chunk.decode().splitlines() if line.startswith("data: ")]
        if got:
            break
    assert [json.loads(g["message"].split("\t")[-1]) for g in got] == [{"level": "ERROR", "n": 2}]
    b = logged_in(cumulo, c)
    def get(path: str) -> Any:
        return c.handle(Incoming("GET", path, {"function": name, "filter": "{ $.level ="},
                                 {**HOST, "cookie": b.cookie}, b"", "127.0.0.1"))
    reply = get("/logs/stream")
    assert reply.status == 400 and b"Invalid filter pattern" in reply.body
    page = get("/logs").body.decode()
    assert 'id="filter-error"' in page and "data-stream" not in page


def test_the_tail_streams_new_lines_that_pass_the_filter(cumulo: Cumulo, console: Callable[..., Console],
                                                         deploy: Callable[..., str]) -> None:
    name = deploy("def handler(e, c):\n    print('keep', e['n'])\n    print('drop', e['n'])\n")
    c = console()
    stream = c.tail(name, "keep", max_s=5, poll_s=0.05)
    assert next(stream) == b"retry: 2000\n\n"
    cumulo.invoke(name, json.dumps({"n": 1}))
    got = []
    for chunk in stream:
        got += [json.loads(line[6:]) for line in chunk.decode().splitlines() if line.startswith("data: ")]
        if got:
            break
    assert [g["message"] for g in got] == ["keep 1"] and got[0]["function"] == name


def test_actions_are_authorized_as_the_api_authorizes_a_role_session(cumulo: Cumulo,
                                                                      console: Callable[..., Console],
                                                                      deploy: Callable[..., str]) -> None:
    """A role session's keys cannot log in (the pages' reads are not checked against its policies);
    an action made for a role session's principal is refused by the API's own authorization."""
    name = deploy("def handler(e, c):\n    return 1\n")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                     "Action": "sts:AssumeRole"}]}
    role = cumulo.identity.roles.create_role("viewer", json.dumps(trust))["Arn"]
    session = cumulo.identity.sessions.for_role(role, "console-test", 3600)
    c = console()
    b = Browser(c)
    refused = b.send("POST", "/login", {"key_id": session.key_id, "secret": session.secret, "token": session.token})
    assert refused.status == 401 and not b.cookie
    principal = sigv4.Principal(session.key_id, cumulo.arns.region, "", session.arn, session.role_arn,
                                session.session_name)
    _, cookie = c._new_session(principal)
    b.cookie = cookie.split(";")[0]
    b.get(f"/functions/{name}")
    denied = b.post(f"/functions/{name}/invoke", {"payload": "{}"})
    assert b"AccessDenied" in denied.body and b"lambda:InvokeFunction" in denied.body
    assert b"succeeded" not in denied.body


def test_cumulo_up_says_where_the_console_is_and_minus_one_turns_it_off(tmp_path: Path) -> None:
    import urllib.request

    from tests.integration.test_server import CumuloServer

    srv = CumuloServer(tmp_path / "home")
    try:
        with urllib.request.urlopen(srv.console_url + "/login", timeout=30) as page:
            assert page.status == 200 and b"Access key ID" in page.read()
            assert "script-src 'self'" in page.headers["content-security-policy"]
    finally:
        srv.close()
    off = CumuloServer(tmp_path / "home", "--console-port", "-1")
    try:
        assert "  console " not in off.output
    finally:
        off.close()


def _label(body: str, title: str) -> str:
    """The screen-reader label of the chart called ``title``: what it says a sighted reader sees."""
    m = re.search(r'<figcaption>' + re.escape(title) + r'[^<]*</figcaption><svg [^>]*aria-label="([^"]*)"', body)
    assert m is not None, title
    return html.unescape(m.group(1))


def test_metrics_are_charted_per_function_and_for_the_account_with_alarms(
        cumulo: Cumulo, console: Callable[..., Console], deploy: Callable[..., str]) -> None:
    name = deploy("def handler(e, c):\n    if e.get('fail'):\n        raise ValueError('no')\n    return 1\n")
    other = deploy("def handler(e, c):\n    return 2\n")
    for payload in ({}, {}, {"fail": True}):
        cumulo.invoke(name, json.dumps(payload))
    cumulo.invoke(other, b"{}")
    cumulo.alarms.put_metric_alarm({"AlarmName": HOSTILE[1], "Namespace": "AWS/Lambda", "MetricName": "Errors",
                                    "Dimensions": [{"Name": "FunctionName", "Value": name}], "Statistic": "Sum",
                                    "Period": 60, "EvaluationPeriods": 1, "Threshold": 0,
                                    "ComparisonOperator": "GreaterThanThreshold"})
    b = logged_in(cumulo, console())
    one = b.get(f"/metrics?function={name}&range=1h").body.decode()
    assert "Invocations: total 3, latest" in _label(one, "Invocations")
    assert "Errors: total 1" in _label(one, "Errors and throttles") and "Throttles: total 0" in one
    assert re.search(r"p99: peak [0-9.]+ ms", _label(one, "Duration"))
    everyone = b.get("/metrics?range=24h").body.decode()          # the account: both functions
    assert "Invocations: total 4, latest" in _label(everyone, "Invocations (per 15 min)")
    assert b.get("/metrics?range=7d").status == 200 and "per hour" in b.get("/metrics?range=7d").body.decode()
    assert html.escape(HOSTILE[1]) in one and HOSTILE[1] not in one       # alarms listed, names as text
    assert re.search(r'class="(muted|bad|good)">(INSUFFICIENT_DATA|ALARM|OK)<', one)
    page = b.get(f"/functions/{name}").body.decode()
    assert "Invocations: total 3" in _label(page, "Invocations")
    listing = b.get("/functions").body.decode()
    row = re.search(r'<tr><td><a href="/functions/' + name + r'">.*?</tr>', listing)
    assert row is not None and re.search(r'aria-label="Error rate, last 1h: peak 33\.3 %', row.group(0)), row
    unknown = b.get("/metrics?function=nope&range=bogus").body.decode()   # falls back: the account, 1 hour
    assert "Invocations: total 4" in _label(unknown, "Invocations (per 1 min)")


def test_buses_streams_tables_and_apis_have_pages(cumulo: Cumulo, console: Callable[..., Console],
                                                  deploy: Callable[..., str]) -> None:
    name = deploy("def handler(e, c):\n    return 1\n")
    bus = cumulo.event_bus
    bus.put_rule("orders-placed", event_pattern=json.dumps({"source": [HOSTILE[0]]}))
    bus.put_targets("orders-placed", None, [{"Id": "t1", "Arn": cumulo.arns.function(name)}])
    bus.put_rule("nightly", schedule_expression="rate(1 day)", state="DISABLED")
    bus.create_archive("everything", bus.bus_arn("default"))
    cumulo.streams.create_stream("clicks", 2)
    for i in range(5):
        cumulo.streams.put_record("clicks", b"x", "same-key")   # one shard gets all five
    cumulo.mappings.create(EventSourceArn=f"arn:aws:kinesis:us-east-1:000000000000:stream/clicks",
                           FunctionName=name, StartingPosition="TRIM_HORIZON", Enabled=False)
    cumulo.tables.create_table({"TableName": "orders", "BillingMode": "PAY_PER_REQUEST",
                                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]})
    for i in range(30):
        cumulo.tables.put_item({"TableName": "orders", "Item": {"id": {"S": f"order-{i:02d}"}, "n": {"N": str(i)},
                                                                "note": {"S": HOSTILE[1]}}})
    api = cumulo.apis.create_api("shop", stages=["prod"])
    cumulo.apis.create_route(api.api_id, "GET /orders/{id}", name)
    b = logged_in(cumulo, console())

    buses = b.get("/buses").body.decode()
    assert "orders-placed" in buses and f"<code>{cumulo.arns.function(name)}</code>" in buses
    assert "rate(1 day)" in buses and 'class="muted">DISABLED<' in buses and "everything" in buses
    assert HOSTILE[0] not in buses and "&lt;script&gt;" in buses      # a pattern is text

    streams = b.get("/streams").body.decode()
    assert streams.count("shardId-0000000000") == 2
    assert re.search(rf"{name} \(Disabled\): not started", streams), streams

    tables = b.get("/tables").body.decode()
    assert re.search(r'href="/tables/orders">orders</a></td><td>id \(hash\)</td><td class="num">30<', tables)
    first = b.get("/tables/orders").body.decode()
    shown = re.findall(r"<tr><td>(order-\d\d)</td>", first)
    assert len(shown) == 25 and HOSTILE[1] not in first
    start = unquote_plus(html.unescape(re.search(r'href="/tables/orders\?start=([^"]+)" rel="next"', first).group(1)))
    rest = re.findall(r"<tr><td>(order-\d\d)</td>", b.get(f"/tables/orders?start={start}").body.decode())
    assert len(rest) == 5 and sorted(shown + rest) == [f"order-{i:02d}" for i in range(30)]
    assert b.get("/tables/orders?start=" + "not%20json").status == 400
    assert b.get("/tables/nope").status in (400, 404)

    apis = b.get("/apis").body.decode()
    assert "shop" in apis and "<code>GET /orders/{id}</code>" in apis and f"<td>{name}</td>" in apis
    assert "<code>prod</code>" in apis and "No requests yet." in apis


def test_a_template_is_deployed_and_updated_from_the_console(cumulo: Cumulo, console: Callable[..., Console]) -> None:
    from cumulo.console.stacks_view import SAMPLE_TEMPLATE

    b = logged_in(cumulo, console())
    assert SAMPLE_TEMPLATE in html.unescape(b.get("/stacks").body.decode())     # the form starts with a sample
    refused = b.post("/stacks/deploy", {"stack": "hello", "template": SAMPLE_TEMPLATE}).body.decode()
    assert "InsufficientCapabilitiesException" in refused and "CAPABILITY_AUTO_EXPAND" in refused
    broken = b.post("/stacks/deploy", {"stack": "hello", "template": "Resources: [nope"}).body.decode()
    assert "Deploy failed" in broken and 'role="alert"' in broken and "[nope" in broken   # the form keeps it
    reply = b.post("/stacks/deploy", {"stack": "hello", "template": SAMPLE_TEMPLATE, "ack": "yes"})
    assert reply.status == 303 and dict(reply.headers)["location"] == "/stacks/hello"
    page = b.get("/stacks/hello").body.decode()
    assert 'id="stack-status">CREATE_COMPLETE<' in page
    arn = re.search(r"<td>HelloArn</td><td><code>([^<]+)</code>", page).group(1)
    assert cumulo.invoke(arn.rsplit(":", 1)[-1], b'{"name": "console"}').json() == {"hello": "console"}

    changed = SAMPLE_TEMPLATE.replace('"hello"', '"hi"')
    question = b.post("/stacks/deploy", {"stack": "hello", "template": changed, "ack": "yes"}).body.decode()
    assert "Update stack hello?" in question
    assert cumulo.invoke(arn.rsplit(":", 1)[-1], b"{}").json() == {"hello": "world"}      # not before confirming
    b.post("/stacks/deploy", {"stack": "hello", "template": changed, "ack": "yes", "confirmed": "yes"})
    assert 'id="stack-status">UPDATE_COMPLETE<' in b.get("/stacks/hello").body.decode()
    assert cumulo.invoke(arn.rsplit(":", 1)[-1], b"{}").json() == {"hi": "world"}
    listing = b.get("/stacks").body.decode()
    assert re.search(r'href="/stacks/hello">hello</a></td><td class="good">UPDATE_COMPLETE<', listing)


def test_queues_show_the_age_of_their_oldest_message(cumulo: Cumulo, console: Callable[..., Console]) -> None:
    cumulo.queues.create_queue("busy")
    cumulo.queues.create_queue("idle")
    cumulo.queues.send_message("busy", "x")
    page = logged_in(cumulo, console()).get("/queues").body.decode()
    busy = re.search(r'<tr data-queue="busy">(.*?)</tr>', page).group(1)
    idle = re.search(r'<tr data-queue="idle">(.*?)</tr>', page).group(1)
    assert re.search(r'<td class="num">\d s</td>', busy) and '<td class="num">—</td>' in idle


def test_a_functions_triggers_are_drawn_from_sources_to_destinations(
        cumulo: Cumulo, console: Callable[..., Console], deploy: Callable[..., str]) -> None:
    name = deploy("def handler(e, c):\n    return e\n")
    arn = cumulo.arns.function(name)
    for q in ("jobs", "done", "dead"):
        cumulo.queues.create_queue(q)
    cumulo.mappings.create(EventSourceArn=cumulo.queues.arn("jobs"), FunctionName=name, BatchSize=5)
    cumulo.event_bus.put_rule("nightly", schedule_expression="rate(1 day)")
    cumulo.event_bus.put_targets("nightly", None, [{"Id": "1", "Arn": arn}])
    cumulo.event_bus.put_rule("other", event_pattern=json.dumps({"source": ["x"]}))
    cumulo.event_bus.put_targets("other", None, [{"Id": "1", "Arn": cumulo.queues.arn("done")}])
    topic = cumulo.topics.create_topic("news")
    cumulo.topics.subscribe(topic, "lambda", arn + ":$LATEST")
    cumulo.function_urls.create(name, None, "NONE")
    cumulo.event_invoke_configs.put(name, destination_config={"OnSuccess": {"Destination": cumulo.queues.arn("done")}})
    cumulo.update_function_configuration(name, dead_letter_arn=cumulo.queues.arn("dead"))
    body = logged_in(cumulo, console()).get(f"/functions/{name}").body.decode()
    svg = re.search(r'<svg class="triggers".*?</svg>', body, re.S).group(0)
    root = ET.fromstring(svg)
    label = root.get("aria-label")
    assert f"SQS queue {cumulo.queues.arn('jobs')} invokes {name}" in label
    assert f"Schedule default/nightly invokes {name}" in label and "other" not in label
    assert f"SNS topic {topic} invokes {name}" in label and "Function URL https://" in label
    assert f"{name} sends on success results to {cumulo.queues.arn('done')}" in label
    assert f"{name} sends failed asynchronous events to {cumulo.queues.arn('dead')}" in label
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text for t in root.iter(f"{ns}title")] or [t.text for t in root.iter("title")]
    assert f"Function {name}" in titles and len([t for t in titles if t.startswith("SQS queue")]) == 1
    edges = [p for p in root.iter() if p.get("class") == "edge"]
    assert len(edges) == 6                                   # 4 sources in, 2 destinations out
    assert "On success" in body and "receives from it" in body       # the same facts as a table


@given(st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=4), st.sampled_from(HOSTILE))
def test_the_triggers_graph_shows_hostile_names_as_text(names: list[str], function: str) -> None:
    from cumulo.console.triggers import Link, triggers_svg
    links = [Link("Rule", n, n) for n in names]
    svg = str(triggers_svg(function, links, links[:1]))
    root = ET.fromstring(svg)                                   # well-formed: nothing broke out of its attribute
    assert all(el.tag.split("}")[-1] in {"svg", "defs", "marker", "path", "g", "title", "rect", "text"}
               for el in root.iter())
    assert not any(k.startswith("on") for el in root.iter() for k in el.attrib)
    titles = [el.text for el in root.iter() if el.tag.endswith("title")]
    clean = {n: n.replace("\x00", "\ufffd") for n in [*names, function]}
    assert f"Rule: {clean[names[0]]} ({clean[names[0]]})" in titles and f"Function {clean[function]}" in titles
