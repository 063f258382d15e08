"""A function's triggers drawn as a small graph, on the server: what invokes it (event-source
mappings, event-bus rules and schedules, SNS subscriptions, function URLs) on the left, the function
in the middle, where its asynchronous results go (EventInvokeConfig destinations, the dead-letter
queue) on the right. Every name goes through ``render`` (escaped); the SVG is ``role="img"`` with an
``aria-label`` listing every edge in words, and each box has a ``<title>``, so it reads without
colour or sight. The same facts follow as a table (``triggers_table``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from cumulo.console.html import Safe, join, render

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["Link", "links_of", "triggers_svg", "triggers_table"]

BOX_W, BOX_H, GAP_Y, MID_W, PAD, COL_GAP = 230, 34, 10, 190, 10, 70
MAX_SHOWN = 12          # boxes a side; more are summed up in one ("+ 7 more")


@dataclass(frozen=True)
class Link:
    kind: str       # "SQS queue", "Rule", "Schedule", "SNS topic", "Function URL", "On success", ...
    target: str     # the ARN, URL or name on the other end
    detail: str = ""


_CONTROL = {c: "\ufffd" for c in [*range(0, 9), 11, 12, *range(14, 32), 0x7f]}


def _text(value: str) -> str:
    """Control characters (NUL …) as U+FFFD, as a browser shows them: the SVG stays well-formed XML."""
    return value.translate(_CONTROL)


def _short(arn: str) -> str:
    """An ARN's last part (a queue's or topic's name, a rule's name), else the text itself."""
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1] if arn.startswith("arn:") else arn


def _source_kind(arn: str) -> str:
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    return {"sqs": "SQS queue", "kinesis": "Kinesis stream", "dynamodb": "DynamoDB stream", "kafka": "Kafka",
            "mq": "MQ broker"}.get(service, "Event source")


def _is(function_arn: str, arn: str) -> bool:
    """Whether ``arn`` names the function (itself, a version or an alias of it)."""
    return arn == function_arn or arn.startswith(function_arn + ":")


def links_of(c: "Cumulo", name: str) -> tuple[list[Link], list[Link]]:
    """(sources, destinations) of function ``name``, read from the services (no side effect)."""
    arn = c.arns.function(name)
    sources: list[Link] = []
    for m in c.mappings.list(function_name=name):
        src = str(m.get("EventSourceArn", "?"))
        sources.append(Link(_source_kind(src), src, str(m.get("State", ""))))
    for bus in c.event_bus.list_event_buses():
        for rule in c.event_bus.list_rules(event_bus=bus["Name"]):
            targets = c.event_bus.list_targets_by_rule(rule["Name"], bus["Name"])
            if any(_is(arn, str(t.get("Arn", ""))) for t in targets):
                schedule = rule.get("ScheduleExpression")
                sources.append(Link("Schedule" if schedule else "Rule", f"{bus['Name']}/{rule['Name']}",
                                    str(schedule or rule.get("State", ""))))
    for sub in c.topics.list_subscriptions():
        if sub.get("Protocol") == "lambda" and _is(arn, str(sub.get("Endpoint", ""))):
            sources.append(Link("SNS topic", str(sub.get("TopicArn", ""))))
    for u in c.function_urls.list(name):
        sources.append(Link("Function URL", u.url(c.arns.region), f"auth {u.auth_type}"))
    destinations: list[Link] = []
    for config in c.event_invoke_configs.list(name):
        qualifier = str(config.get("FunctionArn", "")).split(":")[7:8] or ["$LATEST"]
        for outcome, label in (("OnSuccess", "On success"), ("OnFailure", "On failure")):
            target = ((config.get("DestinationConfig") or {}).get(outcome) or {}).get("Destination")
            if target:
                destinations.append(Link(label, str(target), qualifier[0]))
    dead = c.get_function_configuration(name).dead_letter_arn
    if dead:
        destinations.append(Link("Dead-letter queue", dead))
    return sources, destinations


def _column(links: Sequence[Link], x: int, side: str, top: int) -> tuple[list[Safe], list[int]]:
    """The boxes of one side (at most MAX_SHOWN, then one that counts the rest) and their centres' y."""
    shown = [Link(_text(x.kind), _text(x.target), _text(x.detail)) for x in links[:MAX_SHOWN]]
    boxes, centres = [], []
    for i, link in enumerate(shown):
        y = top + i * (BOX_H + GAP_Y)
        label = f"{link.kind}: {_short(link.target)}"
        boxes.append(render(
            '<g class="trigger {side}"><title>{kind}: {target}{detail}</title>'
            '<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6"/>'
            '<text x="{tx}" y="{ty}">{label}</text></g>',
            side=side, kind=link.kind, target=link.target, detail=f" ({link.detail})" if link.detail else "",
            x=x, y=y, w=BOX_W, h=BOX_H, tx=x + 8, ty=y + BOX_H // 2 + 4,
            label=label if len(label) <= 34 else label[:33] + "…"))
        centres.append(y + BOX_H // 2)
    if len(links) > MAX_SHOWN:
        y = top + MAX_SHOWN * (BOX_H + GAP_Y)
        boxes.append(render('<g class="trigger {side} more"><text x="{x}" y="{y}">+ {n} more (listed below)</text></g>',
                            side=side, x=x + 8, y=y + BOX_H // 2, n=len(links) - MAX_SHOWN))
    return boxes, centres


def triggers_svg(name: str, sources: Sequence[Link], destinations: Sequence[Link]) -> Safe:
    """Sources → the function → destinations as one SVG (arrows from each source into the function
    and from it to each destination)."""
    name = _text(name)
    sources = [Link(_text(x.kind), _text(x.target), _text(x.detail)) for x in sources]
    destinations = [Link(_text(x.kind), _text(x.target), _text(x.detail)) for x in destinations]
    rows = max(1, min(len(sources), MAX_SHOWN + 1), min(len(destinations), MAX_SHOWN + 1))
    height = PAD * 2 + rows * BOX_H + (rows - 1) * GAP_Y
    left_x, mid_x = PAD, PAD + BOX_W + COL_GAP
    right_x = mid_x + MID_W + COL_GAP
    width = right_x + BOX_W + PAD
    mid_y = height // 2 - BOX_H // 2
    left, left_c = _column(sources, left_x, "source", PAD)
    right, right_c = _column(destinations, right_x, "destination", PAD)
    arrows = [render('<path class="edge" d="M{x1} {y1} C{cx} {y1} {cx} {y2} {x2} {y2}" marker-end="url(#tri-arrow)"/>',
                     x1=left_x + BOX_W, y1=y, cx=mid_x - COL_GAP // 2, x2=mid_x - 2, y2=height // 2) for y in left_c]
    arrows += [render('<path class="edge" d="M{x1} {y1} C{cx} {y1} {cx} {y2} {x2} {y2}" marker-end="url(#tri-arrow)"/>',
                      x1=mid_x + MID_W, y1=height // 2, cx=right_x - COL_GAP // 2, x2=right_x - 2, y2=y)
               for y in right_c]
    said = [f"{link.kind} {link.target} invokes {name}" for link in sources]
    said += [f"{name} sends {link.kind.lower()} results to {link.target}" if link.kind.startswith("On ")
             else f"{name} sends failed asynchronous events to {link.target}" for link in destinations]
    aria = "; ".join(said) if said else f"Nothing invokes {name} but direct calls, and it has no destinations"
    label = name if len(name) <= 26 else name[:25] + "…"
    return render(
        '<svg class="triggers" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{aria}">'
        '<defs><marker id="tri-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z"/></marker></defs>'
        '{arrows}{left}'
        '<g class="trigger function"><title>Function {name}</title>'
        '<rect x="{mx}" y="{my}" width="{mw}" height="{bh}" rx="6"/><text x="{tx}" y="{ty}">λ {label}</text></g>'
        '{right}</svg>',
        w=width, h=height, aria=aria, arrows=join(arrows), left=join(left), right=join(right), name=name,
        mx=mid_x, my=mid_y, mw=MID_W, bh=BOX_H, tx=mid_x + 8, ty=mid_y + BOX_H // 2 + 4, label=label)


def triggers_table(sources: Sequence[Link], destinations: Sequence[Link]) -> Safe:
    rows = [render('<tr><td>{d}</td><td>{k}</td><td><code>{t}</code></td><td>{x}</td></tr>', d=direction,
                   k=link.kind, t=link.target, x=link.detail or "—")
            for direction, links in (("invokes it", sources), ("receives from it", destinations)) for link in links]
    return render('<table class="triggers-list"><thead><tr><th scope="col">Direction</th><th scope="col">Kind</th>'
                  '<th scope="col">ARN or URL</th><th scope="col">Detail</th></tr></thead><tbody>{rows}</tbody></table>',
                  rows=join(rows) or Safe('<tr><td colspan="4">No triggers or destinations.</td></tr>'))
