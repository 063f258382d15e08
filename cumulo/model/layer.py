"""Lambda layers: immutable, numbered versions of a zip that functions mount under /opt.

Pure: validation with AWS's constraints and messages, the ``LayerVersion``
record and its AWS documents, and ``LayerRef`` — what a function's
configuration keeps of each layer it uses (enough to run it after the layer
version itself was deleted, as AWS keeps a copy).
"""

from __future__ import annotations

import base64
import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from cumulo.errors import InvalidParameterValueException, ValidationException
from cumulo.model import limits

__all__ = [
    "LayerVersion", "LayerRef", "validate_layer_name", "validate_version_number", "validate_compatible_runtimes",
    "validate_compatible_architectures", "validate_license_info", "validate_layer_description", "parse_layer_version_arn",
    "check_function_layers", "permission_statement", "RUNTIMES", "ARCHITECTURES",
]

# Every runtime identifier AWS accepts in CompatibleRuntimes (a layer may name runtimes
# Cumulo does not run: it is only metadata until a function uses it).
RUNTIMES = frozenset({
    "python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
    "nodejs16.x", "nodejs18.x", "nodejs20.x", "nodejs22.x", "java8.al2", "java11", "java17", "java21",
    "dotnet6", "dotnet8", "ruby3.2", "ruby3.3", "ruby3.4", "provided", "provided.al2", "provided.al2023",
})
ARCHITECTURES = ("x86_64", "arm64")

_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,140}$")
_LAYER_ARN_RE = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9_-]+)$")
_VERSION_ARN_RE = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9_-]+):(?P<version>[0-9]+)$")
_VERSION_ARN_PATTERN = ("(arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:"
                        "layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)")
_LICENSE_MAX = 512
_RUNTIMES_MAX = 15


def _constraint(value: object, member: str, constraint: str) -> ValidationException:
    return ValidationException(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                               f"constraint: {constraint}")


def validate_layer_name(name: str) -> str:
    """A LayerName: a name, or a layer's ARN (without version) naming it in this account."""
    if isinstance(name, str):
        m = _LAYER_ARN_RE.fullmatch(name)
        if m:
            return m.group("name")
        if _NAME_RE.fullmatch(name):
            return name
    raise _constraint(name, "layerName",
                      "Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}"
                      ":layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+ and have length between 1 and 140")


def validate_version_number(value: object) -> int:
    if not re.fullmatch(r"-?[0-9]{1,18}", str(value)):       # a Java long, in decimal ASCII digits
        raise _constraint(str(value)[:64], "versionNumber", "Member must be a number") from None
    return int(str(value))


def validate_compatible_runtimes(runtimes: list[str] | None) -> list[str]:
    runtimes = list(runtimes or [])
    if len(runtimes) > _RUNTIMES_MAX:
        raise _constraint(runtimes, "compatibleRuntimes", f"Member must have length less than or equal to {_RUNTIMES_MAX}")
    for r in runtimes:
        if r not in RUNTIMES:
            raise _constraint(runtimes, "compatibleRuntimes",
                              f"Member must satisfy enum value set: [{', '.join(sorted(RUNTIMES))}]")
    return runtimes


def validate_compatible_architectures(architectures: list[str] | None) -> list[str]:
    architectures = list(architectures or [])
    if len(architectures) > 2 or any(a not in ARCHITECTURES for a in architectures):
        raise _constraint(architectures, "compatibleArchitectures",
                          "Member must have length less than or equal to 2 and each member must satisfy "
                          "enum value set: [x86_64, arm64]")
    return architectures


def validate_layer_description(text: str) -> str:
    if not isinstance(text, str) or len(text) > limits.DESCRIPTION_MAX:
        raise _constraint(text, "description", f"Member must have length less than or equal to {limits.DESCRIPTION_MAX}")
    return text


def validate_license_info(text: str | None) -> str | None:
    if text is not None and (not isinstance(text, str) or len(text) > _LICENSE_MAX):
        raise _constraint(text, "licenseInfo", f"Member must have length less than or equal to {_LICENSE_MAX}")
    return text


