"""Parameter Store: parameters as store documents (``ssm-parameter``, one per name) holding their
history (at most 100 versions, the oldest going first); a ``SecureString``'s value is sealed with
the store's master key (``keyring.py``), bound to the parameter's ARN and version. Names, paths,
selectors and labels follow ``model/parameters.py``.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Callable

from cumulo.keyring import Keyring
from cumulo.model import parameters as pm
from cumulo.model.parameters import ParamError, not_found, validation
from cumulo.ports import SYSTEM_CLOCK, Clock, Documents

__all__ = ["ParameterService", "PARAMETER_DOCUMENT", "DEFAULT_KEY"]

PARAMETER_DOCUMENT = "ssm-parameter"
DEFAULT_KEY = "alias/aws/ssm"
_DATA_TYPES = ("text", "aws:ec2:image", "aws:ssm:integration")
_META = ("Type", "KeyId", "Description", "AllowedPattern", "Tier", "DataType", "Policies")


class ParameterService:
    def __init__(self, documents: Documents, keyring: Callable[[], Keyring], region: str, account: str,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.documents, self._keyring, self.region, self.account, self.clock = documents, keyring, region, account, clock
        self._lock = threading.Lock()

    def arn(self, name: str) -> str:
        return pm.parameter_arn(self.region, self.account, name)

    def _find(self, name: str) -> dict[str, Any] | None:
        return self.documents.get_document(PARAMETER_DOCUMENT, name)

    def key_of(self, name: str, version: int) -> str | None:
        """The KeyId of a SecureString's version (None for another type or version)."""
        doc = self._find(name)
        entry = next((e for e in (doc or {}).get("History", []) if e["Version"] == version), None)
        return entry.get("KeyId") if entry is not None and entry.get("Type") == "SecureString" else None

    def _get(self, ref: str) -> dict[str, Any]:
        doc = self._find(ref)
        if doc is None:
            raise not_found(ref)
        return doc

    def _context(self, name: str, version: int) -> str:
        return f"ssm:{self.arn(name)}:{version}"

    def reseal_document(self, doc: dict[str, Any], reseal: Callable[[str, str], str]) -> dict[str, Any]:
        """A master key rotation's rewrite of a kept parameter: each SecureString version sealed again."""
        for entry in doc.get("History", []):
            if "Sealed" in entry:
                entry["Sealed"] = reseal(entry["Sealed"], self._context(doc["Name"], entry["Version"]))
        return doc

    # -- writing -----------------------------------------------------------------------------------
    def put_parameter(self, name: Any, value: Any, type_: Any = None, description: Any = None, key_id: Any = None,
                      overwrite: Any = False, allowed_pattern: Any = None, tags: Any = None, tier: Any = None,
                      policies: Any = None, data_type: Any = None, user: str = "") -> dict[str, Any]:
        name = pm.check_name(name)
        if not isinstance(value, str) or not value:
            raise validation("1 validation error detected: Value at 'value' failed to satisfy constraint: "
                             "Member must have length greater than or equal to 1")
        if tags and overwrite:
            raise validation("Invalid request: tags and overwrite can't be used together. To create a parameter "
                             "with tags, please remove overwrite flag. To update tags for an existing parameter, "
                             "please use AddTagsToResource or RemoveTagsFromResource.")
        if type_ is not None and type_ not in pm.TYPES:
            raise validation(f"1 validation error detected: Value '{type_}' at 'type' failed to satisfy constraint: "
                             f"Member must satisfy enum value set: [SecureString, StringList, String]")
        if tier is not None and tier not in pm.TIERS:
            raise validation(f"1 validation error detected: Value '{tier}' at 'tier' failed to satisfy constraint: "
                             f"Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]")
        if data_type is not None and data_type not in _DATA_TYPES:
            raise validation(f"The following data type is not supported: {data_type} (Data type names are "
                             "all lowercase.)")
        if allowed_pattern is not None:
            try:
                matcher = re.compile(str(allowed_pattern))
            except re.error:
                raise validation(f"Parameter value, cannot be validated against allowedPattern: "
                                 f"{allowed_pattern}") from None
            if matcher.search(value) is None:
                raise ParamError("ParameterPatternMismatchException",
                                 f"Parameter value, cannot be validated against allowedPattern: {allowed_pattern}")
        with self._lock:
            doc = self._find(name)
            if doc is not None and not overwrite:
                raise ParamError("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, "
                                 "set the overwrite option in the request to true.")
            if doc is None and type_ is None:
                raise validation("A parameter type is required when you create a parameter.")
            last: dict[str, Any] = doc["History"][-1] if doc is not None else {}
            kind = type_ or last["Type"]
            # the tier: as asked, else the parameter's (Advanced never goes back), else Standard
            chosen = tier if tier not in (None, "Intelligent-Tiering") else None
            size = len(value.encode())
            if chosen is None:
                chosen = last.get("Tier", "Standard")
                if tier == "Intelligent-Tiering" and size > pm.MAX_VALUE["Standard"]:
                    chosen = "Advanced"
            if chosen == "Standard" and last.get("Tier") == "Advanced":
                raise validation("This parameter uses the advanced-parameter tier. You can't downgrade a parameter "
                                 "from the advanced-parameter tier to the standard-parameter tier.")
            if size > pm.MAX_VALUE[chosen]:
                if chosen == "Standard":
                    raise validation("Standard tier parameters support a maximum parameter value of 4096 characters. "
                                     "To create a larger parameter value, upgrade the parameter to use the "
                                     "advanced-parameter tier. For more information, see https://docs.aws.amazon.com/"
                                     "systems-manager/latest/userguide/parameter-store-advanced-parameters.html")
                raise validation("Advanced tier parameters support a maximum parameter value of 8192 characters.")
            if kind != "SecureString" and key_id is not None:
                raise validation("KeyId is required for SecureString type parameter only.")
            version = (doc["Version"] if doc is not None else 0) + 1
            entry: dict[str, Any] = {
                "Version": version, "Type": kind, "Tier": chosen,
                "Description": description if description is not None else last.get("Description"),
                "AllowedPattern": allowed_pattern if allowed_pattern is not None else last.get("AllowedPattern"),
                "DataType": data_type or last.get("DataType") or "text",
                "Policies": policies if policies is not None else last.get("Policies"),
                "KeyId": (key_id or (last.get("KeyId") if last.get("Type") == "SecureString" else None) or DEFAULT_KEY)
                if kind == "SecureString" else None,
                "LastModifiedDate": self.clock.now(), "LastModifiedUser": user, "Labels": []}
            if kind == "SecureString":
                entry["Sealed"] = self._keyring().seal(value.encode(), self._context(name, version))
            else:
                entry["Value"] = value
            if doc is None:
                doc = {"Name": name, "Tags": _tags(tags), "History": []}
            doc["Version"] = version
            doc["History"].append(entry)
            if len(doc["History"]) > pm.MAX_VERSIONS:
                oldest = doc["History"][0]
                if oldest["Labels"]:
                    raise ParamError("ParameterMaxVersionLimitExceeded",
                                     f"You attempted to create a new version of {name} by calling the PutParameter "
                                     f"API with the overwrite flag. Version {oldest['Version']}, the oldest version, "
                                     "can't be deleted because it has a label associated with it. Move the label to "
                                     "another version of the parameter, and try again.")
                doc["History"].pop(0)
            self.documents.put_document(PARAMETER_DOCUMENT, name, doc)
        return {"Version": version, "Tier": chosen}

    def delete(self, name: Any) -> None:
        if not isinstance(name, str):
            raise validation("Parameter name must be a string.")
        with self._lock:
            if not self.documents.delete_document(PARAMETER_DOCUMENT, name):
                raise not_found(name)

    def delete_many(self, names: Any) -> tuple[list[str], list[str]]:
        if not isinstance(names, list) or not 1 <= len(names) <= 10:
            raise validation("Names must hold 1 to 10 parameter names.")
        deleted: list[str] = []
        invalid: list[Any] = []
        with self._lock:
            for name in names:
                (deleted if isinstance(name, str) and self.documents.delete_document(PARAMETER_DOCUMENT, name)
                 else invalid).append(name)
        return deleted, invalid

    # -- reading -----------------------------------------------------------------------------------
    def _entry(self, doc: dict[str, Any], version: int | None, label: str | None, ref: str) -> dict[str, Any]:
        if version is None and label is None:
            return doc["History"][-1]  # type: ignore[no-any-return]
        for entry in doc["History"]:
            if entry["Version"] == version or (label is not None and label in entry["Labels"]):
                return entry  # type: ignore[no-any-return]
        if version is not None:
            raise ParamError("ParameterVersionNotFound",
                             f"Systems Manager could not find version {version} of {doc['Name']}. Verify the version "
                             "and try again.")
        raise not_found(ref)

    def _shown(self, doc: dict[str, Any], entry: dict[str, Any], decrypt: bool, selector: str | None = None,
               history: bool = False) -> dict[str, Any]:
        name = doc["Name"]
        if "Sealed" in entry:
            value = self._keyring().open_sealed(entry["Sealed"], self._context(name, entry["Version"])).decode() \
                if decrypt else entry["Sealed"]
        else:
            value = entry["Value"]
        out: dict[str, Any] = {"Name": name, "Type": entry["Type"], "Value": value, "Version": entry["Version"],
                               "LastModifiedDate": entry["LastModifiedDate"], "DataType": entry["DataType"]}
        if history:
            out.update({k: entry[k] for k in ("KeyId", "Description", "AllowedPattern", "Tier") if entry.get(k)})
            out["LastModifiedUser"] = entry["LastModifiedUser"]
            out["Labels"] = list(entry["Labels"])
            out["Policies"] = []
        else:
            out["ARN"] = self.arn(name)
            if selector:
                out["Selector"] = selector
        return out

    def get(self, ref: Any, decrypt: bool = False) -> dict[str, Any]:
        name, version, label = pm.split_selector(ref)
        if isinstance(ref, str) and ref.startswith("arn:") and "/" not in name and self._find(name) is None:
            name = "/" + name             # arn:…:parameter/a names /a as well as a
        doc = self._get(name)
        selector = f":{version}" if version is not None else (f":{label}" if label is not None else None)
        return self._shown(doc, self._entry(doc, version, label, str(ref)), decrypt, selector)

    def get_many(self, refs: Any, decrypt: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
        if not isinstance(refs, list) or not 1 <= len(refs) <= 10:
            raise validation("Names must hold 1 to 10 parameter names.")
        found, invalid = [], []
        for ref in dict.fromkeys(refs):
            try:
                found.append(self.get(ref, decrypt))
            except ParamError as err:
                if err.code not in ("ParameterNotFound", "ParameterVersionNotFound"):
                    raise
                invalid.append(ref)
        return found, invalid

    def by_path(self, path: Any, recursive: bool = False, decrypt: bool = False,
                filters: Any = None) -> list[dict[str, Any]]:
        path = pm.check_path(path)
        keep = _parameter_filters(filters, by_path=True)
        docs = sorted((d for d in self.documents.list_documents(PARAMETER_DOCUMENT)
                       if pm.under_path(d["Name"], path, recursive)), key=lambda d: d["Name"])
        out = []
        for doc in docs:
            if all(k(doc) for k in keep):
                out.append(self._shown(doc, doc["History"][-1], decrypt))
        return out

    def describe(self, filters: Any = None, parameter_filters: Any = None) -> list[dict[str, Any]]:
        keep = _parameter_filters(parameter_filters) + _old_filters(filters)
        out = []
        for doc in sorted(self.documents.list_documents(PARAMETER_DOCUMENT), key=lambda d: d["Name"]):
            if not all(k(doc) for k in keep):
                continue
            last = doc["History"][-1]
            meta: dict[str, Any] = {"Name": doc["Name"], "ARN": self.arn(doc["Name"]), "Version": last["Version"],
                                    "LastModifiedDate": last["LastModifiedDate"],
                                    "LastModifiedUser": last["LastModifiedUser"], "Policies": []}
            meta.update({k: last[k] for k in _META if last.get(k) and k != "Policies"})
            out.append(meta)
        return out

    def history(self, name: Any, decrypt: bool = False) -> list[dict[str, Any]]:
        if not isinstance(name, str):
            raise validation("Parameter name must be a string.")
        doc = self._get(name)
        return [self._shown(doc, entry, decrypt, history=True) for entry in doc["History"]]

    # -- labels and tags ---------------------------------------------------------------------------
    def label(self, name: Any, version: Any, labels: Any) -> tuple[list[str], int]:
        if not isinstance(labels, list) or not 1 <= len(labels) <= 10:
            raise validation("Labels must hold 1 to 10 labels.")
        with self._lock:
            doc = self._get(str(name))
            entry = self._entry(doc, version if isinstance(version, int) else doc["Version"], None, str(name))
            invalid = [label for label in labels if not pm.check_label(label)]
            good = [label for label in dict.fromkeys(labels) if pm.check_label(label)]
            if len(set(entry["Labels"]) | set(good)) > pm.MAX_LABELS:
                raise ParamError("ParameterVersionLabelLimitExceeded",
                                 "An error occurred (ParameterVersionLabelLimitExceeded) when calling the "
                                 "LabelParameterVersion operation: A parameter version can have maximum 10 labels."
                                 "Move one or more labels to another version and try again.")
            for other in doc["History"]:
                other["Labels"] = [label for label in other["Labels"] if label not in good or other is entry]
            entry["Labels"] += [label for label in good if label not in entry["Labels"]]
            self.documents.put_document(PARAMETER_DOCUMENT, doc["Name"], doc)
        return invalid, entry["Version"]

    def unlabel(self, name: Any, version: Any, labels: Any) -> tuple[list[str], list[str]]:
        with self._lock:
            doc = self._get(str(name))
            entry = self._entry(doc, version, None, str(name))
            wanted = labels if isinstance(labels, list) else []
            removed = [label for label in wanted if label in entry["Labels"]]
            entry["Labels"] = [label for label in entry["Labels"] if label not in removed]
            self.documents.put_document(PARAMETER_DOCUMENT, doc["Name"], doc)
        return removed, [label for label in wanted if label not in removed]

    def tags(self, name: Any) -> list[dict[str, str]]:
        return list(self._get(str(name))["Tags"])

    def tag(self, name: Any, tags: Any) -> None:
        with self._lock:
            doc = self._get(str(name))
            mine = {t["Key"]: t["Value"] for t in doc["Tags"]}
            mine.update({t["Key"]: t["Value"] for t in _tags(tags)})
            doc["Tags"] = [{"Key": k, "Value": v} for k, v in mine.items()]
            self.documents.put_document(PARAMETER_DOCUMENT, doc["Name"], doc)

    def untag(self, name: Any, keys: Any) -> None:
        with self._lock:
            doc = self._get(str(name))
            doc["Tags"] = [t for t in doc["Tags"] if t["Key"] not in (keys or [])]
            self.documents.put_document(PARAMETER_DOCUMENT, doc["Name"], doc)

    def value_of(self, ref: str, decrypt: bool = True) -> tuple[str, str, int]:
        """A parameter's value, type and version (templates' dynamic references and parameter types)."""
        found = self.get(ref, decrypt)
        return found["Value"], found["Type"], found["Version"]


def _tags(tags: Any) -> list[dict[str, str]]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, dict) and isinstance(t.get("Key"), str)
                                             and isinstance(t.get("Value"), str) for t in tags):
        raise validation("Tags must be a list of {Key, Value} strings.")
    return [{"Key": t["Key"], "Value": t["Value"]} for t in tags]


