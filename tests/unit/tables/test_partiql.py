"""PartiQL for DynamoDB (``tables/partiql.py``, a pure parser, and ``tables/statements.py``, its
operations on a real table service and store): generated statements print and parse back to the
same tree; garbage gets a ValidationException and nothing else; generated WHERE clauses select the
same items as the expression engine's FilterExpression on a Scan (the one evaluator both use)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cumulo.errors import ValidationException
from cumulo.store.sqlite_messages import SQLiteMessageStore
from cumulo.tables import expressions as E
from cumulo.tables import partiql as P
from cumulo.tables.service import TableService
from cumulo.tables.values import ConditionalCheckFailed, DuplicateItem, TransactionCanceled

# -- generated trees -------------------------------------------------------------------------------
names = st.one_of(st.sampled_from(["a", "b", "pk", "Order", "select", "x y", 'q"t', "ünï"]),
                  st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=6))
refs = st.builds(lambda first, rest: E.Path((first, *rest)), names,
                 st.lists(st.one_of(names, st.integers(0, 99)), max_size=3))
strings = st.text(max_size=8).map(lambda s: P.Lit("S", s))
numbers = st.one_of(st.integers(-10**6, 10**6).map(str), st.sampled_from(["1.5", "1e3", "0.001", "-2.50", ".5"])).map(
    lambda n: P.Lit("N", n))
scalars = st.one_of(strings, numbers, st.booleans().map(lambda b: P.Lit("BOOL", b)), st.just(P.Lit("NULL", True)),
                    st.just(P.Param(0)))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda v: P.ListOf(tuple(v))),
    st.lists(st.tuples(st.text(max_size=5), inner), max_size=3).map(lambda e: P.MapOf(tuple(e))),
    st.lists(st.one_of(strings, numbers), min_size=1, max_size=3).map(lambda v: P.SetOf(tuple(v)))), max_leaves=6)
operands = st.one_of(refs, values, refs.map(lambda r: E.Call("size", (r,))))
predicates = st.one_of(
    st.builds(E.Compare, st.sampled_from(["=", "<>", "!=", "<", "<=", ">", ">="]), operands, operands),
    st.builds(E.Between, operands, operands, operands),
    st.builds(lambda s, o: E.In(s, tuple(o)), operands, st.lists(values, min_size=1, max_size=3)),
    st.builds(P.Is, refs, st.sampled_from(["MISSING", "NULL"]), st.booleans()),
    st.builds(lambda f, r, v: E.Call(f, (r, v)), st.sampled_from(["begins_with", "contains", "attribute_type"]), refs,
              values))
conditions = st.recursive(predicates, lambda inner: st.one_of(
    st.builds(lambda parts, op: E.Logic(op, tuple(parts)), st.lists(inner, min_size=2, max_size=3),
              st.sampled_from(["AND", "OR"])),
    inner.map(lambda c: E.Logic("NOT", (c,)))), max_leaves=8)
exprs = st.recursive(operands, lambda inner: st.one_of(
    st.builds(E.Arith, st.sampled_from(["+", "-"]), inner, operands),
    st.builds(lambda f, a, b: E.Call(f, (a, b)), st.sampled_from(["list_append", "set_add", "set_delete"]), inner,
              inner)), max_leaves=4)
selects = st.builds(P.Select, st.one_of(st.none(), st.lists(refs, min_size=1, max_size=3).map(tuple)), names,
                    st.one_of(st.none(), names), st.one_of(st.none(), conditions),
                    st.lists(st.tuples(refs, st.booleans()), max_size=2).map(tuple))
statements = st.one_of(
    selects,
    st.builds(P.Insert, names, st.one_of(st.just(P.Param(0)), st.lists(st.tuples(st.text(max_size=5), values),
                                                                        max_size=3).map(lambda e: P.MapOf(tuple(e))))),
    st.builds(P.Update, names, st.lists(st.one_of(st.tuples(st.just("SET"), refs, exprs),
                                                  st.tuples(st.just("REMOVE"), refs, st.none())),
                                        min_size=1, max_size=3).map(tuple), conditions,
              st.sampled_from([None, "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])),
    st.builds(P.Delete, names, conditions, st.sampled_from([None, "ALL_OLD"])),
    selects.map(P.Exists))


def numbered(tree: Any) -> Any:
    """The tree with its parameters numbered in the order the text has them, as the parser numbers them."""
    count = [0]

    def walk(node: Any) -> Any:
        if isinstance(node, P.Param):
            count[0] += 1
            return P.Param(count[0] - 1)
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            fields = {f.name: walk(getattr(node, f.name)) for f in dataclasses.fields(node)}
            return type(node)(**fields)
        if isinstance(node, tuple):
            return tuple(walk(n) for n in node)
        return node
    out = walk(tree)
    return dataclasses.replace(out, params=count[0]) if hasattr(out, "params") else out


@given(statements)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_statements_print_and_parse_back(statement: Any) -> None:
    text = P.format(statement)
    assert P.parse(text) == numbered(statement)
    assert P.format(P.parse(text)) == text


WORDS = ["SELECT", "select", "*", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "BETWEEN", "IS", "MISSING", "NULL",
         "INSERT", "INTO", "VALUE", "UPDATE", "SET", "REMOVE", "DELETE", "RETURNING", "ALL", "OLD", "NEW", "ORDER", "BY",
         "EXISTS", "begins_with", "size", "list_append", "set_add", '"t"', "t", "a", ".", ",", "(", ")", "[", "]", "{",
         "}", "<<", ">>", "=", "<>", "!=", "<", ">", "?", "'s'", "'", '"', "1", "-", "+", ":", "1e5", "TRUE", "0"]


@given(st.one_of(st.lists(st.sampled_from(WORDS), max_size=25).map(" ".join), st.text(max_size=40),
                 st.lists(st.sampled_from(WORDS), max_size=25).map("".join)))
@settings(max_examples=1000, deadline=None)
def test_garbage_is_only_ever_a_validation_exception(text: str) -> None:
    try:
        P.parse(text)
    except ValidationException:
        pass


@pytest.mark.parametrize("text, detail", [
    ("SELECTT * FROM t", "Expected data manipulation"),
    ("SELECT * FROM", "Unexpected end of statement"),
    ("SELECT * FROM t WHERE", "Unexpected end of statement"),
    ("SELECT * FROM t WHERE a = = 1", "Unexpected token"),
    ("SELECT * FROM t WHERE a = 1 b", "Unexpected token"),
    ("SELECT * FROM t WHERE a = 'open", "Unexpected end of statement"),
    ("UPDATE t WHERE a = 1", "Unexpected keyword"),
    ("UPDATE Payment-table SET active = ? WHERE id = ?", "Unexpected token"),
])
def test_malformed_statements_are_worded_as_dynamodb(text: str, detail: str) -> None:
    with pytest.raises(ValidationException) as err:
        P.parse(text)
    assert err.value.message == f"Statement wasn't well formed, can't be processed: {detail}"


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(ValidationException):
        P.parse("SELECT * FROM t WHERE " + "(" * 5000 + "a = 1" + ")" * 5000)
    with pytest.raises(ValidationException):
        P.parse("INSERT INTO t VALUE {'a': " + "[" * 5000 + "]" * 5000 + "}")


# -- on a table service -------------------------------------------------------------------------------
@pytest.fixture()
def service(tmp_path: Path) -> Iterator[TableService]:
    store = SQLiteMessageStore(tmp_path / "q.db")
    svc = TableService(store.tables, store.streams, "us-east-1", "123456789012")
    svc.call("CreateTable", {"TableName": "music", "BillingMode": "PAY_PER_REQUEST",
                             "KeySchema": [{"AttributeName": "artist", "KeyType": "HASH"},
                                           {"AttributeName": "song", "KeyType": "RANGE"}],
                             "AttributeDefinitions": [{"AttributeName": "artist", "AttributeType": "S"},
                                                      {"AttributeName": "song", "AttributeType": "N"},
                                                      {"AttributeName": "genre", "AttributeType": "S"}],
                             "GlobalSecondaryIndexes": [{"IndexName": "by_genre", "Projection": {
                                 "ProjectionType": "ALL"}, "KeySchema": [{"AttributeName": "genre", "KeyType": "HASH"},
                                                                         {"AttributeName": "song",
                                                                          "KeyType": "RANGE"}]}]})
    yield svc
    store.close()


def run(svc: TableService, statement: str, *params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return svc.call("ExecuteStatement", {"Statement": statement, **({"Parameters": list(params)} if params else {}),
                                         **extra})


def fill(svc: TableService) -> None:
    for artist in ("acme", "zed"):
        for song in range(1, 6):
            run(svc, "INSERT INTO music VALUE {'artist': ?, 'song': ?, 'genre': ?, 'tags': <<'x', 'y'>>, "
                     "'info': {'year': ?, 'hits': [1, 2, 3]}}",
                {"S": artist}, {"N": str(song)}, {"S": "rock" if song % 2 else "jazz"}, {"N": str(2000 + song)})


def songs(answer: dict[str, Any]) -> list[tuple[str, int]]:
    return [(i["artist"]["S"], int(i["song"]["N"])) for i in answer["Items"]]


def test_select_by_key_non_key_nested_and_functions(service: TableService) -> None:
    fill(service)
    assert songs(run(service, "SELECT * FROM music WHERE artist = 'acme' AND song >= 4")) == [("acme", 4), ("acme", 5)]
    assert songs(run(service, "SELECT * FROM music WHERE artist = 'acme' ORDER BY song DESC", Limit=2)) == \
        [("acme", 5), ("acme", 4)]
    assert songs(run(service, 'SELECT * FROM "music" WHERE artist IN [\'zed\', \'acme\'] AND song BETWEEN 2 AND 3')) \
        == [("zed", 2), ("zed", 3), ("acme", 2), ("acme", 3)]
    assert songs(run(service, "SELECT * FROM music WHERE info.\"year\" > 2003 AND artist = 'zed'")) == \
        [("zed", 4), ("zed", 5)]
    assert len(run(service, "SELECT * FROM music WHERE info.hits[2] = 3")["Items"]) == 10
    assert len(run(service, "SELECT * FROM music WHERE contains(tags, 'x') AND begins_with(artist, 'z')")["Items"]) == 5
    assert len(run(service, "SELECT * FROM music WHERE size(info.hits) = 3 AND nothing IS MISSING")["Items"]) == 10
    assert run(service, "SELECT * FROM music WHERE genre IS NOT MISSING AND song = 9")["Items"] == []
    assert run(service, "SELECT artist, info.\"year\" FROM music WHERE artist = ? AND song = ?",
               {"S": "acme"}, {"N": "1"})["Items"] == [{"artist": {"S": "acme"}, "info": {"M": {"year": {"N": "2001"}}}}]
    by_genre = run(service, 'SELECT * FROM "music"."by_genre" WHERE genre = \'jazz\'')
    assert sorted(songs(by_genre)) == [("acme", 2), ("acme", 4), ("zed", 2), ("zed", 4)]
    with pytest.raises(ValidationException, match="Consistent reads are not supported on global secondary indexes"):
        run(service, 'SELECT * FROM "music"."by_genre" WHERE genre = \'jazz\'', ConsistentRead=True)
    with pytest.raises(ValidationException, match="does not have the specified index: nope"):
        run(service, 'SELECT * FROM "music"."nope"')


def test_paging_with_limit_and_next_token_returns_every_item_once(service: TableService) -> None:
    fill(service)
    for statement in ("SELECT * FROM music", "SELECT * FROM music WHERE artist IN ['acme', 'zed']",
                      "SELECT * FROM music WHERE genre = 'rock'"):
        seen: list[tuple[str, int]] = []
        token = None
        for _ in range(20):
            page = run(service, statement, Limit=3, **({"NextToken": token} if token else {}))
            assert len(page["Items"]) <= 3
            seen += songs(page)
            token = page.get("NextToken")
            if token is None:
                break
        expected = 10 if "genre" not in statement else 6
        assert len(seen) == len(set(seen)) == expected, statement
    with pytest.raises(ValidationException):
        run(service, "SELECT * FROM music WHERE song = 1", NextToken=run(service, "SELECT * FROM music",
                                                                          Limit=1)["NextToken"])


def test_insert_update_delete_as_aws(service: TableService) -> None:
    run(service, "INSERT INTO music VALUE {'artist': 'a', 'song': 1, 'plays': 1, 'l': [1], 's': <<'x'>>}")
    with pytest.raises(DuplicateItem, match="Duplicate primary key exists in table"):
        run(service, "INSERT INTO music VALUE {'artist': 'a', 'song': 1}")
    out = run(service, "UPDATE music SET plays = plays + 2 SET l = list_append(l, [2]) SET s = set_add(s, <<'y'>>) "
                       "REMOVE nothing WHERE artist = 'a' AND song = 1 RETURNING MODIFIED NEW *")
    assert out["Items"] == [{"plays": {"N": "3"}, "l": {"L": [{"N": "1"}, {"N": "2"}]}, "s": {"SS": ["x", "y"]}}]
    with pytest.raises(ConditionalCheckFailed):
        run(service, "UPDATE music SET plays = 0 WHERE artist = 'a' AND song = 1 AND plays > 5")
    with pytest.raises(ConditionalCheckFailed) as err:
        run(service, "UPDATE music SET plays = 0 WHERE artist = 'a' AND song = 1 AND plays > 5",
            ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert err.value.item is not None and err.value.item["plays"] == {"N": "3"}
    with pytest.raises(ConditionalCheckFailed):       # UPDATE never creates an item
        run(service, "UPDATE music SET plays = 0 WHERE artist = 'b' AND song = 1")
    with pytest.raises(ValidationException, match="Where clause does not contain a mandatory equality on all key"):
        run(service, "UPDATE music SET plays = 0 WHERE artist = 'a'")
    with pytest.raises(ValidationException, match="This attribute is part of the key"):
        run(service, "UPDATE music SET song = 2 WHERE artist = 'a' AND song = 1")
    with pytest.raises(ValidationException, match="Number of parameters in request and statement don't match"):
        run(service, "DELETE FROM music WHERE artist = ? AND song = ?", {"S": "a"})
    assert run(service, "DELETE FROM music WHERE artist = 'nobody' AND song = 1") == {"Items": []}
    with pytest.raises(ConditionalCheckFailed):
        run(service, "DELETE FROM music WHERE artist = 'a' AND song = 1 AND plays = 99")
    gone = run(service, "DELETE FROM music WHERE artist = 'a' AND song = 1 RETURNING ALL OLD *")
    assert gone["Items"][0]["plays"] == {"N": "3"}
    assert run(service, "SELECT * FROM music")["Items"] == []


def test_batch_and_transaction(service: TableService) -> None:
    batch = service.call("BatchExecuteStatement", {"Statements": [
        {"Statement": "INSERT INTO music VALUE {'artist': 'a', 'song': 1}"},
        {"Statement": "INSERT INTO music VALUE {'artist': 'a', 'song': 1}"},
        {"Statement": "INSERT INTO nowhere VALUE {'artist': 'a', 'song': 1}"},
        {"Statement": "INSERT INTO music VALUE {'artist': 'a', 'song': 'one'}"},
        {"Statement": "DELETE FROM music"}]})["Responses"]
    assert batch[0] == {"TableName": "music"}
    assert batch[1]["Error"]["Code"] == "DuplicateItem"
    assert batch[2]["Error"]["Code"] == "ResourceNotFound"
    assert [b["Error"]["Code"] for b in batch[3:]] == ["ValidationError", "ValidationError"]
    reads = service.call("BatchExecuteStatement", {"Statements": [
        {"Statement": "SELECT * FROM music WHERE artist = 'a' AND song = 1"},
        {"Statement": "SELECT * FROM music WHERE artist = 'a' AND song = 2"}]})["Responses"]
    assert reads == [{"TableName": "music", "Item": {"artist": {"S": "a"}, "song": {"N": "1"}}}, {"TableName": "music"}]
    with pytest.raises(ValidationException, match="less than or equal to 25"):
        service.call("BatchExecuteStatement", {"Statements": [{"Statement": "SELECT * FROM music"}] * 26})
    run(service, "INSERT INTO music VALUE {'artist': 'a', 'song': 3}")
    with pytest.raises(TransactionCanceled) as err:
        service.call("ExecuteTransaction", {"TransactStatements": [
            {"Statement": "INSERT INTO music VALUE {'artist': 'b', 'song': 1}"},
            {"Statement": "EXISTS (SELECT * FROM music WHERE artist = 'a' AND song = 1 AND plays > 1)",
             "ReturnValuesOnConditionCheckFailure": "ALL_OLD"},
            {"Statement": "INSERT INTO music VALUE {'artist': 'a', 'song': 3}"}]})
    reasons = err.value.extra["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "DuplicateItem"]
    assert reasons[1]["Item"] == {"artist": {"S": "a"}, "song": {"N": "1"}}
    assert run(service, "SELECT * FROM music WHERE artist = 'b'")["Items"] == []     # nothing of it was written
    service.call("ExecuteTransaction", {"TransactStatements": [
        {"Statement": "INSERT INTO music VALUE {'artist': 'b', 'song': 1}"},
        {"Statement": "EXISTS (SELECT * FROM music WHERE artist = 'a' AND song = 1 AND plays IS MISSING)"}]})
    assert len(run(service, "SELECT * FROM music WHERE artist = 'b'")["Items"]) == 1
    got = service.call("ExecuteTransaction", {"TransactStatements": [
        {"Statement": "SELECT * FROM music WHERE artist = 'b' AND song = 1"},
        {"Statement": "SELECT * FROM music WHERE artist = 'b' AND song = 2"}]})
    assert got == {"Responses": [{"Item": {"artist": {"S": "b"}, "song": {"N": "1"}}}, {}]}
    with pytest.raises(ValidationException, match="multiple operations on one item"):
        service.call("ExecuteTransaction", {"TransactStatements": [
            {"Statement": "DELETE FROM music WHERE artist = 'b' AND song = 1"},
            {"Statement": "UPDATE music SET x = 1 WHERE artist = 'b' AND song = 1"}]})
    with pytest.raises(ValidationException, match="less than or equal to 100"):
        service.call("ExecuteTransaction", {"TransactStatements": [{"Statement": "SELECT * FROM music"}] * 101})


# -- SELECT plans (a Query of the partitions the WHERE pins, narrowed by the sort key) against every item --
@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TableService]:
    store = SQLiteMessageStore(tmp_path_factory.mktemp("partiql") / "q.db")
    svc = TableService(store.tables, store.streams, "us-east-1", "123456789012")
    svc.call("CreateTable", {"TableName": "tbl", "BillingMode": "PAY_PER_REQUEST",
                             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                             "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                      {"AttributeName": "sk", "AttributeType": "S"}]})
    for pk in ("a", "b", "c", "ab"):
        for n, sk in enumerate(("x", "x1", "x2", "y", "yy", "z")):
            item = {"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": str(n)}}
            if n % 2:
                item["m"] = {"M": {"v": {"N": str(n * 3)}}}
            svc.call("PutItem", {"TableName": "tbl", "Item": item})
    yield svc
    store.close()


KEYS = st.sampled_from(["'a'", "'b'", "'c'", "'ab'", "'zz'", "1"])
SORTS = st.sampled_from(["'x'", "'x1'", "'y'", "'z'", "''", "'yy'", "'x0'"])
leaf = st.one_of(
    KEYS.map(lambda k: f"pk = {k}"), KEYS.map(lambda k: f"{k} = pk"),
    st.lists(KEYS, min_size=1, max_size=3).map(lambda ks: f"pk IN [{', '.join(ks)}]"),
    st.tuples(st.sampled_from(["=", "<", "<=", ">", ">=", "<>"]), SORTS).map(lambda t: f"sk {t[0]} {t[1]}"),
    st.tuples(SORTS, st.sampled_from(["<", ">="])).map(lambda t: f"{t[0]} {t[1]} sk"),
    st.tuples(SORTS, SORTS).map(lambda t: f"sk BETWEEN {t[0]} AND {t[1]}"),
    SORTS.map(lambda s: f"begins_with(sk, {s})"), st.integers(0, 18).map(lambda n: f"m.v >= {n}"),
    st.just("m IS MISSING"), st.integers(0, 5).map(lambda n: f"n = {n}"))
wheres = st.recursive(leaf, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
    st.tuples(inner, inner).map(lambda t: f"{t[0]} AND {t[1]}"), inner.map(lambda c: f"NOT ({c})")), max_leaves=4)


@given(wheres, st.one_of(st.none(), st.integers(1, 7)))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_select_finds_exactly_the_items_its_where_clause_holds_for(filled: TableService, where: str,
                                                                   limit: int | None) -> None:
    statement = f"SELECT * FROM tbl WHERE {where}"
    everything = filled.call("Scan", {"TableName": "tbl"})["Items"]
    names = E.Names(None, None)
    tree = P.condition(P.parse(statement).where, [], names)
    try:
        expected = sorted((i["pk"]["S"], i["sk"]["S"]) for i in everything if E.evaluate(tree, i, names))
    except ValidationException:          # a BETWEEN upside down: refused where an item is looked at
        try:
            assert filled.call("ExecuteStatement", {"Statement": statement})["Items"] == []
        except ValidationException:
            pass
        return
    found: list[tuple[str, str]] = []
    token = None
    for _ in range(100):
        extra = {"Limit": limit} if limit else {}
        page = filled.call("ExecuteStatement", {"Statement": statement, **extra, **({"NextToken": token} if token
                                                                                    else {})})
        if limit:
            assert len(page["Items"]) <= limit
        found += [(i["pk"]["S"], i["sk"]["S"]) for i in page["Items"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert sorted(found) == expected and len(found) == len(set(found))
