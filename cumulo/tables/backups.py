"""On-demand backups of tables and point-in-time recovery settings: CreateBackup, DescribeBackup,
ListBackups, DeleteBackup, RestoreTableFromBackup, UpdateContinuousBackups and
DescribeContinuousBackups, on the table service's own store.

A backup is a copy, made at once, of the table's document and items, kept in the item store as a
table of its own named ``backup/<id>`` (a name no table can have: ``/`` is not allowed in one), so
it lives in the same file and transactions as tables, on any store backend. Restoring makes a new
table with the backup's key schema, indexes and billing (overrides accepted), without its stream,
TTL or tags, as DynamoDB restores (developer guide, "Restoring a DynamoDB table from a backup").
Point-in-time recovery keeps a journal per table while it is on: every change of an item appends,
in the change's own transaction, a record of the item's key and its image *before* the change to a
one-shard stream of the message store named ``table/<name>/pitr/<TableId>`` (the records' arrival
time is the change's time; the housekeeper trims them past the recovery period). Restoring to a time
T copies the table as it is now, then reads the journal after T (after the copy, so a change made
while copying is in it) and gives every key that changed since T the image its first later change
found: the table as it was at T, with no full copies kept.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
from typing import Any

from cumulo.errors import ValidationException
from cumulo.tables import values as V

__all__ = ["Backups", "PREFIX", "journal_name"]

Doc = dict[str, Any]
PREFIX = "backup/"
_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")


def journal_name(doc: Doc) -> str:
    """The message store's stream that holds a table's point-in-time journal."""
    return f"table/{doc['TableName']}/pitr/{doc['TableId']}"


def pitr_enabled(doc: Doc) -> bool:
    return bool((doc.get("PointInTimeRecovery") or {}).get("Enabled"))


def journal_record(pk: bytes, sk: bytes, old: Doc | None) -> bytes:
    """One journal record: the item's key and what it was before the change (None: no item)."""
    return json.dumps({"pk": base64.b64encode(pk).decode(), "sk": base64.b64encode(sk).decode(), "old": old},
                      separators=(",", ":")).encode()


class _Named(V.DynamoError):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def type(self) -> str:
        return self.kind


def _constraint(value: Any, member: str, rule: str) -> ValidationException:
    return ValidationException(f"1 validation error detected: Value '{str(value)[:128]}' at '{member}' failed to "
                               f"satisfy constraint: {rule}")


