"""The package's shape, checked on every run (ARCHITECTURE.md, "Layers").

Every import of a module under ``cumulo/`` counts, wherever it is written: at the top, inside a
function, under ``if TYPE_CHECKING:`` (read with ``ast``, nothing is imported). ``from a import b``
is an import of the module ``a.b`` when there is one, else of ``a``. A package's ``__init__`` that
Python runs on the way to a submodule is not counted as an import of it.

1. Only the layers above the composition root import it (``cumulo.app``): the CLI, the HTTP
   control plane (``api/``), template deploys (``deploy/``), the gateway's server and the package's
   own entry points. Everything else gets what it uses through its constructor (``cumulo/ports.py``).
2. The import graph has no cycle, except those in ``KNOWN_CYCLES``: a list that may only shrink.
3. Only ``cumulo/store`` and the root import a store backend (``SQLITE_STORE``: SQLite and PostgreSQL): every other module
   is typed against the store's protocols (``store/base.py``, ``store/ports.py``), so another
   backend plugs in at the root alone.
4. What runs inside the sandbox (``cumulo.runtime.inside``: the zygote and what it forks into)
   imports only the standard library and itself: the zygote is started by path and pays for every
   import at each fork.
5. The authorization mapping (``cumulo.api.authz``: requests to IAM's actions, resources and condition
   keys) is pure: it imports only the standard library and itself, so it does no I/O and a test can
   hold it against every operation without a server.
6. The capabilities (``CAPABILITIES``: Lambda's control plane, the event bus, queues and streams,
   state machines, the gateway's service, IAM's roles and sessions, object storage, topics, secrets, parameters, tables, KMS,
   CloudWatch Logs) are siblings: no module of one
   imports a module of another. What one needs of another comes through ``cumulo/ports.py`` (wired by the root) or
   lives in a module below both (``model/``, ``store/``, ``targets.py`` …).
7. Nothing below the capabilities (every module that is neither one of them, nor the root, nor
   above it: ``ports.py``, ``targets.py``, ``workers.py``, ``model/``, ``iam/`` (the policy language),
   ``store/``, ``invoke/``, ``runtime/``, ``observe/`` …) imports a capability.
8. The pure cores (``PURE``: the event pattern language, ASL, the models, IAM's policy language,
   the gateway's routing and payloads, alarm rules and metric math, X-Ray's segment documents) do no I/O: they import none of
   the standard library's files, processes, sockets, databases or logging (``NO_IO``), no cumulo
   module but pure ones and ``cumulo.errors``, and call no ``open``, ``print`` or ``input``. A clock
   read (``time``) and the time zone database are allowed; ``EXCEPTIONS`` names the two modules that
   do more, and why.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cumulo"
ROOT = "cumulo.app"
ABOVE_THE_ROOT = {"cumulo", "cumulo.__main__", "cumulo.edge.gateway"}    # these modules, and
ABOVE_THE_ROOT_PACKAGES = ("cumulo.cli", "cumulo.api", "cumulo.deploy", "cumulo.console")    # every module in these
SQLITE_STORE = ("cumulo.store.sqlite", "cumulo.store.sqlite_messages",   # these modules, and any under them
                "cumulo.store.postgres")
INSIDE = "cumulo.runtime.inside"                                          # this package and its modules
AUTHZ = "cumulo.api.authz"                                                # this package and its modules
CAPABILITIES = ("cumulo.functions", "cumulo.metrics", "cumulo.events", "cumulo.sources", "cumulo.stepfunctions",   # these packages
                "cumulo.gateway", "cumulo.identity", "cumulo.objects", "cumulo.topics",
                "cumulo.secrets", "cumulo.parameters", "cumulo.tables", "cumulo.kms", "cumulo.logs",
                "cumulo.traces")
KNOWN_CYCLES: list[set[str]] = []
PURE = ("cumulo.events.pattern", "cumulo.events.index", "cumulo.events.transform", "cumulo.events._operators",
        "cumulo.events._jsonpath", "cumulo.stepfunctions.asl", "cumulo.model", "cumulo.iam", "cumulo.gateway.routing",
        "cumulo.gateway.responses", "cumulo.gateway._request", "cumulo.gateway.payload_v1",
        "cumulo.gateway.payload_v2", "cumulo.gateway.payload_rest", "cumulo.metrics.alarm_rule",
        "cumulo.metrics.expressions", "cumulo.traces.segments", "cumulo.gateway.vtl")   # these modules and packages, and any under them
NO_IO = {"os", "io", "pathlib", "shutil", "tempfile", "glob", "socket", "ssl", "select", "selectors", "subprocess",
         "multiprocessing", "signal", "mmap", "fcntl", "sqlite3", "asyncio", "logging", "zipfile", "tarfile",
         "urllib.request", "http.client", "http.server", "psycopg", "psycopg_pool", "boto3", "botocore"}
EXCEPTIONS = {
    "cumulo.model.code": "reads a function's code package (a zip, or a folder it packs) and checks it",
    "cumulo.stepfunctions.asl.jsonata": "bounds an evaluation's time: a watchdog thread interrupts it (ctypes)",
}


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports."""

    def module(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {module(a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                whole = f"{base}.{alias.name}"
                found.add(whole if whole in known else module(base))
    return {m for m in found if m is not None and m.startswith("cumulo") and m != name}


@functools.cache
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def above_the_root(name: str) -> bool:
    return name in ABOVE_THE_ROOT or name == ROOT or name.startswith(tuple(p + "." for p in ABOVE_THE_ROOT_PACKAGES))


def capability(name: str) -> str | None:
    """The capability package ``name`` belongs to, if any."""
    return next((c for c in CAPABILITIES if name == c or name.startswith(c + ".")), None)


def sibling_imports(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{name} imports {target}" for name, targets in edges.items() for target in targets
                  if capability(name) and capability(target) and capability(name) != capability(target))


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{name} imports {target}" for name, targets in edges.items() for target in targets
                  if capability(target) and not capability(name) and not above_the_root(name))


def sqlite_store(name: str) -> bool:
    return name in SQLITE_STORE or name.startswith(tuple(p + "." for p in SQLITE_STORE))


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_reader_sees_every_kind_of_import() -> None:
    """A check of the check: the graph holds what the services' sources say."""
    edges = graph()
    assert ROOT in edges and "cumulo.ports" in edges["cumulo.functions.asynchronous"]
    assert "cumulo.app" in edges["cumulo"]                          # inside a function (__getattr__)
    assert "cumulo.app" in edges["cumulo.deploy.kinds.bus"]         # under TYPE_CHECKING
    assert "cumulo.api.shapes" in edges["cumulo.api.awsjson"]       # from a package import a module


def test_nothing_below_the_composition_root_imports_it() -> None:
    edges = graph()
    offenders = sorted(name for name, targets in edges.items() if ROOT in targets and not above_the_root(name))
    assert offenders == [], (f"{offenders} import {ROOT}: a service or worker gets what it uses through its "
                             "constructor (store objects, settings, cumulo/ports.py); only app.py wires them")


def test_only_the_store_and_the_root_import_the_sqlite_store() -> None:
    edges = graph()
    assert "cumulo.store.sqlite_messages" in edges[ROOT] and "cumulo.store.sqlite" in edges[ROOT]   # the check works
    assert "cumulo.store.postgres" in edges[ROOT]
    offenders = sorted(f"{name} imports {target}" for name, targets in edges.items() for target in targets
                       if sqlite_store(target) and name != ROOT and not name.startswith("cumulo.store."))
    assert offenders == [], (f"{offenders}: services and workers are typed against the store's protocols "
                             "(store/base.py, store/ports.py); only app.py picks the implementation")


def test_the_import_graph_has_no_cycle_but_the_known_ones() -> None:
    found = cycles(graph())
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert new == [], f"import cycles: {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert gone == [], f"{gone} is no longer a cycle: take it out of KNOWN_CYCLES"


def test_what_runs_inside_the_sandbox_imports_only_itself() -> None:
    edges = graph()
    inside = [name for name in edges if name == INSIDE or name.startswith(INSIDE + ".")]
    assert f"{INSIDE}.zygote_main" in inside and f"{INSIDE}.protocol" in edges[f"{INSIDE}.zygote_main"]   # the check works
    offenders = sorted(f"{name} imports {target}" for name in inside for target in edges[name]
                       if target != INSIDE and not target.startswith(INSIDE + ".") and target not in ("cumulo", "cumulo.runtime"))
    assert offenders == [], f"{offenders}: the zygote imports only the standard library and cumulo/runtime/inside/"


def test_the_authorization_mapping_is_pure() -> None:
    edges = graph()
    mapping = [name for name in edges if name == AUTHZ or name.startswith(AUTHZ + ".")]
    assert f"{AUTHZ}.sqs" in mapping and f"{AUTHZ}.base" in edges[f"{AUTHZ}.sqs"]    # the check works
    offenders = sorted(f"{name} imports {target}" for name in mapping for target in edges[name]
                       if target != AUTHZ and not target.startswith(AUTHZ + ".") and target not in ("cumulo", "cumulo.api"))
    assert offenders == [], f"{offenders}: the authorization mapping imports only the standard library and itself"


def test_capabilities_do_not_import_each_other() -> None:
    edges = graph()
    assert all(any(capability(name) == c for name in edges) for c in CAPABILITIES)       # each one exists
    bad = {**edges, "cumulo.sources.housekeeping": {"cumulo.events.bus"}}
    assert sibling_imports(bad) == ["cumulo.sources.housekeeping imports cumulo.events.bus"]   # the check works
    offenders = sibling_imports(edges)
    assert offenders == [], (f"{offenders}: capabilities are siblings; what one needs of another comes through "
                             "cumulo/ports.py (wired by app.py) or lives in a lower module (model/, store/ …)")


def test_nothing_below_the_capabilities_imports_one() -> None:
    edges = graph()
    assert "cumulo.sources.queues" in edges[ROOT] and not upward_imports({ROOT: {"cumulo.sources.queues"}})
    assert upward_imports({"cumulo.ports": {"cumulo.sources.queues"}}) == ["cumulo.ports imports cumulo.sources.queues"]
    offenders = upward_imports(edges)
    assert offenders == [], (f"{offenders}: ports, the target router, models, the store and the runtime are "
                             "below the capabilities")


def pure(name: str) -> bool:
    return name in PURE or name.startswith(tuple(p + "." for p in PURE))


def io_in(name: str, path: Path, edges: dict[str, set[str]]) -> list[str]:
    """What makes module ``name`` (at ``path``) not pure: I/O imports, impure cumulo imports, I/O calls."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
        for imported in names:
            if imported in NO_IO or imported.split(".")[0] in NO_IO - {"urllib", "http"}:
                found.append(f"imports {imported}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("open", "print", "input"):
            found.append(f"calls {node.func.id}() at line {node.lineno}")
    found += [f"imports {t}" for t in sorted(edges[name]) if not pure(t) and t not in ("cumulo", "cumulo.errors")
              and not any(p.startswith(t + ".") for p in PURE)]     # a package on the way to a pure module
    return found


def test_the_pure_cores_do_no_io() -> None:
    known, edges = modules(), graph()
    cores = [name for name in known if pure(name)]
    assert "cumulo.iam.evaluate" in cores and "cumulo.stepfunctions.asl.interpreter" in cores   # each one exists
    planted = PACKAGE / "model" / "function.py"
    assert io_in("cumulo.model.function", planted, {**edges, "cumulo.model.function": {"cumulo.store.base"}}) == [
        "imports cumulo.store.base"]                                                              # the check works
    assert io_in("cumulo.model.code", known["cumulo.model.code"], edges)       # and finds what the exceptions do
    offenders = {name: io_in(name, known[name], edges) for name in cores if name not in EXCEPTIONS}
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"{offenders}: the pure cores do no I/O (ARCHITECTURE.md, Layers, rule 8)"
