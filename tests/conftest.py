"""Shared fixtures: a real Cumulo on a temporary home, and function code written on the fly."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable, Iterator

import pytest

from cumulo import Cumulo


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cumulo(home: Path) -> Iterator[Cumulo]:
    with Cumulo(home=home) as c:
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
