"""Authorization at the control plane's edge: a signed request's caller against IAM's policies.

After the signature verified (``sigv4``: the request's ``principal``), before the operation runs:

* the owner's keys (no role: ``principal.role_arn`` is None) pass, as an account's root user does;
* a role session's request is mapped to what IAM is asked (``api/authz``: actions, resources,
  condition keys) and each ``Check`` is decided by ``cumulo.iam.evaluate`` against the role's
  policies (``RolePolicies``) and the resource's own policy if it has one (``ResourcePolicies``:
  a function's permissions, a queue's ``Policy``, a bus's policy, a KMS key's policy). Same account:
  an Allow in either is enough, an explicit Deny anywhere wins; a KMS key's policy must allow, its
  statement naming the account handing the decision to the role's policies, as KMS decides. Every
  check must pass; the first denied one answers.

The global condition keys every request carries: ``aws:PrincipalArn``, ``aws:PrincipalAccount``,
``aws:PrincipalType``, ``aws:userid`` (from the session), ``aws:SourceIp`` (the client's address),
``aws:SecureTransport`` (true only for a client on this machine: ``on_this_machine``), ``aws:CurrentTime`` and
``aws:EpochTime`` (read only when a policy asks).

``Settings.iam`` chooses: ``enforce`` (the default) answers a denial with ``AccessDeniedException``
and AWS's message; ``audit`` lets the request through and logs the message it would have answered
(logger ``cumulo.iam``); ``off`` skips all of this.

Two more kinds of caller, both S3's:

* an **anonymous** request (unsigned, admitted by the gate only because the bucket's policy allows
  everyone something: ``api/gate.py``) is decided by the bucket's policy alone, with no identity
  policies, whatever ``Settings.iam`` says (audit and off never open a door to unsigned callers);
  a denial is S3's plain "Access Denied";
* the **owner's keys** (the account's root) are held to an explicit ``Deny`` in a bucket's policy,
  as on AWS, except for GetBucketPolicy, PutBucketPolicy and DeleteBucketPolicy, which S3 lets the
  root user do whatever the policy says so that an owner can never lock itself out
  (``owner_refusal``; not under ``off``).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from typing import Any, Mapping, Protocol

from cumulo import iam
from cumulo.api import authz
from cumulo.api.sigv4 import ANONYMOUS_ARN, Principal as Signer
from cumulo.errors import CumuloError

__all__ = ["AccessDeniedException", "Authorizer", "RolePolicies", "ResourcePolicies", "MODES", "caller",
           "require_decrypt"]

log = logging.getLogger("cumulo.iam")
MODES = ("enforce", "audit", "off")
_NONE = iam.PolicySet()
# what S3 lets an account's root user do whatever its bucket's policy says
_ROOT_ALWAYS = frozenset({"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"})



@functools.lru_cache(maxsize=1024)     # a client's address, from its socket: parsing it was a third of a decision
def on_this_machine(client: str) -> bool:
    """``aws:SecureTransport`` for a request from ``client`` (its address; '' for one made inside the
    platform). The endpoint speaks plain HTTP, which is insecure transport where it crosses a
    network; a request from a loopback address (a local client, a function through its sandbox's
    door) never leaves this machine's kernel, so it counts as secure, as TLS would make it: the common
    "deny insecure transport" statement of templates denies remote plain-HTTP clients only."""
    if not client:
        return True
    try:
        return ipaddress.ip_address(client.split("%", 1)[0]).is_loopback
    except ValueError:
        return False

class AccessDeniedException(CumuloError):
    """A request its caller's policies do not allow (AWS's message says which and why)."""

    status = 403
    code = "AccessDenied"      # SQS's code (x-amzn-query-error), what boto3 reports as Error.Code there


class RolePolicies(Protocol):
    """A role's identity-based policies (inline and attached), kept parsed and indexed."""

    def policies_for(self, role_arn: str) -> iam.PolicySet: ...


class ResourcePolicies(Protocol):
    """The policy attached to a resource (a function, a queue, a bus), or None; and the condition
    keys a resource itself carries (``secretsmanager:resource/AllowRotationLambdaArn``)."""

    def resource_policy(self, arn: str) -> iam.Policy | None: ...

    def resource_context(self, arn: str) -> Mapping[str, str]: ...

    def grant_allows(self, callers: tuple[str, ...], action: str, resource: str, context: Mapping[str, Any]) -> bool:
        """Whether a KMS grant on the key ``resource`` names lets one of ``callers`` do ``action``
        (the request's condition keys hold its encryption context)."""


