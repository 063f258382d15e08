"""A state machine's definition drawn as SVG, on the server: states as boxes by depth from
``StartAt``, transitions as arrows (Next, Default, Choices, Catch); a Parallel's branches and a
Map's iterator are drawn inside the flow, from the state to each branch's start and from each
branch's ends back to the state's Next. An execution's path is passed as ``visited`` (state names
entered) and ``failed``/``current`` (one state each), which the stylesheet colours and the
boxes' text says (a mark before the name), so colour is never the only sign."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cumulo.console.html import Safe, join, render

__all__ = ["Graph", "layout", "svg"]

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 168, 36, 24, 34, 12


@dataclass
class Graph:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)   # name -> {"type", "branch"}
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, kind)
    start: str = ""


def _walk(g: Graph, states: dict[str, Any], start: str, after: str | None, branch: str) -> list[str]:
    """Add ``states`` to ``g``; return the names of the states that end this block."""
    ends = []
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        kind = str(state.get("Type", "?"))
        g.nodes[name] = {"type": kind, "branch": branch}
        targets: list[tuple[str, str]] = []
        if isinstance(state.get("Next"), str):
            targets.append((state["Next"], "next"))
        for choice in state.get("Choices") or []:
            if isinstance(choice, dict) and isinstance(choice.get("Next"), str):
                targets.append((choice["Next"], "choice"))
        if isinstance(state.get("Default"), str):
            targets.append((state["Default"], "default"))
        for catch in state.get("Catch") or []:
            if isinstance(catch, dict) and isinstance(catch.get("Next"), str):
                targets.append((catch["Next"], "catch"))
        for target, how in targets:
            g.edges.append((name, target, how))
        nested = []
        if kind == "Parallel":
            nested = [b for b in state.get("Branches") or [] if isinstance(b, dict)]
        elif kind == "Map":
            inner = state.get("ItemProcessor") or state.get("Iterator")
            nested = [inner] if isinstance(inner, dict) else []
        for i, block in enumerate(nested):
            found = block.get("States")
            inner_states: dict[str, Any] = found if isinstance(found, dict) else {}
            inner_start = block.get("StartAt")
            if isinstance(inner_start, str) and inner_start in inner_states:
                g.edges.append((name, inner_start, "branch"))
                for end in _walk(g, inner_states, inner_start, state.get("Next"), f"{branch}{name}#{i}/"):
                    if isinstance(state.get("Next"), str):
                        g.edges.append((end, state["Next"], "join"))
        if state.get("End") is True or kind in ("Succeed", "Fail"):
            ends.append(name)
    return ends


def layout(definition: dict[str, Any]) -> tuple[Graph, dict[str, tuple[int, int]]]:
    """The graph and each state's (rank, slot): rank is its longest distance from StartAt."""
    g = Graph(start=str(definition.get("StartAt", "")))
    found = definition.get("States")
    states: dict[str, Any] = found if isinstance(found, dict) else {}
    _walk(g, states, g.start, None, "")
    out: dict[str, list[str]] = {}
    for a, b, _ in g.edges:
        if a in g.nodes and b in g.nodes:
            out.setdefault(a, []).append(b)
    # Back edges (a retry loop: an edge to a state on the path from StartAt) are left out; every
    # other state is drawn one rank below the lowest state that leads to it (the longest path).
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    seen: set[str] = set()
    on_path: set[str] = set()
    roots = ([g.start] if g.start in g.nodes else []) + [n for n in g.nodes if n != g.start]
    for root in roots:
        if root in seen:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        seen.add(root)
        on_path.add(root)
        while stack:
            node, i = stack[-1]
            nexts = out.get(node, [])
            if i < len(nexts):
                stack[-1] = (node, i + 1)
                m = nexts[i]
                if m in on_path:
                    back.add((node, m))
                elif m not in seen:
                    seen.add(m)
                    on_path.add(m)
                    stack.append((m, 0))
            else:
                stack.pop()
                on_path.discard(node)
                order.append(node)
    rank = {n: 0 for n in g.nodes}
    for n in reversed(order):                    # a topological order of the forward edges
        for m in out.get(n, []):
            if (n, m) not in back and rank[m] < rank[n] + 1:
                rank[m] = rank[n] + 1
    slots: dict[int, int] = {}
    where = {}
    for n in g.nodes:
        r = rank[n]
        where[n] = (r, slots.get(r, 0))
        slots[r] = slots.get(r, 0) + 1
    return g, where


def _center(pos: tuple[int, int]) -> tuple[int, int]:
    r, s = pos
    return PAD + s * (BOX_W + GAP_X) + BOX_W // 2, PAD + r * (BOX_H + GAP_Y) + BOX_H // 2


def svg(definition: dict[str, Any], visited: set[str] | None = None, failed: str | None = None,
        current: str | None = None) -> Safe:
    g, where = layout(definition)
    visited = visited or set()
    ranks = max((r for r, _ in where.values()), default=0) + 1
    width = PAD * 2 + max((s for _, s in where.values()), default=0) * (BOX_W + GAP_X) + BOX_W
    height = PAD * 2 + ranks * (BOX_H + GAP_Y) - GAP_Y
    lines = []
    for a, b, how in g.edges:
        if a not in where or b not in where:
            continue
        (x1, y1), (x2, y2) = _center(where[a]), _center(where[b])
        walked = a in visited and b in visited
        if where[b][0] > where[a][0]:
            d = f"M{x1},{y1 + BOX_H // 2} L{x2},{y2 - BOX_H // 2 - 2}"
        else:   # back or sideways: around the right side
            side = max(x1, x2) + BOX_W // 2 + 10
            d = f"M{x1 + BOX_W // 2},{y1} C{side},{y1} {side},{y2} {x2 + BOX_W // 2 + 2},{y2}"
        lines.append(render('<path class="edge {how}{walked}" d="{d}" marker-end="url(#arrow)"/>',
                            how=how, walked=" walked" if walked else "", d=d))
    boxes = []
    for name, node in g.nodes.items():
        x, y = _center(where[name])
        state = "failed" if name == failed else "current" if name == current else \
            "visited" if name in visited else ""
        mark = {"failed": "✕ ", "current": "▶ ", "visited": "✓ "}.get(state, "")
        label = name if len(name) <= 20 else name[:19] + "…"
        boxes.append(render(
            '<g class="state {state}" data-state="{name}"><title>{name} ({kind}){status}</title>'
            '<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}"/>'
            '<text x="{tx}" y="{ty}">{mark}{label}</text></g>',
            state=state, name=name, kind=node["type"], status=f": {state}" if state else "",
            x=x - BOX_W // 2, y=y - BOX_H // 2, w=BOX_W, h=BOX_H, rx=18 if node["type"] == "Choice" else 4,
            tx=x, ty=y + 5, mark=mark, label=label))
    return render('<svg class="graph" role="img" aria-label="State machine graph" width="{w}" height="{h}" '
                  'viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg"><defs><marker id="arrow" '
                  'viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
                  '<path d="M0,0 L10,5 L0,10 z"/></marker></defs>{lines}{boxes}</svg>',
                  w=width, h=height, lines=join(lines), boxes=join(boxes))
