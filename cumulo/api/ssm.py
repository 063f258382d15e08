"""The Parameter Store part of the Systems Manager JSON protocol (``AmazonSSM.<Operation>``, JSON 1.1)
for boto3's ``ssm``: parameters, their history, labels and tags."""

from __future__ import annotations

from typing import Any

from cumulo.api.authorize import require_decrypt
from cumulo.api.awsjson import Service, page, register
from cumulo.api.http import Request
from cumulo.model.parameters import ParamError, validation

__all__ = ["SERVICE"]


def _bad_token(message: str) -> ParamError:
    return ParamError("InvalidNextToken", "The specified token is not valid.")


def _user(r: Request) -> str:
    return r.principal.arn if r.principal is not None else ""


def _resource(d: dict[str, Any]) -> str:
    if d.get("ResourceType") != "Parameter":
        raise ParamError("InvalidResourceType", "The resource type is not valid. Only Parameter is supported here.")
    return str(d.get("ResourceId"))


def _decrypted(c: Any, r: Request, found: list[dict[str, Any]], decrypt: Any) -> None:
    """Each SecureString answered decrypted needs ``kms:Decrypt`` on its customer key, as on AWS."""
    if not decrypt:
        return
    keys = {c.parameters.key_of(p["Name"], p["Version"]) for p in found if p.get("Type") == "SecureString"}
    for key in sorted(k for k in keys if k):
        require_decrypt(c, r.principal, key, "ssm")


def put_parameter(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return c.parameters.put_parameter(d.get("Name"), d.get("Value"), d.get("Type"), d.get("Description"),
                                      d.get("KeyId"), bool(d.get("Overwrite")), d.get("AllowedPattern"),
                                      d.get("Tags"), d.get("Tier"), d.get("Policies"), d.get("DataType"), _user(r))


def get_parameter(c: Any, r: Request, d: dict[str, Any]) -> Any:
    found = c.parameters.get(d.get("Name"), bool(d.get("WithDecryption")))
    _decrypted(c, r, [found], d.get("WithDecryption"))
    return {"Parameter": found}


def get_parameters(c: Any, r: Request, d: dict[str, Any]) -> Any:
    found, invalid = c.parameters.get_many(d.get("Names"), bool(d.get("WithDecryption")))
    _decrypted(c, r, found, d.get("WithDecryption"))
    return {"Parameters": found, "InvalidParameters": invalid}


def get_parameters_by_path(c: Any, r: Request, d: dict[str, Any]) -> Any:
    found = c.parameters.by_path(d.get("Path"), bool(d.get("Recursive")), bool(d.get("WithDecryption")),
                                 d.get("ParameterFilters"))
    out = page(found, "Parameters", d, "NextToken", "MaxResults", 10, 10, _bad_token)
    _decrypted(c, r, out["Parameters"], d.get("WithDecryption"))
    return out


def delete_parameter(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.parameters.delete(d.get("Name"))


def delete_parameters(c: Any, r: Request, d: dict[str, Any]) -> Any:
    deleted, invalid = c.parameters.delete_many(d.get("Names"))
    return {"DeletedParameters": deleted, "InvalidParameters": invalid}


def describe_parameters(c: Any, r: Request, d: dict[str, Any]) -> Any:
    found = c.parameters.describe(d.get("Filters"), d.get("ParameterFilters"))
    return page(found, "Parameters", d, "NextToken", "MaxResults", 50, 50, _bad_token)


def get_parameter_history(c: Any, r: Request, d: dict[str, Any]) -> Any:
    found = c.parameters.history(d.get("Name"), bool(d.get("WithDecryption")))
    out = page(found, "Parameters", d, "NextToken", "MaxResults", 50, 50, _bad_token)
    _decrypted(c, r, out["Parameters"], d.get("WithDecryption"))
    return out


def label_parameter_version(c: Any, r: Request, d: dict[str, Any]) -> Any:
    invalid, version = c.parameters.label(d.get("Name"), d.get("ParameterVersion"), d.get("Labels"))
    return {"InvalidLabels": invalid, "ParameterVersion": version}


def unlabel_parameter_version(c: Any, r: Request, d: dict[str, Any]) -> Any:
    if not isinstance(d.get("ParameterVersion"), int):
        raise validation("ParameterVersion is required.")
    removed, invalid = c.parameters.unlabel(d.get("Name"), d.get("ParameterVersion"), d.get("Labels"))
    return {"RemovedLabels": removed, "InvalidLabels": invalid}


def add_tags(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.parameters.tag(_resource(d), d.get("Tags"))


def remove_tags(c: Any, r: Request, d: dict[str, Any]) -> Any:
    c.parameters.untag(_resource(d), d.get("TagKeys"))


def list_tags(c: Any, r: Request, d: dict[str, Any]) -> Any:
    return {"TagList": c.parameters.tags(_resource(d))}


SERVICE = Service("AmazonSSM", "com.amazonaws.ssm", "application/x-amz-json-1.1", {
    "PutParameter": put_parameter, "GetParameter": get_parameter, "GetParameters": get_parameters,
    "GetParametersByPath": get_parameters_by_path, "DeleteParameter": delete_parameter,
    "DeleteParameters": delete_parameters, "DescribeParameters": describe_parameters,
    "GetParameterHistory": get_parameter_history, "LabelParameterVersion": label_parameter_version,
    "UnlabelParameterVersion": unlabel_parameter_version, "AddTagsToResource": add_tags,
    "RemoveTagsFromResource": remove_tags, "ListTagsForResource": list_tags,
}, model="ssm")
register(SERVICE)
