"""The console's pages for the services besides functions: event buses, streams, tables and APIs.

Each reads the service's own list/describe operations (what ListRules, DescribeStream, Scan and
GetRoutes answer) and returns the page's ``<main>`` content; nothing here writes.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any, Iterable

from cumulo.console.html import Safe, join, render, url
from cumulo.edge.gateway import access_log_group
from cumulo.errors import ValidationException
from cumulo.model.stream import shard_id

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["buses_page", "streams_page", "tables_page", "table_page", "apis_page", "plain", "ITEMS_PER_PAGE"]

ITEMS_PER_PAGE = 25
ACCESS_LINES = 20
_SHOWN = 240          # characters of a pattern or an item shown before "…"


def _short(text: str) -> str:
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _table(caption: str, heads: Iterable[str], rows: list[Safe], empty: str) -> Safe:
    heads = list(heads)
    return render('<table><caption class="muted">{c}</caption><thead><tr>{h}</tr></thead><tbody>{r}</tbody></table>',
                  c=caption, h=join(render('<th scope="col">{t}</th>', t=t) for t in heads),
                  r=join(rows) or render('<tr><td colspan="{n}">{e}</td></tr>', n=len(heads), e=empty))


# -- event buses -----------------------------------------------------------------------------------
def buses_page(c: "Cumulo") -> Safe:
    """Every bus with its rules (pattern or schedule, state, targets), then archives and replays."""
    sections = []
    for bus in c.event_bus.list_event_buses():
        rows = []
        for rule in c.event_bus.list_rules(event_bus=bus["Name"]):
            targets = c.event_bus.list_targets_by_rule(rule["Name"], bus["Name"])
            what = rule.get("ScheduleExpression") or _short(str(rule.get("EventPattern", "")))
            rows.append(render('<tr><td>{n}</td><td class="{cls}">{s}</td><td><code>{w}</code></td><td>{t}</td></tr>',
                               n=rule["Name"], cls="good" if rule.get("State") == "ENABLED" else "muted",
                               s=rule.get("State", ""), w=what,
                               t=join((render("<div><code>{a}</code></div>", a=t.get("Arn", "")) for t in targets))
                               or "—"))
        sections.append(render('<h2>Bus {n}</h2>{t}', n=bus["Name"], t=_table(
            f"Rules of {bus['Name']}", ["Rule", "State", "Pattern or schedule", "Targets"], rows, "No rules.")))
    archives = [render('<tr><td>{n}</td><td>{bus}</td><td>{s}</td><td class="num">{e}</td><td class="num">{d}</td></tr>',
                       n=a.get("ArchiveName", ""), bus=str(a.get("EventSourceArn", "")).rsplit("/", 1)[-1],
                       s=a.get("State", ""), e=a.get("EventCount", 0), d=a.get("RetentionDays") or "∞")
                for a in c.event_bus.list_archives()]
    replays = [render('<tr><td>{n}</td><td>{a}</td><td>{s}</td><td>{r}</td></tr>', n=r.get("ReplayName", ""),
                      a=str(r.get("EventSourceArn", "")).rsplit("/", 1)[-1], s=r.get("State", ""),
                      r=r.get("StateReason", "")) for r in c.event_bus.list_replays()]
    return render('{buses}<h2>Archives</h2>{a}<h2>Replays</h2>{r}', buses=join(sections),
                  a=_table("Archived events, kept for replays", ["Archive", "Bus", "State", "Events", "Retention (days)"],
                           archives, "No archives."),
                  r=_table("Replays of archived events", ["Replay", "Archive", "State", "Reason"], replays, "No replays."))


# -- streams ---------------------------------------------------------------------------------------
def streams_page(c: "Cumulo") -> Safe:
    """Kinesis streams, each shard's newest record, and where each mapping reading it has got to."""
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for m in c.mappings.list():
        arn = str(m.get("EventSourceArn", ""))
        if ":kinesis:" in arn:
            by_stream.setdefault(arn.rsplit("/", 1)[-1], []).append(m)
    records = c.messages.streams
    sections = []
    for name in sorted(c.streams.list_streams()):
        count = c.streams.shard_count(name)
        rows = []
        for shard in range(count):
            first, last = records.shard_bounds(name, shard)
            positions = []
            for m in by_stream.get(name, []):
                done = records.get_checkpoint(m["UUID"], f"{shard}:0")
                behind = "not started" if done is None else f"{max(last - done, 0)} behind"
                positions.append(render("<div>{f} ({st}): {b}</div>", f=_function_of(m), st=m.get("State", ""),
                                        b=behind))
            rows.append(render('<tr><td>{i}</td><td class="num">{first}</td><td class="num">{last}</td>'
                               '<td>{pos}</td></tr>', i=shard_id(shard), first=first, last=last,
                               pos=join(positions) or "no mapping"))
        sections.append(render("<h2>Stream {n}</h2>{t}", n=name, t=_table(
            f"Shards of {name}: records kept, and each mapping's position",
            ["Shard", "Oldest record", "Newest record", "Mappings (function, state: records not yet processed)"],
            rows, "No shards.")))
    return join(sections) or Safe("<p>No streams.</p>")