class Authorizer:
    """Decides requests of role sessions; ``mode`` is one of ``MODES``."""

    __slots__ = ("mode", "scope", "roles", "resources", "_callers", "_allowed")

    def __init__(self, mode: str, scope: authz.Scope, roles: RolePolicies, resources: ResourcePolicies) -> None:
        if mode not in MODES:
            raise ValueError(f"iam must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode, self.scope, self.roles, self.resources = mode, scope, roles, resources
        self._callers: dict[tuple[str, str, str], iam.Principal] = {}
        # Allows already decided: (caller, action, resource, client, condition keys) -> the identity
        # policies and the resource policy they were decided with. A hit counts only while both are
        # the very objects the caches answer now: a policy's change, a role's deletion, a grant or
        # permission removed gives new ones (``policies_for``, ``resource_policy``), so the next
        # request is decided afresh. Denials and decisions that read the clock are never kept.
        self._allowed: dict[tuple[Any, ...], tuple[iam.PolicySet, iam.Policy | None]] = {}

    def needed(self, signer: Signer | None) -> bool:
        """Whether a request signed by ``signer`` is decided at all (not for owner keys, nor when off;
        always for an anonymous one)."""
        if signer is not None and signer.arn == ANONYMOUS_ARN:
            return True
        return self.mode != "off" and signer is not None and signer.role_arn is not None

    def authorize(self, signer: Signer, call: authz.Call, client: str = "") -> None:
        """Raise ``AccessDeniedException`` (enforce) or log (audit) when ``call`` is not allowed."""
        decision = self.decide(signer, call, client)
        if decision is None:
            return
        if signer.arn == ANONYMOUS_ARN:
            raise AccessDeniedException("Access Denied")
        if self.mode == "audit":
            log.warning("IAM audit: would deny %s.%s: %s", call.service, call.operation, decision.message)
            return
        raise AccessDeniedException(decision.message)

    def owner_refusal(self, signer: Signer, call: authz.Call, client: str = "") -> None:
        """The owner's keys on S3: an explicit Deny of the bucket's policy applies to the account's
        root as on AWS (its own identity allows everything else), except the bucket-policy operations
        themselves. Raise ``AccessDeniedException`` (enforce) or log (audit)."""
        if self.mode == "off":
            return
        principal = self.caller(signer)
        for check in authz.checks(call, self.scope):
            if check.resource == "*" or check.action.lower() in _ROOT_ALWAYS:
                continue
            resource = self.resources.resource_policy(check.resource)
            if resource is None:
                continue
            request = iam.Request(principal, check.action, check.resource, check.context,
                                  source_ip=client or None, secure_transport=on_this_machine(client))
            decision = iam.evaluate(request, _NONE, resource)
            if not decision:
                if self.mode == "audit":
                    log.warning("IAM audit: would deny %s.%s: %s", call.service, call.operation, decision.message)
                    return
                raise AccessDeniedException(decision.message)

    def decide(self, signer: Signer, call: authz.Call, client: str = "") -> iam.Decision | None:
        """The first denied check's decision, or None when everything ``call`` needs is allowed."""
        principal = self.caller(signer)
        policies = _NONE if signer.arn == ANONYMOUS_ARN else self.roles.policies_for(signer.role_arn or "")
        who = (signer.arn, signer.role_arn or "", signer.session_name or "")
        for check in authz.checks(call, self.scope):
            context = check.context
            if check.resource != "*":
                held = self.resources.resource_context(check.resource)
                if held:
                    context = {**held, **context}
            resource = self.resources.resource_policy(check.resource) if check.resource != "*" else None
            key = _decision_key(who, check.action, check.resource, client, context)
            if key is not None:
                kept = self._allowed.get(key)
                if kept is not None and kept[0] is policies and kept[1] is resource:
                    continue
            request = iam.Request(principal, check.action, check.resource, context,
                                  source_ip=client or None, secure_transport=on_this_machine(client))
            decision, timeless = iam.evaluate_timeless(request, policies, resource, _is_key(check.resource, resource))
            if not decision:
                if not self._granted(decision, principal, check.action, check.resource, context):
                    return decision
            elif timeless and key is not None:
                if len(self._allowed) >= 4096:
                    self._allowed.clear()
                self._allowed[key] = (policies, resource)
        return None

    def _granted(self, decision: iam.Decision, principal: iam.Principal, action: str, resource: str,
                 context: Mapping[str, Any]) -> bool:
        """KMS's grants, evaluated with the key policy and IAM as KMS does: a grant allows what the
        policies leave undecided; an explicit Deny in either still wins."""
        if decision.reason != "implicit deny" or not action.startswith("kms:") or ":kms:" not in resource:
            return False
        callers = tuple(a for a in (principal.arn, principal.principal_arn) if a)
        return self.resources.grant_allows(callers, action, resource, context)

    def refusal(self, signer: Signer, action: str, resource: str, context: dict[str, str],
                client: str = "") -> str | None:
        """AWS's denial message when a role session may not do ``action`` on ``resource`` (enforce), else None:
        for requests outside the API's operations (a function URL's ``lambda:InvokeFunctionUrl``)."""
        if not self.needed(signer):
            return None
        principal = self.caller(signer)
        merged = {**self.resources.resource_context(resource), **context}
        request = iam.Request(principal, action, resource, merged, source_ip=client or None, secure_transport=on_this_machine(client))
        policy = self.resources.resource_policy(resource)
        decision = iam.evaluate(request, self.roles.policies_for(signer.role_arn or ""), policy,
                                _is_key(resource, policy))
        if decision or self._granted(decision, principal, action, resource, merged):
            return None
        if self.mode == "audit":
            log.warning("IAM audit: would deny %s: %s", action, decision.message)
            return None
        return decision.message

    def caller(self, signer: Signer) -> iam.Principal:
        key = (signer.arn, signer.role_arn or "", signer.session_name or "")
        found = self._callers.get(key)
        if found is None:
            found = caller(signer, self.scope.account)
            if len(self._callers) >= 4096:
                self._callers.clear()
            self._callers[key] = found
        return found


def _decision_key(who: tuple[str, str, str], action: str, resource: str, client: str,
                  context: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """What an Allow of ``Authorizer.decide`` depends on besides the policies; None when a condition
    key's value cannot be a key (a list: such a decision is not kept)."""
    key = (who, action, resource, client, tuple(sorted(context.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _is_key(resource: str, policy: iam.Policy | None) -> bool:
    """Whether ``policy`` is a KMS key's (a key's or an alias's ARN): it must allow, as KMS decides."""
    return policy is not None and resource.startswith("arn:") and resource.split(":", 3)[2:3] == ["kms"]


def caller(signer: Signer, account: str) -> iam.Principal:
    """IAM's view of who signed: a role session (``assumed-role/<role>/<session>``), the account's
    root, or nobody (an anonymous request)."""
    if signer.arn == ANONYMOUS_ARN:
        return iam.Principal.anonymous()
    if signer.role_arn is None:
        return iam.Principal.root(signer.account or account)
    head, _, path_and_name = signer.role_arn.partition(":role/")
    role_account = head.rsplit(":", 1)[-1] or account
    path, _, name = ("/" + path_and_name).rpartition("/")
    return iam.Principal.assumed_role(role_account, name, signer.session_name or "", path=path + "/",
                                      partition=head.split(":")[1] if head.count(":") >= 4 else "aws")



def require_decrypt(c: Any, signer: Signer | None, key_ref: Any, service: str) -> None:
    """``kms:Decrypt`` on a customer key that keeps a value a service answers decrypted (a
    ``SecureString`` read ``WithDecryption``, a secret's value): as on AWS the caller needs it, with
    ``kms:ViaService`` ``<service>.<region>.amazonaws.com``, the key's policy deciding with the
    role's. AWS-managed keys (``alias/aws/…``, or none named) need nothing: their policies let the
    account use them through their service. A KeyId naming no key Cumulo keeps is not checked
    (values are sealed with the store's key whatever they name)."""
    if not isinstance(key_ref, str) or not key_ref or key_ref.startswith("alias/aws/") or ":alias/aws/" in key_ref:
        return
    authorizer = Authorizer(c.settings.iam, authz.Scope(c.arns.account, c.arns.region), c, c)
    if signer is None or not authorizer.needed(signer):
        return
    try:
        arn = c.kms.describe_key(key_ref)["Arn"]
    except CumuloError:
        return
    refused = authorizer.refusal(signer, "kms:Decrypt", arn,
                                 {"kms:ViaService": f"{service}.{c.arns.region}.amazonaws.com"})
    if refused:
        raise AccessDeniedException(refused)


LOCKOUT_MESSAGE = "The new key policy will not allow you to update the key policy in the future."


def require_no_lockout(c: Any, signer: Signer | None, key_arn: str, policy_text: str) -> None:
    """KMS's key policy lockout safety check (CreateKey's and PutKeyPolicy's
    ``BypassPolicyLockoutSafetyCheck`` false): the new policy, with the caller's own policies, must
    still let the caller ``kms:PutKeyPolicy`` on the key, decided as KMS decides a request (the key
    policy must allow; a statement naming the account hands over to IAM); otherwise
    ``MalformedPolicyDocumentException`` with AWS's message. The owner's keys are the account's root,
    which the policy must name (or ``*``) as on AWS. Not made when ``Settings.iam`` is ``off``."""
    from cumulo.kms.service import KmsError

    if signer is None or c.settings.iam == "off":
        return
    principal = caller(signer, c.arns.account)
    policies: Any = c.policies_for(signer.role_arn) if signer.role_arn else ()
    request = iam.Request(principal, "kms:PutKeyPolicy", key_arn, {}, secure_transport=False)
    if not iam.evaluate(request, policies, iam.parse_policy(policy_text, "resource"), True):
        raise KmsError("MalformedPolicyDocumentException", LOCKOUT_MESSAGE)


def grant_issuer(c: Any, signer: Signer | None, key_ref: Any) -> Any:
    """For CreateGrant: None when the caller's policies (the key's with IAM) allow ``kms:CreateGrant``
    themselves; otherwise its permission came from grants giving ``CreateGrant``, and the answer is
    a check that a new grant fits in one of them (its operations among that grant's, its
    constraints at least as strict), as KMS limits grants made through a grant."""
    from cumulo.kms import grants as gr

    authorizer = Authorizer(c.settings.iam, authz.Scope(c.arns.account, c.arns.region), c, c)
    if signer is None or not authorizer.needed(signer) or not isinstance(key_ref, str):
        return None
    try:
        arn = c.kms.describe_key(key_ref)["Arn"]
    except CumuloError:
        return None
    principal = authorizer.caller(signer)
    policy = c.resource_policy(arn)
    request = iam.Request(principal, "kms:CreateGrant", arn, {}, secure_transport=False)
    if iam.evaluate(request, c.policies_for(signer.role_arn or ""), policy, _is_key(arn, policy)):
        return None
    callers = tuple(a for a in (principal.arn, principal.principal_arn) if a)
    parents = [g for g in c.kms.grants_of(callers, arn) if "CreateGrant" in g["Operations"]]

    def allows(operations: list[str], constraints: dict[str, Any]) -> bool:
        return any(set(operations) <= set(p["Operations"]) and gr.as_strict(constraints, p.get("Constraints") or {})
                   for p in parents)
    return allows


def require_may_retire(c: Any, signer: Signer | None, grant: dict[str, Any]) -> None:
    """RetireGrant, decided by the grant as KMS decides it (no policy can give it): the account that
    made it (the owner's keys), its retiring principal, or its grantee when it allows ``RetireGrant``."""
    authorizer = Authorizer(c.settings.iam, authz.Scope(c.arns.account, c.arns.region), c, c)
    if signer is None or not authorizer.needed(signer):
        return
    principal = authorizer.caller(signer)
    callers = {a for a in (principal.arn, principal.principal_arn) if a}
    if grant.get("RetiringPrincipal") in callers or \
            (grant["GranteePrincipal"] in callers and "RetireGrant" in grant["Operations"]):
        return
    message = (f"User: {principal.arn} is not authorized to perform: kms:RetireGrant on this grant because it is "
               "neither the grant's retiring principal nor a grantee the grant allows to retire it")
    if authorizer.mode == "audit":
        log.warning("IAM audit: would deny kms:RetireGrant: %s", message)
        return
    raise AccessDeniedException(message)
