"""``cumulo iam``: roles and their policies, as IAM's API keeps them (``identity/``).

They work on the store directly, with or without a running server; a server sees the change within
0.1 s. Policy documents are given inline (JSON) or as ``@file.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from cumulo.cli._common import aws_errors as _aws_errors, open_cumulo as _open, print_json

__all__ = ["iam"]

LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _document(text: str) -> str:
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise click.BadParameter(f"file not found: {path}")
        return path.read_text()
    return text


@click.group()
def iam() -> None:
    """Roles, their inline and attached policies (what functions' credentials may do)."""


@iam.command("create-role")
@click.argument("name")
@click.option("--trust", default=None, metavar="JSON|@FILE",
              help="The trust policy (default: Lambda may assume it, as an execution role).")
@click.option("--path", default=None, help="The role's path (default /).")
@click.option("--description", default=None)
@click.pass_context
@_aws_errors
def create_role(ctx: click.Context, name: str, trust: str | None, path: str | None, description: str | None) -> None:
    """Create role NAME; prints it as IAM's GetRole does."""
    print_json(_open(ctx).identity.roles.create_role(name, _document(trust) if trust else LAMBDA_TRUST, path,
                                                     description))


@iam.command("list-roles")
@click.pass_context
@_aws_errors
def list_roles(ctx: click.Context) -> None:
    """List roles with their ARNs."""
    for role in _open(ctx).identity.roles.list_roles():
        click.echo(f"{role['RoleName']}  {role['Arn']}")


@iam.command("get-role")
@click.argument("name")
@click.pass_context
@_aws_errors
def get_role(ctx: click.Context, name: str) -> None:
    """Show role NAME, its inline policies' names and its attached policies' ARNs."""
    roles = _open(ctx).identity.roles
    print_json({**roles.get_role(name), "InlinePolicies": roles.list_role_policies(name),
                "AttachedPolicies": [arn for _, arn in roles.list_attached_role_policies(name)]})


@iam.command("delete-role")
@click.argument("name")
@click.pass_context
@_aws_errors
def delete_role(ctx: click.Context, name: str) -> None:
    """Delete role NAME (its policies first: as IAM, a role with policies is not deleted)."""
    _open(ctx).identity.roles.delete_role(name)


@iam.command("put-role-policy")
@click.argument("role")
@click.argument("policy_name")
@click.argument("document", metavar="JSON|@FILE")
@click.pass_context
@_aws_errors
def put_role_policy(ctx: click.Context, role: str, policy_name: str, document: str) -> None:
    """Set ROLE's inline policy POLICY_NAME."""
    _open(ctx).identity.roles.put_role_policy(role, policy_name, _document(document))


@iam.command("delete-role-policy")
@click.argument("role")
@click.argument("policy_name")
@click.pass_context
@_aws_errors
def delete_role_policy(ctx: click.Context, role: str, policy_name: str) -> None:
    """Delete ROLE's inline policy POLICY_NAME."""
    _open(ctx).identity.roles.delete_role_policy(role, policy_name)


@iam.command("attach-role-policy")
@click.argument("role")
@click.argument("policy", metavar="NAME|ARN")
@click.pass_context
@_aws_errors
def attach_role_policy(ctx: click.Context, role: str, policy: str) -> None:
    """Attach a managed policy to ROLE: an ARN, or the name of one of AWS's (AmazonSQSFullAccess)."""
    _open(ctx).identity.roles.attach_role_policy(role, _policy_arn(policy))


@iam.command("detach-role-policy")
@click.argument("role")
@click.argument("policy", metavar="NAME|ARN")
@click.pass_context
@_aws_errors
def detach_role_policy(ctx: click.Context, role: str, policy: str) -> None:
    """Detach a managed policy from ROLE."""
    _open(ctx).identity.roles.detach_role_policy(role, _policy_arn(policy))


@iam.command("list-policies")
@click.option("--scope", type=click.Choice(["All", "AWS", "Local"]), default="All")
@click.pass_context
@_aws_errors
def list_policies(ctx: click.Context, scope: str) -> None:
    """List managed policies: AWS's and the account's own."""
    for policy in _open(ctx).identity.policies.list_policies(scope):
        click.echo(f"{policy['PolicyName']}  {policy['Arn']}  attached={policy['AttachmentCount']}")


def _policy_arn(policy: str) -> str:
    from cumulo.iam import aws_managed_arn

    return policy if policy.startswith("arn:") else aws_managed_arn(policy) or policy
