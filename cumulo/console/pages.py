"""The console's pages: data from the services (reads) and ``Telemetry`` in, escaped HTML out.

Each function returns the page's ``<main>`` content (``html.Safe``); ``server.py`` wraps it in the
layout. Nothing here writes: actions are ``server.py``'s, through the API's own dispatch."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable

from cumulo.errors import ResourceNotFoundException
from cumulo.logs.patterns import Pattern, PatternError, compile_pattern
from cumulo.console import graph, triggers
from cumulo.console.html import Safe, join, render, url
from cumulo.console.samples import SAMPLES
from cumulo.console.telemetry import Invocation, Telemetry

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["functions_list", "function_page", "request_log", "logs_page", "states_list", "machine_page",
           "execution_page", "queues_page", "confirm_page", "login_page", "PAGE_SIZE", "matches"]

PAGE_SIZE = 50
_FORM_CSRF = '<input type="hidden" name="csrf" value="{csrf}">'


def _when(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _time(value: Any) -> str:
    """A Step Functions date (epoch seconds, as the service keeps them) as people read it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _when(int(value * 1000))
    return str(value) if value not in (None, "") else "—"


def _ago(ms: int | None) -> str:
    if ms is None:
        return "never (in the last 7 days)"
    s = max(0, time.time() - ms / 1000)
    return f"{s:.0f} s ago" if s < 120 else f"{s / 60:.0f} min ago" if s < 7200 else f"{s / 3600:.0f} h ago"


def _window(ms: int) -> str:
    return {1_000: "1 s", 10_000: "10 s", 60_000: "1 min", 3_600_000: "1 h", 86_400_000: "24 h"}.get(ms, "7 d")


def login_page(error: str = "") -> Safe:
    flash = render('<p class="flash error" role="alert">{e}</p>', e=error) if error else Safe("")
    return render(
        '{flash}<form method="post" action="/login" class="login">'
        '<p>Log in with one of this store\'s access keys (<code>cumulo keys list</code>; '
        '<code>cumulo up</code> prints the first).</p>'
        '<label for="key_id">Access key ID</label><input type="text" id="key_id" name="key_id" '
        'autocomplete="username" required>'
        '<label for="secret">Secret access key</label><input type="password" id="secret" name="secret" '
        'autocomplete="current-password" required>'
        '<p><button type="submit">Log in</button></p></form>', flash=flash)


