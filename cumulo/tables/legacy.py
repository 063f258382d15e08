"""DynamoDB's legacy conditional parameters mapped onto the expression engine's trees: ``Expected``,
``QueryFilter``/``ScanFilter`` with ``ConditionalOperator``, ``KeyConditions`` and
``AttributeUpdates`` (DynamoDB developer guide, "Legacy conditional parameters"). Their values
are registered in the request's ``Names`` under names of their own, so the one evaluator decides
them as it decides expressions.

Pure (no I/O); every fault is a ValidationException worded as DynamoDB's
("One or more parameter values were invalid: Invalid number of argument(s) for the EQ
ComparisonOperator").
"""

from __future__ import annotations

from typing import Any

from cumulo.errors import ValidationException
from cumulo.tables import expressions as E
from cumulo.tables import values as V

__all__ = ["conditions", "expected", "attribute_updates", "key_conditions", "mixed", "LEGACY", "EXPRESSIONS"]

LEGACY = ("AttributesToGet", "KeyConditions", "QueryFilter", "ScanFilter", "Expected", "AttributeUpdates",
          "ConditionalOperator")
EXPRESSIONS = ("ProjectionExpression", "KeyConditionExpression", "FilterExpression", "ConditionExpression",
               "UpdateExpression")

# comparison operator -> how many values it takes (None: one or more)
_ARITY: dict[str, int | None] = {"EQ": 1, "NE": 1, "LE": 1, "LT": 1, "GE": 1, "GT": 1, "NOT_NULL": 0, "NULL": 0,
                                 "CONTAINS": 1, "NOT_CONTAINS": 1, "BEGINS_WITH": 1, "IN": None, "BETWEEN": 2}
_COMPARE = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}
_KEY_OPERATORS = ("EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN")


def _invalid(message: str) -> ValidationException:
    return ValidationException("One or more parameter values were invalid: " + message)


def mixed(d: dict[str, Any], legacy: tuple[str, ...] = LEGACY, expressions: tuple[str, ...] = EXPRESSIONS) -> None:
    """Refuse a request that uses both kinds, as DynamoDB words it."""
    old = [k for k in legacy if d.get(k) is not None]
    new = [k for k in expressions if d.get(k) is not None]
    if old and new:
        raise ValidationException(f"Can not use both expression and non-expression parameters in the same request: "
                                  f"Non-expression parameters: {{{', '.join(old)}}} Expression parameters: "
                                  f"{{{', '.join(new)}}}")


def _value(names: E.Names, av: Any) -> E.Value:
    key = f":legacy{len(names.values)}"
    names.values[key] = V.validate_value(av)
    names.used_values.add(key)
    return E.Value(key)


def _condition(name: str, spec: Any, names: E.Names) -> Any:
    if not isinstance(spec, dict):
        raise _invalid(f"Condition of {name} must be a map")
    op = spec.get("ComparisonOperator")
    if op not in _ARITY:
        raise ValidationException(f"1 validation error detected: Value '{op}' at 'comparisonOperator' failed to "
                                  f"satisfy constraint: Member must satisfy enum value set: [{', '.join(_ARITY)}]")
    given = spec.get("AttributeValueList") or []
    if not isinstance(given, list):
        raise _invalid(f"Invalid number of argument(s) for the {op} ComparisonOperator")
    arity = _ARITY[op]
    if (arity is None and not given) or (arity is not None and len(given) != arity):
        raise _invalid(f"Invalid number of argument(s) for the {op} ComparisonOperator")
    values = [_value(names, v) for v in given]
    for v in values:
        kind = V.type_of(names.values[v.name])
        if op in _COMPARE and op not in ("EQ", "NE") and kind not in V.SCALAR_TYPES or \
                op in ("BEGINS_WITH", "BETWEEN") and kind not in ("S", "B", "N") or \
                op in ("CONTAINS", "NOT_CONTAINS") and kind not in V.SCALAR_TYPES:
            raise _invalid(f"ComparisonOperator {op} is not valid for {kind} AttributeValue type")
    if op == "BEGINS_WITH" and V.type_of(names.values[values[0].name]) == "N":
        raise _invalid("ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type")
    path = E.Path((name,))
    if op in _COMPARE:
        return E.Compare(_COMPARE[op], path, values[0])
    if op == "NOT_NULL":
        return E.Call("attribute_exists", (path,))
    if op == "NULL":
        return E.Call("attribute_not_exists", (path,))
    if op == "CONTAINS":
        return E.Call("contains", (path, values[0]))
    if op == "NOT_CONTAINS":
        return E.Logic("AND", (E.Call("attribute_exists", (path,)),
                               E.Logic("NOT", (E.Call("contains", (path, values[0])),))))
    if op == "BEGINS_WITH":
        return E.Call("begins_with", (path, values[0]))
    if op == "IN":
        return E.In(path, tuple(values))
    return E.Between(path, values[0], values[1])


def _join(parts: list[Any], operator: Any) -> Any:
    if operator not in (None, "AND", "OR"):
        raise ValidationException(f"1 validation error detected: Value '{operator}' at 'conditionalOperator' failed "
                                  f"to satisfy constraint: Member must satisfy enum value set: [OR, AND]")
    if len(parts) == 1:
        return parts[0]
    return E.Logic(operator or "AND", tuple(parts))