def _function_of(mapping: dict[str, Any]) -> str:
    arn = str(mapping.get("FunctionArn", ""))
    parts = arn.split(":")
    return ":".join(parts[6:]) if len(parts) > 6 else arn


# -- tables ----------------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """A DynamoDB attribute value as the value it stands for (``{"N": "1"}`` → 1), for display."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    kind, v = next(iter(value.items()))
    if kind == "S":
        return v
    if kind == "N":
        try:
            number = float(v)
            return int(number) if number.is_integer() and "e" not in str(v).lower() else number
        except (TypeError, ValueError):
            return v
    if kind == "B":
        return f"<{len(base64.b64decode(v)) if isinstance(v, str) else 0} bytes>"
    if kind in ("BOOL", "NULL"):
        return None if kind == "NULL" else v
    if kind == "L":
        return [plain(x) for x in v] if isinstance(v, list) else v
    if kind == "M":
        return {k: plain(x) for k, x in v.items()} if isinstance(v, dict) else v
    if kind in ("SS", "NS", "BS"):
        return sorted(str(plain({kind[0]: x})) for x in v) if isinstance(v, list) else v
    return value


def tables_page(c: "Cumulo") -> Safe:
    rows = []
    for name in c.tables.list_tables({}).get("TableNames", []):
        t = c.tables.describe_table({"TableName": name})["Table"]
        keys = ", ".join(f"{k['AttributeName']} ({k['KeyType'].lower()})" for k in t.get("KeySchema", []))
        stream = t.get("StreamSpecification", {})
        rows.append(render('<tr><td><a href="{h}">{n}</a></td><td>{k}</td><td class="num">{i}</td><td>{s}</td>'
                           '<td>{x}</td></tr>', h=url("tables", name), n=name, k=keys, i=t.get("ItemCount", 0),
                           s=stream.get("StreamViewType", "—") if stream.get("StreamEnabled") else "—",
                           x=", ".join(ix["IndexName"] for ix in t.get("GlobalSecondaryIndexes", [])
                                       + t.get("LocalSecondaryIndexes", [])) or "—"))
    return _table("Tables (DynamoDB)", ["Table", "Key", "Items", "Stream", "Indexes"], rows, "No tables.")


