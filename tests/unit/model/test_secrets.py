"""Secrets Manager's pure rules (``model/secrets.py``): staging labels, names and ARNs, passwords."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.api.authz import Scope
from cumulo.api.authz import secretsmanager as authz_sm
from cumulo.model import secrets as sm

STAGES = st.sampled_from([sm.CURRENT, sm.PREVIOUS, sm.PENDING, "custom", "blue"])
# one step: a new version with some labels (None: the default), or a label moved between versions
STEPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.none() | st.lists(STAGES, min_size=1, max_size=3)),
    st.tuples(st.just("move"), STAGES, st.integers(0, 20))), max_size=25)


def holders(versions: dict[str, list[str]], stage: str) -> list[str]:
    return [v for v, labels in versions.items() if stage in labels]


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_each_label_is_on_one_version_and_awscurrent_moves_awsprevious(steps: list[tuple]) -> None:
    versions: dict[str, list[str]] = {}
    for n, step in enumerate(steps):
        before = {v: list(labels) for v, labels in versions.items()}
        current = next(iter(holders(versions, sm.CURRENT)), None)
        if step[0] == "put":
            vid = f"v{n}"
            sm.stage_new_version(versions, vid, step[1])
            wanted = [sm.CURRENT] if step[1] is None else step[1]
            assert all(s in versions[vid] for s in wanted)
            if current is None:                                 # the first version is AWSCURRENT whatever it asks
                assert sm.CURRENT in versions[vid]
        else:
            if not versions:
                continue
            to = sorted(versions)[step[2] % len(versions)]
            sm.move_stage(versions, step[1], to)
            assert step[1] in versions[to]
        for stage in (sm.CURRENT, sm.PREVIOUS, sm.PENDING, "custom", "blue"):
            assert len(holders(versions, stage)) <= 1           # a label names at most one version
        assert len(holders(versions, sm.CURRENT)) == 1          # once there is a value, there is a current one
        new_current = holders(versions, sm.CURRENT)[0]
        explicit = step[0] == "put" and step[1] is not None and sm.PREVIOUS in step[1] or \
            step[0] == "move" and step[1] == sm.PREVIOUS
        if current is not None and new_current != current and not explicit:
            assert holders(versions, sm.PREVIOUS) == [current]  # AWSCURRENT moved: AWSPREVIOUS is where it was
        if explicit and step[0] == "put":
            assert holders(versions, sm.PREVIOUS) == [f"v{n}"]  # … unless the request put it elsewhere
        if current is not None and new_current == current and step[0] == "put" and step[1] is not None \
                and sm.PREVIOUS not in step[1]:
            assert holders(versions, sm.PREVIOUS) == holders(before, sm.PREVIOUS)
        for labels in versions.values():
            assert len(labels) == len(set(labels))


def test_prune_keeps_labelled_versions_and_drops_the_oldest_unlabelled() -> None:
    order = [f"v{i}" for i in range(sm.MAX_VERSIONS + 5)]
    labels = {v: [] for v in order}
    labels["v0"] = [sm.PREVIOUS]
    labels[order[-1]] = [sm.CURRENT]
    assert sm.prune(dict.fromkeys(order), order, labels) == ["v1", "v2", "v3", "v4", "v5"]


NAMES = st.text(string.ascii_letters + string.digits + "/_+=.@-", min_size=1, max_size=80)


@settings(max_examples=200, deadline=None)
@given(NAMES, st.sampled_from(["000000000000", "123456789012"]))
def test_a_name_a_full_arn_and_a_partial_arn_name_the_same_secret(name: str, account: str) -> None:
    arn = sm.secret_arn("us-east-1", account, name)
    assert sm.check_name(name) == name
    assert sm.name_of(name, account) == name
    assert sm.name_of(arn, account) == name
    assert sm.name_of(arn[:-7], account) == name
    # the authorization mapping reaches the same ARN from each, without the store
    scope = Scope(account, "us-east-1")
    assert authz_sm.arn_suffix(account, name) == sm.arn_suffix(account, name)
    assert {authz_sm.secret_arn(x, scope) for x in (name, arn, arn[:-7])} == {arn}


@given(st.text(min_size=1, max_size=20).filter(lambda s: any(c not in string.ascii_letters + string.digits
                                                               + "/_+=.@-" for c in s)))
def test_names_with_other_characters_are_refused(name: str) -> None:
    with pytest.raises(sm.SecretsError):
        sm.check_name(name)


@settings(max_examples=200, deadline=None)
@given(st.integers(4, 200), st.booleans(), st.booleans(), st.booleans(), st.booleans(),
       st.text(string.printable, max_size=10))
def test_random_passwords_hold_what_was_asked(length: int, numbers: bool, upper: bool, lower: bool,
                                              punctuation: bool, exclude: str) -> None:
    if not (numbers or upper or lower or punctuation):
        numbers = True
    try:
        pw = sm.random_password(length, exclude, numbers, upper, lower, punctuation)
    except sm.SecretsError:
        groups = [g for g, on in ((string.digits, numbers), (string.ascii_uppercase, upper),
                                  (string.ascii_lowercase, lower), (sm.PUNCTUATION, punctuation)) if on]
        assert any(set(g) <= set(exclude) for g in groups)     # refused only when a required type is all excluded
        return
    assert len(pw) == length and not set(pw) & set(exclude)
    for group, on in ((string.digits, numbers), (string.ascii_uppercase, upper), (string.ascii_lowercase, lower),
                      (sm.PUNCTUATION, punctuation)):
        assert bool(set(pw) & set(group)) == on
