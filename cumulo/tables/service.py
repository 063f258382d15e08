"""Tables with DynamoDB's API: a request document in, the answer's document out.

``TableService.call(operation, doc)`` is every operation the DynamoDB and DynamoDB Streams wire
protocols serve (``api/dynamodb.py``) and what state machines' DynamoDB tasks call; the
documents are DynamoDB's own (attribute values as ``{"S": …}``, numbers as decimal text). Items
live in the message store (``store/ports.TableItems``), keyed by their key attributes' sortable
bytes; a write and its stream record are one transaction. Tables are ACTIVE as soon as they are
created; CreateTable, UpdateTable and DeleteTable answer CREATING, UPDATING and DELETING as AWS does.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
import threading
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from cumulo.errors import ValidationException
from cumulo.model import table_stream as ts
from cumulo.ports import SYSTEM_CLOCK, Clock
from cumulo.store.ports import ItemTransaction, StreamRecords, TableItems
from cumulo.tables import expressions as E
from cumulo.tables import legacy as L
from cumulo.tables.backups import PREFIX as BACKUP_PREFIX
from cumulo.tables.backups import Backups, journal_name, journal_record, pitr_enabled
from cumulo.tables import values as V
from cumulo.tables.statements import Statements
from cumulo.tables.values import ConditionalCheckFailed, ResourceInUseException, TableNotFound, TransactionCanceled

__all__ = ["TableService"]

Doc = dict[str, Any]

_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
_PAGE_BYTES = 1024 * 1024
_RETURN_VALUES = {"PutItem": ("NONE", "ALL_OLD"), "DeleteItem": ("NONE", "ALL_OLD"),
                  "UpdateItem": ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")}
_VIEW_TYPES = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")
_TOKEN_TTL_S = 600
_TTL_HORIZON_S = 5 * 365 * 86400


def _constraint(value: Any, member: str, rule: str) -> ValidationException:
    return ValidationException(f"1 validation error detected: Value '{str(value)[:128]}' at '{member}' failed to "
                               f"satisfy constraint: {rule}")


def _invalid(message: str) -> ValidationException:
    return ValidationException("One or more parameter values were invalid: " + message)


class TableService:
    def __init__(self, items: TableItems, records: StreamRecords, region: str, account: str,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.items, self.records, self.clock = items, records, clock
        self.region, self.account = region, account
        self._tokens: dict[str, tuple[float, str, Doc]] = {}      # transaction idempotency tokens
        self._tokens_lock = threading.Lock()
        # tables' documents, read on every item operation: kept for a second, dropped at once when this
        # service changes one (one server owns a store; the CLI does not change tables)
        self._docs: dict[str, tuple[float, Doc]] = {}
        self._types: dict[str, tuple[Doc, dict[str, str]]] = {}     # a cached document's attribute types
        self.statements = Statements(self)                           # PartiQL
        self.backups = Backups(self)
        self._operations: dict[str, Callable[[Doc], Doc]] = {
            "CreateTable": self.create_table, "DescribeTable": self.describe_table, "ListTables": self.list_tables,
            "DeleteTable": self.delete_table, "UpdateTable": self.update_table,
            "UpdateTimeToLive": self.update_ttl, "DescribeTimeToLive": self.describe_ttl,
            "TagResource": self.tag_resource, "UntagResource": self.untag_resource,
            "ListTagsOfResource": self.list_tags, "DescribeLimits": self.describe_limits,
            "PutItem": self.put_item, "GetItem": self.get_item, "UpdateItem": self.update_item,
            "DeleteItem": self.delete_item, "Query": self.query, "Scan": self.scan,
            "BatchGetItem": self.batch_get, "BatchWriteItem": self.batch_write,
            "TransactWriteItems": self.transact_write, "TransactGetItems": self.transact_get,
            "ExecuteStatement": self.statements.execute, "BatchExecuteStatement": self.statements.batch,
            "ExecuteTransaction": self.statements.transaction,
            "CreateBackup": self.backups.create, "DescribeBackup": self.backups.describe,
            "ListBackups": self.backups.list, "DeleteBackup": self.backups.delete,
            "RestoreTableFromBackup": self.backups.restore,
            "UpdateContinuousBackups": self.backups.update_continuous,
            "DescribeContinuousBackups": self.backups.describe_continuous,
            "RestoreTableToPointInTime": self.backups.restore_to_point_in_time,
            # DynamoDB Streams
            "ListStreams": self.list_streams, "DescribeStream": self.describe_stream,
            "GetShardIterator": self.get_shard_iterator, "GetRecords": self.get_records,
        }

    @property
    def operations(self) -> tuple[str, ...]:
        return tuple(self._operations)

    def call(self, operation: str, doc: Doc) -> Doc:
        return self._operations[operation](doc)

    def arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"

    # -- tables ------------------------------------------------------------------------------------
    def _table(self, name: Any) -> Doc:
        if isinstance(name, str) and name.startswith("arn:") and ":table/" in name:
            name = name.split(":table/", 1)[1].split("/", 1)[0]
        if not isinstance(name, str) or "/" in name:        # backups are kept as tables named backup/<id>
            raise TableNotFound(f"Requested resource not found: Table: {name} not found")
        now = self.clock.monotonic()
        cached = self._docs.get(name)
        if cached is not None and now - cached[0] < 1.0:
            return cached[1]          # read only: what changes a table reads it afresh (_fresh)
        doc = self.items.get_table(name)
        if doc is None:
            self._docs.pop(name, None)
            raise TableNotFound(f"Requested resource not found: Table: {name} not found")
        if len(self._docs) > 1000:
            self._docs.clear()
        self._docs[name] = (now, doc)
        self._types[name] = (doc, {a["AttributeName"]: a["AttributeType"] for a in doc["AttributeDefinitions"]})
        return doc

    def _fresh(self, name: Any) -> Doc:
        """A table's document to change: read from the store, never the cached one (which readers share;
        a change that fails half way must leave it alone)."""
        if isinstance(name, str) and name.startswith("arn:") and ":table/" in name:
            name = name.split(":table/", 1)[1].split("/", 1)[0]
        doc = self.items.get_table(name) if isinstance(name, str) and "/" not in name else None
        if doc is None:
            raise TableNotFound(f"Requested resource not found: Table: {name} not found")
        return doc

    def _table_names(self) -> list[str]:
        """The tables' names (not the backups', which the store keeps as tables named backup/<id>)."""
        return [n for n in self.items.list_tables() if not n.startswith(BACKUP_PREFIX)]

    def _put_table(self, doc: Doc) -> None:
        self.items.put_table(doc["TableName"], doc)
        self._docs.pop(doc["TableName"], None)
        self._types.pop(doc["TableName"], None)

    def create_table(self, d: Doc, stream_label: str | None = None) -> Doc:
        """CreateTable; ``stream_label`` names the stream when one is asked for (templates decide it
        before the table exists, so that ``!GetAtt Table.StreamArn`` is known while they are read)."""
        doc = self.table_doc(d, self.clock.now(), stream_label)
        if not self.items.create_table(doc["TableName"], doc):
            raise ResourceInUseException(f"Table already exists: {doc['TableName']}")
        return {"TableDescription": self._describe(doc, "CREATING")}

    def table_doc(self, d: Doc, now: float, stream_label: str | None = None) -> Doc:
        """A CreateTable request checked as DynamoDB checks it: the table's document (nothing stored)."""
        name = d.get("TableName")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _constraint(name, "tableName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ "
                              "and have length between 3 and 255")
        defs = d.get("AttributeDefinitions") or []
        types = {}
        for a in defs:
            if not isinstance(a, dict) or a.get("AttributeType") not in ("S", "N", "B"):
                raise _constraint(a, "attributeDefinitions.member.attributeType",
                                  "Member must satisfy enum value set: [B, N, S]")
            types[a["AttributeName"]] = a["AttributeType"]
        schema = self._schema(d.get("KeySchema"), types, "KeySchema")
        used = {k["AttributeName"] for k in schema}
        billing = d.get("BillingMode") or "PROVISIONED"
        if billing not in ("PROVISIONED", "PAY_PER_REQUEST"):
            raise _constraint(billing, "billingMode", "Member must satisfy enum value set: [PROVISIONED, "
                              "PAY_PER_REQUEST]")
        throughput = self._throughput(billing, d.get("ProvisionedThroughput"))
        lsis = []
        for spec in d.get("LocalSecondaryIndexes") or []:
            ks = self._schema(spec.get("KeySchema"), types, f"LocalSecondaryIndex {spec.get('IndexName')}")
            if len(schema) < 2:
                raise _invalid("Table KeySchema does not have a range key, which is required when specifying a "
                               "LocalSecondaryIndex")
            if ks[0]["AttributeName"] != schema[0]["AttributeName"] or len(ks) != 2:
                raise _invalid(f"Index KeySchema does not have the same leading hash key as table KeySchema for "
                               f"index: {spec.get('IndexName')}. index hash key: {ks[0]['AttributeName']}, table "
                               f"hash key: {schema[0]['AttributeName']}")
            lsis.append({"IndexName": spec.get("IndexName"), "KeySchema": ks,
                         "Projection": self._projection(spec.get("Projection"))})
            used |= {k["AttributeName"] for k in ks}
        gsis = []
        for spec in d.get("GlobalSecondaryIndexes") or []:
            gsis.append(self._gsi(spec, types, billing))
            used |= {k["AttributeName"] for k in gsis[-1]["KeySchema"]}
        names = [i["IndexName"] for i in lsis + gsis]
        if len(set(names)) != len(names):
            raise _invalid("Duplicate index name")
        if used != set(types):
            raise _invalid("Number of attributes in KeySchema does not exactly match number of attributes defined "
                           "in AttributeDefinitions")
        doc: Doc = {"TableName": name, "KeySchema": schema, "AttributeDefinitions": defs, "BillingMode": billing,
                    "ProvisionedThroughput": throughput, "LocalSecondaryIndexes": lsis,
                    "GlobalSecondaryIndexes": gsis, "TableId": str(uuid.uuid4()), "CreationDateTime": now,
                    "Tags": {t["Key"]: t["Value"] for t in d.get("Tags") or []}, "Streams": [],
                    "DeletionProtectionEnabled": bool(d.get("DeletionProtectionEnabled")),
                    "TableClass": d.get("TableClass") or "STANDARD"}
        self._stream_spec(doc, d.get("StreamSpecification"), now, stream_label)
        return doc

    def _schema(self, schema: Any, types: dict[str, str], what: str) -> list[Doc]:
        if not isinstance(schema, list) or not 1 <= len(schema) <= 2:
            raise _constraint(schema, "keySchema", "Member must have length less than or equal to 2")
        roles = [k.get("KeyType") if isinstance(k, dict) else None for k in schema]
        if roles[0] != "HASH" or (len(roles) == 2 and roles[1] != "RANGE"):
            raise _invalid(f"Invalid KeySchema: The first KeySchemaElement is not a HASH key type" if roles[0] != "HASH"
                           else "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
        for k in schema:
            if k.get("AttributeName") not in types:
                raise _invalid(f"Some index key attributes are not defined in AttributeDefinitions. Keys: "
                               f"[{', '.join(x.get('AttributeName', '') for x in schema)}], AttributeDefinitions: "
                               f"[{', '.join(types)}]")
        if len(schema) == 2 and schema[0]["AttributeName"] == schema[1]["AttributeName"]:
            raise _invalid("Both the Hash Key and the Range Key element in the KeySchema have the same name")
        return [{"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in schema]

    @staticmethod
    def _projection(p: Any) -> Doc:
        p = p or {}
        kind = p.get("ProjectionType") or "ALL"
        if kind not in ("ALL", "KEYS_ONLY", "INCLUDE"):
            raise _constraint(kind, "projection.projectionType", "Member must satisfy enum value set: [ALL, "
                              "INCLUDE, KEYS_ONLY]")
        out: Doc = {"ProjectionType": kind}
        if kind == "INCLUDE":
            out["NonKeyAttributes"] = list(p.get("NonKeyAttributes") or [])
        elif p.get("NonKeyAttributes"):
            raise _invalid("ProjectionType is " + kind + ", but NonKeyAttributes is specified")
        return out

    @staticmethod
    def _throughput(billing: str, given: Any) -> Doc:
        if billing == "PAY_PER_REQUEST":
            if given:
                raise _invalid("Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode "
                               "is PAY_PER_REQUEST")
            return {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
        if not isinstance(given, dict) or "ReadCapacityUnits" not in given or "WriteCapacityUnits" not in given:
            raise _invalid("ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is "
                           "PROVISIONED")
        for k in ("ReadCapacityUnits", "WriteCapacityUnits"):
            if not isinstance(given[k], int) or given[k] < 1:
                raise _constraint(given[k], f"provisionedThroughput.{k[0].lower()}{k[1:]}",
                                  "Member must have value greater than or equal to 1")
        return {"ReadCapacityUnits": given["ReadCapacityUnits"], "WriteCapacityUnits": given["WriteCapacityUnits"]}

    def _gsi(self, spec: Doc, types: dict[str, str], billing: str) -> Doc:
        name = spec.get("IndexName")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _constraint(name, "globalSecondaryIndexes.member.indexName", "Member must have length greater "
                              "than or equal to 3")
        out = {"IndexName": name, "KeySchema": self._schema(spec.get("KeySchema"), types, f"index {name}"),
               "Projection": self._projection(spec.get("Projection"))}
        if billing == "PROVISIONED":
            out["ProvisionedThroughput"] = self._throughput(billing, spec.get("ProvisionedThroughput"))
        return out

    def _stream_spec(self, doc: Doc, spec: Any, now: float, label: str | None = None) -> None:
        if spec is None:
            return
        enabled = bool(spec.get("StreamEnabled"))
        current = doc["Streams"][-1] if doc["Streams"] and doc["Streams"][-1]["Enabled"] else None
        if enabled:
            view = spec.get("StreamViewType")
            if view not in _VIEW_TYPES:
                raise _invalid("StreamViewType is required when StreamEnabled is true" if view is None else
                               f"Invalid StreamViewType: {view}")
            if current is not None:
                raise _invalid(f"Table already has an enabled stream: {self._stream_arn(doc, current)}")
            label = label or datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
            if any(s["Label"] == label for s in doc["Streams"]):
                label = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
            doc["Streams"].append({"Label": label, "ViewType": view, "Enabled": True, "Created": now})
        else:
            if current is None:
                raise _invalid("Table already has no stream enabled" if doc["Streams"] else
                               "StreamSpecification: stream is not enabled")
            current["Enabled"] = False

    def _stream_arn(self, doc: Doc, stream: Doc) -> str:
        return ts.stream_arn(self.region, self.account, doc["TableName"], stream["Label"])

    def _live_stream(self, doc: Doc) -> Doc | None:
        return doc["Streams"][-1] if doc["Streams"] and doc["Streams"][-1]["Enabled"] else None

    def _describe(self, doc: Doc, status: str = "ACTIVE") -> Doc:
        count, size = self.items.stats(doc["TableName"]) if status != "CREATING" else (0, 0)
        arn = self.arn(doc["TableName"])
        throughput = {"NumberOfDecreasesToday": 0, **doc["ProvisionedThroughput"]}
        out: Doc = {"AttributeDefinitions": doc["AttributeDefinitions"], "TableName": doc["TableName"],
                    "KeySchema": doc["KeySchema"], "TableStatus": status, "CreationDateTime": doc["CreationDateTime"],
                    "ProvisionedThroughput": throughput, "TableSizeBytes": size, "ItemCount": count,
                    "TableArn": arn, "TableId": doc["TableId"],
                    "DeletionProtectionEnabled": doc.get("DeletionProtectionEnabled", False)}
        if doc["BillingMode"] == "PAY_PER_REQUEST":
            out["BillingModeSummary"] = {"BillingMode": "PAY_PER_REQUEST",
                                         "LastUpdateToPayPerRequestDateTime": doc["CreationDateTime"]}
        if doc["LocalSecondaryIndexes"]:
            out["LocalSecondaryIndexes"] = [{**i, "IndexSizeBytes": 0, "ItemCount": 0,
                                             "IndexArn": f"{arn}/index/{i['IndexName']}"}
                                            for i in doc["LocalSecondaryIndexes"]]
        if doc["GlobalSecondaryIndexes"]:
            out["GlobalSecondaryIndexes"] = [
                {**i, "IndexStatus": i.get("_status", "ACTIVE"), "IndexSizeBytes": 0, "ItemCount": 0,
                 "IndexArn": f"{arn}/index/{i['IndexName']}",
                 "ProvisionedThroughput": {"NumberOfDecreasesToday": 0,
                                           **(i.get("ProvisionedThroughput") or {"ReadCapacityUnits": 0,
                                                                                 "WriteCapacityUnits": 0})}}
                for i in doc["GlobalSecondaryIndexes"]]
            for i in out["GlobalSecondaryIndexes"]:
                i.pop("_status", None)
        live = self._live_stream(doc)
        if live is not None:
            out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": live["ViewType"]}
        if doc["Streams"]:
            out["LatestStreamLabel"] = doc["Streams"][-1]["Label"]
            out["LatestStreamArn"] = self._stream_arn(doc, doc["Streams"][-1])
        if doc.get("TableClass", "STANDARD") != "STANDARD":
            out["TableClassSummary"] = {"TableClass": doc["TableClass"]}
        return out

    def describe_table(self, d: Doc) -> Doc:
        return {"Table": self._describe(self._table(d.get("TableName")))}

    def list_tables(self, d: Doc) -> Doc:
        names = self._table_names()
        start = d.get("ExclusiveStartTableName")
        if start:
            names = [n for n in names if n > start]
        limit = d.get("Limit") or 100
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise _constraint(limit, "limit", "Member must have value less than or equal to 100")
        out: Doc = {"TableNames": names[:limit]}
        if len(names) > limit:
            out["LastEvaluatedTableName"] = names[limit - 1]
        return out

    def delete_table(self, d: Doc) -> Doc:
        doc = self._fresh(d.get("TableName"))
        if doc.get("DeletionProtectionEnabled"):
            raise _invalid(f"Resource cannot be deleted as it is currently protected against deletion. Disable "
                           f"deletion protection first.")
        answer = self._describe(doc, "DELETING")
        self.items.delete_table(doc["TableName"])
        self.records.trim_records(journal_name(doc), int(self.clock.now() * 1000) + 1)   # its recovery journal
        self._docs.pop(doc["TableName"], None)
        return {"TableDescription": answer}

    def update_table(self, d: Doc, stream_label: str | None = None) -> Doc:
        doc = self._fresh(d.get("TableName"))
        types = {a["AttributeName"]: a["AttributeType"] for a in doc["AttributeDefinitions"]}
        for a in d.get("AttributeDefinitions") or []:
            if a.get("AttributeName") in types and types[a["AttributeName"]] != a.get("AttributeType"):
                raise _invalid(f"Cannot change the type of attribute {a['AttributeName']}")
            types[a["AttributeName"]] = a.get("AttributeType")
        if d.get("BillingMode"):
            doc["BillingMode"] = d["BillingMode"]
            doc["ProvisionedThroughput"] = self._throughput(doc["BillingMode"], d.get("ProvisionedThroughput")
                                                            if doc["BillingMode"] == "PROVISIONED" else None)
        elif d.get("ProvisionedThroughput"):
            doc["ProvisionedThroughput"] = self._throughput(doc["BillingMode"], d["ProvisionedThroughput"])
        if "DeletionProtectionEnabled" in d:
            doc["DeletionProtectionEnabled"] = bool(d["DeletionProtectionEnabled"])
        if d.get("StreamSpecification") is not None:
            self._stream_spec(doc, d["StreamSpecification"], self.clock.now(), stream_label)
        backfill = []
        for change in d.get("GlobalSecondaryIndexUpdates") or []:
            if "Create" in change:
                spec = self._gsi(change["Create"], types, doc["BillingMode"])
                if any(i["IndexName"] == spec["IndexName"]
                       for i in doc["GlobalSecondaryIndexes"] + doc["LocalSecondaryIndexes"]):
                    raise _invalid(f"Attempting to create an index which already exists")
                doc["GlobalSecondaryIndexes"].append(spec)
                backfill.append(spec["IndexName"])
            elif "Delete" in change:
                name = change["Delete"].get("IndexName")
                if not any(i["IndexName"] == name for i in doc["GlobalSecondaryIndexes"]):
                    raise TableNotFound(f"Requested resource not found: Index: {name} not found")
                doc["GlobalSecondaryIndexes"] = [i for i in doc["GlobalSecondaryIndexes"] if i["IndexName"] != name]
                self.items.delete_index(doc["TableName"], name)
            elif "Update" in change:
                name = change["Update"].get("IndexName")
                for i in doc["GlobalSecondaryIndexes"]:
                    if i["IndexName"] == name and change["Update"].get("ProvisionedThroughput"):
                        i["ProvisionedThroughput"] = self._throughput("PROVISIONED",
                                                                      change["Update"]["ProvisionedThroughput"])
        used = {k["AttributeName"] for k in doc["KeySchema"]}
        for i in doc["GlobalSecondaryIndexes"] + doc["LocalSecondaryIndexes"]:
            used |= {k["AttributeName"] for k in i["KeySchema"]}
        doc["AttributeDefinitions"] = [{"AttributeName": n, "AttributeType": t} for n, t in types.items() if n in used]
        self._put_table(doc)
        if backfill or doc.get("TimeToLive", {}).get("_backfill"):
            self._reindex(doc)
        answer = self._describe(doc, "UPDATING")
        for i in answer.get("GlobalSecondaryIndexes", []):
            if i["IndexName"] in backfill:
                i["IndexStatus"] = "CREATING"
                i["Backfilling"] = True
        return {"TableDescription": answer}

    def _reindex(self, doc: Doc) -> None:
        """Every item's index entries and expiry written again (a new index, TTL turned on)."""
        after = None
        while True:
            rows = self.items.scan(doc["TableName"], "", after, 500)
            if not rows:
                return
            with self.items.transaction() as tx:
                for position, raw in rows:
                    item = json.loads(raw)
                    tx.put(doc["TableName"], position[0], position[1], raw, self._expiry(doc, item),
                           self._index_keys(doc, item))
            after = rows[-1][0]

    # -- TTL, tags, limits -----------------------------------------------------------------------------
    def update_ttl(self, d: Doc) -> Doc:
        doc = self._fresh(d.get("TableName"))
        spec = d.get("TimeToLiveSpecification") or {}
        name, enabled = spec.get("AttributeName"), spec.get("Enabled")
        if not isinstance(name, str) or not name or not isinstance(enabled, bool):
            raise _invalid("TimeToLiveSpecification needs AttributeName and Enabled")
        current = doc.get("TimeToLive") or {}
        if enabled and current.get("Enabled"):
            raise ValidationException("TimeToLive is already enabled")
        if not enabled and not current.get("Enabled"):
            raise ValidationException("TimeToLive is already disabled")
        if not enabled and current.get("AttributeName") != name:
            raise ValidationException("TimeToLive attribute name mismatch")
        doc["TimeToLive"] = {"AttributeName": name, "Enabled": enabled}
        self._put_table(doc)
        self._reindex(doc)
        return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": name}}

    def describe_ttl(self, d: Doc) -> Doc:
        ttl = self._table(d.get("TableName")).get("TimeToLive") or {}
        if not ttl.get("Enabled"):
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl["AttributeName"]}}

    def tag_resource(self, d: Doc) -> Doc:
        doc = self._fresh(d.get("ResourceArn"))
        doc["Tags"].update({t["Key"]: t["Value"] for t in d.get("Tags") or []})
        self._put_table(doc)
        return {}

    def untag_resource(self, d: Doc) -> Doc:
        doc = self._fresh(d.get("ResourceArn"))
        for k in d.get("TagKeys") or []:
            doc["Tags"].pop(k, None)
        self._put_table(doc)
        return {}

    def list_tags(self, d: Doc) -> Doc:
        doc = self._table(d.get("ResourceArn"))
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(doc["Tags"].items())]}

    def describe_limits(self, d: Doc) -> Doc:
        return {"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
                "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}

    def sweep(self) -> int:
        """Delete items whose TTL has passed (as the service deletes them: REMOVE records made by
        ``dynamodb.amazonaws.com``), and trim streams past 24 hours; how many items."""
        now = int(self.clock.now())
        deleted = 0
        for name in self._table_names():
            doc = self.items.get_table(name)
            if doc is None:
                continue
            for stream in doc["Streams"]:
                self.records.trim_records(f"table/{name}/stream/{stream['Label']}", int(now * 1000) - 86_400_000)
            self.backups.trim(doc, now)
            if not (doc.get("TimeToLive") or {}).get("Enabled"):
                continue
            for pk, sk, raw in self.items.expired(name, now, 500):
                with self.items.transaction() as tx:
                    current = tx.get(name, pk, sk)
                    if current is None:
                        continue
                    item = json.loads(current)
                    expiry = self._expiry(doc, item)
                    if expiry is None or expiry > now:
                        continue
                    tx.delete(name, pk, sk)
                    self._journal(tx, doc, pk, sk, item)
                    self._record(tx, doc, item, None, service=True)
                    deleted += 1
        return deleted

    # -- keys, indexes, streams of one item --------------------------------------------------------------
    @staticmethod
    def _key_names(doc: Doc, index: str = "") -> tuple[str, str | None]:
        schema = doc["KeySchema"]
        if index:
            schema = next(i for i in doc["GlobalSecondaryIndexes"] + doc["LocalSecondaryIndexes"]
                          if i["IndexName"] == index)["KeySchema"]
        return schema[0]["AttributeName"], schema[1]["AttributeName"] if len(schema) > 1 else None

    def _type(self, doc: Doc, name: str) -> str:
        known = self._types.get(doc["TableName"])
        if known is not None and known[0] is doc and name in known[1]:
            return known[1][name]
        return next(a["AttributeType"] for a in doc["AttributeDefinitions"] if a["AttributeName"] == name)

    def _item_key(self, doc: Doc, item: V.Item) -> tuple[bytes, bytes]:
        """The encoded key of a whole item being written (PutItem's checks and words)."""
        h, r = self._key_names(doc)
        out = []
        for name in (h, r):
            if name is None:
                out.append(b"")
                continue
            value = item.get(name)
            if value is None:
                raise _invalid(f"Missing the key {name} in the item")
            out.append(self._key_value(doc, name, value, name == h))
        return out[0], out[1]

    def _key_value(self, doc: Doc, name: str, value: Doc, is_hash: bool, what: str = "key") -> bytes:
        expected, actual = self._type(doc, name), V.type_of(value)
        if expected != actual:
            raise _invalid(f"Type mismatch for {what} {name} expected: {expected} actual: {actual}")
        if value[actual] == "":
            raise ValidationException(f"One or more parameter values are not valid. The AttributeValue for a key "
                                      f"attribute cannot contain an empty {'string' if actual == 'S' else 'binary'} "
                                      f"value. Key: {name}")
        raw = V.key_bytes(value)
        if is_hash and len(raw) > V.MAX_HASH_KEY_BYTES:
            raise _invalid("Size of hashkey has exceeded the maximum size limit of 2048 bytes")
        if not is_hash and len(raw) > V.MAX_RANGE_KEY_BYTES:
            raise _invalid("Aggregated size of all range keys has exceeded the size limit of 1024 bytes")
        return raw

    def _key(self, doc: Doc, key: Any) -> tuple[bytes, bytes, V.Item]:
        """A Key parameter checked against the schema: its encoded (pk, sk) and its values."""
        if not isinstance(key, dict):
            raise ValidationException("The provided key element does not match the schema")
        key = V.validate_item(key)
        h, r = self._key_names(doc)
        if set(key) != {h} | ({r} if r else set()):
            raise ValidationException("The provided key element does not match the schema")
        for name in key:
            if V.type_of(key[name]) != self._type(doc, name):
                raise ValidationException("The provided key element does not match the schema")
        pk = self._key_value(doc, h, key[h], True)
        sk = self._key_value(doc, r, key[r], False) if r else b""
        return pk, sk, key

    def _index_keys(self, doc: Doc, item: V.Item) -> list[tuple[str, bytes, bytes]]:
        out = []
        for index in doc["GlobalSecondaryIndexes"] + doc["LocalSecondaryIndexes"]:
            names = [k["AttributeName"] for k in index["KeySchema"]]
            values = [item.get(n) for n in names]
            encoded = []
            for n, v in zip(names, values):   # each index key attribute the item has is checked ("any
                if v is None:                 # attributes that are part of an index key"), in it or not
                    continue
                expected = self._type(doc, n)
                if V.type_of(v) != expected:   # type: ignore[arg-type]
                    raise _invalid(f"Type mismatch for Index Key {n} Expected: {expected} Actual: "
                                   f"{V.type_of(v)} IndexName: {index['IndexName']}")   # type: ignore[arg-type]
                if v[expected] == "":          # type: ignore[index]
                    raise ValidationException(f"One or more parameter values are not valid. A value specified for a "
                                   f"secondary index key is not supported. The AttributeValue for a key attribute cannot "
                                   f"contain an empty string value. IndexName: {index['IndexName']}, IndexKey: {n}")
                encoded.append(V.key_bytes(v))     # type: ignore[arg-type]
            if any(v is None for v in values):
                continue          # sparse: items without the index's keys are not in it
            out.append((index["IndexName"], encoded[0], encoded[1] if len(encoded) > 1 else b""))
        return out

    @staticmethod
    def _expiry(doc: Doc, item: V.Item) -> int | None:
        ttl = doc.get("TimeToLive") or {}
        if not ttl.get("Enabled"):
            return None
        value = item.get(ttl["AttributeName"])
        if value is None or V.type_of(value) != "N":
            return None
        seconds = Decimal(value["N"])
        if seconds < 0 or seconds > 10 ** 12:
            return None
        return int(seconds)

    def _write(self, tx: ItemTransaction, doc: Doc, pk: bytes, sk: bytes, old: V.Item | None,
               new: V.Item | None) -> None:
        name = doc["TableName"]
        if new is None:
            if old is None:
                return
            tx.delete(name, pk, sk)
        else:
            if V.item_size(new) > V.MAX_ITEM_BYTES:
                raise ValidationException("Item size has exceeded the maximum allowed size")
            if old is not None and old == new:
                return          # nothing changed: no write, no stream record (as DynamoDB Streams)
            indexed = doc["GlobalSecondaryIndexes"] or doc["LocalSecondaryIndexes"]
            tx.put(name, pk, sk, json.dumps(new, separators=(",", ":")), self._expiry(doc, new),
                   self._index_keys(doc, new) if indexed else None)
        self._journal(tx, doc, pk, sk, old)
        self._record(tx, doc, old, new)

    def _journal(self, tx: ItemTransaction, doc: Doc, pk: bytes, sk: bytes, old: V.Item | None) -> None:
        """Point-in-time recovery's journal (tables/backups.py): the item as it was before this change."""
        if pitr_enabled(doc):
            tx.append_record(journal_name(doc), "", journal_record(pk, sk, old), int(self.clock.now() * 1000))

    def _record(self, tx: ItemTransaction, doc: Doc, old: V.Item | None, new: V.Item | None,
                service: bool = False) -> None:
        stream = self._live_stream(doc)
        if stream is None:
            return
        h, r = self._key_names(doc)
        source = new if new is not None else old
        assert source is not None
        keys = {n: source[n] for n in (h, r) if n}
        view = stream["ViewType"]
        body: Doc = {"ApproximateCreationDateTime": float(int(self.clock.now())), "Keys": keys}
        if new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            body["NewImage"] = new
        if old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            body["OldImage"] = old
        body["SizeBytes"] = V.item_size(keys) + sum(V.item_size(body[k]) for k in ("NewImage", "OldImage")
                                                   if k in body)
        body["StreamViewType"] = view
        record: Doc = {"eventID": uuid.uuid4().hex, "eventName": "INSERT" if old is None else
                       "REMOVE" if new is None else "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
                       "awsRegion": self.region, "dynamodb": body}
        if service:
            record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        partition = hashlib.md5(json.dumps(keys, sort_keys=True).encode()).hexdigest()
        tx.append_record(f"table/{doc['TableName']}/stream/{stream['Label']}", partition,
                         json.dumps(record, separators=(",", ":")).encode(), int(self.clock.now() * 1000))

    # -- expressions of a request --------------------------------------------------------------------
    @staticmethod
    def _names(d: Doc, *expressions: str) -> E.Names:
        present = [e for e in expressions if d.get(e) is not None]
        if not present:
            if d.get("ExpressionAttributeNames") is not None:
                raise ValidationException("ExpressionAttributeNames can only be specified when using expressions")
            if d.get("ExpressionAttributeValues") is not None:
                raise ValidationException("ExpressionAttributeValues can only be specified when using expressions: "
                                          f"{' and '.join(e for e in expressions)} are null")
        return E.Names(d.get("ExpressionAttributeNames"), d.get("ExpressionAttributeValues"))

    def _projection_of(self, d: Doc, names: E.Names) -> list[E.Path] | None:
        if d.get("ProjectionExpression") is not None:
            if d.get("AttributesToGet") is not None:
                raise ValidationException("Can not use both expression and non-expression parameters in the same "
                                          "request: Non-expression parameters: {AttributesToGet} Expression "
                                          "parameters: {ProjectionExpression}")
            return E.parse_projection(d["ProjectionExpression"], names)
        if d.get("AttributesToGet") is not None:
            return [E.Path((str(a),)) for a in d["AttributesToGet"]]
        return None

    @staticmethod
    def _return_values(d: Doc, operation: str) -> str:
        rv = d.get("ReturnValues") or "NONE"
        if rv not in _RETURN_VALUES[operation]:
            raise ValidationException("Return values set to invalid value")
        fail = d.get("ReturnValuesOnConditionCheckFailure") or "NONE"
        if fail not in ("NONE", "ALL_OLD"):
            raise _constraint(fail, "returnValuesOnConditionCheckFailure",
                              "Member must satisfy enum value set: [ALL_OLD, NONE]")
        return str(rv)

    @staticmethod
    def _check(condition: Any, item: V.Item | None, names: E.Names, d: Doc) -> None:
        if condition is not None and not E.evaluate(condition, item or {}, names):
            wanted = d.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
            raise ConditionalCheckFailed(item=item if wanted and item is not None else None)

    @staticmethod
    def _condition(d: Doc, names: E.Names) -> Any:
        """A write's condition: its ConditionExpression, or the legacy Expected (with ConditionalOperator)."""
        L.mixed(d)
        if d.get("ConditionExpression"):
            return E.parse_condition(d["ConditionExpression"], names)
        if d.get("Expected") is not None:
            return L.expected(d["Expected"], d.get("ConditionalOperator"), names)
        return None

    def _filter(self, d: Doc, names: E.Names, legacy: str, keys: tuple[str | None, ...] = ()) -> Any:
        """A read's filter: its FilterExpression, or the legacy QueryFilter/ScanFilter (with
        ConditionalOperator); neither may name a key attribute of a Query."""
        if d.get("FilterExpression"):
            tree, what = E.parse_condition(d["FilterExpression"], names, "FilterExpression"), "Filter Expression"
        elif d.get(legacy) is not None:
            tree, what = L.conditions(d[legacy], d.get("ConditionalOperator"), names), legacy
        else:
            return None
        for key in keys:
            if key and tree is not None and _mentions(tree, key):
                raise ValidationException(f"{what} can only contain non-primary key attributes: Primary key "
                                          f"attribute: {key}")
        return tree

    # -- items -----------------------------------------------------------------------------------------
    def put_item(self, d: Doc) -> Doc:
        doc = self._table(d.get("TableName"))
        rv = self._return_values(d, "PutItem")
        item = V.validate_item(d.get("Item"))
        pk, sk = self._item_key(doc, item)
        names = self._names(d, "ConditionExpression")
        condition = self._condition(d, names)
        names.check_all_used()
        if condition is None and rv == "NONE" and not self._needs_old(doc):
            if V.item_size(item) > V.MAX_ITEM_BYTES:     # a blind write: nothing reads the old item
                raise ValidationException("Item size has exceeded the maximum allowed size")
            with self.items.transaction() as tx:
                tx.put(doc["TableName"], pk, sk, json.dumps(item, separators=(",", ":")), self._expiry(doc, item), None)
            return {}
        if doc["GlobalSecondaryIndexes"] or doc["LocalSecondaryIndexes"]:
            self._index_keys(doc, item)         # the item's index keys are checked before its condition
        with self.items.transaction() as tx:
            raw = tx.get(doc["TableName"], pk, sk)
            old = json.loads(raw) if raw is not None else None
            self._check(condition, old, names, d)
            self._write(tx, doc, pk, sk, old, item)
        return {"Attributes": old} if rv == "ALL_OLD" and old else {}

    def _needs_old(self, doc: Doc) -> bool:
        """Whether a write must read the item it replaces: for its stream record or its index entries."""
        return bool(self._live_stream(doc) or doc["GlobalSecondaryIndexes"] or doc["LocalSecondaryIndexes"] or
                    pitr_enabled(doc))

    def get_item(self, d: Doc) -> Doc:
        doc = self._table(d.get("TableName"))
        pk, sk, _ = self._key(doc, d.get("Key"))
        names = self._names(d, "ProjectionExpression")
        projection = self._projection_of(d, names)
        names.check_all_used()
        raw = self.items.get(doc["TableName"], pk, sk)
        if raw is None:
            return {}
        item = json.loads(raw)
        return {"Item": E.project(item, projection) if projection else item}

    def delete_item(self, d: Doc) -> Doc:
        doc = self._table(d.get("TableName"))
        rv = self._return_values(d, "DeleteItem")
        pk, sk, _ = self._key(doc, d.get("Key"))
        names = self._names(d, "ConditionExpression")
        condition = self._condition(d, names)
        names.check_all_used()
        with self.items.transaction() as tx:
            raw = tx.get(doc["TableName"], pk, sk)
            old = json.loads(raw) if raw is not None else None
            self._check(condition, old, names, d)
            self._write(tx, doc, pk, sk, old, None)
        return {"Attributes": old} if rv == "ALL_OLD" and old else {}

    def update_item(self, d: Doc) -> Doc:
        doc = self._table(d.get("TableName"))
        rv = self._return_values(d, "UpdateItem")
        pk, sk, key = self._key(doc, d.get("Key"))
        L.mixed(d)
        names = self._names(d, "UpdateExpression", "ConditionExpression")
        update = E.parse_update(d["UpdateExpression"], names) if d.get("UpdateExpression") else \
            L.attribute_updates(d["AttributeUpdates"], names, key) if d.get("AttributeUpdates") is not None else \
            E.Update()
        condition = self._condition(d, names)
        names.check_all_used()
        keys = set(key)
        for path in update.paths():
            if path.elements[0] in keys:
                raise _invalid(f"Cannot update attribute {path.elements[0]}. This attribute is part of the key")
        with self.items.transaction() as tx:
            raw = tx.get(doc["TableName"], pk, sk)
            old = json.loads(raw) if raw is not None else None
            self._check(condition, old, names, d)
            new = E.apply_update(update, old or key, names)
            self._write(tx, doc, pk, sk, old, new)
        if rv == "NONE":
            return {}
        if rv == "ALL_OLD":
            return {"Attributes": old} if old else {}
        if rv == "ALL_NEW":
            return {"Attributes": new}
        source = old if rv == "UPDATED_OLD" else new
        projected = E.project(source or {}, update.paths())
        return {"Attributes": projected} if projected else {}

    # -- reads ---------------------------------------------------------------------------------------------
    def _index_spec(self, doc: Doc, index: Any) -> tuple[str, Doc | None, bool]:
        if index is None:
            return "", None, False
        for i in doc["GlobalSecondaryIndexes"]:
            if i["IndexName"] == index:
                return index, i, True
        for i in doc["LocalSecondaryIndexes"]:
            if i["IndexName"] == index:
                return index, i, False
        raise ValidationException(f"The table does not have the specified index: {index}")

    def _index_projection(self, doc: Doc, spec: Doc | None, item: V.Item) -> V.Item:
        if spec is None or spec["Projection"]["ProjectionType"] == "ALL":
            return item
        keep = {k["AttributeName"] for k in doc["KeySchema"] + spec["KeySchema"]}
        keep |= set(spec["Projection"].get("NonKeyAttributes") or [])
        return {k: v for k, v in item.items() if k in keep}

    def _last_key(self, doc: Doc, index: str, item: V.Item) -> V.Item:
        names = [k["AttributeName"] for k in doc["KeySchema"]]
        if index:
            h, r = self._key_names(doc, index)
            names += [n for n in (h, r) if n and n not in names]
        return {n: item[n] for n in names if n in item}

    def _start(self, doc: Doc, index: str, esk: Any, scan: bool) -> tuple[bytes, ...] | None:
        if esk is None:
            return None
        try:
            pk, sk, key = self._key(doc, {k: v for k, v in esk.items() if k in
                                          {x["AttributeName"] for x in doc["KeySchema"]}})
        except ValidationException:
            raise ValidationException("The provided starting key is invalid: The provided key element does not "
                                      "match the schema") from None
        if not index:
            return (pk, sk) if scan else (sk,)
        h, r = self._key_names(doc, index)
        try:
            ipk = V.key_bytes(V.validate_value(esk[h]))
            isk = V.key_bytes(V.validate_value(esk[r])) if r else b""
        except (KeyError, ValidationException, AttributeError):
            raise ValidationException("The provided starting key is invalid: The provided key element does not "
                                      "match the schema") from None
        return (ipk, isk, pk, sk) if scan else (isk, pk, sk)

    def _read(self, d: Doc, doc: Doc, index: str, spec: Doc | None, fetch: Callable[[Any, int], list[Any]],
              filter_tree: Any, names: E.Names, projection: list[E.Path] | None, scan: bool) -> Doc:
        limit = d.get("Limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise _constraint(limit, "limit", "Member must have value greater than or equal to 1")
        select = d.get("Select") or ("SPECIFIC_ATTRIBUTES" if projection else
                                     "ALL_PROJECTED_ATTRIBUTES" if index else "ALL_ATTRIBUTES")
        if select not in ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT"):
            raise _constraint(select, "select", "Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, "
                              "ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]")
        if select == "ALL_PROJECTED_ATTRIBUTES" and not index:
            raise ValidationException("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
        if select == "SPECIFIC_ATTRIBUTES" and not projection:
            raise ValidationException("Select type SPECIFIC_ATTRIBUTES requires a ProjectionExpression or "
                                      "AttributesToGet")
        if select in ("ALL_ATTRIBUTES", "COUNT") and d.get("Select") and projection:
            raise ValidationException(f"Cannot specify the ProjectionExpression when choosing to get {select}")
        if select == "ALL_ATTRIBUTES" and spec is not None and spec in doc["GlobalSecondaryIndexes"] and \
                spec["Projection"]["ProjectionType"] != "ALL":
            raise _invalid(f"Select type ALL_ATTRIBUTES is not supported for global secondary index {index} because "
                           f"its projection type is not ALL")
        # a global index holds only its projection: its filter sees that (a local one fetches the rest)
        narrow = spec is not None and spec["Projection"]["ProjectionType"] != "ALL" and \
            spec in doc["GlobalSecondaryIndexes"]
        items, scanned, size = [], 0, 0
        position = self._start(doc, index, d.get("ExclusiveStartKey"), scan)
        last: V.Item | None = None
        while True:
            want = 1000 if limit is None else min(limit - scanned, 1000)
            rows = fetch(position, want)
            for pos, raw in rows:
                item = json.loads(raw)
                scanned += 1
                size += len(raw)
                position = pos
                if narrow:
                    item = self._index_projection(doc, spec, item)
                if filter_tree is None or E.evaluate(filter_tree, item, names):
                    if select != "ALL_ATTRIBUTES":
                        item = self._index_projection(doc, spec, item)
                    items.append(E.project(item, projection) if projection else item)
                if (limit is not None and scanned >= limit) or size >= _PAGE_BYTES:
                    last = self._last_key(doc, index, item if select == "ALL_ATTRIBUTES" else json.loads(raw))
                    break
            if last is not None or len(rows) < want:
                break
        out: Doc = {"Count": len(items), "ScannedCount": scanned}
        if select != "COUNT":
            out["Items"] = items
        if last is not None:
            out["LastEvaluatedKey"] = last
        return out

    def _bounds(self, doc: Doc, r: str | None, kc: E.KeyCondition) -> tuple[tuple[bytes, bool] | None,
                                                                          tuple[bytes, bool] | None]:
        """A key condition's range on the sort key: (low, high), each (bytes, inclusive) or None."""
        low: tuple[bytes, bool] | None = None
        high: tuple[bytes, bool] | None = None
        if kc.range_op is not None:
            assert r is not None
            for v in kc.range_values:
                if V.type_of(v) != self._type(doc, r):
                    raise _invalid("Condition parameter type does not match schema type")
            first = V.key_bytes(kc.range_values[0])
            if kc.range_op == "=":
                low = high = (first, True)
            elif kc.range_op in ("<", "<="):
                high = (first, kc.range_op == "<=")
            elif kc.range_op in (">", ">="):
                low = (first, kc.range_op == ">=")
            elif kc.range_op == "BETWEEN":
                second = V.key_bytes(kc.range_values[1])
                if first > second:
                    raise ValidationException("Invalid KeyConditionExpression: The BETWEEN operator requires upper "
                                              "bound to be greater than or equal to lower bound")
                low, high = (first, True), (second, True)
            else:
                if self._type(doc, r) == "N":
                    raise ValidationException("Invalid KeyConditionExpression: Incorrect operand type for operator "
                                              "or function; operator or function: begins_with, operand type: N")
                low = (first, True)
                upper = _after_prefix(first)
                high = (upper, False) if upper is not None else None
        return low, high

    def query(self, d: Doc) -> Doc:
        doc = self._table(d.get("TableName"))
        L.mixed(d)
        if d.get("KeyConditionExpression") is None and d.get("KeyConditions") is None:
            raise ValidationException("Either the KeyConditions or KeyConditionExpression parameter must be "
                                      "specified in the request.")
        index, spec, is_gsi = self._index_spec(doc, d.get("IndexName"))
        if is_gsi and d.get("ConsistentRead"):
            raise ValidationException("Consistent reads are not supported on global secondary indexes")
        names = self._names(d, "KeyConditionExpression", "FilterExpression", "ProjectionExpression")
        h, r = self._key_names(doc, index)
        kc = E.key_condition(d["KeyConditionExpression"], names, h, r) if d.get("KeyConditionExpression") is not None \
            else L.key_conditions(d["KeyConditions"], names, h, r)
        filter_tree = self._filter(d, names, "QueryFilter", (h, r))
        projection = self._projection_of(d, names)
        names.check_all_used()
        if V.type_of(kc.hash_value) != self._type(doc, h):
            raise _invalid("Condition parameter type does not match schema type")
        for name, value in [(h, kc.hash_value)] + [(r, v) for v in kc.range_values]:
            if isinstance(value, dict) and (value.get("S") == "" or value.get("B") == ""):
                raise ValidationException(f"One or more parameter values are not valid. The AttributeValue for a key "
                                          f"attribute cannot contain an empty {'string' if 'S' in value else 'binary'} "
                                          f"value. Key: {name}")
        pk = V.key_bytes(kc.hash_value)
        low, high = self._bounds(doc, r, kc)
        forward = d.get("ScanIndexForward", True) is not False
        table = doc["TableName"]
        return self._read(d, doc, index, spec, lambda after, n: self.items.query(table, index, pk, low, high, forward,
                                                                                 after, n),
                          filter_tree, names, projection, scan=False)

    def scan(self, d: Doc) -> Doc:
        doc = self._table(d.get("TableName"))
        index, spec, is_gsi = self._index_spec(doc, d.get("IndexName"))
        if is_gsi and d.get("ConsistentRead"):
            raise ValidationException("Consistent reads are not supported on global secondary indexes")
        segment, total = d.get("Segment"), d.get("TotalSegments")
        if (segment is None) != (total is None):
            raise ValidationException("The TotalSegments parameter is required but was not present in the request "
                                      "when Segment parameter is present" if total is None else
                                      "The Segment parameter is required but was not present in the request when "
                                      "parameter TotalSegments is present")
        if total is not None:
            if not isinstance(total, int) or not 1 <= total <= 1_000_000:
                raise _constraint(total, "totalSegments", "Member must have value less than or equal to 1000000")
            if not isinstance(segment, int) or not 0 <= segment < total:
                raise ValidationException(f"The Segment parameter is zero-based and must be less than parameter "
                                          f"TotalSegments: Segment: {segment} is not less than TotalSegments: {total}")
        L.mixed(d)
        names = self._names(d, "FilterExpression", "ProjectionExpression")
        filter_tree = self._filter(d, names, "ScanFilter")
        projection = self._projection_of(d, names)
        names.check_all_used()
        table = doc["TableName"]
        seg, segs = (segment or 0, total or 1)
        if segs > 65536:
            seg, segs = seg * 65536 // segs, 65536
        return self._read(d, doc, index, spec, lambda after, n: self.items.scan(table, index, after, n, seg, segs),
                          filter_tree, names, projection, scan=True)

    # -- batches ----------------------------------------------------------------------------------------
    def batch_get(self, d: Doc) -> Doc:
        requests = d.get("RequestItems")
        if not isinstance(requests, dict) or not requests:
            raise _constraint(requests, "requestItems", "Member must have length greater than or equal to 1")
        total = sum(len(r.get("Keys") or []) for r in requests.values() if isinstance(r, dict))
        if total > 100:
            raise ValidationException("Too many items requested for the BatchGetItem call")
        responses: dict[str, list[V.Item]] = {}
        unprocessed: Doc = {}
        size = 0
        for name, request in requests.items():
            doc = self._table(name)
            keys = request.get("Keys") or []
            if not keys:
                raise _constraint(keys, "requestItems.keys", "Member must have length greater than or equal to 1")
            names = self._names(request, "ProjectionExpression")
            projection = self._projection_of(request, names)
            names.check_all_used()
            seen = set()
            found: list[V.Item] = []
            for i, key in enumerate(keys):
                pk, sk, _ = self._key(doc, key)
                if (pk, sk) in seen:
                    raise ValidationException("Provided list of item keys contains duplicates")
                seen.add((pk, sk))
                if size > 16 * 1024 * 1024:
                    unprocessed.setdefault(name, {**{k: v for k, v in request.items() if k != "Keys"},
                                                  "Keys": []})["Keys"].append(key)
                    continue
                raw = self.items.get(doc["TableName"], pk, sk)
                if raw is not None:
                    size += len(raw)
                    item = json.loads(raw)
                    found.append(E.project(item, projection) if projection else item)
            responses[name] = found
        return {"Responses": responses, "UnprocessedKeys": unprocessed}

    def batch_write(self, d: Doc) -> Doc:
        requests = d.get("RequestItems")
        if not isinstance(requests, dict) or not requests:
            raise _constraint(requests, "requestItems", "Member must have length greater than or equal to 1")
        total = sum(len(r) for r in requests.values() if isinstance(r, list))
        if total > 25:
            raise ValidationException("Too many items requested for the BatchWriteItem call")
        plan: list[tuple[Doc, bytes, bytes, V.Item | None]] = []
        for name, writes in requests.items():
            doc = self._table(name)
            if not isinstance(writes, list) or not writes:
                raise _constraint(writes, "requestItems", "Member must have length greater than or equal to 1")
            seen = set()
            for w in writes:
                if not isinstance(w, dict) or len(w) != 1 or next(iter(w)) not in ("PutRequest", "DeleteRequest"):
                    raise ValidationException("Supplied AttributeValue has more than one datatypes set, must contain "
                                              "exactly one of the supported datatypes")
                if "PutRequest" in w:
                    item = V.validate_item((w["PutRequest"] or {}).get("Item"))
                    pk, sk = self._item_key(doc, item)
                    if V.item_size(item) > V.MAX_ITEM_BYTES:
                        raise ValidationException("Item size has exceeded the maximum allowed size")
                    plan.append((doc, pk, sk, item))
                else:
                    pk, sk, _ = self._key(doc, (w["DeleteRequest"] or {}).get("Key"))
                    plan.append((doc, pk, sk, None))
                if (pk, sk) in seen:
                    raise ValidationException("Provided list of item keys contains duplicates")
                seen.add((pk, sk))
        with self.items.transaction() as tx:
            for doc, pk, sk, written in plan:
                raw = tx.get(doc["TableName"], pk, sk)
                self._write(tx, doc, pk, sk, json.loads(raw) if raw is not None else None, written)
        return {"UnprocessedItems": {}}

    # -- transactions ------------------------------------------------------------------------------------
    def transact_write(self, d: Doc) -> Doc:
        actions = d.get("TransactItems")
        if not isinstance(actions, list) or not 1 <= len(actions) <= 100:
            raise _constraint(f"[{len(actions) if isinstance(actions, list) else actions}]", "transactItems",
                              "Member must have length less than or equal to 100")
        token = d.get("ClientRequestToken")
        if token is not None:
            seen = self.idempotent(token, actions)
            if seen is not None:
                return seen
        plan: list[Any] = []
        keys = set()
        for action in actions:
            if not isinstance(action, dict) or len(action) != 1:
                raise ValidationException("TransactItems can only contain one of Check, Put, Update or Delete")
            kind, spec = next(iter(action.items()))
            if kind not in ("ConditionCheck", "Put", "Delete", "Update") or not isinstance(spec, dict):
                raise ValidationException("TransactItems can only contain one of Check, Put, Update or Delete")
            doc = self._table(spec.get("TableName"))
            names = self._names(spec, "ConditionExpression", "UpdateExpression")
            condition = E.parse_condition(spec["ConditionExpression"], names) \
                if spec.get("ConditionExpression") else None
            update = None
            item: V.Item | None = None
            if kind == "Put":
                item = V.validate_item(spec.get("Item"))
                pk, sk = self._item_key(doc, item)
                self._index_keys(doc, item)     # checked with the request, before any condition
                key = None
            else:
                pk, sk, key = self._key(doc, spec.get("Key"))
                if kind == "Update":
                    update = E.parse_update(spec.get("UpdateExpression"), names)
                    for path in update.paths():
                        if path.elements[0] in key:
                            raise _invalid(f"Cannot update attribute {path.elements[0]}. This attribute is part of "
                                           "the key")
                if kind == "ConditionCheck" and condition is None:
                    raise ValidationException("The ConditionExpression is required for a ConditionCheck")
            names.check_all_used()
            if (doc["TableName"], pk, sk) in keys:
                raise ValidationException("Transaction request cannot include multiple operations on one item")
            keys.add((doc["TableName"], pk, sk))
            plan.append((kind, spec, doc, pk, sk, key, item, update, condition, names))
        with self.items.transaction() as tx:
            reasons: list[Doc] = []
            failed = False
            olds, news = [], []
            for kind, spec, doc, pk, sk, key, item, update, condition, names in plan:
                raw = tx.get(doc["TableName"], pk, sk)
                old = json.loads(raw) if raw is not None else None
                olds.append(old)
                news.append(item)
                if condition is not None and not E.evaluate(condition, old or {}, names):
                    reason: Doc = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
                    if spec.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old is not None:
                        reason["Item"] = old
                    reasons.append(reason)
                    failed = True
                    continue
                if kind == "Update":
                    assert update is not None
                    try:        # what depends on the item (a path into it, an operand's type) cancels the action
                        news[-1] = E.apply_update(update, old or key or {}, names)
                        self._index_keys(doc, news[-1])         # an index key the update made of a wrong type
                    except ValidationException as err:
                        reasons.append({"Code": "ValidationError", "Message": err.message})
                        failed = True
                        continue
                reasons.append({"Code": "None"})
            if failed:
                raise TransactionCanceled(reasons)
            for (kind, spec, doc, pk, sk, key, item, update, condition, names), old, new in zip(plan, olds, news):
                if kind in ("Put", "Update"):
                    self._write(tx, doc, pk, sk, old, new)
                elif kind == "Delete":
                    self._write(tx, doc, pk, sk, old, None)
        if token is not None:
            self.remember(token, actions, {})
        return {}

    def idempotent(self, token: Any, request: Any) -> Doc | None:
        """The answer a transaction with this ClientRequestToken had in the last ten minutes, or None;
        the same token with another request is refused."""
        with self._tokens_lock:
            now = self.clock.now()
            self._tokens = {k: v for k, v in self._tokens.items() if now - v[0] < _TOKEN_TTL_S}
            seen = self._tokens.get(str(token))
        if seen is None:
            return None
        if seen[1] != json.dumps(request, sort_keys=True):
            raise _IdempotentMismatch("Request with the same ClientRequestToken has different parameters")
        return copy.deepcopy(seen[2])

    def remember(self, token: Any, request: Any, answer: Doc) -> None:
        with self._tokens_lock:
            self._tokens[str(token)] = (self.clock.now(), json.dumps(request, sort_keys=True), answer)

    def transact_get(self, d: Doc) -> Doc:
        actions = d.get("TransactItems")
        if not isinstance(actions, list) or not 1 <= len(actions) <= 100:
            raise _constraint(f"[{len(actions) if isinstance(actions, list) else actions}]", "transactItems",
                              "Member must have length less than or equal to 100")
        out: list[Doc] = []
        for action in actions:
            spec = action.get("Get") if isinstance(action, dict) else None
            if not isinstance(spec, dict):
                raise ValidationException("TransactGetItems can only contain Get")
            doc = self._table(spec.get("TableName"))
            pk, sk, _ = self._key(doc, spec.get("Key"))
            names = self._names(spec, "ProjectionExpression")
            projection = self._projection_of(spec, names)
            names.check_all_used()
            raw = self.items.get(doc["TableName"], pk, sk)
            if raw is None:
                out.append({})
            else:
                item = json.loads(raw)
                out.append({"Item": E.project(item, projection) if projection else item})
        return {"Responses": out}

    # -- DynamoDB Streams -----------------------------------------------------------------------------------
    def _streams(self, table: str | None = None) -> list[tuple[Doc, Doc]]:
        out: list[tuple[Doc, Doc]] = []
        for name in self._table_names():
            if table is not None and name != table:
                continue
            doc = self.items.get_table(name)
            if doc is not None:
                out.extend((doc, s) for s in doc["Streams"])
        return out

    def _stream(self, arn: Any) -> tuple[Doc, Doc]:
        if isinstance(arn, str) and ts.is_table_stream(arn):
            for doc, stream in self._streams(ts.stream_name(arn).split("/")[1]):
                if self._stream_arn(doc, stream) == arn:
                    return doc, stream
        raise TableNotFound(f"Requested resource not found: Stream: {arn} not found")

    def list_streams(self, d: Doc) -> Doc:
        streams = [{"StreamArn": self._stream_arn(doc, s), "TableName": doc["TableName"], "StreamLabel": s["Label"]}
                   for doc, s in self._streams(d.get("TableName"))]
        start = d.get("ExclusiveStartStreamArn")
        if start:
            arns = [s["StreamArn"] for s in streams]
            streams = streams[arns.index(start) + 1:] if start in arns else streams
        limit = d.get("Limit") or 100
        out: Doc = {"Streams": streams[:limit]}
        if len(streams) > limit:
            out["LastEvaluatedStreamArn"] = streams[limit - 1]["StreamArn"]
        return out

    def describe_stream(self, d: Doc) -> Doc:
        doc, stream = self._stream(d.get("StreamArn"))
        name = f"table/{doc['TableName']}/stream/{stream['Label']}"
        first, last = self.records.shard_bounds(name, 0)
        shard: Doc = {"ShardId": ts.SHARD_ID,
                      "SequenceNumberRange": {"StartingSequenceNumber": ts.sequence_number(max(first, 1))}}
        if not stream["Enabled"]:
            shard["SequenceNumberRange"]["EndingSequenceNumber"] = ts.sequence_number(max(last, 1))
        return {"StreamDescription": {
            "StreamArn": self._stream_arn(doc, stream), "StreamLabel": stream["Label"],
            "StreamStatus": "ENABLED" if stream["Enabled"] else "DISABLED", "StreamViewType": stream["ViewType"],
            "CreationRequestDateTime": stream["Created"], "TableName": doc["TableName"],
            "KeySchema": doc["KeySchema"], "Shards": [shard]}}

    def get_shard_iterator(self, d: Doc) -> Doc:
        doc, stream = self._stream(d.get("StreamArn"))
        if d.get("ShardId") != ts.SHARD_ID:
            raise TableNotFound(f"Requested resource not found: Shard does not exist")
        name = f"table/{doc['TableName']}/stream/{stream['Label']}"
        kind = d.get("ShardIteratorType")
        first, last = self.records.shard_bounds(name, 0)
        if kind == "TRIM_HORIZON":
            after = max(first - 1, 0)
        elif kind == "LATEST":
            after = last
        elif kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            seq = ts.parse_sequence_number(d.get("SequenceNumber"))
            if seq is None:
                raise ValidationException(f"Invalid SequenceNumber: {d.get('SequenceNumber')}")
            after = seq - 1 if kind == "AT_SEQUENCE_NUMBER" else seq
        else:
            raise _constraint(kind, "shardIteratorType", "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, "
                              "LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]")
        return {"ShardIterator": _iterator(self._stream_arn(doc, stream), after, self.clock.now())}

    def get_records(self, d: Doc) -> Doc:
        arn, after = _parse_iterator(d.get("ShardIterator"), self.clock.now())
        limit = d.get("Limit") or 1000
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise _constraint(limit, "limit", "Member must have value less than or equal to 1000")
        self._stream(arn)
        rows = self.records.read_records(ts.stream_name(arn), 0, after, limit)
        last = rows[-1][0] if rows else after
        return {"Records": [ts.api_record(data, seq) for seq, _, data, _ in rows],
                "NextShardIterator": _iterator(arn, last, self.clock.now())}

    # -- the Streams port (event-source mappings and their pollers) ------------------------------------------
    def require_stream(self, arn: str) -> None:
        self._stream(arn)

    def stream_position(self, name: str, kind: str) -> int:
        first, last = self.records.shard_bounds(name, 0)
        if kind == "TRIM_HORIZON":
            return max(first - 1, 0)
        return last


class _IdempotentMismatch(V.DynamoError):
    @property
    def type(self) -> str:
        return "IdempotentParameterMismatchException"


class ExpiredIteratorException(V.DynamoError):
    pass


def _mentions(tree: Any, name: str) -> bool:
    if isinstance(tree, E.Path):
        return tree.elements[0] == name
    if isinstance(tree, (E.Logic,)):
        return any(_mentions(p, name) for p in tree.parts)
    if isinstance(tree, E.Compare):
        return _mentions(tree.left, name) or _mentions(tree.right, name)
    if isinstance(tree, E.Between):
        return any(_mentions(p, name) for p in (tree.subject, tree.low, tree.high))
    if isinstance(tree, E.In):
        return _mentions(tree.subject, name) or any(_mentions(p, name) for p in tree.options)
    if isinstance(tree, E.Call):
        return any(_mentions(p, name) for p in tree.args)
    return False


def _after_prefix(prefix: bytes) -> bytes | None:
    """The smallest bytes greater than every bytes starting with ``prefix`` (None: there is none)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def _iterator(arn: str, after: int, now: float) -> str:
    return base64.urlsafe_b64encode(json.dumps([arn, after, int(now * 1000)]).encode()).decode()


def _parse_iterator(token: Any, now: float) -> tuple[str, int]:
    try:
        arn, after, issued = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if not (isinstance(arn, str) and isinstance(after, int) and isinstance(issued, int)):
            raise ValueError(token)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise ValidationException(f"Invalid ShardIterator: {str(token)[:256]}") from None
    if now * 1000 - issued > 15 * 60 * 1000:
        raise ExpiredIteratorException("Iterator expired. The iterator was created more than 15 minutes ago.")
    return arn, after
