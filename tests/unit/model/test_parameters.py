"""Parameter Store's pure rules (``model/parameters.py``): names, paths, selectors, labels, ARNs."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cumulo.api.authz import Scope
from cumulo.api.authz import ssm as authz_ssm
from cumulo.model import parameters as pm

SEGMENT = st.text(string.ascii_letters + string.digits + "_.-", min_size=1, max_size=12).filter(
    lambda s: not s.lower().startswith(("aws", "ssm")))
HIERARCHICAL = st.lists(SEGMENT, min_size=1, max_size=pm.MAX_DEPTH).map(lambda parts: "/" + "/".join(parts))
NAMES = st.one_of(SEGMENT, HIERARCHICAL)


@settings(max_examples=300, deadline=None)
@given(NAMES)
def test_valid_names_are_accepted_and_their_arn_names_them(name: str) -> None:
    assert pm.check_name(name) == name
    arn = pm.parameter_arn("us-east-1", "123456789012", name)
    assert arn == authz_ssm.parameter_arn(name, Scope("123456789012", "us-east-1"))
    back = pm.name_of_arn(arn)
    assert back == name or (back == "/" + name and "/" not in name) or ("/" + back == name)   # /a and a share an ARN
    assert pm.split_selector(name) == (name, None, None)
    assert pm.split_selector(f"{name}:7") == (name, 7, None)
    assert pm.split_selector(f"{name}:blue") == (name, None, "blue")


@given(st.lists(SEGMENT, min_size=pm.MAX_DEPTH + 1, max_size=pm.MAX_DEPTH + 3))
def test_hierarchies_deeper_than_fifteen_levels_are_refused(parts: list[str]) -> None:
    with pytest.raises(pm.ParamError) as caught:
        pm.check_name("/" + "/".join(parts))
    assert caught.value.type == "HierarchyLevelLimitExceededException"


@given(st.sampled_from(["aws", "AWS", "ssm", "Ssm", "/aws", "/SSM"]), st.text(string.ascii_letters, max_size=5))
def test_reserved_prefixes_are_refused(prefix: str, rest: str) -> None:
    with pytest.raises(pm.ParamError):
        pm.check_name(prefix + rest)


@given(st.text(min_size=1, max_size=20))
def test_anything_else_is_a_name_or_a_validation_error(text: str) -> None:
    try:
        name = pm.check_name(text)
    except pm.ParamError as err:
        assert err.type in ("ValidationException", "HierarchyLevelLimitExceededException")
        return
    assert set(name) <= set(string.ascii_letters + string.digits + "_.-/") and name == text.strip(" ")


def reference_under(name: str, path: str, recursive: bool) -> bool:
    """The hierarchy by its segments: ``name``'s segments extend ``path``'s (by exactly one, unless recursive)."""
    p = [s for s in path.split("/") if s]
    n = name.split("/")[1:] if name.startswith("/") else None
    if n is None or n[:len(p)] != p or len(n) <= len(p):
        return False
    return recursive or len(n) == len(p) + 1


@settings(max_examples=500, deadline=None)
@given(NAMES, st.lists(SEGMENT, max_size=4), st.booleans(), st.booleans())
def test_paths_hold_what_is_below_them(name: str, path_parts: list[str], trailing: bool, recursive: bool) -> None:
    path = "/" + "/".join(path_parts) + ("/" if trailing and path_parts else "")
    assert pm.check_path(path) == path
    assert pm.under_path(name, path, recursive) == reference_under(name, path, recursive)


@given(NAMES)
def test_a_parameter_is_below_each_of_its_ancestors_and_one_level_below_its_parent(name: str) -> None:
    assume(name.startswith("/"))
    parts = name.split("/")[1:]
    for depth in range(len(parts)):
        ancestor = "/" + "/".join(parts[:depth])
        assert pm.under_path(name, ancestor, True)
        assert pm.under_path(name, ancestor, False) == (depth == len(parts) - 1)
    assert not pm.under_path(name, name, True)


@given(st.text(max_size=110))
def test_labels(label: str) -> None:
    ok = pm.check_label(label)
    assert ok == (1 <= len(label) <= 100 and set(label) <= set(string.ascii_letters + string.digits + "._-")
                  and not label[0].isdigit() and not label.lower().startswith(("aws", "ssm")))
