"""Cumulo's DynamoDB against moto's, side by side: generated operation sequences through unchanged boto3.

Each generated sequence (Hypothesis' stateful testing) creates a table — a hash key of S, N or B, a range
key or none, a global secondary index (with or without a range key, any projection), a local one —
in both a real ``cumulo up`` and moto's DynamoDB (in process, ``mock_aws``: an oracle and a test
dependency only; ``cumulo/`` never imports it), then runs the same requests against both: PutItem,
UpdateItem and DeleteItem with generated condition and update expressions and every ReturnValues,
GetItem with projections, Query with key conditions, filters, Limit, both directions, Select COUNT and
paging (on the table and on its indexes), Scan with filters and paging, BatchWriteItem, BatchGetItem
and TransactWriteItems with conditions. Answers are compared: items, error codes, ReturnValues,
cancellation reasons, counts, paging (LastEvaluatedKey); at the end of a sequence, both tables' whole
contents.

What is never generated, because moto cannot be an oracle there (MOTO_GENERATION_LIMITS; each in
docs/tables.md): a comparison of two attributes (moto finds two absent ones equal), a NULL operand
(moto finds an absent attribute equal to NULL), an ordering comparison (<, <=, >, >=) with a list, map,
set, boolean or NULL operand (moto raises TypeError).

A disagreement fails the test, unless one of ``MOTO_BUGS`` explains it: each is a named, narrow rule
for a place where moto differs from DynamoDB's documentation (the rule's text cites it; the list is
in docs/tables.md). After such a write, moto's table is made Cumulo's again, so that one known bug
does not hide what follows.

``CUMULO_DIFFERENTIAL_EXAMPLES`` sets how many sequences (CI: the default, well under a minute);
``CUMULO_DIFFERENTIAL_REPORT`` names a file the run's counts are written to.
"""

from __future__ import annotations

import copy
import json
import re
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.integration.test_server import CumuloServer, unique

moto = pytest.importorskip("moto")

EXAMPLES = int(os.environ.get("CUMULO_DIFFERENTIAL_EXAMPLES", "50"))
STEPS = 20
COLLECT = os.environ.get("CUMULO_DIFFERENTIAL_COLLECT")     # disagreements written there, none raised (triage)

Doc = dict[str, Any]
Outcome = tuple[Any, ...]


# -- values ------------------------------------------------------------------------------------------------
def S(v: str) -> Doc:
    return {"S": v}


def N(v: Any) -> Doc:
    return {"N": str(v)}


HASH = {"S": [S("a"), S("b"), S("c")], "N": [N(1), N(2), N(-3)], "B": [{"B": b"\x01"}, {"B": b"\x02"}]}
RANGE = {"S": [S("x"), S("xa"), S("xb"), S("y")], "N": [N(-1), N(0), N(1), N(2), N(10), N("1.5")],
         "B": [{"B": b"\x00"}, {"B": b"\x01\x02"}, {"B": b"\xff"}]}

scalars = st.one_of(
    st.sampled_from([N(-2), N(0), N(1), N(2), N(3), N("0.5"), N("1.5"), N("-1.25"), N("1E+2")]),
    st.sampled_from([S(""), S("p"), S("pq"), S("q"), S("x"), S("a")]),
    st.sampled_from([{"B": b""}, {"B": b"\x01"}, {"B": b"\x01\x02"}]),
    st.sampled_from([{"BOOL": True}, {"BOOL": False}, {"NULL": True}]),
)
sets = st.one_of(
    st.lists(st.sampled_from(["p", "q", "r"]), min_size=1, max_size=3, unique=True).map(lambda v: {"SS": v}),
    st.lists(st.sampled_from(["1", "2", "3", "-1"]), min_size=1, max_size=3, unique=True).map(lambda v: {"NS": v}),
    st.lists(st.sampled_from([b"\x01", b"\x02"]), min_size=1, max_size=2, unique=True).map(lambda v: {"BS": v}),
)
values = st.recursive(st.one_of(scalars, sets), lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda v: {"L": v}),
    st.dictionaries(st.sampled_from(["k", "s", "n"]), inner, max_size=3).map(lambda v: {"M": v})), max_leaves=6)

# attributes items may carry, with the values each usually holds (any value now and then)
ATTRS: dict[str, Any] = {
    "n": st.sampled_from([N(-2), N(0), N(1), N(2), N(3), N("0.5"), N("1.5")]),
    "s": st.sampled_from([S(""), S("p"), S("pq"), S("q")]),
    "g": st.sampled_from([S("u"), S("v"), S("w")]),
    "gr": st.sampled_from([N(0), N(1), N(2)]),
    "ls": st.sampled_from([N(0), N(1), N(5)]),
    "l": st.lists(scalars, max_size=3).map(lambda v: {"L": v}),
    "m": st.fixed_dictionaries({}, optional={"k": st.sampled_from([N(1), N(2)]), "s": st.sampled_from([S("p"), S("q")]),
                                             "l": st.lists(scalars, max_size=2).map(lambda v: {"L": v})}
                               ).map(lambda v: {"M": v}),
    "ss": st.lists(st.sampled_from(["p", "q", "r"]), min_size=1, max_size=3, unique=True).map(lambda v: {"SS": v}),
    "ns": st.lists(st.sampled_from(["1", "2", "3"]), min_size=1, max_size=3, unique=True).map(lambda v: {"NS": v}),
    "bo": st.sampled_from([{"BOOL": True}, {"BOOL": False}]),
    "nu": st.just({"NULL": True}),
}
PATHS = ["n", "s", "g", "gr", "ls", "l", "l[0]", "l[1]", "l[7]", "m", "m.k", "m.s", "m.l", "m.l[0]", "ss", "ns", "bo",
         "nu", "z", "m.z.y"]


