"""Amazon ECR on the control plane's endpoint (JSON 1.1, ``AmazonEC2ContainerRegistry_V20150921``):
DescribeRepositories only, answered as a registry that holds no repositories. Cumulo runs functions
from zip packages and layers (``PackageType: Image`` is refused) and keeps no container images, and
a template's ``AWS::ECR::Repository`` is accepted with a warning and makes none
(``deploy/kinds/inert.py``). Deploy tools ask before they clean up: the Serverless Framework's
``serverless remove`` looks for its image repository and goes on when ECR answers that there is none.
"""

from __future__ import annotations

from typing import Any

from cumulo.api.awsjson import Service, register
from cumulo.api.http import Request
from cumulo.errors import CumuloError

__all__ = ["SERVICE"]


class RepositoryNotFoundException(CumuloError):
    status = 400
    code = "RepositoryNotFoundException"


def describe_repositories(c: Any, r: Request, d: dict[str, Any]) -> Any:
    names = d.get("repositoryNames") or []
    if names:
        registry = d.get("registryId") or c.arns.account
        raise RepositoryNotFoundException(f"The repository with name '{names[0]}' does not exist in the registry "
                                          f"with id '{registry}'")
    return {"repositories": []}


SERVICE = Service("AmazonEC2ContainerRegistry_V20150921", "com.amazonaws.ecr", "application/x-amz-json-1.1", {
    "DescribeRepositories": describe_repositories,
}, model="ecr")
register(SERVICE)
