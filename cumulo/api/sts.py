"""AWS STS on the control plane's endpoint (query protocol, ``api/query.py``): GetCallerIdentity,
AssumeRole, GetSessionToken. The rules live in ``identity/service.py``; here the wire."""

from __future__ import annotations

from typing import Any

from cumulo.api import query
from cumulo.api.http import Request
from cumulo.iam.tokens import Session
from cumulo.identity.names import timestamp

__all__ = ["SERVICE"]


def _caller(c: Any, r: Request) -> tuple[Any, str | None, str]:
    """(the caller as IAM sees it, its role's ARN, its access key id)."""
    p = r.principal
    arn = p.arn if p is not None and p.arn else c.identity.root_arn
    role_arn = p.role_arn if p is not None else None
    return c.identity.principal(arn, role_arn, p.session_name if p is not None else None), role_arn, \
        p.access_key_id if p is not None else ""


def _credentials(session: Session) -> dict[str, Any]:
    return {"AccessKeyId": session.key_id, "SecretAccessKey": session.secret, "SessionToken": session.token,
            "Expiration": timestamp(session.expires)}


def get_caller_identity(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    caller, role_arn, _ = _caller(c, r)
    return {"UserId": c.identity.user_id(role_arn, r.principal.session_name if r.principal else None),
            "Account": caller.account, "Arn": caller.arn}


def assume_role(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    caller, role_arn, _ = _caller(c, r)
    session = c.identity.assume_role(caller, role_arn, p.get("RoleArn"), p.get("RoleSessionName"),
                                     p.get("DurationSeconds"))
    return {"Credentials": _credentials(session),
            "AssumedRoleUser": {"AssumedRoleId": c.identity.user_id(session.role_arn, session.session_name),
                                "Arn": session.arn}}


def get_session_token(c: Any, r: Request, p: dict[str, str]) -> dict[str, Any]:
    caller, _, key_id = _caller(c, r)
    return {"Credentials": _credentials(c.identity.session_token(caller, key_id, p.get("DurationSeconds")))}


SERVICE = query.Service("sts", "2011-06-15", "https://sts.amazonaws.com/doc/2011-06-15/", {
    "GetCallerIdentity": get_caller_identity,
    "AssumeRole": assume_role,
    "GetSessionToken": get_session_token,
})
query.register(SERVICE)