def _invalid_filter(key: Any) -> ParamError:
    return ParamError("InvalidFilterKey", f"The following filter key is not valid: {key}")


def _parameter_filters(filters: Any, by_path: bool = False) -> list[Callable[[dict[str, Any]], bool]]:
    if filters is None:
        return []
    if not isinstance(filters, list):
        raise validation("ParameterFilters must be a list.")
    out: list[Callable[[dict[str, Any]], bool]] = []
    for f in filters:
        if not isinstance(f, dict):
            raise validation("ParameterFilters must be a list of filters.")
        key, option, values = f.get("Key"), f.get("Option") or "Equals", f.get("Values") or []
        if not isinstance(key, str) or not isinstance(values, list):
            raise _invalid_filter(key)
        allowed = ("Type", "KeyId", "Label") if by_path else ("Name", "Type", "KeyId", "Path", "Tier", "DataType",
                                                                "Label")
        if key not in allowed and not key.startswith("tag:"):
            raise ParamError("InvalidFilterKey" if not by_path else "InvalidFilterKey",
                             f"The following filter key is not valid: {key}. Valid filter keys include: "
                             f"[{', '.join(allowed)}].")
        out.append(_one_filter(key, str(option), [str(v) for v in values]))
    return out


def _one_filter(key: str, option: str, values: list[str]) -> Callable[[dict[str, Any]], bool]:
    def test(doc: dict[str, Any]) -> bool:
        last = doc["History"][-1]
        if key == "Path":
            path = values[0] if values else "/"
            return pm.under_path(doc["Name"], path, option == "Recursive")
        if key.startswith("tag:"):
            tag = {t["Key"]: t["Value"] for t in doc["Tags"]}.get(key[4:])
            return tag is not None and (not values or tag in values)
        if key == "Label":
            return any(label in values for entry in doc["History"] for label in entry["Labels"])
        field = doc["Name"] if key == "Name" else str(last.get(key) or "")
        if option == "BeginsWith":
            return any(field.startswith(v) or (key == "Name" and field.lstrip("/").startswith(v.lstrip("/")))
                       for v in values)
        if option == "Contains":
            return any(v in field for v in values)
        return field in values or (key == "Name" and any(field.lstrip("/") == v.lstrip("/") for v in values))
    return test


def _old_filters(filters: Any) -> list[Callable[[dict[str, Any]], bool]]:
    if filters is None:
        return []
    out = []
    for f in filters if isinstance(filters, list) else []:
        key = f.get("Key") if isinstance(f, dict) else None
        if key not in ("Name", "Type", "KeyId"):
            raise _invalid_filter(key)
        out.append(_one_filter(str(key), "BeginsWith" if key == "Name" else "Equals",
                               [str(v) for v in f.get("Values") or []]))
    return out
