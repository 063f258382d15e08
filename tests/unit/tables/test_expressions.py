"""DynamoDB's expression language (``tables/expressions.py``), a pure parser and evaluator: generated
expressions round-trip through their text, and garbage gets a ValidationException, never anything else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.errors import ValidationException
from cumulo.tables import expressions as E

NAMES = {"#a": "alpha", "#b": "beta", "#k": "key"}
VALUES = {":s": {"S": "ab"}, ":n": {"N": "5"}, ":m": {"N": "7"}, ":l": {"L": [{"S": "z"}]}, ":ss": {"SS": ["q"]},
          ":t": {"S": "N"}}


def names() -> E.Names:
    return E.Names(dict(NAMES), dict(VALUES))


# -- generated trees, rendered and parsed back ---------------------------------------------------
plain = st.sampled_from(["x", "y", "zed", "a_b", "Q1"])
element = st.one_of(plain, st.sampled_from(sorted(NAMES)))
paths = st.tuples(element, st.lists(st.one_of(element.map(lambda e: "." + e),
                                              st.integers(0, 20).map(lambda i: f"[{i}]")), max_size=3)).map(
    lambda t: t[0] + "".join(t[1]))
values = st.sampled_from(sorted(VALUES))
operands = st.one_of(paths, values, paths.map(lambda p: f"size({p})"))


def conditions(depth: int = 3) -> st.SearchStrategy[str]:
    leaf = st.one_of(
        st.tuples(operands, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), operands).map(" ".join),
        st.tuples(operands, operands, operands).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
        st.tuples(operands, st.lists(operands, min_size=1, max_size=4)).map(lambda t: f"{t[0]} IN ({', '.join(t[1])})"),
        paths.map(lambda p: f"attribute_exists({p})"), paths.map(lambda p: f"attribute_not_exists({p})"),
        paths.map(lambda p: f"attribute_type({p}, :t)"), st.tuples(paths, operands).map(lambda t: f"contains({t[0]}, {t[1]})"),
        paths.map(lambda p: f"begins_with({p}, :s)"))
    if depth == 0:
        return leaf
    sub = conditions(depth - 1)
    return st.one_of(leaf, st.tuples(sub, st.sampled_from(["AND", "OR"]), sub).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
                     sub.map(lambda c: f"NOT ({c})"))


def render(tree: Any) -> str:
    """A tree back to text (names spelled out through #names where the original used them is not kept:
    the text renders resolved names, which parse to the same tree when not reserved)."""
    if isinstance(tree, E.Path):
        out = ""
        for i, e in enumerate(tree.elements):
            out += f"[{e}]" if isinstance(e, int) else (("." if i else "") + _name(e))
        return out
    if isinstance(tree, E.Value):
        return tree.name
    if isinstance(tree, E.Call):
        return f"{tree.name}({', '.join(render(a) for a in tree.args)})"
    if isinstance(tree, E.Compare):
        return f"{render(tree.left)} {tree.op} {render(tree.right)}"
    if isinstance(tree, E.Between):
        return f"{render(tree.subject)} BETWEEN {render(tree.low)} AND {render(tree.high)}"
    if isinstance(tree, E.In):
        return f"{render(tree.subject)} IN ({', '.join(render(o) for o in tree.options)})"
    if isinstance(tree, E.Logic):
        if tree.op == "NOT":
            return f"NOT ({render(tree.parts[0])})"
        return f" {tree.op} ".join(f"({render(p)})" for p in tree.parts)
    raise AssertionError(tree)


def _name(e: str) -> str:
    reverse = {v: k for k, v in NAMES.items()}
    return reverse.get(e, e)


@given(conditions())
@settings(max_examples=300, deadline=None)
def test_a_condition_parses_and_its_rendering_parses_to_the_same_tree(text: str) -> None:
    tree = E.parse_condition(text, names())
    assert E.parse_condition(render(tree), names()) == tree


@given(conditions())
@settings(max_examples=200, deadline=None)
def test_evaluating_a_condition_answers_a_bool_or_a_validation_error(text: str) -> None:
    tree = E.parse_condition(text, names())
    item = {"x": {"N": "5"}, "alpha": {"S": "abc"}, "y": {"L": [{"S": "z"}, {"N": "1"}]},
            "zed": {"M": {"x": {"SS": ["q"]}}}}
    try:
        assert E.evaluate(tree, item, names()) in (True, False)
    except ValidationException:
        pass


tokens = st.sampled_from(["SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN", "(", ")", ",", ".",
                          "[", "]", "=", "<>", "<", ">=", "+", "-", "#a", "#zz", ":s", ":nope", "x", "name", "size",
                          "if_not_exists", "list_append", "attribute_exists", "0", "99999999999", "@", "'", "\"",
                          "é", "\x00", " "])


@given(st.one_of(st.lists(tokens, max_size=25).map(" ".join), st.text(max_size=60)))
@settings(max_examples=1500, deadline=None)
def test_garbage_is_a_validation_exception_never_a_crash(text: str) -> None:
    for parse in (lambda t: E.parse_condition(t, names()), lambda t: E.parse_update(t, names()),
                  lambda t: E.parse_projection(t, names()), lambda t: E.key_condition(t, names(), "x", "y")):
        try:
            parse(text)
        except ValidationException:
            pass


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(ValidationException):
        E.parse_condition("(" * 5000 + "x = :n" + ")" * 5000, names())
    with pytest.raises(ValidationException):
        E.parse_condition("NOT " * 5000 + "x = :n", names())


@pytest.mark.parametrize("text, message", [
    ("a = = b", 'Invalid ConditionExpression: Syntax error; token: "=", near: "= = b"'),
    ("name = :s", "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"),
    ("#nope = :s", "Invalid ConditionExpression: An expression attribute name used in the document path is not "
                   "defined; attribute name: #nope"),
    ("x = :nope", "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
                  "attribute value: :nope"),
    ("foo(x)", "Invalid ConditionExpression: Invalid function name; function: foo"),
    ("", "Invalid ConditionExpression: The expression can not be empty;"),
    ("x = :s AND", 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"'),
    ("attribute_type(x, :s)", "Invalid ConditionExpression: Invalid attribute type name found; type: ab, valid types: "
                              "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
])
def test_condition_errors_are_worded_as_dynamodb_words_them(text: str, message: str) -> None:
    with pytest.raises(ValidationException) as err:
        E.parse_condition(text, names())
    assert err.value.message == message


def test_update_paths_that_overlap_are_refused() -> None:
    with pytest.raises(ValidationException) as err:
        E.parse_update("SET x = :n REMOVE x.y", names())
    assert err.value.message == ("Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
                                 "rewrite one of these paths; path one: [x], path two: [x, y]")
    with pytest.raises(ValidationException) as err:
        E.parse_update("SET x = :n SET y = :n", names())
    assert "can only be used once" in err.value.message


def test_unused_names_and_values_are_refused() -> None:
    n = names()
    E.parse_condition("x = :n", n)
    with pytest.raises(ValidationException) as err:
        n.check_all_used()
    assert err.value.message == "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b, #k}"


def test_updates_do_what_dynamodb_does() -> None:
    n = names()
    item = {"key": {"S": "k"}, "x": {"N": "1"}, "l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]},
            "ss": {"SS": ["q", "r"]}, "m": {"M": {"in": {"S": "v"}}}}
    u = E.parse_update("SET x = x + :m, y = if_not_exists(y, :n), l = list_append(l, :l), m.deep = :s "
                       "ADD cnt :n, ss :ss DELETE sss :ss", n)
    out = E.apply_update(u, item, n)
    assert out["x"] == {"N": "8"} and out["y"] == {"N": "5"} and out["cnt"] == {"N": "5"}
    assert out["m"] == {"M": {"in": {"S": "v"}, "deep": {"S": "ab"}}}
    assert out["ss"] == {"SS": ["q", "r"]}
    assert item["x"] == {"N": "1"}                         # the original is left alone
    u2 = E.parse_update("REMOVE l[0], l[2]", n)
    assert E.apply_update(u2, item, n)["l"] == {"L": [{"N": "2"}]}
    with pytest.raises(ValidationException) as err:
        E.apply_update(E.parse_update("SET nothere.x = :n", n), item, n)
    assert err.value.message == "The document path provided in the update expression is invalid for update"
    with pytest.raises(ValidationException):
        E.apply_update(E.parse_update("SET x = m + :n", n), item, n)
    left = E.apply_update(E.parse_update("DELETE ss :ss", n), {"ss": {"SS": ["q"]}}, n)
    assert "ss" not in left                            # a set left empty is removed


def test_projection_keeps_the_named_parts() -> None:
    n = names()
    item = {"l": {"L": [{"S": "0"}, {"S": "1"}, {"S": "2"}]}, "m": {"M": {"a": {"N": "1"}, "b": {"N": "2"}}}, "z": {"S": "z"}}
    assert E.project(item, E.parse_projection("l[2], l[0], m.b", n)) == {
        "l": {"L": [{"S": "0"}, {"S": "2"}]}, "m": {"M": {"b": {"N": "2"}}}}


@pytest.mark.parametrize("text, expected", [
    ("x = :s", E.KeyCondition({"S": "ab"})),
    ("x = :s AND y BETWEEN :n AND :m", E.KeyCondition({"S": "ab"}, "BETWEEN", ({"N": "5"}, {"N": "7"}))),
    (":n <= y AND x = :s", E.KeyCondition({"S": "ab"}, ">=", ({"N": "5"},))),
    ("begins_with(y, :s) AND x = :s", E.KeyCondition({"S": "ab"}, "begins_with", ({"S": "ab"},))),
])
def test_key_conditions(text: str, expected: E.KeyCondition) -> None:
    n = names()
    assert E.key_condition(text, n, "x", "y") == expected


@pytest.mark.parametrize("text, message", [
    ("y = :n", "Query condition missed key schema element: x"),
    ("x = :s OR y = :n", "Invalid operator used in KeyConditionExpression: OR"),
    ("x = :s AND x = :s", "KeyConditionExpressions must only contain one condition per key"),
    ("x < :s", "Query key condition not supported"),
])
def test_bad_key_conditions(text: str, message: str) -> None:
    with pytest.raises(ValidationException) as err:
        E.key_condition(text, names(), "x", "y")
    assert err.value.message == message
