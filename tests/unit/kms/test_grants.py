"""KMS grants' pure rules (``kms/grants.py``): tokens, constraints and their strictness, property-tested."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cumulo.kms import grants as gr

keys = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8)
values = st.text(max_size=12)
# An encryption context's keys are compared without case (values with it): a context or constraint
# naming one key twice in different cases is ambiguous, and KMS's documentation says nothing of it, so
# generated ones name each key once, case aside.
def _once(d: dict[str, str]) -> bool:
    return len({k.lower() for k in d}) == len(d)


pairs = st.dictionaries(keys, values, max_size=8).filter(_once)
contexts = st.dictionaries(keys, values, max_size=10).filter(_once)


@given(st.uuids(), st.binary(min_size=32, max_size=32))
def test_a_token_names_its_key_and_grant_and_each_is_unique(key: uuid.UUID, grant: bytes) -> None:
    grant_id = grant.hex()
    token = gr.make_token(str(key), grant_id)
    assert gr.read_token(token) == (str(key), grant_id)
    assert gr.make_token(str(key), grant_id) != token


@given(st.one_of(st.text(max_size=200), st.integers(), st.none(), st.binary(max_size=50)))
def test_anything_else_is_no_token(junk: object) -> None:
    found = gr.read_token(junk)
    assert found is None or (isinstance(junk, str) and len(found[0]) == 36 and len(found[1]) == 64)


@given(st.dictionaries(st.sampled_from(["EncryptionContextEquals", "EncryptionContextSubset", "Other"]),
                       st.one_of(pairs, st.dictionaries(keys, values, min_size=9, max_size=10), st.integers())))
def test_constraints_are_checked_as_kms_checks_them(constraints: dict[str, object]) -> None:
    fine = "Other" not in constraints and all(isinstance(v, dict) and len(v) <= 8 for v in constraints.values())
    if fine:
        assert gr.check_constraints(constraints) == constraints
    else:
        with pytest.raises(gr.GrantError) as caught:
            gr.check_constraints(constraints)
        assert caught.value.code == "ValidationException"


@given(pairs, contexts)
def test_subset_and_equals(subset: dict[str, str], context: dict[str, str]) -> None:
    folded = {k.lower(): v for k, v in context.items()}
    holds = all(folded.get(k.lower()) == v for k, v in subset.items())
    assert gr.satisfies({"EncryptionContextSubset": subset}, "Decrypt", context) == holds
    assert gr.satisfies({"EncryptionContextSubset": subset}, "DescribeKey", context)      # not cryptographic
    assert gr.satisfies({"EncryptionContextEquals": context}, "Encrypt", {k.upper(): v for k, v in context.items()}) \
        == (len({k.lower() for k in context}) == len(context))
    assert gr.satisfies({"EncryptionContextEquals": subset}, "Encrypt", {**subset, "zz-extra": "1"}) is False


@given(pairs, pairs, contexts)
def test_a_grant_as_strict_as_another_allows_nothing_the_other_refuses(child: dict[str, str], parent: dict[str, str],
                                                                       context: dict[str, str]) -> None:
    for kind_c in ("EncryptionContextSubset", "EncryptionContextEquals"):
        for kind_p in ("EncryptionContextSubset", "EncryptionContextEquals"):
            c, p = {kind_c: child}, {kind_p: parent}
            if gr.as_strict(c, p):
                for ctx in (context, child, {**parent, **context}, {**context, **child}):
                    if gr.satisfies(c, "Decrypt", ctx):
                        assert gr.satisfies(p, "Decrypt", ctx)
    assert gr.as_strict({"EncryptionContextSubset": child}, {})


def test_strictness_examples() -> None:
    parent = {"EncryptionContextSubset": {"a": "1"}}
    assert gr.as_strict({"EncryptionContextSubset": {"A": "1", "b": "2"}}, parent)
    assert gr.as_strict({"EncryptionContextEquals": {"a": "1", "b": "2"}}, parent)
    assert not gr.as_strict({}, parent)
    assert not gr.as_strict({"EncryptionContextSubset": {"a": "2"}}, parent)
    assert not gr.as_strict({"EncryptionContextSubset": {"a": "1"}}, {"EncryptionContextEquals": {"a": "1"}})
    assert gr.as_strict({"EncryptionContextEquals": {"a": "1"}}, {"EncryptionContextEquals": {"A": "1"}})


def test_operations_and_principals() -> None:
    assert gr.check_operations(["Decrypt", "Decrypt", "Encrypt"]) == ["Decrypt", "Encrypt"]
    for bad in ([], ["Fly"], "Decrypt", None):
        with pytest.raises(gr.GrantError):
            gr.check_operations(bad)
    assert gr.check_principal("arn:aws:iam::123456789012:role/x", "GranteePrincipal")
    assert gr.check_principal("lambda.amazonaws.com", "GranteePrincipal")
    for bad in ("", "has space", "x" * 257, 5):
        with pytest.raises(gr.GrantError):
            gr.check_principal(bad, "GranteePrincipal")
    gr.check_tokens(None)
    gr.check_tokens(["a"] * 10)
    for bad in (["a"] * 11, [""], "a", ["x" * 8193]):
        with pytest.raises(gr.GrantError):
            gr.check_tokens(bad)
