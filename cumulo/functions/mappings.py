"""Event-source mappings: the Lambda API's control of them.

``EventSourceMappings`` is Create/Get/Update/Delete/ListEventSourceMappings (one document per
mapping in the store), with their validation for queues and streams. What runs them is
``functions/pollers.py``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable, List

from cumulo.errors import CumuloError, InvalidParameterValueException, ResourceConflictException, ResourceNotFoundException
from cumulo.model import function as fn
from cumulo.model.function import Arns
from cumulo.model.queue import QueueAttributes
from cumulo.model.table_stream import is_table_stream
from cumulo.ports import SYSTEM_CLOCK, Clock, CompilePattern, Documents, EventPattern, Functions, Queues, Streams
from cumulo.store.ports import StreamRecords

# (role ARN, service, API action, the API's request document) -> AWS's access denied message when the
# role may not make that call, else None (``ports.ServiceCalls.refusal``, for roles Cumulo keeps).
RoleRefusal = Callable[[str, str, str, dict[str, Any]], "str | None"]

__all__ = ["EventSourceMappings", "is_stream", "stream_name", "source_label", "MAX_FILTERS"]

MAX_FILTERS = 5       # Lambda's quota of filters per event-source mapping

_KIND = "event-source-mapping"
_SQS_FIELDS = {"EventSourceArn", "FunctionName", "Enabled", "BatchSize", "MaximumBatchingWindowInSeconds",
               "FunctionResponseTypes", "ScalingConfig", "FilterCriteria", "Tags"}
_STREAM_FIELDS = {"EventSourceArn", "FunctionName", "Enabled", "BatchSize", "MaximumBatchingWindowInSeconds",
                  "FunctionResponseTypes", "FilterCriteria", "Tags", "StartingPosition", "StartingPositionTimestamp",
                  "ParallelizationFactor", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                  "BisectBatchOnFunctionError", "DestinationConfig", "TumblingWindowInSeconds"}


def is_stream(arn: str) -> bool:
    """A Kinesis stream or a table's stream: read in order by shard, with the stream pollers."""
    return (":kinesis:" in arn and ":stream/" in arn) or is_table_stream(arn)


def stream_name(arn: str) -> str:
    """The stream's name in the message store: a Kinesis stream's name, a table stream's
    ``table/<name>/stream/<label>`` (``model/table_stream.py``)."""
    return arn.split(":", 5)[5] if is_table_stream(arn) else arn.rsplit("/", 1)[1]


def source_label(arn: str) -> str:
    return "DynamoDB" if is_table_stream(arn) else "Kinesis" if is_stream(arn) else "SQS"


def _apply_stream(doc: dict[str, Any], params: dict[str, Any]) -> None:
    def bad(member: str, value: Any, rule: str) -> InvalidParameterValueException:
        return InvalidParameterValueException(f"1 validation error detected: Value {value} at '{member}' failed to "
                                              f"satisfy constraint: Member must have value {rule}")

    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if params.get("ParallelizationFactor") is not None:
        v = params["ParallelizationFactor"]
        if not integer(v) or not 1 <= v <= 10:
            raise bad("parallelizationFactor", v, "between 1 and 10")
        doc["ParallelizationFactor"] = v
    if params.get("MaximumRetryAttempts") is not None:
        v = params["MaximumRetryAttempts"]
        if not integer(v) or not -1 <= v <= 10_000:
            raise bad("maximumRetryAttempts", v, "between -1 and 10000")
        doc["MaximumRetryAttempts"] = v
    if params.get("MaximumRecordAgeInSeconds") is not None:
        v = params["MaximumRecordAgeInSeconds"]
        if not integer(v) or not (v == -1 or 60 <= v <= 604_800):
            raise bad("maximumRecordAgeInSeconds", v, "-1 or between 60 and 604800")
        doc["MaximumRecordAgeInSeconds"] = v
    if params.get("BisectBatchOnFunctionError") is not None:
        doc["BisectBatchOnFunctionError"] = bool(params["BisectBatchOnFunctionError"])
    if params.get("TumblingWindowInSeconds"):
        raise InvalidParameterValueException("TumblingWindowInSeconds is not supported by Cumulo yet.")
    if params.get("DestinationConfig") is not None:
        target = ((params["DestinationConfig"] or {}).get("OnFailure") or {}).get("Destination")
        if target and (not isinstance(target, str) or ":sqs:" not in target):
            raise InvalidParameterValueException(f"The destination ARN {target} is invalid: Cumulo sends stream "
                                                 "failure records to SQS queues.")
        doc["DestinationConfig"] = {"OnFailure": {"Destination": target} if target else {}}



