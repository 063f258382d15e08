"""PartiQL's operations on tables: ``ExecuteStatement``, ``BatchExecuteStatement`` and
``ExecuteTransaction``, run on the table service's own reads and writes.

A SELECT whose WHERE pins the partition key (``pk = v``, ``pk IN [...]``, or an OR of such) is a
Query of each partition, narrowed by a top-level condition on the sort key; any other SELECT is
a Scan; either way the whole WHERE is the filter (``tables/partiql.py`` compiles it for the
expression engine). INSERT, UPDATE and DELETE act on one item, whose full key the WHERE must
name by equality; the rest of the WHERE is their condition. A transaction is all reads or all
writes (EXISTS is a write's ConditionCheck), decided and written in one store transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cumulo.errors import ValidationException
from cumulo.tables import expressions as E
from cumulo.tables import partiql as P
from cumulo.tables import values as V
from cumulo.tables.values import ConditionalCheckFailed, DuplicateItem, TableNotFound, TransactionCanceled

__all__ = ["Statements"]

Doc = dict[str, Any]

_RANGE_OPS = ("=", "<", "<=", ">", ">=")
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
_NO_KEY = "Where clause does not contain a mandatory equality on all key attributes"


def _constraint(value: Any, member: str, rule: str) -> ValidationException:
    return ValidationException(f"1 validation error detected: Value '{str(value)[:128]}' at '{member}' failed to "
                               f"satisfy constraint: {rule}")


@dataclass
class _Write:
    """One INSERT, UPDATE, DELETE or EXISTS, planned: what it acts on and how."""
    statement: Any
    doc: Doc
    pk: bytes
    sk: bytes
    key: V.Item
    names: E.Names
    condition: Any
    update: E.Update | None = None
    item: V.Item | None = None

    def failure(self, old: V.Item | None) -> str | None:
        """Why it cannot be done to the item as it is: DuplicateItem, ConditionalCheckFailed, or None."""
        st = self.statement
        if isinstance(st, P.Insert):
            return "DuplicateItem" if old is not None else None
        if isinstance(st, P.Delete) and old is None:
            return None                                    # nothing to delete: done, nothing deleted
        if old is None or not E.evaluate(self.condition, old, self.names):
            return "ConditionalCheckFailed"
        return None

    def new(self, old: V.Item | None) -> V.Item | None:
        st = self.statement
        if isinstance(st, P.Insert):
            return self.item
        if isinstance(st, P.Update):
            assert self.update is not None and old is not None
            return E.apply_update(self.update, old, self.names)
        if isinstance(st, P.Delete):
            return None
        return old                                         # EXISTS writes nothing


class Statements:
    def __init__(self, service: Any) -> None:
        self.s = service                    # the TableService that owns this (it imports this module)

    # -- requests ------------------------------------------------------------------------------------
    @staticmethod
    def _parse(text: Any, parameters: Any) -> tuple[P.Statement, list[Doc]]:
        st = P.parse(text)
        if parameters is not None and (not isinstance(parameters, list) or not parameters):
            raise _constraint(parameters, "parameters", "Member must have length greater than or equal to 1")
        params = [V.validate_value(p) for p in parameters or []]
        if len(params) != st.params:
            raise ValidationException("Number of parameters in request and statement don't match.")
        return st, params

    @staticmethod
    def _on_failure(d: Doc) -> bool:
        fail = d.get("ReturnValuesOnConditionCheckFailure") or "NONE"
        if fail not in ("NONE", "ALL_OLD"):
            raise _constraint(fail, "returnValuesOnConditionCheckFailure",
                              "Member must satisfy enum value set: [ALL_OLD, NONE]")
        return bool(fail == "ALL_OLD")

    def execute(self, d: Doc) -> Doc:
        st, params = self._parse(d.get("Statement"), d.get("Parameters"))
        want_old = self._on_failure(d)
        if isinstance(st, P.Select):
            return self._select(st, params, d)
        if isinstance(st, P.Exists):
            raise ValidationException("EXISTS can only be used in a transaction (ExecuteTransaction)")
        if d.get("NextToken") is not None or d.get("Limit") is not None:
            raise ValidationException("Limit and NextToken are only for SELECT statements")
        w = self._plan(st, params)
        with self.s.items.transaction() as tx:
            raw = tx.get(w.doc["TableName"], w.pk, w.sk)
            old = json.loads(raw) if raw is not None else None
            failure = w.failure(old)
            if failure == "DuplicateItem":
                raise DuplicateItem()
            if failure is not None:
                raise ConditionalCheckFailed(item=old if want_old and old is not None else None)
            new = w.new(old)
            self.s._write(tx, w.doc, w.pk, w.sk, old, new)
        return {"Items": self._returning(w, old, new)}

    @staticmethod
    def _returning(w: _Write, old: V.Item | None, new: V.Item | None) -> list[V.Item]:
        rv = getattr(w.statement, "returning", None)
        if rv is None:
            return []
        if rv == "ALL_OLD":
            return [old] if old else []
        if rv == "ALL_NEW":
            return [new] if new else []
        assert w.update is not None
        projected = E.project((old if rv == "UPDATED_OLD" else new) or {}, w.update.paths())
        return [projected] if projected else []

    # -- writes ---------------------------------------------------------------------------------------
    def _full_key(self, doc: Doc, where: Any, params: list[Doc]) -> tuple[bytes, bytes, V.Item]:
        h, r = self.s._key_names(doc)
        key: V.Item = {}
        parts = P.conjuncts(where)
        for name in (h, r):
            if name is None:
                continue
            found = [v for v in (P.equality(c, name) for c in parts) if v is not None]
            if not found:
                raise ValidationException(_NO_KEY)
            key[name] = P.value_of(found[0], params)
        return self.s._key(doc, key)

    def _plan(self, st: Any, params: list[Doc]) -> _Write:
        table = st.select.table if isinstance(st, P.Exists) else st.table
        doc = self.s._table(table)
        names = E.Names(None, None)
        if isinstance(st, P.Insert):
            value = P.value_of(st.item, params)
            if V.type_of(value) != "M":
                raise ValidationException("Unsupported operation: INSERT needs an item, a map of attributes")
            item = V.validate_item(value["M"])
            pk, sk = self.s._item_key(doc, item)
            return _Write(st, doc, pk, sk, {}, names, None, item=item)
        where = st.select.where if isinstance(st, P.Exists) else st.where
        if isinstance(st, P.Exists) and (st.select.index is not None or st.select.columns is not None or
                                         st.select.order):
            raise ValidationException("EXISTS takes a SELECT * of a table, with its full key in the WHERE clause")
        pk, sk, key = self._full_key(doc, where, params)
        condition = P.condition(where, params, names)
        update = None
        if isinstance(st, P.Update):
            update = P.update_of(st, params, names)
            for path in update.paths():
                if path.elements[0] in key:
                    raise V.invalid(f"Cannot update attribute {path.elements[0]}. This attribute is part of the key")
        return _Write(st, doc, pk, sk, key, names, condition, update=update)

    # -- reads ----------------------------------------------------------------------------------------
    def _partitions(self, where: Any, h: str, params: list[Doc]) -> list[Doc] | None:
        """The partition key values a WHERE clause allows, or None (any: a scan)."""
        if where is None:
            return None
        if isinstance(where, E.Logic) and where.op == "AND":
            for part in where.parts:
                found = self._partitions(part, h, params)
                if found is not None:
                    return found
            return None
        if isinstance(where, E.Logic) and where.op == "OR":
            out: list[Doc] = []
            for part in where.parts:
                found = self._partitions(part, h, params)
                if found is None:
                    return None
                out.extend(v for v in found if not any(V.equal(v, o) for o in out))
            return out
        value = P.equality(where, h)
        if value is not None:
            return [P.value_of(value, params)]
        if isinstance(where, E.In) and where.subject == E.Path((h,)):
            out = []
            for node in where.options:
                v = P.value_of(node, params)
                if not any(V.equal(v, o) for o in out):
                    out.append(v)
            return out
        return None

    def _range(self, doc: Doc, where: Any, r: str | None, params: list[Doc], hash_value: Doc) -> E.KeyCondition:
        """The narrowest sort-key range a top-level condition of the WHERE clause gives (the filter checks
        the rest)."""
        kc = E.KeyCondition(hash_value)
        if r is None:
            return kc
        ref = E.Path((r,))
        key_type = self.s._type(doc, r)
        for c in P.conjuncts(where):
            found: E.KeyCondition | None = None
            if isinstance(c, E.Compare) and c.op in _RANGE_OPS:
                if c.left == ref and not isinstance(c.right, (E.Path, E.Call)):
                    found = E.KeyCondition(hash_value, c.op, (P.value_of(c.right, params),))
                elif c.right == ref and not isinstance(c.left, (E.Path, E.Call)):
                    found = E.KeyCondition(hash_value, _FLIP[c.op], (P.value_of(c.left, params),))
            elif isinstance(c, E.Between) and c.subject == ref and not any(
                    isinstance(n, (E.Path, E.Call)) for n in (c.low, c.high)):
                found = E.KeyCondition(hash_value, "BETWEEN", (P.value_of(c.low, params), P.value_of(c.high, params)))
            elif isinstance(c, E.Call) and c.name == "begins_with" and c.args[0] == ref and key_type == "S" and \
                    not isinstance(c.args[1], (E.Path, E.Call)):
                found = E.KeyCondition(hash_value, "begins_with", (P.value_of(c.args[1], params),))
            if found is not None and all(V.type_of(v) == key_type for v in found.range_values) and not (
                    found.range_op == "BETWEEN" and V.compare(*found.range_values) > 0):   # type: ignore[operator]
                return found
        return kc

    def _select(self, st: P.Select, params: list[Doc], d: Doc) -> Doc:
        s = self.s
        doc = s._table(st.table)
        index, spec, is_gsi = s._index_spec(doc, st.index)
        if is_gsi and d.get("ConsistentRead"):
            raise ValidationException("Consistent reads are not supported on global secondary indexes")
        limit = d.get("Limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise _constraint(limit, "limit", "Member must have value greater than or equal to 1")
        names = E.Names(None, None)
        filter_tree = P.condition(st.where, params, names) if st.where is not None else None
        projection = list(st.columns) if st.columns is not None else None
        if projection is not None:
            clash = E.overlap(projection)
            if clash is not None:
                raise ValidationException(f"Two document paths overlap with each other; must remove or rewrite one "
                                          f"of these paths; path one: {clash[0]}, path two: {clash[1]}")
        if st.index is None and not st.order and d.get("NextToken") is None:
            try:
                pk, sk, _ = self._full_key(doc, st.where, params)
            except ValidationException:
                pass                                  # not one item by its key: a Query or a Scan
            else:                                     # one item by its key: read as GetItem reads
                raw = s.items.get(doc["TableName"], pk, sk)
                item = json.loads(raw) if raw is not None else None
                if item is None or (filter_tree is not None and not E.evaluate(filter_tree, item, names)):
                    return {"Items": []}
                return {"Items": [E.project(item, projection) if projection else item]}
        h, r = s._key_names(doc, index)
        partitions = self._partitions(st.where, h, params)
        forward = True
        for ref, desc in st.order:
            if partitions is None:
                raise ValidationException("Must have WHERE clause in the statement when using ORDER BY clause.")
            if ref.elements not in ((h,), (r,)):
                raise ValidationException(f"Variable reference {ref.elements[0]} must refer to a key attribute of the "
                                          f"table or index in the ORDER BY clause")
            if ref.elements == (r,):
                forward = not desc
        table = doc["TableName"]
        fingerprint = hashlib.sha256(json.dumps([d.get("Statement"), params], sort_keys=True).encode()).hexdigest()[:16]
        start, esk = 0, None
        if d.get("NextToken") is not None:
            start, esk = _token(d["NextToken"], fingerprint)
        items: list[V.Item] = []
        out: Doc = {}
        if partitions is None:
            page = s._read({"Limit": limit, "ExclusiveStartKey": esk}, doc, index, spec,
                           lambda after, n: s.items.scan(table, index, after, n, 0, 1),
                           filter_tree, names, projection, scan=True)
            items = page.get("Items", [])
            if "LastEvaluatedKey" in page:
                out["LastEvaluatedKey"] = page["LastEvaluatedKey"]
                out["NextToken"] = _make_token(fingerprint, 0, page["LastEvaluatedKey"])
            return {"Items": items, **out}
        remaining = limit
        for number in range(start, len(partitions)):
            value = partitions[number]
            if V.type_of(value) != s._type(doc, h) or value[V.type_of(value)] == "":
                esk = None
                continue                                     # no item has such a key
            kc = self._range(doc, st.where, r, params, value)
            low, high = s._bounds(doc, r, kc)
            pk = V.key_bytes(value)
            page = s._read({"Limit": remaining, "ExclusiveStartKey": esk}, doc, index, spec,
                           lambda after, n: s.items.query(table, index, pk, low, high, forward, after, n),
                           filter_tree, names, projection, scan=False)
            esk = None
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" in page:
                out["LastEvaluatedKey"] = page["LastEvaluatedKey"]
                out["NextToken"] = _make_token(fingerprint, number, page["LastEvaluatedKey"])
                break
            if remaining is not None:
                remaining -= page["ScannedCount"]
                if remaining <= 0 and number + 1 < len(partitions):
                    out["NextToken"] = _make_token(fingerprint, number + 1, None)
                    break
        return {"Items": items, **out}

    def _get(self, st: P.Select, params: list[Doc]) -> tuple[Doc, V.Item | None]:
        """A SELECT of one item by its full key (batches and transactions read so): its table, the item."""
        doc = self.s._table(st.table)
        if st.index is not None or st.order:
            raise ValidationException("Only a SELECT of one item by its full primary key, without an index or "
                                      "ORDER BY, is allowed here")
        pk, sk, _ = self._full_key(doc, st.where, params)
        names = E.Names(None, None)
        condition = P.condition(st.where, params, names)
        raw = self.s.items.get(doc["TableName"], pk, sk)
        item = json.loads(raw) if raw is not None else None
        if item is None or not E.evaluate(condition, item, names):
            return doc, None
        if st.columns is not None:
            item = E.project(item, list(st.columns))
        return doc, item

    # -- batches --------------------------------------------------------------------------------------
    def batch(self, d: Doc) -> Doc:
        statements = d.get("Statements")
        if not isinstance(statements, list) or not statements:
            raise _constraint(statements, "statements", "Member must have length greater than or equal to 1")
        if len(statements) > 25:
            raise _constraint(f"[{len(statements)} statements]", "statements",
                              "Member must have length less than or equal to 25")
        kinds = set()
        for spec in statements:
            if not isinstance(spec, dict):
                raise ValidationException("Each statement of a batch is a map with a Statement")
            text = spec.get("Statement")
            kinds.add("read" if isinstance(text, str) and text.lstrip()[:6].upper() == "SELECT" else "write")
        if len(kinds) > 1:
            raise ValidationException("Batch statements must be all reads (SELECT) or all writes (INSERT, UPDATE, "
                                      "DELETE), not both")
        return {"Responses": [self._one(spec) for spec in statements]}

    def _one(self, spec: Doc) -> Doc:
        table = None
        try:
            st, params = self._parse(spec.get("Statement"), spec.get("Parameters"))
            want_old = self._on_failure(spec)
            if isinstance(st, P.Exists):
                raise ValidationException("EXISTS can only be used in a transaction (ExecuteTransaction)")
            table = st.table
            if isinstance(st, P.Select):
                doc, item = self._get(st, params)
                return {"TableName": doc["TableName"], **({"Item": item} if item is not None else {})}
            w = self._plan(st, params)
            with self.s.items.transaction() as tx:
                raw = tx.get(w.doc["TableName"], w.pk, w.sk)
                old = json.loads(raw) if raw is not None else None
                failure = w.failure(old)
                if failure is not None:
                    error: Doc = {"Code": failure, "Message": "Duplicate primary key exists in table"
                                  if failure == "DuplicateItem" else "The conditional request failed"}
                    if failure == "ConditionalCheckFailed" and want_old and old is not None:
                        error["Item"] = old
                    return {"TableName": w.doc["TableName"], "Error": error}
                self.s._write(tx, w.doc, w.pk, w.sk, old, w.new(old))
            return {"TableName": w.doc["TableName"]}
        except TableNotFound as err:
            return {"Error": {"Code": "ResourceNotFound", "Message": err.message}}
        except ValidationException as err:
            return {**({"TableName": table} if table else {}), "Error": {"Code": "ValidationError",
                                                                          "Message": err.message}}

    # -- transactions -----------------------------------------------------------------------------------
    def transaction(self, d: Doc) -> Doc:
        statements = d.get("TransactStatements")
        if not isinstance(statements, list) or not 1 <= len(statements) <= 100:
            raise _constraint(f"[{len(statements) if isinstance(statements, list) else statements}]",
                              "transactStatements", "Member must have length less than or equal to 100")
        token = d.get("ClientRequestToken")
        if token is not None:
            seen = self.s.idempotent(token, statements)
            if seen is not None:
                return seen
        parsed = []
        for spec in statements:
            if not isinstance(spec, dict):
                raise ValidationException("Each statement of a transaction is a map with a Statement")
            st, params = self._parse(spec.get("Statement"), spec.get("Parameters"))
            parsed.append((st, params, spec))
        reads = [isinstance(st, P.Select) for st, _, _ in parsed]
        if any(reads) and not all(reads):
            raise ValidationException("Transaction statements must be all reads (SELECT) or all writes (INSERT, "
                                      "UPDATE, DELETE, EXISTS), not both")
        if all(reads):
            responses = []
            for st, params, _ in parsed:
                assert isinstance(st, P.Select)
                _, item = self._get(st, params)
                responses.append({"Item": item} if item is not None else {})
            return {"Responses": responses}
        plans = []
        keys = set()
        for st, params, spec in parsed:
            w = self._plan(st, params)
            if (w.doc["TableName"], w.pk, w.sk) in keys:
                raise ValidationException("Transaction request cannot include multiple operations on one item")
            keys.add((w.doc["TableName"], w.pk, w.sk))
            plans.append((w, self._on_failure(spec)))
        with self.s.items.transaction() as tx:
            olds, reasons, failed = [], [], False
            for w, want_old in plans:
                raw = tx.get(w.doc["TableName"], w.pk, w.sk)
                old = json.loads(raw) if raw is not None else None
                olds.append(old)
                failure = w.failure(old)
                if failure is None:
                    reasons.append({"Code": "None"})
                    continue
                failed = True
                reason: Doc = {"Code": failure, "Message": "Duplicate primary key exists in table"
                               if failure == "DuplicateItem" else "The conditional request failed"}
                if failure == "ConditionalCheckFailed" and want_old and old is not None:
                    reason["Item"] = old
                reasons.append(reason)
            if failed:
                raise TransactionCanceled(reasons)
            for (w, _), old in zip(plans, olds):
                if not isinstance(w.statement, P.Exists):
                    self.s._write(tx, w.doc, w.pk, w.sk, old, w.new(old))
        if token is not None:
            self.s.remember(token, statements, {})
        return {}


def _make_token(fingerprint: str, partition: int, esk: Doc | None) -> str:
    return base64.urlsafe_b64encode(json.dumps([fingerprint, partition, esk]).encode()).decode()


def _token(token: Any, fingerprint: str) -> tuple[int, Doc | None]:
    try:
        found, partition, esk = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if not isinstance(partition, int) or not (esk is None or isinstance(esk, dict)):
            raise ValueError(token)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise ValidationException(f"Invalid NextToken: {str(token)[:64]}") from None
    if found != fingerprint:
        raise ValidationException("The NextToken is of another statement or other parameters")
    return partition, esk