# -- functions ------------------------------------------------------------------
def functions_list(c: "Cumulo", telemetry: Telemetry, q: str = "", page_no: int = 0,
                   sparks: Callable[[list[str]], dict[str, tuple[Safe, Safe]]] | None = None) -> Safe:
    """A page of functions, each with its last invocations from the log and, given ``sparks`` (the
    page's function names -> each one's), the last hour's error rate and p99 duration as small lines."""
    every = c.store.function_names()          # names only: just the page's configurations are read
    shown = [n for n in every if q.lower() in n.lower()] if q else every
    pages = max(1, (len(shown) + PAGE_SIZE - 1) // PAGE_SIZE)
    page_no = min(max(page_no, 0), pages - 1)
    rows = []
    on_page = []
    for n in shown[page_no * PAGE_SIZE:(page_no + 1) * PAGE_SIZE]:
        try:
            on_page.append(c.get_function_configuration(n))
        except ResourceNotFoundException:       # deleted since the names were read
            continue
    lines = sparks([f.name for f in on_page]) if sparks is not None and on_page else {}
    for f in on_page:
        s = telemetry.summary(f.name)
        rate = s.error_rate
        errors, p99 = lines.get(f.name, (Safe(""), Safe("")))
        rows.append(render(
            '<tr><td><a href="{href}">{name}</a></td><td>{runtime}</td><td class="num">{memory} MB</td>'
            '<td>{last}</td><td class="num">{count}</td><td class="num{bad}">{rate}</td><td>{errors}</td>'
            '<td>{p99}</td></tr>', errors=errors, p99=p99,
            href=url("functions", f.name), name=f.name, runtime=f.runtime, memory=f.memory_size,
            last=_ago(s.last_ms), count=f"{s.invocations}{'+' if s.capped else ''} / {_window(s.window_ms)}"
            if s.invocations else "0",
            bad=" bad" if rate else "", rate="—" if rate is None else f"{rate:.0%}"))
    pager = []
    if page_no > 0:
        pager.append(render('<a href="{h}" rel="prev">← Previous</a> ', h=url("functions", q=q, page=page_no - 1)))
    pager.append(render('<span>Page {n} of {m} · {t} functions</span>', n=page_no + 1, m=pages, t=len(shown)))
    if page_no + 1 < pages:
        pager.append(render(' <a href="{h}" rel="next">Next →</a>', h=url("functions", q=q, page=page_no + 1)))
    return render(
        '<form method="get" action="/functions" role="search"><label for="q">Filter by name</label>'
        '<input type="search" id="q" name="q" value="{q}"> <button class="plain">Filter</button></form>'
        '<table><caption class="muted">Invocations and errors from each function\'s REPORT lines, newest '
        'window with any</caption><thead><tr><th scope="col">Function</th><th scope="col">Runtime</th>'
        '<th scope="col" class="num">Memory</th><th scope="col">Last invocation</th>'
        '<th scope="col" class="num">Invocations</th><th scope="col" class="num">Error rate</th>'
        '<th scope="col">Errors, last hour</th><th scope="col">p99 duration, last hour</th></tr></thead>'
        '<tbody>{rows}</tbody></table><p class="pager">{pager}</p>',
        q=q, rows=join(rows) or Safe('<tr><td colspan="8">No functions.</td></tr>'), pager=join(pager))


def _started(i: Invocation) -> int:
    """When an invocation's first line was written, at the earliest (its REPORT time less what it took)."""
    return i.timestamp_ms - int(i.duration_ms + (i.init_ms or 0) + (i.restore_ms or 0)) - 2_000


def _invocations_table(name: str, found: list[Invocation]) -> Safe:
    rows = [render(
        '<tr><td><a href="{href}"><code>{rid}</code></a></td><td>{when}</td><td>{version}</td>'
        '<td class="num">{duration} ms</td><td class="num">{init}</td><td class="num">{billed} ms</td>'
        '<td class="num">{used} / {memory} MB</td><td class="{cls}">{status}</td></tr>',
        href=url("functions", name, "requests", i.request_id, since=_started(i)), rid=i.request_id,
        when=_when(i.timestamp_ms), version=i.version, duration=f"{i.duration_ms:.2f}",
        init=f"{i.init_ms:.2f} ms" if i.init_ms is not None else f"restore {i.restore_ms:.2f} ms"
        if i.restore_ms is not None else "—", billed=i.billed_ms, used=i.max_used_mb, memory=i.memory_mb,
        cls="bad" if i.failed else "good", status="Error" if i.failed else "Success") for i in found]
    return render(
        '<table><thead><tr><th scope="col">Request</th><th scope="col">Ended</th><th scope="col">Version</th>'
        '<th scope="col" class="num">Duration</th><th scope="col" class="num">Init / restore</th>'
        '<th scope="col" class="num">Billed</th><th scope="col" class="num">Memory used</th>'
        '<th scope="col">Status</th></tr></thead><tbody>{rows}</tbody></table>',
        rows=join(rows) or Safe('<tr><td colspan="8">No invocations in the last 7 days.</td></tr>'))


def _dl(items: Iterable[tuple[str, Any]]) -> Safe:
    return render('<dl class="config">{x}</dl>', x=join(render("<dt>{k}</dt><dd>{v}</dd>", k=k, v=v)
                                                         for k, v in items))


def function_page(c: "Cumulo", telemetry: Telemetry, name: str, csrf: str, payload: str = "",
                  result: dict[str, Any] | None = None) -> Safe:
    f = c.get_function_configuration(name)
    versions = c.list_versions_by_function(name)
    aliases = c.list_aliases(name)
    reserved = c.get_function_concurrency(name)
    provisioned = [(q, n) for fn, q, n in c.store.list_provisioned_concurrency() if fn == name]
    mappings = c.mappings.list(function_name=name)
    linked = triggers.links_of(c, name)
    config = _dl([("ARN", c.arns.function(name)),
                  ("Runtime", f.runtime), ("Handler", f.handler), ("Memory", f"{f.memory_size} MB"),
                  ("Timeout", f"{f.timeout} s"), ("Ephemeral storage", f"{f.ephemeral_storage} MB"),
                  ("Architecture", f.architecture), ("Role", f.role or "—"), ("Description", f.description or "—"),
                  ("Code size", f"{f.code_size} bytes"), ("Last modified", f.last_modified),
                  ("Layers", ", ".join(ref.arn for ref in f.layers) if f.layers else "—"),
                  ("Environment", ", ".join(sorted(f.environment)) or "—")])
    version_rows = join(render("<tr><td>{v}</td><td>{d}</td><td>{m}</td></tr>", v=v.version,
                               d=v.description or "—", m=v.last_modified) for v in versions)
    alias_rows = join(render("<tr><td>{a}</td><td>{v}</td><td>{w}</td></tr>", a=a.name, v=a.function_version,
                             w=", ".join(f"{k}: {p:.0%}" for k, p in a.weights.items()) or "—")
                      for a in aliases)
    conc = _dl([("Reserved", "unreserved (account pool)" if reserved is None else reserved),
                ("Provisioned", ", ".join(f"{q}: {n}" for q, n in provisioned) or "none"),
                ("In use now", c.limiter.in_flight(name))])
    sources = join(render("<tr><td>{src}</td><td>{state}</td><td class=\"num\">{batch}</td><td>{uuid}</td></tr>",
                          src=m.get("EventSourceArn", "?"), state=m.get("State", "?"),
                          batch=m.get("BatchSize", "—"), uuid=m.get("UUID", "")) for m in mappings)
    options = join(render('<option value="{n}" data-event="{e}">{n}</option>', n=n, e=e) for n, e in SAMPLES.items())
    shown = result and _invoke_result(name, result)
    return render(
        '<p><a href="{logs}">Live log tail of {name}</a></p>'
        '<section aria-labelledby="test"><h2 id="test">Test</h2>'
        '<form method="post" action="{action}">' + _FORM_CSRF +
        '<label for="sample">Sample event</label><select id="sample" name="sample">'
        '<option value="">— choose a template —</option>{options}</select>'
        '<label for="payload">Event (JSON)</label><textarea id="payload" name="payload">{payload}</textarea>'
        '<p><button type="submit">Invoke</button></p></form>{result}</section>'
        '<h2>Recent invocations</h2>{invocations}'
        '<h2>Configuration</h2>{config}'
        '<h2>Concurrency</h2>{conc}'
        '<h2>Versions</h2><table><thead><tr><th scope="col">Version</th><th scope="col">Description</th>'
        '<th scope="col">Last modified</th></tr></thead><tbody>{versions}</tbody></table>'
        '<h2>Aliases</h2><table><thead><tr><th scope="col">Alias</th><th scope="col">Version</th>'
        '<th scope="col">Weights</th></tr></thead><tbody>{aliases}</tbody></table>'
        '<h2 id="triggers">Triggers and destinations</h2>{graph}{links}'
        '<h3>Event-source mappings</h3><table><thead><tr><th scope="col">Source</th><th scope="col">State</th>'
        '<th scope="col" class="num">Batch</th><th scope="col">Mapping</th></tr></thead><tbody>{sources}</tbody>'
        '</table>',
        graph=triggers.triggers_svg(name, *linked), links=triggers.triggers_table(*linked),
        logs=url("logs", function=name), name=name, action=url("functions", name, "invoke"), csrf=csrf,
        options=options, payload=payload or SAMPLES["Hello world"], result=shown or Safe(""),
        invocations=_invocations_table(name, telemetry.invocations(name)), config=config, conc=conc,
        versions=version_rows, aliases=alias_rows or Safe('<tr><td colspan="3">No aliases.</td></tr>'),
        sources=sources or Safe('<tr><td colspan="4">No event-source mappings.</td></tr>'))


def _invoke_result(name: str, r: dict[str, Any]) -> Safe:
    if "error" in r:
        return render('<div class="flash error" role="alert" id="result"><strong>{t}</strong>: {m}</div>',
                      t=r["error"][0], m=r["error"][1])
    failed = r.get("function_error")
    body = r.get("payload", "")
    try:
        body = json.dumps(json.loads(body), indent=2)
    except ValueError:
        pass
    return render(
        '<div id="result"><h3 id="result-status">Result: <span class="{cls}">{status}</span></h3>'
        '<p>Request <a href="{href}"><code>{rid}</code></a>, status {code}, version {version}</p>'
        '<pre id="result-payload">{body}</pre><h3>Log tail</h3><pre id="result-log" class="log">{log}</pre></div>',
        cls="bad" if failed else "good", status=f"failed ({failed})" if failed else "succeeded",
        href=url("functions", name, "requests", r.get("request_id", ""), since=r.get("since")),
        rid=r.get("request_id", ""),
        code=r.get("status"), version=r.get("version", ""), body=body, log=r.get("log", ""))


def request_log(c: "Cumulo", name: str, request_id: str, since_ms: int | None) -> Safe:
    since = max(0, since_ms or 0)
    records = c.get_logs(name, since_ms=since, request_id=request_id, limit=5000)
    return render('<p><a href="{back}">← {name}</a></p><pre class="log" id="request-log">{lines}</pre>',
                  back=url("functions", name), name=name,
                  lines="\n".join(r.message for r in records) or "No log lines for this request.")


# -- logs -------------------------------------------------------------------------
def log_filter(text: str) -> Pattern:
    """The tail's filter: a CloudWatch Logs filter pattern (``cumulo/logs/patterns.py``, what
    FilterLogEvents takes: terms, ``-term``, ``?term``, ``"phrases"``, ``%regex%``, JSON selectors
    ``{ $.level = "ERROR" }``, space-delimited ``[ip, user, status = 5*]``); PatternError if unreadable."""
    return compile_pattern(text)


def matches(message: str, pattern: str) -> bool:
    """Whether a log line passes the filter pattern ``pattern``."""
    return log_filter(pattern).match(message)


def logs_page(c: "Cumulo", function: str, filter_text: str) -> Safe:
    names = c.store.function_names()
    options = join(render('<option value="{n}"{sel}>{n}</option>', n=n,
                          sel=Safe(" selected") if n == function else Safe("")) for n in names)
    try:
        log_filter(filter_text)
        problem = Safe("")
    except PatternError as err:
        problem = render('<p class="flash error" role="alert" id="filter-error">Invalid filter pattern: {m}</p>',
                         m=err.message)
    tail = Safe("") if problem else render(
        '<p>Tail: <span id="tail-state" role="status">connecting…</span></p>'
        '<div id="tail" class="log" aria-live="polite" data-stream="{stream}">'
        '<div id="tail-empty" class="mark">Waiting for new lines…</div></div>'
        '<noscript><p>The live tail needs JavaScript; <a href="{stream}">the stream</a> can be read as text.</p>'
        '</noscript>', stream=url("logs", "stream", function=function, filter=filter_text))
    return render(
        '<form method="get" action="/logs"><label for="function">Function</label><select id="function" '
        'name="function"><option value="">All functions</option>{options}</select>'
        '<label for="filter">Filter pattern <span class="muted">(CloudWatch Logs syntax: <code>ERROR -timeout</code>, '
        '<code>?WARN ?ERROR</code>, <code>"exact phrase"</code>, <code>{{ $.level = "ERROR" }}</code>, '
        '<code>[ip, user, status = 5*]</code>)</span></label>'
        '<input type="search" id="filter" name="filter" value="{filter}"> <button class="plain">Tail</button></form>'
        '{problem}{tail}',
        options=options, filter=filter_text, problem=problem, tail=tail)


# -- state machines -----------------------------------------------------------------
def states_list(c: "Cumulo") -> Safe:
    rows = [render('<tr><td><a href="{h}">{n}</a></td><td>{t}</td><td>{d}</td></tr>', h=url("states", m["stateMachineArn"]),
                   n=m["name"], t=m.get("type", ""), d=_time(m.get("creationDate"))) for m in
            c.state_machines.list_state_machines()]
    return render('<table><thead><tr><th scope="col">State machine</th><th scope="col">Type</th>'
                  '<th scope="col">Created</th></tr></thead><tbody>{rows}</tbody></table>',
                  rows=join(rows) or Safe('<tr><td colspan="3">No state machines.</td></tr>'))


def machine_page(c: "Cumulo", arn: str, csrf: str) -> tuple[str, Safe]:
    m = c.state_machines.describe_state_machine(arn)
    definition = json.loads(m["definition"])
    executions = c.state_machines.list_executions(arn)
    rows = [render('<tr><td><a href="{h}">{n}</a></td><td class="status-{s}">{s}</td><td>{start}</td>'
                   '<td>{stop}</td></tr>', h=url("executions", e["executionArn"]), n=e["name"], s=e["status"],
                   start=_time(e.get("startDate")), stop=_time(e.get("stopDate"))) for e in executions[:200]]
    return m["name"], render(
        '<p class="muted">{arn}</p>{svg}'
        '<h2>Start an execution</h2><form method="post" action="{start}">' + _FORM_CSRF +
        '<label for="input">Input (JSON)</label><textarea id="input" name="input">{{}}</textarea>'
        '<label for="name">Name <span class="muted">(optional)</span></label><input type="text" id="name" name="name">'
        '<p><button type="submit">Start execution</button></p></form>'
        '<h2>Executions</h2><table><thead><tr><th scope="col">Execution</th><th scope="col">Status</th>'
        '<th scope="col">Started</th><th scope="col">Stopped</th></tr></thead><tbody>{rows}</tbody></table>',
        arn=arn, svg=graph.svg(definition), start=url("states", arn, "start"), csrf=csrf,
        rows=join(rows) or Safe('<tr><td colspan="4">No executions.</td></tr>'))


def execution_path(events: list[dict[str, Any]]) -> tuple[list[str], str | None, str | None]:
    """The states an execution entered (in order), the state it failed in and the one it is in."""
    entered: list[str] = []
    open_: list[str] = []
    failed = None
    for e in events:
        t = e.get("type", "")
        if t.endswith("StateEntered"):
            name = e.get("stateEnteredEventDetails", {}).get("name", "")
            entered.append(name)
            open_.append(name)
        elif t.endswith("StateExited"):
            name = e.get("stateExitedEventDetails", {}).get("name", "")
            if name in open_:
                open_.remove(name)
        elif t == "ExecutionRedriven":            # a new attempt: the state it stopped in is entered again
            open_, failed = [], None
        elif t in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted") and open_:
            failed = open_[-1]
        elif t in ("ExecutionFailed",) and entered and failed is None:
            failed = entered[-1]
    current = open_[-1] if open_ and failed is None else None
    return entered, failed, current


def execution_page(c: "Cumulo", arn: str, csrf: str) -> tuple[str, Safe]:
    e = c.state_machines.describe_execution(arn)
    m = c.state_machines.describe_state_machine(e["stateMachineArn"])
    events = c.state_machines.get_execution_history(arn).get("events", [])
    entered, failed, current = execution_path(events)
    if e["status"] != "RUNNING":
        current = None
    if e["status"] in ("FAILED", "TIMED_OUT") and failed is None and entered:
        failed = entered[-1]
    history = [render('<tr><td class="num">{i}</td><td>{t}</td><td>{when}</td><td><code>{d}</code></td></tr>',
                      i=ev.get("id", ""), t=ev.get("type", ""), when=_time(ev.get("timestamp")),
                      d=_details(ev)) for ev in events]
    stop = render('<form method="post" action="{a}">' + _FORM_CSRF + '<button class="danger">Stop execution</button>'
                  '</form>', a=url("executions", arn, "stop"), csrf=csrf) if e["status"] == "RUNNING" else Safe("")
    if e.get("redriveStatus") == "REDRIVABLE":
        stop = render('<form method="post" action="{a}">' + _FORM_CSRF + '<p><button>Redrive execution</button> '
                      '<span class="muted">continues from the state it stopped in, with that state\'s input</span>'
                      '</p></form>', a=url("executions", arn, "redrive"), csrf=csrf)
    if e.get("redriveCount"):
        stop = join([render('<p id="redriven">Redriven {n} time(s), last {d}.</p>', n=e["redriveCount"],
                            d=_time(e.get("redriveDate"))), stop])
    summary = render('<p class="failed-text" id="failed-state">Failed in state: {f}</p>', f=failed) if failed else \
        render('<p id="current-state">Now in state: {s}</p>', s=current) if current else Safe("")
    return e["name"], render(
        '<p>State machine <a href="{mh}">{mn}</a> · status <strong class="status-{s}" id="status">{s}</strong> · '
        'started {start} · stopped {stop_at}</p>{summary}{stop}{svg}'
        '<h2>Path</h2><ol id="path">{path}</ol>'
        '<h2>Input</h2><pre>{input}</pre><h2>Output</h2><pre>{output}</pre>{error}'
        '<h2>Event history</h2><table><thead><tr><th scope="col" class="num">Id</th><th scope="col">Type</th>'
        '<th scope="col">Time</th><th scope="col">Details</th></tr></thead><tbody>{history}</tbody></table>',
        mh=url("states", e["stateMachineArn"]), mn=m["name"], s=e["status"], start=_time(e.get("startDate")),
        stop_at=_time(e.get("stopDate")), summary=summary, stop=stop,
        svg=graph.svg(json.loads(m["definition"]), set(entered), failed, current),
        path=join(render('<li class="{cls}">{n}</li>', n=n, cls="bad" if n == failed else "") for n in entered),
        input=e.get("input", ""), output=e.get("output", "—") or "—",
        error=render('<h2>Error</h2><pre class="failed-text">{err}: {cause}</pre>', err=e.get("error", ""),
                     cause=e.get("cause", "")) if e.get("error") else Safe(""),
        history=join(history))


def _details(ev: dict[str, Any]) -> str:
    for k, v in ev.items():
        if k.endswith("EventDetails") and isinstance(v, dict):
            text = json.dumps(v, default=str)
            return text if len(text) <= 400 else text[:399] + "…"
    return ""


# -- queues ---------------------------------------------------------------------------
def queues_page(c: "Cumulo", csrf: str) -> Safe:
    rows = []
    names = [u.rsplit("/", 1)[-1] for u in c.queues.list_queues().get("QueueUrls", [])]
    every = {n: c.queues.get_queue_attributes(n, ["All"]) for n in names}
    dead_letter_of: dict[str, list[str]] = {}      # one pass, not ListDeadLetterSourceQueues per queue
    dlq_of: dict[str, str] = {}
    for n, a in every.items():
        try:
            policy = json.loads(a.get("RedrivePolicy") or "{}")
        except ValueError:
            policy = {}
        target = str(policy.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1] if isinstance(policy, dict) else ""
        if target:
            dlq_of[n] = target
            dead_letter_of.setdefault(target, []).append(n)
    now_ms = int(time.time() * 1000)
    for name in names:
        a = every[name]
        oldest = c.messages.queues.oldest_sent_ms(name)
        sources = dead_letter_of.get(name, [])
        dlq = dlq_of.get(name, "")
        action = render('<form method="post" action="{a}" class="inline">' + _FORM_CSRF +
                        '<button class="danger" aria-label="Redrive {n}">Redrive to {to}</button></form>',
                        a=url("queues", name, "redrive"), csrf=csrf, n=name, to=", ".join(sources)) \
            if len(sources) == 1 else Safe("")
        rows.append(render(
            '<tr data-queue="{n}"><td>{n}</td><td class="num visible">{v}</td><td class="num">{f}</td>'
            '<td class="num">{d}</td><td class="num">{age}</td><td>{dlq}</td><td>{src}</td><td>{act}</td></tr>',
            age="—" if oldest is None else _age(now_ms - oldest),
            n=name, v=a.get("ApproximateNumberOfMessages", "0"), f=a.get("ApproximateNumberOfMessagesNotVisible", "0"),
            d=a.get("ApproximateNumberOfMessagesDelayed", "0"),
            dlq=dlq or "—", src=", ".join(sources) or "—", act=action))
    return render(
        '<table><thead><tr><th scope="col">Queue</th><th scope="col" class="num">Visible</th>'
        '<th scope="col" class="num">In flight</th><th scope="col" class="num">Delayed</th>'
        '<th scope="col" class="num">Oldest message</th><th scope="col">Dead-letter queue</th>'
        '<th scope="col">Dead-letter queue of</th><th scope="col">Action</th></tr></thead><tbody>{rows}</tbody></table>',
        rows=join(rows) or Safe('<tr><td colspan="8">No queues.</td></tr>'))


def _age(ms: int) -> str:
    """How long ago, as a person reads it: 42 s, 7 min, 3 h, 2 d."""
    seconds = max(ms, 0) // 1000
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def confirm_page(question: str, action: str, csrf: str, fields: dict[str, str], back: str) -> Safe:
    hidden = join(render('<input type="hidden" name="{k}" value="{v}">', k=k, v=v) for k, v in fields.items())
    return render(
        '<form method="post" action="{action}" class="confirm"><p id="question">{q}</p>' + _FORM_CSRF +
        '<input type="hidden" name="confirmed" value="yes">{hidden}'
        '<p><button class="danger" type="submit">Confirm</button> <a class="button plain" href="{back}">Cancel</a></p>'
        '</form>', action=action, q=question, csrf=csrf, hidden=hidden, back=back)