class EventSourceMappings:
    def __init__(self, store: Documents, records: StreamRecords, queues: Queues, streams: Streams,
                 functions: Functions, arns: Arns, clock: Clock = SYSTEM_CLOCK,
                 compile_pattern: CompilePattern | None = None, role_refusal: RoleRefusal | None = None) -> None:
        self._store, self._records, self._queues, self._streams = store, records, queues, streams
        self._functions, self._arns, self._clock = functions, arns, clock
        self._compile = compile_pattern     # FilterCriteria's patterns (EventBridge's language)
        self._role_refusal = role_refusal   # may the function's execution role read the source?

    def filters(self, doc: dict[str, Any]) -> list[EventPattern]:
        """A mapping's FilterCriteria, compiled ([]: everything passes)."""
        if self._compile is None:
            return []
        return [self._compile(f["Pattern"]) for f in (doc.get("FilterCriteria") or {}).get("Filters") or []]

    # -- CRUD -----------------------------------------------------------------
    def create(self, **params: Any) -> dict[str, Any]:
        source = params.get("EventSourceArn")
        if not isinstance(source, str) or not source:
            raise InvalidParameterValueException("EventSourceArn is required.")
        stream = is_stream(source)
        if not stream and ":sqs:" not in source:
            raise InvalidParameterValueException(f"Unsupported event source: {source}. Cumulo polls SQS queues, "
                                                 "Kinesis streams and DynamoDB streams.")
        allowed = _STREAM_FIELDS if stream else _SQS_FIELDS
        unknown = set(params) - allowed
        if unknown:
            raise InvalidParameterValueException(f"Unsupported parameters for {'an' if not stream else 'a'} "
                                                 f"{source_label(source)} event source: {', '.join(sorted(unknown))}")
        if stream:
            self._streams.require(source)
        elif not self._queues.exists(source):
            raise InvalidParameterValueException(f"Error occurred while ReceiveMessage. SQS Error Code: "
                                                 f"AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The "
                                                 f"specified queue does not exist: {source}")
        function_arn = self._function_arn(params.get("FunctionName"))
        self._check_role(function_arn, source)
        for other in self._store.list_documents(_KIND):
            if other["EventSourceArn"] == source and other["FunctionArn"] == function_arn:
                raise ResourceConflictException(
                    f"An event source mapping with {source_label(source)} arn (\" {source} \") and "
                    f"function (\" {function_arn.split(':')[6]} \") already exists. Please update or delete the "
                    f"existing mapping with UUID {other['UUID']}")
        doc: dict[str, Any] = {
            "UUID": str(uuid.uuid4()), "EventSourceArn": source, "FunctionArn": function_arn,
            "BatchSize": 100 if stream else 10, "MaximumBatchingWindowInSeconds": 0, "FunctionResponseTypes": [],
            "StateTransitionReason": "USER_INITIATED", "LastProcessingResult": "No records processed",
            "State": "Enabled"}
        if stream:
            position = params.get("StartingPosition")
            if position not in ("TRIM_HORIZON", "LATEST") + (() if is_table_stream(source) else ("AT_TIMESTAMP",)):
                raise InvalidParameterValueException(
                    "1 validation error detected: Value at 'startingPosition' failed to satisfy constraint: Member "
                    "must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]")
            stamp = params.get("StartingPositionTimestamp")
            if position == "AT_TIMESTAMP" and stamp is None:
                raise InvalidParameterValueException("StartingPositionTimestamp is required for AT_TIMESTAMP.")
            name = stream_name(source)
            doc.update(StartingPosition=position, ParallelizationFactor=1, MaximumRetryAttempts=-1,
                       MaximumRecordAgeInSeconds=-1, BisectBatchOnFunctionError=False,
                       DestinationConfig={"OnFailure": {}}, TumblingWindowInSeconds=0)
            if stamp is not None:
                doc["StartingPositionTimestamp"] = stamp if not isinstance(stamp, datetime) else stamp.timestamp()
            doc["_positions"] = {str(i): self._streams.position(name, i, position, timestamp=doc.get(
                "StartingPositionTimestamp")) for i in range(self._streams.shard_count(name))}
        self._apply(doc, params)
        doc["LastModified"] = self._clock.now()
        self._store.put_document(_KIND, doc["UUID"], doc)
        return self._answer(doc, "Creating")

    def _check_role(self, function_arn: str, source: str) -> None:
        """Lambda reads the source with the function's execution role, so a mapping is refused, as
        AWS refuses it, when the role may not make the calls the poller makes."""
        if self._role_refusal is None:
            return
        name, _, qualifier = function_arn.split(":", 6)[6].partition(":")
        role = self._functions.get(name, qualifier or None).role
        if not role:
            return
        if not is_stream(source):
            for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes"):
                if self._role_refusal(role, "sqs", action, {"QueueUrl": source}):
                    raise InvalidParameterValueException(
                        f"The provided execution role does not have permissions to call {action} on SQS")
            return
        table = is_table_stream(source)
        service, key = ("dynamodbstreams", "StreamArn") if table else ("kinesis", "StreamARN")
        actions = ("GetRecords", "GetShardIterator", "DescribeStream") + (
            ("ListStreams",) if table else ("ListShards",))
        if any(self._role_refusal(role, service, action, {key: source}) for action in actions):
            raise InvalidParameterValueException(
                f"Cannot access stream {source}. Please ensure the role can perform the GetRecords, "
                f"GetShardIterator, DescribeStream, {'' if table else 'ListShards, '}and ListStreams Actions on "
                "your stream in IAM.")

    def _function_arn(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise InvalidParameterValueException("FunctionName is required.")
        fname, qualifier = fn.parse_function_ref(name)
        config = self._functions.get(fname, qualifier)
        return self._arns.function(config.name, qualifier)

    def _apply(self, doc: dict[str, Any], params: dict[str, Any]) -> None:
        stream = is_stream(doc["EventSourceArn"])
        fifo = not stream and QueueAttributes(self._queues.attributes(doc["EventSourceArn"])[1].raw).fifo
        if stream:
            _apply_stream(doc, params)
        if "BatchSize" in params and params["BatchSize"] is not None:
            doc["BatchSize"] = params["BatchSize"]
        if "MaximumBatchingWindowInSeconds" in params and params["MaximumBatchingWindowInSeconds"] is not None:
            doc["MaximumBatchingWindowInSeconds"] = params["MaximumBatchingWindowInSeconds"]
        size, window = doc["BatchSize"], doc["MaximumBatchingWindowInSeconds"]
        top = 10 if fifo else 10_000
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= top:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value {size} at 'batchSize' failed to satisfy constraint: Member must "
                f"have value {'less than or equal to 10 for a FIFO queue' if fifo else 'between 1 and 10000'}")
        if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 300:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value {window} at 'maximumBatchingWindowInSeconds' failed to satisfy "
                "constraint: Member must have value less than or equal to 300")
        if size > 10 and window < 1 and not stream:
            raise InvalidParameterValueException(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
        if fifo and window:
            raise InvalidParameterValueException("Batching window is not supported for FIFO queues")
        if "FunctionResponseTypes" in params and params["FunctionResponseTypes"] is not None:
            types = params["FunctionResponseTypes"]
            if not isinstance(types, list) or set(types) - {"ReportBatchItemFailures"}:
                raise InvalidParameterValueException(
                    "1 validation error detected: Value at 'functionResponseTypes' failed to satisfy constraint: "
                    "Member must satisfy enum value set: [ReportBatchItemFailures]")
            doc["FunctionResponseTypes"] = list(types)
        if "ScalingConfig" in params and params["ScalingConfig"] is not None:
            scaling = params["ScalingConfig"]
            top_c = (scaling or {}).get("MaximumConcurrency") if isinstance(scaling, dict) else "?"
            if top_c is not None and (isinstance(top_c, bool) or not isinstance(top_c, int) or not 2 <= top_c <= 1000):
                raise InvalidParameterValueException(
                    f"1 validation error detected: Value {top_c} at 'scalingConfig.maximumConcurrency' failed to "
                    "satisfy constraint: Member must have value between 2 and 1000")
            doc["ScalingConfig"] = {"MaximumConcurrency": top_c} if top_c else {}
        if "FilterCriteria" in params and params["FilterCriteria"] is not None:
            criteria = self._filter_criteria(params["FilterCriteria"])
            if criteria:
                doc["FilterCriteria"] = criteria
            else:                       # no filters: as AWS answers, no FilterCriteria
                doc.pop("FilterCriteria", None)
        if "Enabled" in params and params["Enabled"] is not None:
            doc["State"] = "Enabled" if params["Enabled"] else "Disabled"

    def _filter_criteria(self, criteria: Any) -> dict[str, Any]:
        filters = criteria.get("Filters") if isinstance(criteria, dict) else None
        if not isinstance(filters, list) or not filters:
            return {}
        if len(filters) > MAX_FILTERS:
            raise InvalidParameterValueException(f"The number of filters ({len(filters)}) exceeds the quota of "
                                                 f"{MAX_FILTERS} filters per event source mapping.")
        if self._compile is None:
            raise InvalidParameterValueException("FilterCriteria are not supported here.")
        out = []
        for f in filters:
            pattern = f.get("Pattern") if isinstance(f, dict) else None
            if not isinstance(pattern, str):
                raise InvalidParameterValueException("Invalid filter pattern definition.")
            try:
                self._compile(pattern)
            except CumuloError as err:
                raise InvalidParameterValueException(f"Invalid filter pattern definition. {err.message}") from None
            out.append({"Pattern": pattern})
        return {"Filters": out}

    def get(self, mapping_id: str) -> dict[str, Any]:
        return self._answer(self._doc(mapping_id))

    def _doc(self, mapping_id: str) -> dict[str, Any]:
        doc = self._store.get_document(_KIND, mapping_id) if isinstance(mapping_id, str) else None
        if doc is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return doc

    def update(self, mapping_id: str, **params: Any) -> dict[str, Any]:
        doc = self._doc(mapping_id)
        unknown = set(params) - (_STREAM_FIELDS if is_stream(doc["EventSourceArn"]) else _SQS_FIELDS) - {"UUID"}
        unknown |= {"StartingPosition", "StartingPositionTimestamp"} & set(params)
        if unknown or "EventSourceArn" in params:
            raise InvalidParameterValueException(f"Unsupported parameters for UpdateEventSourceMapping: "
                                                 f"{', '.join(sorted(unknown | ({'EventSourceArn'} & set(params))))}")
        if params.get("FunctionName"):
            doc["FunctionArn"] = self._function_arn(params["FunctionName"])
            self._check_role(doc["FunctionArn"], doc["EventSourceArn"])
        self._apply(doc, params)
        doc["LastModified"] = self._clock.now()
        self._store.put_document(_KIND, mapping_id, doc)
        return self._answer(doc, "Updating")

    def delete(self, mapping_id: str) -> dict[str, Any]:
        doc = self._doc(mapping_id)
        self._store.delete_document(_KIND, mapping_id)
        self._records.delete_checkpoints(mapping_id)
        return self._answer(doc, "Deleting")

    def list(self, source_arn: str | None = None, function_name: str | None = None) -> "List[dict[str, Any]]":
        docs = self._store.list_documents(_KIND)
        if source_arn:
            docs = [d for d in docs if d["EventSourceArn"] == source_arn]
        if function_name:
            fname, qualifier = fn.parse_function_ref(function_name)
            docs = [d for d in docs if d["FunctionArn"].split(":")[6] == fname
                    and (qualifier is None or d["FunctionArn"].endswith(f":{qualifier}"))]
        return [self._answer(d) for d in docs]

    def enabled(self) -> "List[dict[str, Any]]":
        return [d for d in self._store.list_documents(_KIND) if d["State"] == "Enabled"]

    def record_result(self, mapping_id: str, result: str) -> None:
        doc = self._store.get_document(_KIND, mapping_id)
        if doc is not None and doc.get("LastProcessingResult") != result:
            doc["LastProcessingResult"] = result
            self._store.put_document(_KIND, mapping_id, doc)

    @staticmethod
    def _answer(doc: dict[str, Any], state: str | None = None) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if not (k == "ScalingConfig" and not v) and not k.startswith("_")}
        if state:
            out["State"] = state
        return out