def conditions(filters: Any, operator: Any, names: E.Names) -> Any:
    """A QueryFilter or ScanFilter as a condition tree (None when it has none)."""
    if not isinstance(filters, dict):
        raise _invalid("Filter must be a map of attribute names to conditions")
    parts = [_condition(str(name), spec, names) for name, spec in filters.items()]
    if not parts:
        return None
    return _join(parts, operator)


def expected(spec: Any, operator: Any, names: E.Names) -> Any:
    """An ``Expected`` map (``Value``/``Exists`` or ``ComparisonOperator``/``AttributeValueList``) as a
    condition tree (None when it is empty)."""
    if not isinstance(spec, dict):
        raise _invalid("Expected must be a map of attribute names to conditions")
    parts = []
    for name, cond in spec.items():
        if not isinstance(cond, dict):
            raise _invalid("Expected must be a map of attribute names to conditions")
        if "ComparisonOperator" in cond:
            if "Value" in cond or "Exists" in cond:
                raise _invalid(f"Value or Exists cannot be used with ComparisonOperator; attribute: {name}")
            parts.append(_condition(str(name), cond, names))
            continue
        exists = cond.get("Exists", True)
        path = E.Path((str(name),))
        if exists is False:
            if "Value" in cond:
                raise _invalid(f"Value cannot be used when Exists is false; attribute: {name}")
            parts.append(E.Call("attribute_not_exists", (path,)))
        elif "Value" not in cond:
            raise _invalid(f"Value must be provided when Exists is true; attribute: {name}")
        else:
            parts.append(E.Compare("=", path, _value(names, cond["Value"])))
    if not parts:
        return None
    return _join(parts, operator)


def attribute_updates(updates: Any, names: E.Names, key: dict[str, Any]) -> E.Update:
    """``AttributeUpdates`` (PUT, ADD, DELETE) as the engine's SET, ADD, REMOVE and DELETE."""
    if not isinstance(updates, dict):
        raise _invalid("AttributeUpdates must be a map")
    out = E.Update()
    for name, spec in updates.items():
        if not isinstance(spec, dict):
            raise _invalid("AttributeUpdates must be a map of attribute names to updates")
        if name in key:
            raise _invalid(f"Cannot update attribute {name}. This attribute is part of the key")
        action = spec.get("Action") or "PUT"
        path = E.Path((str(name),))
        if action == "PUT":
            if "Value" not in spec:
                raise _invalid(f"Only DELETE action is allowed when no attribute value is specified: {name}")
            out.set.append((path, _value(names, spec["Value"])))
        elif action == "DELETE":
            if "Value" in spec:
                value = _value(names, spec["Value"])
                if V.type_of(names.values[value.name]) not in V.SET_TYPES:
                    raise _invalid("DELETE action with value is not supported for the type " +
                                   V.type_of(names.values[value.name]))
                out.delete.append((path, value))
            else:
                out.remove.append(path)
        elif action == "ADD":
            if "Value" not in spec:
                raise _invalid(f"Only DELETE action is allowed when no attribute value is specified: {name}")
            value = _value(names, spec["Value"])
            kind = V.type_of(names.values[value.name])
            if kind == "L":               # ADD appends to a list (legacy only)
                out.set.append((path, E.Call("list_append", (E.Call("if_not_exists", (path, _value(names, {"L": []}))),
                                                             value))))
            elif kind == "N" or kind in V.SET_TYPES:
                out.add.append((path, value))
            else:
                raise _invalid(f"ADD action is not supported for the type {kind}")
        else:
            raise ValidationException(f"1 validation error detected: Value '{action}' at 'attributeUpdates."
                                      f"{name}.member.action' failed to satisfy constraint: Member must satisfy enum "
                                      f"value set: [ADD, PUT, DELETE]")
    return out


def key_conditions(spec: Any, names: E.Names, hash_key: str, range_key: str | None) -> E.KeyCondition:
    """``KeyConditions`` checked against the key schema it queries."""
    if not isinstance(spec, dict) or not spec:
        raise ValidationException("Either the KeyConditions or KeyConditionExpression parameter must be specified "
                                  "in the request.")
    if hash_key not in spec:
        raise ValidationException("Query condition missed key schema element: " + hash_key)
    extra = [k for k in spec if k not in (hash_key, range_key)]
    if extra:
        raise ValidationException("Query condition missed key schema element: " + (range_key or extra[0]))
    kc = E.KeyCondition({})
    for name, cond in spec.items():
        tree = _condition(str(name), cond, names)
        op = cond["ComparisonOperator"]
        if op not in _KEY_OPERATORS or (name == hash_key and op != "EQ"):
            raise ValidationException("Query key condition not supported")
        values = tuple(names.values[v.name] for v in _values(tree))
        if name == hash_key:
            kc = E.KeyCondition(values[0], kc.range_op, kc.range_values)
        else:
            kc = E.KeyCondition(kc.hash_value, {"BEGINS_WITH": "begins_with"}.get(op, _COMPARE.get(op, op)), values)
    return kc


def _values(tree: Any) -> list[E.Value]:
    if isinstance(tree, E.Compare):
        return [tree.right]
    if isinstance(tree, E.Between):
        return [tree.low, tree.high]
    return [tree.args[1]]         # begins_with
