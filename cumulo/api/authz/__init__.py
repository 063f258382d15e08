"""What each operation asks IAM: a request mapped to its actions, resources and condition keys.

Pure (no I/O, no clock, no imports beyond the standard library and this package): enforcement
(``api/authorize.py``) builds the ``Call`` from a request and decides each ``Check`` with
``cumulo.iam``. One module per service registers its operations in ``MAPPINGS``, keyed by
(botocore's service name, operation name), so that a test can hold the table against every
operation the routers serve. Names follow AWS's Service Authorization Reference: the action an
operation is authorized as (``SendMessageBatch`` is ``sqs:SendMessage``), the resource ARN it acts
on (a qualified function ARN for an Invoke with a qualifier; ``*`` where AWS has no resource type)
and the service's condition keys the request carries (``lambda:FunctionArn``, ``events:source``).

Global keys (``aws:SourceIp``, ``aws:SecureTransport``, ``aws:CurrentTime``, the principal's) are
the same for every operation and are added by enforcement, not here.
"""

from cumulo.api.authz import (  # noqa: F401  (they register)
    apigateway, cloudformation, cloudwatch, codedeploy, dynamodb, ecr, events, iam, kinesis, kms, lambda_, logs, s3,
    secretsmanager, sns, sqs, ssm, states, xray,
)
from cumulo.api.authz.base import MAPPINGS, Call, Check, Mapper, Scope, UnmappedOperation, checks, is_arn

__all__ = ["Scope", "Call", "Check", "Mapper", "MAPPINGS", "checks", "is_arn", "UnmappedOperation"]