def parse_layer_version_arn(arn: str, region: str | None = None, account: str | None = None) -> tuple[str, int]:
    """``(layer name, version)`` of a layer version ARN; ValidationException when malformed,
    InvalidParameterValueException when it names another account or region than ours."""
    m = _VERSION_ARN_RE.fullmatch(arn) if isinstance(arn, str) and len(arn) <= 2048 else None
    if not m:
        raise _constraint(arn, "layers", f"Member must satisfy regular expression pattern: {_VERSION_ARN_PATTERN}")
    if (region and m.group("region") != region) or (account and m.group("account") != account):
        raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
    return m.group("name"), int(m.group("version"))


_STATEMENT_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,100}$")
_PRINCIPAL_RE = re.compile(r"^(\d{12}|\*|arn:aws[a-zA-Z-]*:iam::\d{12}:root)$")
_ORGANIZATION_RE = re.compile(r"^o-[a-z0-9]{10,32}$")


def permission_statement(layer_version_arn: str, statement_id: str, action: str, principal: str,
                         organization_id: str | None) -> dict[str, Any]:
    """One statement of a layer version's resource policy, as AddLayerVersionPermission writes it
    (Cumulo keeps and answers it; with no IAM it grants nothing more than is already allowed)."""
    if not isinstance(statement_id, str) or not _STATEMENT_ID_RE.fullmatch(statement_id):
        raise _constraint(statement_id, "statementId",
                          "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")
    if action != "lambda:GetLayerVersion":
        raise _constraint(action, "action", "Member must satisfy regular expression pattern: lambda:GetLayerVersion")
    if not isinstance(principal, str) or not _PRINCIPAL_RE.fullmatch(principal):
        raise _constraint(principal, "principal", "Member must satisfy regular expression pattern: "
                          "\\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root")
    if organization_id is not None and not _ORGANIZATION_RE.fullmatch(str(organization_id)):
        raise _constraint(organization_id, "organizationId",
                          "Member must satisfy regular expression pattern: o-[a-z0-9]{10,32}")
    if organization_id is not None and principal != "*":
        raise InvalidParameterValueException("OrganizationId can only be specified with Principal '*'.")
    statement: dict[str, Any] = {
        "Sid": statement_id, "Effect": "Allow",
        "Principal": principal if principal == "*" else {
            "AWS": principal if principal.startswith("arn:") else f"arn:aws:iam::{principal}:root"},
        "Action": action, "Resource": layer_version_arn,
    }
    if organization_id is not None:
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
    return statement


