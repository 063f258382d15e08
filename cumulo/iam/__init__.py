"""Identity and access: IAM's policy language, as a pure library (no I/O, no state).

Read and check a policy as IAM does, then decide requests with it::

    from cumulo.iam import Principal, PolicySet, Request, evaluate, managed_policy, parse_policy

    role = PolicySet([managed_policy("AWSLambdaBasicExecutionRole").policy,
                      parse_policy(inline_document, name="SendToOrders")])
    me = Principal.assumed_role("123456789012", "MyRole", "my-fn")
    decision = evaluate(Request(me, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:orders"), role)
    if not decision:
        raise AccessDenied(decision.message)    # AWS's "User: … is not authorized to perform: …"

* ``parse_policy`` (``policy.py``): identity, resource and trust policies; IAM's
  ``MalformedPolicyDocument`` messages; size quotas (``check_*_size``, ``LimitExceeded``).
* ``evaluate`` (``evaluate.py``): explicit deny, allow needed, identity and resource policies of
  one account; ``Decision.message`` is AWS's access denied message.
* condition operators and policy variables (``conditions.py``, ``patterns.py``).
* AWS managed policies by name or ARN (``managed.py``), SAM's ``Policies`` and policy templates
  (``sam.py``).
"""

from cumulo.iam.errors import LimitExceeded, MalformedPolicyDocument
from cumulo.iam.evaluate import Decision, PolicySet, Principal, Request, evaluate, evaluate_timeless
from cumulo.iam.managed import ManagedPolicy, aws_managed_arn, is_aws_managed_arn, managed_policy, managed_policy_names
from cumulo.iam.policy import (
    INLINE_SIZE,
    MANAGED_SIZE,
    TRUST_SIZE,
    Policy,
    PolicyKind,
    Statement,
    check_inline_size,
    check_managed_size,
    check_trust_size,
    parse_policy,
    policy_size,
)
from cumulo.iam.sam import (
    RolePolicy,
    SamPolicyError,
    SamRole,
    expand_policy_template,
    expand_sam_policies,
    function_role,
    policy_template_names,
    sam_policy_documents,
    state_machine_role,
)

__all__ = [
    # policies
    "parse_policy", "Policy", "PolicyKind", "Statement", "MalformedPolicyDocument", "LimitExceeded",
    "policy_size", "check_managed_size", "check_inline_size", "check_trust_size",
    "INLINE_SIZE", "MANAGED_SIZE", "TRUST_SIZE",
    # decisions
    "evaluate", "evaluate_timeless", "Principal", "Request", "Decision", "PolicySet",
    # AWS managed policies
    "managed_policy", "managed_policy_names", "aws_managed_arn", "is_aws_managed_arn", "ManagedPolicy",
    # SAM
    "sam_policy_documents", "expand_sam_policies", "expand_policy_template", "policy_template_names",
    "function_role", "state_machine_role", "RolePolicy", "SamRole", "SamPolicyError",
]