# -- requests' expressions -----------------------------------------------------------------------------------
class Expr:
    """An expression being written: its text's placeholders for names and values."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Doc] = {}
        self.targets: list[str] = []        # the paths an update expression writes, as written

    def value(self, v: Doc) -> str:
        key = f":v{len(self.values)}"
        self.values[key] = v
        return key

    def path(self, p: str, alias: bool) -> str:
        if not alias:
            return p
        head, sep, rest = p.partition(".")
        base = head.split("[")[0]
        tag = f"#{base}"
        self.names[tag] = base
        return tag + head[len(base):] + sep + rest

    def request(self, request: Doc) -> Doc:
        if self.names:
            request["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            request["ExpressionAttributeValues"] = dict(self.values)
        return request


LIKE = {"n": "n", "s": "s", "g": "g", "gr": "gr", "ls": "ls", "l": "l", "l[0]": "s", "l[1]": "n", "l[7]": "n",
        "m": "m", "m.k": "n", "m.s": "s", "m.l": "l", "m.l[0]": "s", "ss": "ss", "ns": "ns", "bo": "bo", "nu": "nu",
        "z": "n", "m.z.y": "s", "pk": "s", "sk": "n"}


@st.composite
def operands(draw: Any, e: Expr, paths: list[str], like: str) -> str:
    """A value like the attribute compared (mostly) or any scalar. Never another attribute: moto compares two
    absent attributes as equal (``a = b`` true when neither exists), where DynamoDB's comparisons need values
    (MOTO_GENERATION_LIMITS)."""
    value = draw(ATTRS[LIKE.get(like, "n")]) if draw(st.integers(0, 3)) else draw(scalars)
    if value == {"NULL": True}:
        value = N(0)        # moto finds an absent attribute equal to NULL (MOTO_GENERATION_LIMITS)
    return e.value(value)


@st.composite
def conditions(draw: Any, e: Expr, paths: list[str], depth: int = 0) -> str:
    kind = draw(st.integers(0, 11 if depth < 2 else 8))
    if kind == 9:
        return f"NOT {draw(conditions(e, paths, depth + 1))}"
    if kind >= 10:
        left, right = draw(conditions(e, paths, depth + 1)), draw(conditions(e, paths, depth + 1))
        return f"({left}) {'AND' if kind == 10 else 'OR'} ({right})"
    raw = draw(st.sampled_from(paths))
    p = e.path(raw, draw(st.booleans()))
    if kind == 0:
        op = draw(st.sampled_from(['=', '<>', '<', '<=', '>', '>=']))
        if op in ("=", "<>"):
            return f"{p} {op} {draw(operands(e, paths, raw))}"
        # ordering needs a string, number or binary: moto fails on others (MOTO_GENERATION_LIMITS)
        ordered = e.value(draw(st.sampled_from([N(0), N(2), N("1.5"), S("p"), S("q"), {"B": b"\x01"}])))
        return f"{p} {op} {ordered}"
    if kind == 1:
        low, high = sorted([draw(st.sampled_from([N(0), N(1), N(2), N(3)])) for _ in range(2)],
                           key=lambda v: Decimal(v["N"]))
        if draw(st.booleans()):
            low, high = (draw(st.sampled_from([S("a"), S("p"), S("q")])) for _ in range(2))
        return f"{p} BETWEEN {e.value(low)} AND {e.value(high)}"
    if kind == 2:
        options = [draw(operands(e, paths, raw)) for _ in range(draw(st.integers(1, 3)))]
        return f"{p} IN ({', '.join(options)})"
    if kind == 3:
        return f"attribute_exists({p})"
    if kind == 4:
        return f"attribute_not_exists({p})"
    if kind == 5:
        t = draw(st.sampled_from(["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"]))
        return f"attribute_type({p}, {e.value(S(t))})"
    if kind == 6:
        prefix = e.value(draw(st.sampled_from([S("p"), S(""), S("x"), {"B": b"\x01"}])))
        return f"begins_with({p}, {prefix})"
    if kind == 7:
        return f"contains({p}, {e.value(draw(scalars))})"
    return f"size({p}) {draw(st.sampled_from(['=', '<', '>=']))} {e.value(N(draw(st.integers(0, 3))))}"


@st.composite
def updates(draw: Any, e: Expr, keys: list[str]) -> str:
    """SET, REMOVE, ADD and DELETE clauses, each at most once (once in a while a key, or a path twice)."""
    targets = [p for p in PATHS if p != "m.z.y"] + (keys if draw(st.integers(0, 15)) == 0 else [])
    clauses = []
    used: list[str] = []

    def target() -> str:
        p = draw(st.sampled_from(targets))
        if p in used and draw(st.integers(0, 3)) != 0:
            p = draw(st.sampled_from(targets))
        used.append(p)
        e.targets.append(p)
        return p

    if draw(st.booleans()):
        assignments = []
        for _ in range(draw(st.integers(1, 3))):
            p = target()
            form = draw(st.integers(0, 5))
            q = e.path(draw(st.sampled_from(["n", "l", "m.k", "s", "z"])), draw(st.booleans()))
            if form == 0:
                rhs = e.value(draw(values))
            elif form == 1:
                rhs = f"{q} {draw(st.sampled_from(['+', '-']))} {e.value(N(draw(st.integers(-2, 3))))}"
            elif form == 2:
                rhs = f"if_not_exists({q}, {e.value(draw(scalars))})"
            elif form == 3:
                rhs = f"list_append({q}, {e.value({'L': [draw(scalars)]})})"
            elif form == 4:
                rhs = f"list_append({e.value({'L': [draw(scalars)]})}, {q})"
            else:
                rhs = q
            assignments.append(f"{e.path(p, draw(st.booleans()))} = {rhs}")
        clauses.append("SET " + ", ".join(assignments))
    if draw(st.booleans()):
        clauses.append("REMOVE " + ", ".join(e.path(target(), draw(st.booleans()))
                                              for _ in range(draw(st.integers(1, 2)))))
    if draw(st.booleans()):
        p = target()
        v = draw(st.one_of(st.sampled_from([N(1), N(-1), N("0.5")]), sets))
        clauses.append(f"ADD {e.path(p, draw(st.booleans()))} {e.value(v)}")
    if draw(st.booleans()) or not clauses:
        p = target()
        clauses.append(f"DELETE {e.path(p, draw(st.booleans()))} {e.value(draw(sets))}")
    return " ".join(draw(st.permutations(clauses)))


# -- tables ---------------------------------------------------------------------------------------------------
schemas = st.fixed_dictionaries({
    "hash": st.sampled_from(["S", "N", "B"]),
    "range": st.sampled_from([None, "S", "N"]),
    "gsi": st.sampled_from([None, "g", "g+gr"]),
    "gsi_projection": st.sampled_from(["ALL", "KEYS_ONLY", "INCLUDE"]),
    "lsi": st.booleans(),
})


def create_request(name: str, schema: Doc) -> Doc:
    defs = {"pk": schema["hash"]}
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if schema["range"]:
        defs["sk"] = schema["range"]
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    request: Doc = {"TableName": name, "BillingMode": "PAY_PER_REQUEST", "KeySchema": keys}
    if schema["gsi"]:
        defs["g"] = "S"
        gkeys = [{"AttributeName": "g", "KeyType": "HASH"}]
        if schema["gsi"] == "g+gr":
            defs["gr"] = "N"
            gkeys.append({"AttributeName": "gr", "KeyType": "RANGE"})
        projection: Doc = {"ProjectionType": schema["gsi_projection"]}
        if schema["gsi_projection"] == "INCLUDE":
            projection["NonKeyAttributes"] = ["n", "m"]
        request["GlobalSecondaryIndexes"] = [{"IndexName": "gsi", "KeySchema": gkeys, "Projection": projection}]
    if schema["lsi"] and schema["range"]:
        defs["ls"] = "N"
        request["LocalSecondaryIndexes"] = [{"IndexName": "lsi", "Projection": {"ProjectionType": "ALL"},
                                             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                           {"AttributeName": "ls", "KeyType": "RANGE"}]}]
    request["AttributeDefinitions"] = [{"AttributeName": k, "AttributeType": t} for k, t in defs.items()]
    return request


# -- comparing answers -------------------------------------------------------------------------------------------
def canonical(v: Any) -> Any:
    """An answer as comparable data: sets sorted (DynamoDB's sets have no order), the rest as is."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ("SS", "NS", "BS") and isinstance(x, list):
                out[k] = sorted(x, key=lambda e: (Decimal(e) if k == "NS" else e))
            else:
                out[k] = canonical(x)
        return out
    if isinstance(v, list):
        return [canonical(x) for x in v]
    return v


def sort_key(item: Doc) -> str:
    return json.dumps(_numbers(canonical(item)), sort_keys=True, default=lambda b: b.hex() if isinstance(b, bytes)
                      else str(b))


def call(client: BaseClient, operation: str, request: Doc) -> Outcome:
    """("ok", answer) or ("error", code, what the error carries that DynamoDB documents)."""
    method = getattr(client, _snake(operation))
    try:
        answer = method(**request)
    except ClientError as err:
        body = err.response
        extra: Doc = {}
        if "Item" in body:
            extra["Item"] = canonical(body["Item"])
        if "CancellationReasons" in body:
            extra["CancellationReasons"] = [{k: canonical(v) for k, v in r.items() if k != "Message"}
                                            for r in body["CancellationReasons"]]
        MESSAGES[client.meta.endpoint_url.startswith("http://127.0.0.1")] = body["Error"].get("Message", "")
        return ("error", body["Error"]["Code"], extra)
    except Exception as err:            # moto's own faults (in process, they reach the caller as they are)
        if client.meta.endpoint_url.startswith("http://127.0.0.1"):
            raise
        return ("crash", f"{type(err).__name__}: {str(err)[:200]}")
    for k in ("ResponseMetadata", "ConsumedCapacity", "ItemCollectionMetrics"):
        answer.pop(k, None)
    return ("ok", canonical(answer))


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class MotoBug:
    """A place where moto differs from DynamoDB's documentation, recognised narrowly."""

    def __init__(self, name: str, doc: str, applies: Callable[[Any, str, Doc, Outcome, Outcome], bool]) -> None:
        self.name, self.doc, self.applies = name, doc, applies


def _elements(path: str) -> list[str]:
    return [x for x in path.replace("]", "").replace("[", ".[").split(".") if x]


def _overlap(paths: list[str]) -> bool:
    """Whether two of an expression's paths are the same or one is inside the other."""
    split = [_elements(p) for p in paths]
    return any(i != j and a[:len(b)] == b for i, a in enumerate(split) for j, b in enumerate(split))


def _keys_of(request: Doc) -> list[Doc]:
    out = []
    for table_request in request.get("RequestItems", {}).values():
        if isinstance(table_request, dict):
            out += table_request.get("Keys", [])
        else:
            for w in table_request:
                out.append(w["DeleteRequest"]["Key"] if "DeleteRequest" in w else
                           {k: v for k, v in w["PutRequest"]["Item"].items() if k in ("pk", "sk")})
    return out


def _moto_crashed(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if theirs[0] == "crash":
        return True
    reasons = theirs[2].get("CancellationReasons", []) if theirs[0] == "error" else []
    return any(r["Code"] not in DOCUMENTED_REASONS for r in reasons)


DOCUMENTED_REASONS = {"None", "ConditionalCheckFailed", "ItemCollectionSizeLimitExceeded", "TransactionConflict",
                      "ProvisionedThroughputExceeded", "ThrottlingError", "ValidationError"}


def _overlapping_paths(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    return mine[:2] == ("error", "ValidationException") and "Two document paths overlap" in MESSAGES.get(True, "") \
        and any(_overlap(paths) for paths in m.paths) and theirs[:2] != mine[:2]


def _type(v: Doc) -> str:
    return next(iter(v))


def _wrong_key_types(m: Any, keys: list[Doc]) -> bool:
    types = {"pk": m.schema["hash"], "sk": m.schema["range"]}
    return any(name in types and _type(v) != types[name] for k in keys for name, v in k.items())


def _invalid_keys(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if mine[:2] != ("error", "ValidationException") or theirs[:2] == mine[:2]:
        return False
    keys = _keys_of(request) + ([request["Key"]] if "Key" in request else []) + \
        [next(iter(a.values()))["Key"] for a in request.get("TransactItems", []) if "Key" in next(iter(a.values()))] \
        + [{k: v for k, v in item.items() if k in m.key_attrs()} for item in _written_items(request)]
    wanted = set(m.key_attrs())
    shapes = any(set(k) != wanted for k in keys) or _wrong_key_types(m, keys) or \
        any(v.get("S") == "" or v.get("B") == b"" for k in keys for v in k.values())
    plain = [json.dumps(k, sort_keys=True, default=lambda b: b.hex()) for k in keys]
    return shapes or len(set(plain)) != len(plain)


def _index_types(m: Any) -> dict[str, str]:
    out = {}
    if m.schema["gsi"]:
        out["g"] = "S"
        if m.schema["gsi"] == "g+gr":
            out["gr"] = "N"
    if m.schema["lsi"] and m.schema["range"]:
        out["ls"] = "N"
    return out


def _written_items(request: Doc) -> list[Doc]:
    items = [request["Item"]] if "Item" in request else []
    for writes in request.get("RequestItems", {}).values():
        if isinstance(writes, list):
            items += [w["PutRequest"]["Item"] for w in writes if "PutRequest" in w]
    items += [a["Put"]["Item"] for a in request.get("TransactItems", []) if "Put" in a]
    return items


def _index_key_types_unchecked(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if mine[:2] != ("error", "ValidationException") or theirs[0] == "error" and theirs[1] == "ValidationException":
        return False
    types = _index_types(m)
    if any(name in item and _type(item[name]) != t for item in _written_items(request) for name, t in types.items()):
        return True
    found = re.search(r"Type mismatch for Index Key (\w+)", MESSAGES.get(True, ""))   # an update that writes one
    if found is not None and any(found.group(1) in paths for paths in m.paths):
        return True
    return op == "TransactWriteItems" and theirs[0] == "ok" and mine[1] == "TransactionCanceledException" and \
        any(r["Code"] == "ValidationError" for r in mine[2]["CancellationReasons"]) and \
        any(p in types for paths in m.paths for p in paths)       # (a cancellation's reasons carry no words here)


def _key_condition_types_unchecked(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if op != "Query" or mine[:2] != ("error", "ValidationException") or theirs[0] != "ok":
        return False
    index = request.get("IndexName")
    h, r = {"gsi": (("g", "S"), ("gr", "N")), "lsi": (("pk", m.schema["hash"]), ("ls", "N"))}.get(
        index, (("pk", m.schema["hash"]), ("sk", m.schema["range"])))
    text = request["KeyConditionExpression"]
    placeholders = re.findall(r":v\d+", text)
    values = request["ExpressionAttributeValues"]
    if _type(values[placeholders[0]]) != h[1]:
        return False            # (the partition key's value is generated with its own type)
    return any(_type(values[p]) != r[1] for p in placeholders[1:]) or ("begins_with" in text and r[1] == "N")


def _reversed_between(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if mine[:2] != ("error", "ValidationException") or theirs[:2] == mine[:2]:
        return False
    for specs in [request] + [next(iter(a.values())) for a in request.get("TransactItems", [])]:
        values = specs.get("ExpressionAttributeValues", {})
        for text in (specs.get("ConditionExpression", ""), specs.get("FilterExpression", ""),
                     specs.get("KeyConditionExpression", "")):
            for low, high in re.findall(r"BETWEEN (:v\d+) AND (:v\d+)", text):
                a, b = values[low], values[high]
                if _type(a) == _type(b) and _type(a) in ("S", "N"):
                    x, y = (Decimal(a["N"]), Decimal(b["N"])) if "N" in a else (a["S"], b["S"])
                    if x > y:
                        return True
    return False


def _indexed_names_unused(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if theirs[:2] != ("error", "ValidationException") or mine[0] == "error" or \
            "unused in expressions" not in MESSAGES.get(False, ""):
        return False
    texts = " ".join(v for k, v in request.items() if k.endswith("Expression"))
    return any(f"{name}[" in texts for name in request.get("ExpressionAttributeNames", {}))


def _sized(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    texts = " ".join(v for k, v in request.items() if k.endswith("Expression"))
    return theirs[:2] == ("error", "ValidationException") and mine[0] != "error" and \
        "Invalid attribute name" in MESSAGES.get(False, "") and "size(" in texts


def _key_updated(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    return mine[:2] == ("error", "ValidationException") and theirs[:2] != mine[:2] and \
        any(p in m.key_attrs() for paths in m.paths for p in paths) and \
        "This attribute is part of the key" in MESSAGES.get(True, "")


def _empty_attributes(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    return op == "UpdateItem" and mine == ("ok", {}) and theirs == ("ok", {"Attributes": {}})


def _partial_batch(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    return op == "(the tables after) BatchWriteItem"


def _partial_update(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    return op == "(the tables after) UpdateItem" and MESSAGES.get(True) is not None and \
        MESSAGES.get(True) == MESSAGES.get(False)


def _resolve(item: Any, path: str) -> Any:
    for part in _elements(path):
        if item is None:
            return None
        if part.startswith("["):
            lst = item.get("L") if isinstance(item, dict) else None
            i = int(part[1:])
            item = lst[i] if isinstance(lst, list) and i < len(lst) else None
        else:
            item = (item.get("M") if isinstance(item, dict) and "M" in item else item).get(part) \
                if isinstance(item, dict) else None
    return item


def _booleans_ordered(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    """Moto orders a BOOL as Python does (True between 0 and 1); DynamoDB's ordering and BETWEEN compare
    numbers, strings and binaries only (developer guide, comparison operators)."""
    specs = [request] + [next(iter(a.values())) for a in request.get("TransactItems", [])]
    compared = []
    for spec in specs:
        names = spec.get("ExpressionAttributeNames", {})
        for key in ("ConditionExpression", "FilterExpression"):
            for path in re.findall(r"([#\w.\[\]]+) (?:<|<=|>|>=|BETWEEN) ", spec.get(key, "")):
                compared.append(re.sub(r"#\w+", lambda x: names.get(x.group(0), x.group(0)), path))
    if not compared:
        return False
    items = _all_items(m) if op in ("Query", "Scan") else [m.before or {}]
    return any(isinstance(_resolve({"M": item}, p), dict) and "BOOL" in _resolve({"M": item}, p)
               for item in items for p in compared)


def _all_items(m: Any) -> list[Doc]:
    return list(_all(m.cumulo, m.name))


def _indexed_projection(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if mine[0] != "ok" or theirs[0] != "ok" or not isinstance(mine[1], dict) or not isinstance(theirs[1], dict):
        return False
    names = request.get("ExpressionAttributeNames", {})
    lost = {names.get(n, n) for n in re.findall(r"(#\w+)\[", request.get("ProjectionExpression", ""))}
    a, b = mine[1].get("Items", [mine[1].get("Item")]), theirs[1].get("Items", [theirs[1].get("Item")])
    return bool(lost) and len(a) == len(b) and \
        all({k: v for k, v in (x or {}).items() if k not in lost} == (y or {}) for x, y in zip(a, b)) and \
        {k: v for k, v in mine[1].items() if k not in ("Items", "Item")} == \
        {k: v for k, v in theirs[1].items() if k not in ("Items", "Item")}


def _no_key_at_the_limit(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if op not in ("Query", "Scan") or mine[0] != "ok" or theirs[0] != "ok" or "LastEvaluatedKey" in theirs[1]:
        return False
    if not isinstance(mine[1], dict) or not isinstance(theirs[1], dict):
        return False
    a = dict(mine[1])
    return a.pop("LastEvaluatedKey", None) is not None and a["ScannedCount"] == request.get("Limit") and \
        (a == theirs[1] or op == "Scan" or request.get("IndexName"))


def _numbers(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: (Decimal(x) if k == "N" else sorted(Decimal(e) for e in x) if k == "NS" else _numbers(x))
                for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_numbers(x) for x in v]
    return v


def _numbers_as_sent(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    """The same answers but for numbers' spelling, Cumulo's the normalized one (no exponent, no trailing zeros)."""
    if _numbers(mine) != _numbers(theirs):
        return False
    spelled = re.findall(r"'N': '([^']*)'", repr(mine))
    return all("E" not in n and not (("." in n) and n.endswith("0")) for n in spelled)


def _updated_keys(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if op != "UpdateItem" or request.get("ReturnValues") not in ("UPDATED_NEW", "UPDATED_OLD") or \
            mine[0] != "ok" or theirs[0] != "ok":
        return False
    extra = {k: v for k, v in theirs[1].get("Attributes", {}).items() if k not in mine[1].get("Attributes", {})}
    return bool(extra) and set(extra) <= set(m.key_attrs()) and \
        _numbers({**mine[1].get("Attributes", {}), **extra}) == _numbers(theirs[1].get("Attributes"))   # (both bugs)


def _not_not(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    return theirs[:2] == ("error", "ValidationException") and "Bad NOT expression" in MESSAGES.get(False, "") \
        and mine[:2] != theirs[:2]


def _filter_on_key(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    if op != "Query" or mine[:2] != ("error", "ValidationException") or theirs[0] != "ok":
        return False
    keys = {"gsi": ["g", "gr"], "lsi": ["pk", "ls"]}.get(request.get("IndexName"), ["pk", "sk"])
    names = request.get("ExpressionAttributeNames", {})
    used = set(re.findall(r"#?[a-z]+", request.get("FilterExpression", "")))
    return any(names.get(u, u) in keys for u in used)


def _transaction_validation(m: Any, op: str, request: Doc, mine: Outcome, theirs: Outcome) -> bool:
    return op == "TransactWriteItems" and theirs[:2] == ("error", "ValidationException") and \
        mine[:2] == ("error", "TransactionCanceledException") and \
        any(r["Code"] == "ValidationError" for r in mine[2]["CancellationReasons"])


MOTO_BUGS: list[MotoBug] = [
    MotoBug("keys are not checked against the key schema",
            "GetItem/DeleteItem/UpdateItem/BatchGetItem/TransactWriteItems (API reference, Key): every key attribute, "
            "and only those, with the key's type, non-empty; BatchWriteItem: DynamoDB rejects the entire batch if "
            "primary key attributes do not match the table's key schema or if it holds two operations on one item. "
            "Moto answers some such requests (extra attributes, a missing sort key, duplicates).", _invalid_keys),
    MotoBug("moto fails inside",
            "Moto raises its own Python exception (or names one as a transaction's cancellation reason, where the "
            "TransactWriteItems API reference lists the codes): DynamoDB answers these requests.", _moto_crashed),
    MotoBug("overlapping document paths are not refused",
            "Update and projection expressions whose paths overlap: DynamoDB answers ValidationException \"Two "
            "document paths overlap with each other\" (developer guide, update expressions); moto applies them.",
            _overlapping_paths),
    MotoBug("index keys' types are not checked on writes",
            "BatchWriteItem and PutItem (API reference): attributes that are part of an index key must have the "
            "data types of the table's attribute definitions; moto writes such items (and lets UpdateItem make "
            "one, e.g. ADD of a number to a string index key the item lacks).", _index_key_types_unchecked),
    MotoBug("key conditions' value types are not checked",
            "Query (API reference, KeyConditionExpression): the sort key condition compares the key with values of "
            "its type, and begins_with cannot be used with a sort key of type Number; moto answers no items.",
            _key_condition_types_unchecked),
    MotoBug("BETWEEN with its bounds reversed is not refused",
            "Developer guide, comparison operator reference: a BETWEEN b AND c needs b <= c; DynamoDB refuses "
            "the expression (ValidationException: the BETWEEN operator requires upper bound to be greater than or "
            "equal to lower bound); moto evaluates it as false.", _reversed_between),
    MotoBug("a name used with a list index is counted unused",
            "Developer guide, document paths: MyList[0] (and #name[0]) is a path, so #name is used; moto refuses "
            "\"ExpressionAttributeNames unused\" when the name is followed by an index.", _indexed_names_unused),
    MotoBug("size() is refused for some paths",
            "Developer guide, condition functions: size(path) takes any document path and a condition is evaluated "
            "against each item; moto refuses the whole request (\"Invalid attribute name\") for a nested path or "
            "for an item whose attribute is absent or of a type size() does not measure.", _sized),
    MotoBug("an update of a key attribute is not refused first",
            "UpdateItem (API reference): you cannot use UpdateItem to update any primary key attributes; DynamoDB "
            "refuses the request (ValidationException) whatever its condition; moto evaluates the condition first.",
            _key_updated),
    MotoBug("UNDECIDED: an empty Attributes map",
            "UPDATED_NEW/UPDATED_OLD when the update wrote nothing there (a DELETE from an absent set): Cumulo leaves "
            "Attributes out, moto answers {}; the API reference does not say which DynamoDB does. Not shown to be "
            "moto's bug: listed in docs/tables.md as undecided.", _empty_attributes),
    MotoBug("a refused update is partly written",
            "UpdateItem (API reference; developer guide, 'DynamoDB item operations are atomic'): an update DynamoDB "
            "refuses (here: 'An operand in the update expression has an incorrect data type') changes nothing; "
            "moto has applied the clauses before the one it refused.", _partial_update),
    MotoBug("booleans are ordered as numbers",
            "Developer guide, comparison operators: <, <=, >, >= and BETWEEN compare numbers, strings and "
            "binaries; moto orders a BOOL as Python's True/False (True is BETWEEN 0 AND 1).", _booleans_ordered),
    MotoBug("a projection through a name with a list index is lost",
            "Developer guide, projection expressions: #l[0] projects the list with that element; moto answers "
            "without it (and refuses some such names as unused).", _indexed_projection),
    MotoBug("a refused batch is partly written",
            "BatchWriteItem (API reference): DynamoDB rejects the entire batch write operation when one of its "
            "requests is invalid; moto has written the requests before the invalid one.", _partial_batch),
    MotoBug("no LastEvaluatedKey when Limit is reached on the last item",
            "Query and Scan (API reference, Limit): once DynamoDB has processed Limit items it stops and returns "
            "a key in LastEvaluatedKey to continue from; moto leaves it out when no item follows. (The test then "
            "checks that Cumulo's next page is empty and last.)", _no_key_at_the_limit),
    MotoBug("numbers are answered as they were sent",
            "Developer guide, data types (Number): leading and trailing zeroes are trimmed; DynamoDB answers a "
            "number in its normal form (1E+2 is 100), moto as it was written.", _numbers_as_sent),
    MotoBug("UPDATED_NEW/UPDATED_OLD carry the key",
            "UpdateItem (API reference, ReturnValues): UPDATED_OLD and UPDATED_NEW return only the updated "
            "attributes; moto adds the key attributes.", _updated_keys),
    MotoBug("NOT NOT is refused",
            "Developer guide, condition expression syntax: condition ::= NOT condition, so NOT NOT a is a "
            "condition; moto refuses it (\"Bad NOT expression\").", _not_not),
    MotoBug("a Query's filter may name its key attributes",
            "Query (API reference, FilterExpression): a filter expression cannot contain partition key or sort key "
            "attributes; moto filters on them.", _filter_on_key),
    MotoBug("a transaction's item-level validation error is not a cancellation reason",
            "TransactWriteItems (API reference, TransactionCanceledException): an update that cannot be applied "
            "to its item ('The document path provided in the update expression is invalid for update') cancels "
            "the transaction with the reason ValidationError; moto answers ValidationException.",
            _transaction_validation),
]

STATS: Counter[str] = Counter()
MESSAGES: dict[bool, str] = {}          # each side's last error message (shown by triage, never compared)


class Disagreement(AssertionError):
    pass


# -- the machine ---------------------------------------------------------------------------------------------------
class Differential(RuleBasedStateMachine):
    cumulo: BaseClient
    moto: BaseClient

    def __init__(self) -> None:
        super().__init__()
        self.name = ""
        self.schema: Doc = {}
        self.before: Any = None
        self.paths: list[list[str]] = []        # each expression's written or projected paths (this request's)

    # both sides ---------------------------------------------------------------------------------------------
    def both(self, operation: str, request: Doc, write: bool = False) -> tuple[Outcome, Outcome]:
        STATS["requests"] += 1
        MESSAGES.clear()
        self.before = None
        if (COLLECT or "ConditionExpression" in request) and ("Key" in request or "Item" in request):
            key = request.get("Key") or {k: v for k, v in request["Item"].items() if k in ("pk", "sk")}
            try:
                self.before = self.cumulo.get_item(TableName=self.name, Key=key).get("Item")
            except ClientError:
                pass
        mine = call(self.cumulo, operation, copy.deepcopy(request))
        theirs = call(self.moto, operation, copy.deepcopy(request))
        if mine != theirs:
            for bug in MOTO_BUGS:
                if bug.applies(self, operation, request, mine, theirs):
                    STATS[f"excluded: {bug.name}"] += 1
                    if write:
                        self.resync()
                    return mine, mine
            self.disagree(operation, request, mine, theirs)
            if write:
                self.resync()
        elif write and (COLLECT or mine[0] == "error"):
            a = sorted((canonical(i) for i in _all(self.cumulo, self.name)), key=sort_key)
            b = sorted((canonical(i) for i in _all(self.moto, self.name)), key=sort_key)
            if _numbers(a) != _numbers(b):
                self.disagree("(the tables after) " + operation, request, ("ok", a), ("ok", b))
                self.resync()
        self.paths = []
        return mine, theirs

    def resync(self) -> None:
        """Moto's table made Cumulo's again (after a write a known moto bug answered otherwise)."""
        key_names = ["pk"] + (["sk"] if self.schema["range"] else [])
        for item in _all(self.moto, self.name):
            self.moto.delete_item(TableName=self.name, Key={k: item[k] for k in key_names})
        for item in _all(self.cumulo, self.name):
            self.moto.put_item(TableName=self.name, Item=item)

    # generated parts ------------------------------------------------------------------------------------------
    def key_attrs(self) -> list[str]:
        return ["pk"] + (["sk"] if self.schema["range"] else [])

    def key(self, data: Any, wrong: bool = True) -> Doc:
        if wrong and data.draw(st.integers(0, 30)) == 0:       # a key of the wrong shape or type, now and then
            return data.draw(st.sampled_from([{"pk": S("a"), "sk": N(1), "x": N(1)}, {"pk": N(1)}, {"sk": S("x")},
                                              {"pk": S("")}]))
        out = {"pk": data.draw(st.sampled_from(HASH[self.schema["hash"]]))}
        if self.schema["range"]:
            out["sk"] = data.draw(st.sampled_from(RANGE[self.schema["range"]]))
        return out

    def item(self, data: Any) -> Doc:
        out = self.key(data)
        for name, strategy in ATTRS.items():
            if data.draw(st.integers(0, 2)) == 0:
                out[name] = data.draw(strategy if data.draw(st.integers(0, 25)) else values)
        return out

    def condition(self, data: Any, e: Expr, keys: bool = True) -> str:
        paths = PATHS + (self.key_attrs() if keys else [])
        return data.draw(conditions(e, paths))

    # rules ------------------------------------------------------------------------------------------------------
    @initialize(schema=schemas)
    def create(self, schema: Doc) -> None:
        self.schema = schema
        self.name = unique("diff")
        request = create_request(self.name, schema)
        for client in (self.cumulo, self.moto):
            client.create_table(**request)
        STATS["sequences"] += 1

    @rule(data=st.data())
    def put(self, data: Any) -> None:
        request: Doc = {"TableName": self.name, "Item": self.item(data)}
        e = Expr()
        if data.draw(st.booleans()):
            request["ConditionExpression"] = self.condition(data, e)
        request["ReturnValues"] = data.draw(st.sampled_from(["NONE", "ALL_OLD", "ALL_OLD", "ALL_NEW"]))
        if data.draw(st.booleans()):
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self.both("PutItem", e.request(request), write=True)

    @rule(data=st.data())
    def update(self, data: Any) -> None:
        e = Expr()
        request: Doc = {"TableName": self.name, "Key": self.key(data),
                        "UpdateExpression": data.draw(updates(e, self.key_attrs()))}
        self.paths = [e.targets]
        if data.draw(st.integers(0, 2)) == 0:
            request["ConditionExpression"] = self.condition(data, e)
        request["ReturnValues"] = data.draw(st.sampled_from(["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW",
                                                             "UPDATED_NEW"]))
        if data.draw(st.booleans()):
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        self.both("UpdateItem", e.request(request), write=True)

    @rule(data=st.data())
    def delete(self, data: Any) -> None:
        e = Expr()
        request: Doc = {"TableName": self.name, "Key": self.key(data)}
        if data.draw(st.booleans()):
            request["ConditionExpression"] = self.condition(data, e)
        request["ReturnValues"] = data.draw(st.sampled_from(["NONE", "ALL_OLD"]))
        self.both("DeleteItem", e.request(request), write=True)

    @rule(data=st.data())
    def get(self, data: Any) -> None:
        e = Expr()
        request: Doc = {"TableName": self.name, "Key": self.key(data)}
        if data.draw(st.booleans()):
            chosen = data.draw(st.lists(st.sampled_from(PATHS + self.key_attrs()), min_size=1, max_size=3))
            request["ProjectionExpression"] = ", ".join(e.path(p, data.draw(st.booleans())) for p in chosen)
            self.paths = [chosen]
        if data.draw(st.booleans()):
            request["ConsistentRead"] = True
        self.both("GetItem", e.request(request))

    @rule(data=st.data())
    def query(self, data: Any) -> None:
        index = data.draw(st.sampled_from([None] + (["gsi"] if self.schema["gsi"] else [])
                                          + (["lsi"] if self.schema["lsi"] and self.schema["range"] else [])))
        if index == "gsi":
            h, r, rtype = "g", ("gr" if self.schema["gsi"] == "g+gr" else None), "N"
            hv = data.draw(ATTRS["g"])
        elif index == "lsi":
            h, r, rtype = "pk", "ls", "N"
            hv = data.draw(st.sampled_from(HASH[self.schema["hash"]]))
        else:
            h, r, rtype = "pk", ("sk" if self.schema["range"] else None), self.schema["range"]
            hv = data.draw(st.sampled_from(HASH[self.schema["hash"]]))
        e = Expr()
        text = f"{e.path(h, data.draw(st.booleans()))} = {e.value(hv)}"
        if r and data.draw(st.booleans()):
            domain = RANGE[rtype] if index is None else [N(0), N(1), N(2), N(5)]
            rp = e.path(r, data.draw(st.booleans()))
            op = data.draw(st.sampled_from(["=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"]))
            if op == "BETWEEN":
                low, high = data.draw(st.sampled_from(domain)), data.draw(st.sampled_from(domain))
                text += f" AND {rp} BETWEEN {e.value(low)} AND {e.value(high)}"
            elif op == "begins_with":
                text += f" AND begins_with({rp}, {e.value(data.draw(st.sampled_from([S('x'), S(''), S('xa'), N(1)])))})"
            else:
                text += f" AND {rp} {op} {e.value(data.draw(st.sampled_from(domain)))}"
        request: Doc = {"TableName": self.name, "KeyConditionExpression": text}
        if index:
            request["IndexName"] = index
        if data.draw(st.booleans()):
            request["FilterExpression"] = self.condition(data, e, keys=False)
        if data.draw(st.integers(0, 3)) == 0:
            chosen = data.draw(st.lists(st.sampled_from(PATHS + self.key_attrs()), min_size=1, max_size=3))
            request["ProjectionExpression"] = ", ".join(e.path(p, data.draw(st.booleans())) for p in chosen)
            self.paths = [chosen]
        elif data.draw(st.integers(0, 3)) == 0:
            request["Select"] = "COUNT"
        if data.draw(st.booleans()):
            request["Limit"] = data.draw(st.integers(1, 3))
        request["ScanIndexForward"] = data.draw(st.booleans())
        self.pages("Query", e.request(request), ordered=index is None)

    @rule(data=st.data())
    def scan(self, data: Any) -> None:
        e = Expr()
        request: Doc = {"TableName": self.name}
        index = data.draw(st.sampled_from([None] + (["gsi"] if self.schema["gsi"] else [])))
        if index:
            request["IndexName"] = index
        if data.draw(st.booleans()):
            request["FilterExpression"] = self.condition(data, e)
        if data.draw(st.integers(0, 3)) == 0:
            request["Select"] = "COUNT"
        if data.draw(st.booleans()):
            request["Limit"] = data.draw(st.integers(1, 4))
        self.pages("Scan", e.request(request), ordered=False)

    def pages(self, operation: str, request: Doc, ordered: bool) -> None:
        """Every page of a Query or Scan. A Query of the table is compared page by page; the order of a
        Scan (and of an index's items with equal keys) is the service's own, so those are compared as
        the whole of their items, their counts and how many pages."""
        mine_start = theirs_start = None
        mine_items: list[Doc] = []
        theirs_items: list[Doc] = []
        for page in range(100):
            mine_request, theirs_request = dict(request), dict(request)
            if mine_start:
                mine_request["ExclusiveStartKey"] = mine_start
            if theirs_start:
                theirs_request["ExclusiveStartKey"] = theirs_start
            if ordered:
                mine, theirs = self.both(operation, mine_request)
            else:
                STATS["requests"] += 1
                mine = call(self.cumulo, operation, mine_request)
                theirs = call(self.moto, operation, theirs_request)
                if mine[0] != "ok" or theirs[0] != "ok":
                    if mine[:2] != theirs[:2]:
                        self.disagree(operation, request, mine, theirs)
                    return
                a, b = mine[1], theirs[1]
                if (a["Count"], a["ScannedCount"], "Items" in a, "LastEvaluatedKey" in a) != \
                        (b["Count"], b["ScannedCount"], "Items" in b, "LastEvaluatedKey" in b):
                    self.disagree(operation, request, mine, theirs)
                mine_items += a.get("Items", [])
                theirs_items += b.get("Items", [])
            if mine[0] != "ok":
                return
            mine_start, theirs_start = mine[1].get("LastEvaluatedKey"), theirs[1].get("LastEvaluatedKey")
            if mine_start and not theirs_start:          # moto's "no key at the limit", its rule already applied
                last = call(self.cumulo, operation, {**request, "ExclusiveStartKey": mine_start})
                if last[0] != "ok" or last[1]["Count"] or last[1]["ScannedCount"] or "LastEvaluatedKey" in last[1]:
                    self.disagree(operation, request, last, ("ok", "an empty last page"))
                break
            if not mine_start:
                break
        if not ordered and sorted(mine_items, key=sort_key) != sorted(theirs_items, key=sort_key):
            self.disagree(operation, request, ("ok", mine_items), ("ok", theirs_items))
        self.paths = []

    def disagree(self, operation: str, request: Doc, mine: Outcome, theirs: Outcome) -> None:
        for bug in MOTO_BUGS:
            if bug.applies(self, operation, request, mine, theirs):
                STATS[f"excluded: {bug.name}"] += 1
                return
        STATS["disagreements"] += 1
        text = f"{operation} {request!r}\n  cumulo: {mine!r}\n  moto:   {theirs!r}"
        if COLLECT:
            text += f"\n  messages: {MESSAGES.get(True)!r} / {MESSAGES.get(False)!r}"
            text += f"\n  before: {self.before!r}"
        if COLLECT:
            with open(COLLECT, "a") as f:
                f.write(text + "\n\n")
            return
        raise Disagreement(text)

    @rule(data=st.data())
    def batch_write(self, data: Any) -> None:
        writes = []
        for _ in range(data.draw(st.integers(1, 4))):
            if data.draw(st.booleans()):
                writes.append({"PutRequest": {"Item": self.item(data)}})
            else:
                writes.append({"DeleteRequest": {"Key": self.key(data)}})
        self.both("BatchWriteItem", {"RequestItems": {self.name: writes}}, write=True)

    @rule(data=st.data())
    def batch_get(self, data: Any) -> None:
        keys = [self.key(data) for _ in range(data.draw(st.integers(1, 3)))]
        STATS["requests"] += 1
        mine = call(self.cumulo, "BatchGetItem", {"RequestItems": {self.name: {"Keys": keys}}})
        theirs = call(self.moto, "BatchGetItem", {"RequestItems": {self.name: {"Keys": keys}}})
        # the order of BatchGetItem's answers is not the request's (its documentation says so)
        if mine[0] == "ok" and theirs[0] == "ok":
            for o in (mine, theirs):
                o[1]["Responses"] = {t: sorted(items, key=sort_key) for t, items in o[1]["Responses"].items()}
        if mine != theirs:
            self.disagree("BatchGetItem", {"RequestItems": {self.name: {"Keys": keys}}}, mine, theirs)

    @rule(data=st.data())
    def transact_write(self, data: Any) -> None:
        actions = []
        for _ in range(data.draw(st.integers(1, 4))):
            e = Expr()
            kind = data.draw(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"]))
            spec: Doc = {"TableName": self.name}
            if kind == "Put":
                spec["Item"] = self.item(data)
            else:
                spec["Key"] = self.key(data)
            if kind == "Update":
                spec["UpdateExpression"] = data.draw(updates(e, self.key_attrs()))
                self.paths.append(e.targets)
            if kind == "ConditionCheck" or data.draw(st.booleans()):
                spec["ConditionExpression"] = self.condition(data, e)
            if data.draw(st.booleans()):
                spec["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            actions.append({kind: e.request(spec)})
        self.both("TransactWriteItems", {"TransactItems": actions}, write=True)

    def teardown(self) -> None:
        if not self.name:
            return
        try:
            mine = sorted((canonical(i) for i in _all(self.cumulo, self.name)), key=sort_key)
            theirs = sorted((canonical(i) for i in _all(self.moto, self.name)), key=sort_key)
            if mine != theirs:
                self.disagree("(the tables' contents at the end)", {}, ("ok", mine), ("ok", theirs))
        finally:
            for client in (self.cumulo, self.moto):
                client.delete_table(TableName=self.name)


def _all(client: BaseClient, table: str) -> Iterator[Doc]:
    start = None
    while True:
        page = client.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        yield from page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return


# -- the test ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("differential") / "home")
    try:
        yield srv
    finally:
        srv.close()


def test_cumulo_and_moto_agree_on_generated_operation_sequences(server: CumuloServer) -> None:
    with moto.mock_aws():
        Differential.cumulo = server.aws("dynamodb")
        Differential.moto = boto3.session.Session().client(
            "dynamodb", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 0}))
        STATS.clear()
        try:
            run_state_machine_as_test(Differential, settings=settings(
                max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, derandomize=False,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.reuse, Phase.generate]))     # no shrinking: its minutes are CI's
        finally:
            report = os.environ.get("CUMULO_DIFFERENTIAL_REPORT")
            if report:
                Path(report).write_text(json.dumps(dict(STATS), indent=2, sort_keys=True) + "\n")
            Differential.cumulo.close()
            Differential.moto.close()