class Backups:
    def __init__(self, service: Any) -> None:
        self.s = service                    # the TableService that owns this (it imports this module)

    # -- helpers -----------------------------------------------------------------------------------------
    def _source(self, name: Any) -> Doc:
        if isinstance(name, str) and name.startswith("arn:") and ":table/" in name:
            name = name.split(":table/", 1)[1].split("/", 1)[0]
        doc = self.s.items.get_table(name) if isinstance(name, str) and "/" not in name else None
        if doc is None:
            raise _Named("TableNotFoundException", f"Table not found: {name}")
        return dict(doc)

    def _backup(self, arn: Any) -> Doc:
        ident = arn.rsplit("/backup/", 1)[1] if isinstance(arn, str) and "/backup/" in arn else None
        doc = self.s.items.get_table(PREFIX + ident) if ident and "/" not in ident else None
        if doc is None or doc["Backup"]["BackupArn"] != arn:
            raise _Named("BackupNotFoundException", f"Backup not found: {arn}")
        return dict(doc)

    def _all(self) -> list[Doc]:
        out = []
        for name in self.s.items.list_tables():
            if name.startswith(PREFIX):
                doc = self.s.items.get_table(name)
                if doc is not None:
                    out.append(doc)
        return sorted(out, key=lambda d: (d["Backup"]["BackupCreationDateTime"], d["Backup"]["BackupArn"]))

    def _copy(self, source: str, target: Doc, index: bool) -> None:
        after = None
        while True:
            rows = self.s.items.scan(source, "", after, 500)
            if not rows:
                return
            with self.s.items.transaction() as tx:
                for position, raw in rows:
                    item = json.loads(raw)
                    tx.put(target["TableName"], position[0], position[1], raw, None,
                           self.s._index_keys(target, item) if index else None)
            after = rows[-1][0]

    @staticmethod
    def _description(doc: Doc, status: str | None = None) -> Doc:
        backup = doc["Backup"]
        source = doc["Source"]
        details = {k: backup[k] for k in ("BackupArn", "BackupName", "BackupSizeBytes", "BackupStatus", "BackupType",
                                          "BackupCreationDateTime")}
        if status is not None:
            details["BackupStatus"] = status
        throughput = {k: source["ProvisionedThroughput"][k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
        features: Doc = {}
        if source["LocalSecondaryIndexes"]:
            features["LocalSecondaryIndexes"] = [{k: i[k] for k in ("IndexName", "KeySchema", "Projection")}
                                                 for i in source["LocalSecondaryIndexes"]]
        if source["GlobalSecondaryIndexes"]:
            features["GlobalSecondaryIndexes"] = [{k: i[k] for k in ("IndexName", "KeySchema", "Projection",
                                                                     "ProvisionedThroughput") if k in i}
                                                  for i in source["GlobalSecondaryIndexes"]]
        live = source["Streams"][-1] if source["Streams"] and source["Streams"][-1]["Enabled"] else None
        if live is not None:
            features["StreamDescription"] = {"StreamEnabled": True, "StreamViewType": live["ViewType"]}
        ttl = source.get("TimeToLive") or {}
        features["TimeToLiveDescription"] = {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl["AttributeName"]} \
            if ttl.get("Enabled") else {"TimeToLiveStatus": "DISABLED"}
        return {"BackupDetails": details, "SourceTableDetails": {
            "TableName": source["TableName"], "TableId": source["TableId"], "TableArn": backup["TableArn"],
            "TableSizeBytes": backup["BackupSizeBytes"], "KeySchema": source["KeySchema"],
            "TableCreationDateTime": source["CreationDateTime"], "ProvisionedThroughput": throughput,
            "ItemCount": backup["ItemCount"], "BillingMode": source["BillingMode"]},
            "SourceTableFeatureDetails": features}

    # -- operations ----------------------------------------------------------------------------------------
    def create(self, d: Doc) -> Doc:
        source = self._source(d.get("TableName"))
        name = d.get("BackupName")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _constraint(name, "backupName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ "
                              "and have length between 3 and 255")
        now = self.s.clock.now()
        ident = f"{int(now * 1000):013d}-{uuid.uuid4().hex[:8]}"
        count, size = self.s.items.stats(source["TableName"])
        backup = {"BackupArn": f"{self.s.arn(source['TableName'])}/backup/{ident}", "BackupName": name,
                  "BackupSizeBytes": size, "BackupStatus": "AVAILABLE", "BackupType": "USER",
                  "BackupCreationDateTime": now, "TableArn": self.s.arn(source["TableName"]), "ItemCount": count}
        doc: Doc = {"TableName": PREFIX + ident, "Backup": backup, "Source": copy.deepcopy(source)}
        self.s.items.create_table(doc["TableName"], doc)
        self._copy(source["TableName"], doc, index=False)
        return {"BackupDetails": self._description(doc, "CREATING")["BackupDetails"]}

    def describe(self, d: Doc) -> Doc:
        return {"BackupDescription": self._description(self._backup(d.get("BackupArn")))}

    def delete(self, d: Doc) -> Doc:
        doc = self._backup(d.get("BackupArn"))
        answer = self._description(doc, "DELETED")
        self.s.items.delete_table(doc["TableName"])
        return {"BackupDescription": answer}

    def list(self, d: Doc) -> Doc:
        table = d.get("TableName")
        kind = d.get("BackupType") or "ALL"
        if kind not in ("USER", "SYSTEM", "AWS_BACKUP", "ALL"):
            raise _constraint(kind, "backupType", "Member must satisfy enum value set: [USER, SYSTEM, AWS_BACKUP, ALL]")
        low, high = d.get("TimeRangeLowerBound"), d.get("TimeRangeUpperBound")
        found = []
        for doc in self._all():
            b = doc["Backup"]
            if table is not None and doc["Source"]["TableName"] != table and b["TableArn"] != table:
                continue
            if kind not in ("ALL", b["BackupType"]):
                continue
            if isinstance(low, (int, float)) and b["BackupCreationDateTime"] < low:
                continue
            if isinstance(high, (int, float)) and b["BackupCreationDateTime"] >= high:
                continue
            found.append({"TableName": doc["Source"]["TableName"], "TableId": doc["Source"]["TableId"],
                          "TableArn": b["TableArn"], **{k: b[k] for k in (
                              "BackupArn", "BackupName", "BackupCreationDateTime", "BackupStatus", "BackupType",
                              "BackupSizeBytes")}})
        start = d.get("ExclusiveStartBackupArn")
        if start is not None:
            arns = [f["BackupArn"] for f in found]
            found = found[arns.index(start) + 1:] if start in arns else []
        limit = d.get("Limit")
        if limit is not None and (not isinstance(limit, int) or not 1 <= limit <= 100):
            raise _constraint(limit, "limit", "Member must have value less than or equal to 100")
        out: Doc = {"BackupSummaries": found[:limit] if limit else found}
        if limit and len(found) > limit:
            out["LastEvaluatedBackupArn"] = found[limit - 1]["BackupArn"]
        return out

    def _target(self, d: Doc, source: Doc) -> Doc:
        """The restored table's document: the source's keys, indexes and billing, with the request's
        overrides (nothing stored)."""
        target = d.get("TargetTableName")
        source = copy.deepcopy(source)
        request: Doc = {"TableName": target, "KeySchema": source["KeySchema"],
                        "AttributeDefinitions": source["AttributeDefinitions"],
                        "BillingMode": d.get("BillingModeOverride") or source["BillingMode"]}
        if request["BillingMode"] == "PROVISIONED":
            request["ProvisionedThroughput"] = d.get("ProvisionedThroughputOverride") or {
                k: source["ProvisionedThroughput"][k] or 1 for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
        gsis = d.get("GlobalSecondaryIndexOverride")
        gsis = source["GlobalSecondaryIndexes"] if gsis is None else gsis
        if gsis:
            request["GlobalSecondaryIndexes"] = [
                {**{k: v for k, v in g.items() if k != "_status"},
                 **({"ProvisionedThroughput": g.get("ProvisionedThroughput") or {"ReadCapacityUnits": 1,
                                                                                 "WriteCapacityUnits": 1}}
                    if request["BillingMode"] == "PROVISIONED" else {})}
                for g in gsis]
            if request["BillingMode"] == "PAY_PER_REQUEST":
                for g in request["GlobalSecondaryIndexes"]:
                    g.pop("ProvisionedThroughput", None)
        lsis = d.get("LocalSecondaryIndexOverride")
        lsis = source["LocalSecondaryIndexes"] if lsis is None else lsis
        if lsis:
            request["LocalSecondaryIndexes"] = lsis
        used = {k["AttributeName"] for k in request["KeySchema"]}
        for i in (request.get("GlobalSecondaryIndexes") or []) + (request.get("LocalSecondaryIndexes") or []):
            used |= {k["AttributeName"] for k in i["KeySchema"]}
        request["AttributeDefinitions"] = [a for a in request["AttributeDefinitions"] if a["AttributeName"] in used]
        if isinstance(target, str) and self.s.items.get_table(target) is not None:
            raise _Named("TableAlreadyExistsException", f"Table already exists: {target}")
        return self.s.table_doc(request, self.s.clock.now())  # type: ignore[no-any-return]

    def _made(self, doc: Doc) -> None:
        if not self.s.items.create_table(doc["TableName"], doc):
            raise _Named("TableAlreadyExistsException", f"Table already exists: {doc['TableName']}")

    def restore(self, d: Doc) -> Doc:
        backup = self._backup(d.get("BackupArn"))
        doc = self._target(d, backup["Source"])
        self._made(doc)
        self._copy(backup["TableName"], doc, index=bool(doc["GlobalSecondaryIndexes"] or
                                                        doc["LocalSecondaryIndexes"]))
        answer = self.s._describe(doc, "CREATING")
        answer["RestoreSummary"] = {"SourceBackupArn": backup["Backup"]["BackupArn"],
                                    "SourceTableArn": backup["Backup"]["TableArn"],
                                    "RestoreDateTime": self.s.clock.now(), "RestoreInProgress": False}
        return {"TableDescription": answer}

    # -- point-in-time recovery ------------------------------------------------------------------------------
    def _window(self, doc: Doc) -> tuple[float, float]:
        """(earliest, latest) restorable times of a table with point-in-time recovery on. The journal is
        written with each change, so the latest is now (DynamoDB's lags about five minutes)."""
        pitr = doc["PointInTimeRecovery"]
        now = self.s.clock.now()
        return max(pitr["Since"], now - pitr.get("RecoveryPeriodInDays", 35) * 86400), now

    def _continuous(self, doc: Doc) -> Doc:
        pitr = doc.get("PointInTimeRecovery") or {}
        out: Doc = {"ContinuousBackupsStatus": "ENABLED",
                    "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "ENABLED" if pitr.get("Enabled")
                                                       else "DISABLED"}}
        if pitr.get("Enabled"):
            earliest, latest = self._window(doc)
            out["PointInTimeRecoveryDescription"].update({
                "RecoveryPeriodInDays": pitr.get("RecoveryPeriodInDays", 35),
                "EarliestRestorableDateTime": earliest, "LatestRestorableDateTime": latest})
        return {"ContinuousBackupsDescription": out}

    def update_continuous(self, d: Doc) -> Doc:
        doc = self._source(d.get("TableName"))
        spec = d.get("PointInTimeRecoverySpecification")
        enabled = spec.get("PointInTimeRecoveryEnabled") if isinstance(spec, dict) else None
        if not isinstance(enabled, bool):
            raise ValidationException("1 validation error detected: Value null at 'pointInTimeRecoverySpecification."
                                      "pointInTimeRecoveryEnabled' failed to satisfy constraint: Member must not be null")
        days = spec.get("RecoveryPeriodInDays", 35) if isinstance(spec, dict) else 35
        if not isinstance(days, int) or not 1 <= days <= 35:
            raise _constraint(days, "pointInTimeRecoverySpecification.recoveryPeriodInDays",
                              "Member must have value less than or equal to 35")
        current = doc.get("PointInTimeRecovery") or {}
        now = self.s.clock.now()
        since = current.get("Since") if current.get("Enabled") else now
        if not enabled and current.get("Enabled"):      # turning it off drops the history (as DynamoDB does)
            self.s.records.trim_records(journal_name(doc), int(now * 1000) + 1)
        doc["PointInTimeRecovery"] = {"Enabled": enabled, "RecoveryPeriodInDays": days, "Since": since}
        self.s._put_table(doc)
        return self._continuous(doc)

    def describe_continuous(self, d: Doc) -> Doc:
        return self._continuous(self._source(d.get("TableName")))

    def trim(self, doc: Doc, now: float) -> None:
        """Drop journal records older than the table's recovery period (the housekeeper's sweep)."""
        if pitr_enabled(doc):
            days = doc["PointInTimeRecovery"].get("RecoveryPeriodInDays", 35)
            self.s.records.trim_records(journal_name(doc), int((now - days * 86400) * 1000))

    def restore_to_point_in_time(self, d: Doc) -> Doc:
        """RestoreTableToPointInTime: a new table holding the source's items as they were at the time."""
        name = d.get("SourceTableName")
        if name is None:
            name = d.get("SourceTableArn")
        source = self._source(name)
        if not pitr_enabled(source):
            raise _Named("PointInTimeRecoveryUnavailableException",
                         f"Point in time recovery is not enabled for table '{source['TableName']}'")
        latest_wanted, when = d.get("UseLatestRestorableTime"), d.get("RestoreDateTime")
        if latest_wanted and when is not None:
            raise ValidationException("Only one of RestoreDateTime or UseLatestRestorableTime can be specified")
        earliest, latest = self._window(source)
        if not latest_wanted:
            if not isinstance(when, (int, float)) or isinstance(when, bool):
                raise ValidationException("Either RestoreDateTime or UseLatestRestorableTime must be specified")
            if not earliest <= when <= latest:
                raise _Named("InvalidRestoreTimeException",
                             f"Restore time {when} is not within the restorable window: {earliest} - {latest}")
        at = latest if latest_wanted or when is None else float(when)
        doc = self._target(d, source)
        self._made(doc)
        indexed = bool(doc["GlobalSecondaryIndexes"] or doc["LocalSecondaryIndexes"])
        self._copy(source["TableName"], doc, index=indexed)
        self._undo(source, doc, at, indexed)
        answer = self.s._describe(doc, "CREATING")
        answer["RestoreSummary"] = {"SourceTableArn": self.s.arn(source["TableName"]), "RestoreDateTime": at,
                                    "RestoreInProgress": False}
        return {"TableDescription": answer}

    def _undo(self, source: Doc, target: Doc, at: float, indexed: bool) -> None:
        """Every key the journal saw change after ``at`` given the image its first later change found."""
        journal = journal_name(source)
        after = self.s.records.seq_at(journal, 0, int(at * 1000) + 1)
        first: dict[tuple[str, str], Doc | None] = {}
        while True:
            rows = self.s.records.read_records(journal, 0, after, 1000)
            if not rows:
                break
            for _seq, _partition, data, _ms in rows:
                record = json.loads(data)
                first.setdefault((record["pk"], record["sk"]), record["old"])
            after = rows[-1][0]
        keys = list(first.items())
        for start in range(0, len(keys), 500):
            with self.s.items.transaction() as tx:
                for (pk, sk), old in keys[start:start + 500]:
                    pkb, skb = base64.b64decode(pk), base64.b64decode(sk)
                    if old is None:
                        tx.delete(target["TableName"], pkb, skb)
                    else:
                        tx.put(target["TableName"], pkb, skb, json.dumps(old, separators=(",", ":")), None,
                               self.s._index_keys(target, old) if indexed else None)
