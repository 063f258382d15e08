"""Parameter Store, pure: names and paths, selectors, labels, values' limits, ARNs and errors.

Names (Systems Manager User Guide, "Parameter naming constraints" and PutParameter): case
sensitive, ``a-zA-Z0-9_.-`` and ``/`` for hierarchies, a hierarchy begins with ``/`` and has at
most 15 levels, no name begins with ``aws`` or ``ssm`` (any case, after a leading ``/`` too),
at most 1,011 characters. A name may be read as ``name:version`` or ``name:label`` (a selector).
Labels: at most 100 characters of letters, digits, ``.``, ``-``, ``_``; not beginning with a
digit, ``aws`` or ``ssm``; at most 10 per version, each on one version of a parameter.
"""

from __future__ import annotations

import re
from typing import Any

from cumulo.errors import ServiceError

__all__ = ["ParamError", "check_name", "check_path", "split_selector", "check_label", "under_path",
           "parameter_arn", "name_of_arn", "TYPES", "TIERS", "MAX_VALUE", "MAX_VERSIONS", "MAX_LABELS",
           "validation", "not_found"]

TYPES = ("String", "StringList", "SecureString")
TIERS = ("Standard", "Advanced", "Intelligent-Tiering")
MAX_VALUE = {"Standard": 4096, "Advanced": 8192}
MAX_VERSIONS = 100
MAX_LABELS = 10
MAX_NAME = 1011
MAX_DEPTH = 15
_NAME = re.compile(r"[A-Za-z0-9_.\-/]+")
_LABEL = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_RESERVED = re.compile(r"/?(aws|ssm)", re.IGNORECASE)


class ParamError(ServiceError):
    """Parameter Store's errors, by the name boto3 reports."""


def validation(message: str) -> ParamError:
    return ParamError("ValidationException", message)


def not_found(name: str = "") -> ParamError:
    return ParamError("ParameterNotFound", f"Parameter {name} not found." if name else "")


def check_name(name: Any) -> str:
    """A parameter's name as PutParameter accepts it (spaces at its ends are dropped, as AWS does)."""
    if not isinstance(name, str):
        raise validation("Parameter name must be a string.")
    name = name.strip(" ")
    if not name or len(name) > MAX_NAME:
        raise validation(f"Parameter name must be 1 to {MAX_NAME} characters.")
    if _NAME.fullmatch(name) is None:
        raise validation("Parameter name: can't contain spaces and may only contain a-zA-Z0-9_.-/")
    if _RESERVED.match(name) is not None:
        raise validation("Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).")
    if "/" in name:
        if not name.startswith("/") or name.endswith("/") or "//" in name:
            raise validation("Parameter name must be a fully qualified name.")
        if name.count("/") > MAX_DEPTH:
            raise ParamError("HierarchyLevelLimitExceededException",
                             f"Parameter name: hierarchies are limited to {MAX_DEPTH} levels.")
    return name


def check_path(path: Any) -> str:
    """A path for GetParametersByPath: ``/`` or ``/a/b`` (a trailing ``/`` allowed)."""
    if not isinstance(path, str) or not path.startswith("/") or "//" in path or \
            (path != "/" and _NAME.fullmatch(path) is None) or path.count("/") > MAX_DEPTH + 1:
        raise validation(f"The parameter doesn't meet the parameter name requirements. The parameter name must "
                         f"begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" "
                         f"(case-insensitive). It must use only letters, numbers, or the following symbols: . "
                         f"(period), - (hyphen), _ (underscore). Special characters are not allowed. All "
                         f"sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: "
                         f"/get/parameters2-/by1./path0_.")
    return path


def under_path(name: str, path: str, recursive: bool) -> bool:
    """Whether ``name`` is in ``path``'s hierarchy: directly below it, or (``recursive``) anywhere below."""
    prefix = path if path.endswith("/") else path + "/"
    if not name.startswith(prefix) or name == prefix:
        return False
    return recursive or "/" not in name[len(prefix):]


def split_selector(ref: Any) -> tuple[str, int | None, str | None]:
    """``name``, ``name:3`` or ``name:label`` (GetParameter's Name) to (name, version, label)."""
    if not isinstance(ref, str) or not ref:
        raise validation("Parameter name must be a non-empty string.")
    if ref.startswith("arn:"):
        ref = name_of_arn(ref)
    name, sep, selector = ref.rpartition(":")
    if not sep:
        return ref, None, None
    if not selector:
        raise validation(f"Invalid parameter selector: {ref}")
    if selector.isdigit():
        return name, int(selector), None
    return name, None, selector


def check_label(label: Any) -> bool:
    """Whether ``label`` may be attached to a version (those that may not are answered as InvalidLabels)."""
    return isinstance(label, str) and _LABEL.fullmatch(label) is not None and not label[0].isdigit() \
        and _RESERVED.match(label) is None


def parameter_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}" if name.startswith("/") else \
        f"arn:aws:ssm:{region}:{account}:parameter/{name}"


def name_of_arn(arn: str) -> str:
    """The name an ARN of a parameter names (``arn:…:parameter/a/b`` is ``/a/b``; ``…:parameter/a`` is ``a``)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "ssm" or not parts[5].startswith("parameter/"):
        raise validation(f"Invalid parameter ARN: {arn}")
    rest = parts[5][len("parameter/"):]
    return "/" + rest if "/" in rest else rest