@dataclass(frozen=True)
class LayerRef:
    """One layer as a function's configuration keeps it."""

    arn: str              # the layer version's ARN
    code_size: int        # the zip's size, AWS's Layers[].CodeSize
    code_hex: str         # SHA-256 hex of the zip: the blob to mount
    unzipped_size: int    # counts towards the function's 250 MB

    def to_aws(self) -> dict[str, Any]:
        return {"Arn": self.arn, "CodeSize": self.code_size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LayerRef":
        return cls(data["arn"], int(data["code_size"]), data["code_hex"], int(data.get("unzipped_size", 0)))


# Layers AWS publishes that Cumulo provides itself, whatever their account, region or version: the
# name -> what a function with it gets (runtime/inside/secrets_extension.py).
_PROVIDED = {"AWS-Parameters-and-Secrets-Lambda-Extension": "parameters-secrets",
             "AWS-Parameters-and-Secrets-Lambda-Extension-Arm64": "parameters-secrets"}


# AWS's Lambda Insights extension (its account, as AWS's docs give the ARNs): it only ships the function's
# telemetry to CloudWatch Lambda Insights, so it is accepted and not run (Cumulo records metrics itself).
INSIGHTS_ACCOUNT = "580247275435"
_INSIGHTS_RE = re.compile(r"LambdaInsightsExtension(-Arm64)?")
# Powertools for AWS Lambda (Python), published by AWS's account: AWSLambdaPowertoolsPython (1.x),
# AWSLambdaPowertoolsPythonV2[-Arm64] (2.x), AWSLambdaPowertoolsPythonV3-python3NN-{x86_64,arm64} (3.x).
POWERTOOLS_ACCOUNT = "017000801446"
_POWERTOOLS_RE = re.compile(r"AWSLambdaPowertoolsPython(?:V(?P<major>[1-9]))?(?:-Arm64|-python3\d+-(?:x86_64|arm64))?")


def provided_layer(arn: str) -> str | None:
    """What an AWS-published layer Cumulo provides itself gives ("parameters-secrets", "lambda-insights"), or None."""
    m = _VERSION_ARN_RE.fullmatch(arn) if isinstance(arn, str) and len(arn) <= 2048 else None
    if m and m.group("account") == INSIGHTS_ACCOUNT and _INSIGHTS_RE.fullmatch(m.group("name")):
        return "lambda-insights"
    return _PROVIDED.get(m.group("name")) if m else None


def powertools_major(arn: str) -> int | None:
    """The major version of Powertools for AWS Lambda (Python) an AWS-published Powertools layer holds, or None."""
    m = _VERSION_ARN_RE.fullmatch(arn) if isinstance(arn, str) and len(arn) <= 2048 else None
    if not m or m.group("account") != POWERTOOLS_ACCOUNT:
        return None
    name = _POWERTOOLS_RE.fullmatch(m.group("name"))
    return int(name.group("major") or 1) if name else None


def layer_account(arn: str) -> str | None:
    m = _VERSION_ARN_RE.fullmatch(arn) if isinstance(arn, str) and len(arn) <= 2048 else None
    return m.group("account") if m else None


def check_function_layers(arns: list[str]) -> list[str]:
    """The shape of a function's Layers: at most 5 version ARNs, one version per layer."""
    if not isinstance(arns, (list, tuple)) or not all(isinstance(a, str) for a in arns):
        raise InvalidParameterValueException("Layers must be a list of layer version ARNs.")
    if len(arns) > limits.LAYERS_MAX:
        raise InvalidParameterValueException(f"Cannot reference more than {limits.LAYERS_MAX} layers.")
    seen: dict[str, str] = {}
    for arn in arns:
        name, _ = parse_layer_version_arn(arn)
        base = arn.rsplit(":", 1)[0]
        if base in seen:
            raise InvalidParameterValueException(
                f"Two different versions of the same layer are not allowed to be referenced in the same function. "
                f"{seen[base]} and {arn} are versions of the same layer." if seen[base] != arn else
                f"Layer version {arn} is referenced more than once.")
        seen[base] = arn
    return list(arns)


@dataclass(frozen=True)
class LayerVersion:
    """One published layer version: immutable once created."""

    name: str
    version: int
    code_hex: str
    code_size: int
    unzipped_size: int
    created_date: str
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None

    @property
    def code_sha256(self) -> str:
        return base64.b64encode(bytes.fromhex(self.code_hex)).decode()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LayerVersion":
        known = {f.name for f in dataclasses.fields(cls)}
        doc = {k: v for k, v in data.items() if k in known}
        doc["compatible_runtimes"] = tuple(doc.get("compatible_runtimes", ()))
        doc["compatible_architectures"] = tuple(doc.get("compatible_architectures", ()))
        return cls(**doc)

    def matches(self, runtime: str | None, architecture: str | None) -> bool:
        """ListLayers/ListLayerVersions filters: a filter given must be among the declared values."""
        return ((runtime is None or runtime in self.compatible_runtimes)
                and (architecture is None or architecture in self.compatible_architectures))

    def ref(self, arn: str) -> LayerRef:
        return LayerRef(arn, self.code_size, self.code_hex, self.unzipped_size)

    def list_item(self, layer_arn: str) -> dict[str, Any]:
        """AWS's ``LayerVersionsListItem``."""
        doc: dict[str, Any] = {
            "LayerVersionArn": f"{layer_arn}:{self.version}",
            "Version": self.version,
            "Description": self.description,
            "CreatedDate": self.created_date,
            "CompatibleRuntimes": list(self.compatible_runtimes),
            "CompatibleArchitectures": list(self.compatible_architectures),
        }
        if self.license_info is not None:
            doc["LicenseInfo"] = self.license_info
        return doc

    def to_aws(self, layer_arn: str, location: str) -> dict[str, Any]:
        """AWS's ``GetLayerVersionResponse`` / ``PublishLayerVersionResponse``."""
        doc = self.list_item(layer_arn)
        return {
            "Content": {"Location": location, "CodeSha256": self.code_sha256, "CodeSize": self.code_size},
            "LayerArn": layer_arn,
            **doc,
        }
