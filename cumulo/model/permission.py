"""A function's resource-based policy statement, as Lambda's AddPermission writes it (pure).

https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html: the request's members are
checked against their patterns (``ValidationException``), then turned into one statement:
``Principal`` a service (``events.amazonaws.com`` → ``{"Service": …}``), an account id (→
``{"AWS": "arn:aws:iam::<id>:root"}``), an ARN (→ ``{"AWS": <arn>}``) or ``*``; ``Resource`` the
function's ARN, qualified by the request's qualifier; the conditions AWS adds for ``SourceArn``
(``ArnLike AWS:SourceArn``), ``SourceAccount`` (``StringEquals AWS:SourceAccount``),
``PrincipalOrgID``, ``EventSourceToken`` and ``FunctionUrlAuthType``.
"""

from __future__ import annotations

import re
from typing import Any

from cumulo.errors import ValidationException

__all__ = ["permission_statement", "policy_document"]

_SID = re.compile(r"[a-zA-Z0-9\-_]{1,100}")
_ACTION = re.compile(r"(lambda:[*]|lambda:[a-zA-Z]+|[*])")
_PRINCIPAL = re.compile(r"[^\s]+")
_SOURCE_ARN = re.compile(r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)",
                         re.DOTALL)
_ACCOUNT = re.compile(r"\d{12}")
_ORG = re.compile(r"o-[a-z0-9]{10,32}")
_TOKEN = re.compile(r"[a-zA-Z0-9._\-]{0,256}")


def _constraint(value: object, member: str, constraint: str) -> ValidationException:
    return ValidationException(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                               f"constraint: {constraint}")


def _check(value: Any, member: str, pattern: re.Pattern[str], shown: str, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise _constraint(None, member, "Member must not be null")
        return None
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise _constraint(value, member, f"Member must satisfy regular expression pattern: {shown}")
    return value


def permission_statement(function_arn: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The statement AddPermission's body ``doc`` adds to the policy of ``function_arn`` (qualified or not)."""
    sid = _check(doc.get("StatementId"), "statementId", _SID, "([a-zA-Z0-9-_]+)", required=True)
    action = _check(doc.get("Action"), "action", _ACTION, "(lambda:[*]|lambda:[a-zA-Z]+|[*])", required=True)
    principal = _check(doc.get("Principal"), "principal", _PRINCIPAL, "[^\\s]+", required=True)
    source_arn = _check(doc.get("SourceArn"), "sourceArn", _SOURCE_ARN,
                        "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)")
    source_account = _check(doc.get("SourceAccount"), "sourceAccount", _ACCOUNT, "\\d{12}")
    org = _check(doc.get("PrincipalOrgID"), "principalOrgID", _ORG, "^o-[a-z0-9]{10,32}$")
    token = _check(doc.get("EventSourceToken"), "eventSourceToken", _TOKEN, "[a-zA-Z0-9._\\-]+")
    url_auth = doc.get("FunctionUrlAuthType")
    if url_auth is not None and url_auth not in ("NONE", "AWS_IAM"):
        raise _constraint(url_auth, "functionUrlAuthType", "Member must satisfy enum value set: [NONE, AWS_IAM]")
    assert sid is not None and action is not None and principal is not None
    who: Any
    if principal == "*":
        who = "*"
    elif _ACCOUNT.fullmatch(principal):
        who = {"AWS": f"arn:{function_arn.split(':')[1]}:iam::{principal}:root"}
    elif principal.startswith("arn:"):
        who = {"AWS": principal}
    else:
        who = {"Service": principal}
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Principal": who, "Action": action,
                                 "Resource": function_arn}
    condition: dict[str, dict[str, str]] = {}
    if source_account is not None:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = source_account
    if org is not None:
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = org
    if token is not None:
        condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = token
    if url_auth is not None:
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = url_auth
    if source_arn is not None:
        condition["ArnLike"] = {"AWS:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return statement


def policy_document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """The policy GetPolicy answers (as JSON text) for these statements."""
    return {"Version": "2012-10-17", "Id": "default", "Statement": statements}
