"""Shared fixtures: a real Cumulo on a temporary home, and function code written on the fly.

Skips that a machine must not have: a test that cannot run here for want of something skips with
the capability it lacks in brackets at the start of its reason (``pytest.skip("[cgroup] no writable
memory cgroup here")``). ``CUMULO_REQUIRE`` lists capabilities this machine must have
(``CUMULO_REQUIRE=root,namespace,cgroup,node``; ``.ci/run`` sets what CI's machine provides): such
a skip of a required capability is reported as a failure, so coverage cannot disappear unnoticed.

Both store backends: a test module marked ``pytestmark = pytest.mark.both_stores`` runs each of its
tests that reach a store through ``new_store`` (the ``cumulo`` fixture does, and so do the server
fixtures of such modules) twice, ``[sqlite]`` and ``[postgresql]``, the second on fresh databases
of this process's throw-away PostgreSQL cluster (``postgres``). Other modules run on SQLite only.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import pytest
from hypothesis import settings

from cumulo import Cumulo

if TYPE_CHECKING:
    from tests.postgres import Cluster

# Hypothesis's per-example deadline (200 ms) is a timing assertion: a first example that warms a
# parser, or any example on a machine busy with other work, exceeds it without a fault in the code.
# Bounds that matter (intrinsics, JSONata, request sizes) are checked by what they refuse.
settings.register_profile("cumulo", deadline=None)
settings.load_profile("cumulo")

# What a bracketed skip reason may name; CUMULO_REQUIRE may name only these.
CAPABILITIES = {
    "root": "running as root (tmpfs mounts, other users' processes)",
    "namespace": "the namespace sandbox level: root with user, mount, pid and network namespaces",
    "cgroup": "a writable memory cgroup hierarchy (memory sizes enforced by cgroups)",
    "snapstart": "SnapStart templates at the process and namespace levels",
    "node": "Node.js and npm (the nodejs runtimes, npm builds)",
    "runtime-clients": "AWS's runtime interface clients, installed and built (awslambdaric, aws-lambda-ric)",
    "nonroot": "an ordinary user to run Cumulo as (created with useradd when root), and a Python it may run",
    "rootless": "user namespaces for an ordinary user (the namespace level without root)",
    "strace": "strace, to watch a process's system calls (fsync per commit)",
    "curl": "curl, for custom runtimes' bootstraps",
    "gcc": "a C compiler, for a compiled custom runtime",
    "browser": "headless Chromium (Debian's chromium) and the playwright package, for the console's browser tests",
    "awscli-v2": "AWS CLI version 2 (aws logs tail), unpacked from a PyPI package (tests/integration/awscli_v2.py)",
    "postgresql": "PostgreSQL's server programs and psycopg, for the PostgreSQL store (a throw-away cluster per session)",
    "sam-cli": "the AWS SAM CLI, installed from PyPI into a virtualenv of its own (tests/integration/sam_cli.py)",
}
_TAG = re.compile(r"(?:Skipped: )?\[([a-z-]+)\]")


def required_capabilities() -> set[str]:
    names = {n.strip() for n in os.environ.get("CUMULO_REQUIRE", "").split(",") if n.strip()}
    unknown = names - CAPABILITIES.keys()
    if unknown:
        raise pytest.UsageError(f"CUMULO_REQUIRE names unknown capabilities {sorted(unknown)}; "
                                f"known: {', '.join(sorted(CAPABILITIES))}")
    return names


_REQUIRED = pytest.StashKey[set]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REQUIRED] = required_capabilities()
    config.addinivalue_line("markers", "both_stores: each test of the module that uses new_store (or cumulo) "
                                       "runs on SQLite and on PostgreSQL ([sqlite], [postgresql])")


STORE_BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store_backend", STORE_BACKENDS, indirect=True, scope="module")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()    # type: ignore[attr-defined]
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    tag = _TAG.match(reason)
    if tag and tag.group(1) not in CAPABILITIES:
        report.outcome = "failed"
        report.longrepr = f"a skip names an unknown capability (tests/conftest.py's CAPABILITIES): {reason}"
    elif tag and tag.group(1) in item.config.stash[_REQUIRED]:
        report.outcome = "failed"
        report.longrepr = (f"CUMULO_REQUIRE names {tag.group(1)} ({CAPABILITIES.get(tag.group(1), '?')}), "
                           f"so this machine must run this test, but it skipped: {reason}")


def pytest_report_header(config: pytest.Config) -> str:
    required = config.stash[_REQUIRED]
    return f"CUMULO_REQUIRE: {', '.join(sorted(required)) if required else '(none: capability skips stay skips)'}"


@pytest.fixture(scope="session")
def postgres() -> Iterator["Cluster"]:
    """A throw-away PostgreSQL server for this session (``tests/postgres.py``); skips naming the
    capability where none can be started."""
    from tests.postgres import Cluster, unavailable

    why = unavailable()
    if why:
        pytest.skip(f"[postgresql] {why}")
    cluster = Cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def store_backend(request: pytest.FixtureRequest) -> str:
    """The store this module's tests run on: sqlite, or (modules marked both_stores) each in turn."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="module")
def new_store(store_backend: str, request: pytest.FixtureRequest) -> Callable[[], str]:
    """Makes a store for one Cumulo (one home and its master key): "" (SQLite files under the home)
    or, on PostgreSQL, the URL of a new empty database (``--store`` / ``CUMULO_STORE``)."""
    if store_backend == "sqlite":
        return lambda: ""
    cluster: Cluster = request.getfixturevalue("postgres")
    return cluster.fresh_database


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cumulo(home: Path, new_store: Callable[[], str]) -> Iterator[Cumulo]:
    with Cumulo(home=home, store=new_store() or None) as c:
        yield c


@pytest.fixture
def make_code(tmp_path: Path) -> Callable[..., Path]:
    """Write a function's sources into a new folder: ``make_code(app="def handler(e, c): ...")``."""
    counter = iter(range(10_000))

    def make(**files: str) -> Path:
        folder = tmp_path / f"code{next(counter)}"
        folder.mkdir()
        for name, source in files.items():
            path = folder / (name.replace("__", "/") + ("" if "." in name else ".py"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return folder

    return make


@pytest.fixture
def deploy(cumulo: Cumulo, make_code: Callable[..., Path]) -> Callable[..., str]:
    """Create a function from source text and return its name."""
    counter = iter(range(10_000))

    def create(source: str, name: str | None = None, handler: str = "app.handler", **options: object) -> str:
        fname = name or f"fn{next(counter)}"
        cumulo.create_function(fname, make_code(app=source), handler, **options)
        return fname

    return create
