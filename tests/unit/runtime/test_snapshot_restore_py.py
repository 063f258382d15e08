"""Cumulo's snapshot_restore_py: the API of AWS's package (decorator and call forms, AWS's order)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import cumulo.runtime.inside

SITE = Path(cumulo.runtime.inside.__file__).parent / "site" / "snapshot_restore_py.py"


def _fresh() -> ModuleType:
    spec = importlib.util.spec_from_file_location("snapshot_restore_py", SITE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_decorator_form_returns_the_function_and_registers_it() -> None:
    srp = _fresh()

    @srp.register_before_snapshot
    def hook() -> None: ...

    assert callable(hook) and srp.get_before_snapshot() == [(hook, (), {})]


def test_call_form_keeps_arguments() -> None:
    srp = _fresh()
    f = print
    assert srp.register_after_restore(f, 1, 2, sep="-") is f
    assert srp.get_after_restore() == [(f, (1, 2), {"sep": "-"})]


def test_before_snapshot_runs_in_reverse_and_after_restore_in_registration_order() -> None:
    srp = _fresh()
    a, b = (lambda: 1), (lambda: 2)
    for hook in (a, b):
        srp.register_before_snapshot(hook)
        srp.register_after_restore(hook)
    assert [h for h, _, _ in srp.get_before_snapshot()] == [b, a]
    assert [h for h, _, _ in srp.get_after_restore()] == [a, b]


def test_a_hook_must_be_callable() -> None:
    with pytest.raises(TypeError):
        _fresh().register_after_restore("not a function")