def table_page(c: "Cumulo", name: str, start: str = "") -> Safe:
    """A page of a table's items (Scan, ``ITEMS_PER_PAGE`` at a time; ``start`` the last page's
    LastEvaluatedKey as JSON), key attributes first."""
    t = c.tables.describe_table({"TableName": name})["Table"]
    keys = [k["AttributeName"] for k in t.get("KeySchema", [])]
    ask: dict[str, Any] = {"TableName": name, "Limit": ITEMS_PER_PAGE}
    if start:
        try:
            ask["ExclusiveStartKey"] = json.loads(start)
        except ValueError:
            raise ValidationException("The start key is not JSON.") from None
    out = c.tables.scan(ask)
    rows = []
    for item in out.get("Items", []):
        rest = {k: plain(v) for k, v in sorted(item.items()) if k not in keys}
        rows.append(render('<tr>{k}<td><code>{r}</code></td></tr>',
                           k=join(render("<td>{v}</td>", v=str(plain(item.get(k)))) for k in keys),
                           r=_short(json.dumps(rest, ensure_ascii=False, default=str))))
    more = out.get("LastEvaluatedKey")
    pager = render('<p class="pager"><a href="{h}" rel="next">Next {n} →</a></p>',
                   h=url("tables", name, start=json.dumps(more, separators=(",", ":"))), n=ITEMS_PER_PAGE) \
        if more else Safe("")
    return render('<p>{n} items in all (as DescribeTable counts them).</p>{t}{p}', n=t.get("ItemCount", 0),
                  t=_table(f"Items of {name}, in scan order", [*keys, "Other attributes"], rows, "No items."), p=pager)


# -- APIs ------------------------------------------------------------------------------------------
def apis_page(c: "Cumulo") -> Safe:
    """Each HTTP or REST API: its stages (with their URLs), routes and what serves them, authorizers."""
    sections = []
    for api in sorted(c.apis.list_apis(), key=lambda a: a.name):
        authorizers = {a.authorizer_id: a for a in api.authorizers}
        routes = [render('<tr><td><code>{k}</code></td><td>{f}</td><td>{p}</td><td>{auth}</td></tr>',
                         k=r.route_key, f=r.function, p=r.payload_version,
                         auth=r.authorization_type if r.authorization_type == "NONE" else
                         f"{r.authorization_type} {authorizers[r.authorizer_id].name}"
                         if r.authorizer_id in authorizers else r.authorization_type)
                  for r in sorted(api.routes, key=lambda r: r.route_key)]
        base = c.gateway_url.rstrip("/")     # empty where no server listens (the CLI's console)
        stages = join(render("<li><code>{s}</code>{u}</li>", s=s.name,
                             u=render(" — <code>{u}</code>", u=_stage_url(base, api.api_id, s.name)) if base else "")
                      for s in api.stages)
        newest = getattr(c.store, "newest_logs", None)      # not in the Store protocol: where a store has it
        group = access_log_group(api.api_id)
        lines = newest(group, ACCESS_LINES) if newest is not None else \
            c.store.query_logs(group, since_ms=int(time.time() * 1000) - 3_600_000)[-ACCESS_LINES:]
        access = render('<pre class="log" aria-label="Access log of {n}">{l}</pre>', n=api.name,
                        l="\n".join(r.message for r in reversed(lines)) or "No requests yet.")
        auths = join(render("<li>{n} ({k}{f})</li>", n=a.name, k=a.kind, f=f": {a.function}" if a.function else
                            f": {a.issuer}" if a.issuer else "") for a in api.authorizers)
        sections.append(render('<h2>{n} <span class="pill">{p}</span> <code>{i}</code></h2><p>{d}</p>'
                               '<h3>Stages</h3><ul>{s}</ul>{r}<h3>Authorizers</h3><ul>{a}</ul>'
                               '<h3>Recent requests, newest first</h3>{log}', log=access,
                               n=api.name, p=api.protocol, i=api.api_id, d=api.description, s=stages,
                               r=_table(f"Routes of {api.name}", ["Route", "Function", "Payload", "Authorization"],
                                        routes, "No routes."), a=auths or Safe("<li>None.</li>")))
    return join(sections) or Safe("<p>No APIs.</p>")


def _stage_url(base: str, api_id: str, stage: str) -> str:
    return f"{base}/{api_id}" + ("" if stage == "$default" else f"/{stage}")
