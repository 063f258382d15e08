"""Aliases: a name for one version, optionally routing a share of calls to a second one."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from cumulo.errors import InvalidParameterValueException, ValidationException
from cumulo.model.function import LATEST, Arns, is_version_number

__all__ = ["Alias", "validate_alias_name", "validate_routing"]

_ALIAS_RE = re.compile(r"^(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}$")


def validate_alias_name(name: str) -> str:
    if not isinstance(name, str) or not _ALIAS_RE.fullmatch(name) or name == LATEST:
        raise ValidationException(
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
    return name


def validate_routing(primary: str, weights: dict[str, float]) -> dict[str, float]:
    """AWS allows one additional version, weight in [0, 1], both versions published."""
    if not isinstance(weights, dict):
        raise InvalidParameterValueException("AdditionalVersionWeights must be a map of version to weight.")
    if len(weights) > 1:
        raise InvalidParameterValueException("Number of items in AdditionalVersionWeights cannot be greater than 1")
    for version, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
            raise ValidationException(
                f"1 validation error detected: Value '{weight}' at 'routingConfig.additionalVersionWeights' failed "
                "to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or "
                "equal to 1.0, Member must have value greater than or equal to 0.0]")
        if version == primary:
            raise InvalidParameterValueException(
                "Invalid function version '%s'. The routing version cannot be the same as the primary version." % version)
        if primary == LATEST or version == LATEST or not is_version_number(str(version)):
            raise InvalidParameterValueException("$LATEST is not supported for an alias pointing to more than 1 version")
    return {str(k): float(v) for k, v in weights.items()}


@dataclass(frozen=True)
class Alias:
    function: str
    name: str
    function_version: str
    description: str = ""
    weights: dict[str, float] = field(default_factory=dict)
    revision_id: str = ""

    def pick_version(self, rng: random.Random | None = None) -> str:
        """The version one invocation runs: the additional one with its weight's probability."""
        for version, weight in self.weights.items():
            if (rng or random).random() < weight:
                return version
        return self.function_version

    def to_aws(self, arns: Arns) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "AliasArn": arns.function(self.function, self.name),
            "Name": self.name,
            "FunctionVersion": self.function_version,
            "Description": self.description,
            "RevisionId": self.revision_id,
        }
        if self.weights:
            doc["RoutingConfig"] = {"AdditionalVersionWeights": dict(self.weights)}
        return doc
