"""ECR's operations Cumulo serves, as IAM sees them (Service Authorization Reference, "Amazon Elastic
Container Registry"): DescribeRepositories acts on each repository it names,
``arn:…:ecr:<region>:<account>:repository/<name>``, or on ``*`` when it names none."""

from __future__ import annotations

from cumulo.api.authz.base import Call, Check, Mapper, Scope, register

__all__ = ["OPERATIONS"]


def describe_repositories(call: Call, scope: Scope) -> tuple[Check, ...]:
    names = [n for n in call.doc.get("repositoryNames") or [] if isinstance(n, str)]
    if not names:
        return (Check("ecr:DescribeRepositories", "*"),)
    return tuple(Check("ecr:DescribeRepositories", scope.arn("ecr", f"repository/{n}")) for n in names)


OPERATIONS: dict[str, Mapper] = {"DescribeRepositories": describe_repositories}

register("ecr", OPERATIONS)
