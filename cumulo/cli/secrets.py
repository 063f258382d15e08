"""``cumulo secrets`` and ``cumulo params``: Secrets Manager's secrets and Parameter Store's
parameters, on the store directly (with or without a running server).

Nothing secret is printed unless asked: ``secrets get`` shows a version's metadata and prints the
value only with ``--reveal``; ``params get`` prints a SecureString sealed unless ``--decrypt``;
listings and histories never show a SecureString's value. Values are read from a file or stdin
(``--from-file -``), so they stay out of the shell's history and the process list; ``--value`` is
there for what is not secret.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click

from cumulo.cli._common import aws_errors as _aws_errors, open_cumulo as _open, print_json

__all__ = ["secrets", "params"]


def _when(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return "-"
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_value(value: str | None, from_file: str | None, what: str = "--value") -> str | None:
    if value is not None and from_file is not None:
        raise click.UsageError(f"give {what} or --from-file, not both")
    if from_file is None:
        return value
    text = sys.stdin.read() if from_file == "-" else open(from_file, encoding="utf-8").read()
    return text[:-1] if text.endswith("\n") else text       # a file's last newline is not the value's


@click.group()
def secrets() -> None:
    """Secrets Manager: secrets, their versions and rotation (values never printed unless asked)."""


@secrets.command("create")
@click.argument("name")
@click.option("--from-file", default=None, metavar="PATH", help="Read the value from PATH ('-': stdin).")
@click.option("--generate", is_flag=True, help="A random password (GetRandomPassword's defaults) as the value.")
@click.option("--length", type=int, default=32, show_default=True, help="The generated password's length.")
@click.option("--description", default=None)
@click.option("--kms-key-id", default=None, help="A KMS key (its readers need kms:Decrypt on it).")
@click.pass_context
@_aws_errors
def secrets_create(ctx: click.Context, name: str, from_file: str | None, generate: bool, length: int,
                   description: str | None, kms_key_id: str | None) -> None:
    """Create a secret; prints its ARN and version (not its value)."""
    from cumulo.model.secrets import random_password

    if generate and from_file is not None:
        raise click.UsageError("give --generate or --from-file, not both")
    value = random_password(length) if generate else _read_value(None, from_file)
    made = _open(ctx).secrets.create_secret(name, value, None, description, kms_key_id)
    click.echo(f"{made['ARN']}  {made.get('VersionId', '(no value yet)')}")


@secrets.command("put")
@click.argument("name")
@click.option("--from-file", required=True, metavar="PATH", help="Read the value from PATH ('-': stdin).")
@click.option("--stage", "stages", multiple=True, help="Staging labels of the new version (default AWSCURRENT).")
@click.pass_context
@_aws_errors
def secrets_put(ctx: click.Context, name: str, from_file: str, stages: tuple[str, ...]) -> None:
    """A new version of a secret's value; prints its id and labels."""
    made = _open(ctx).secrets.put_secret_value(name, _read_value(None, from_file), None, list(stages) or None)
    click.echo(f"{made['VersionId']}  {','.join(made['VersionStages']) or '-'}")


@secrets.command("get")
@click.argument("name")
@click.option("--version-id", default=None)
@click.option("--stage", default=None, help="A staging label (default AWSCURRENT).")
@click.option("--reveal", is_flag=True, help="Print the value itself (only then is it printed).")
@click.pass_context
@_aws_errors
def secrets_get(ctx: click.Context, name: str, version_id: str | None, stage: str | None, reveal: bool) -> None:
    """A version's id, labels and size; its value only with --reveal."""
    found = _open(ctx).secrets.get_secret_value(name, version_id, stage)
    value = found.get("SecretString", found.get("SecretBinary"))
    if reveal:
        if isinstance(value, bytes):
            sys.stdout.buffer.write(value)
        else:
            click.echo(value)
        return
    size = len(value.encode() if isinstance(value, str) else value)
    click.echo(f"{found['VersionId']}  {','.join(found['VersionStages']) or '-'}  {size} bytes  "
               f"(--reveal prints it)")


@secrets.command("list")
@click.option("--all", "everything", is_flag=True, help="Those scheduled for deletion too.")
@click.pass_context
@_aws_errors
def secrets_list(ctx: click.Context, everything: bool) -> None:
    """Secrets: name, rotation, last change (no values)."""
    for s in _open(ctx).secrets.list_secrets(include_deleted=everything):
        rotation = f"rotates next {_when(s.get('NextRotationDate'))}" if s.get("RotationEnabled") else "no rotation"
        deleted = f"  deleted, gone {_when(s.get('DeletedDate'))}" if s.get("DeletedDate") else ""
        click.echo(f"{s['Name']}  {rotation}  changed {_when(s.get('LastChangedDate'))}{deleted}")


@secrets.command("describe")
@click.argument("name")
@click.pass_context
@_aws_errors
def secrets_describe(ctx: click.Context, name: str) -> None:
    """DescribeSecret's answer (no value), and why the last rotation failed, if it did."""
    c = _open(ctx)
    out = c.secrets.describe_secret(name)
    failure = c.secrets.last_rotation_failure(name)
    if failure is not None:
        out["CumuloLastRotationFailure"] = {**failure, "Date": _when(failure.get("Date"))}
    print_json(out)


@secrets.command("delete")
@click.argument("name")
@click.option("--recovery-days", type=int, default=None, help="7 to 30 (default 30).")
@click.option("--force", is_flag=True, help="At once, without a recovery window.")
@click.pass_context
@_aws_errors
def secrets_delete(ctx: click.Context, name: str, recovery_days: int | None, force: bool) -> None:
    """Delete a secret (restorable until its date unless --force)."""
    gone = _open(ctx).secrets.delete_secret(name, recovery_days, force or None)
    click.echo(f"{gone['ARN']}  deleted {'now' if force else 'on ' + _when(gone['DeletionDate'])}")


@secrets.command("restore")
@click.argument("name")
@click.pass_context
@_aws_errors
def secrets_restore(ctx: click.Context, name: str) -> None:
    """Cancel a secret's scheduled deletion."""
    click.echo(_open(ctx).secrets.restore_secret(name)["ARN"])


@secrets.command("rotate")
@click.argument("name")
@click.option("--function", "function_arn", default=None, help="The rotation function's ARN (kept once given).")
@click.option("--every-days", type=int, default=None, help="AutomaticallyAfterDays.")
@click.option("--schedule", default=None, help="A ScheduleExpression: rate(N hours|days) or cron(...).")
@click.option("--duration", default=None, help="The rotation window, e.g. 2h.")
@click.option("--later", is_flag=True, help="Do not rotate now; wait for the schedule (RotateImmediately false).")
@click.pass_context
@_aws_errors
def secrets_rotate(ctx: click.Context, name: str, function_arn: str | None, every_days: int | None,
                   schedule: str | None, duration: str | None, later: bool) -> None:
    """Set a secret's rotation and start one (RotateSecret). Outside a server the running server's
    worker starts it within a second."""
    rules: dict[str, Any] = {}
    if every_days is not None:
        rules["AutomaticallyAfterDays"] = every_days
    if schedule is not None:
        rules["ScheduleExpression"] = schedule
    if duration is not None:
        rules["Duration"] = duration
    c = _open(ctx)
    c.secrets.rotate_secret(name, function_arn, rules or None, not later, run_here=bool(c.endpoint_url))
    d = c.secrets.describe_secret(name)
    click.echo(f"{d['ARN']}  rotation {'due now' if not later else 'next ' + _when(d.get('NextRotationDate'))}")


@secrets.command("cancel-rotation")
@click.argument("name")
@click.pass_context
@_aws_errors
def secrets_cancel_rotation(ctx: click.Context, name: str) -> None:
    """Turn a secret's rotation off (CancelRotateSecret)."""
    click.echo(_open(ctx).secrets.cancel_rotate_secret(name)["ARN"])


@click.group()
def params() -> None:
    """Parameter Store: parameters and their versions (SecureString values printed only when asked)."""


@params.command("put")
@click.argument("name")
@click.option("--value", default=None, help="The value (use --from-file for a secret one).")
@click.option("--from-file", default=None, metavar="PATH", help="Read the value from PATH ('-': stdin).")
@click.option("--type", "kind", type=click.Choice(["String", "StringList", "SecureString"]), default=None,
              help="The type (default String; an overwrite keeps the type it had).")
@click.option("--overwrite", is_flag=True, help="Replace an existing parameter with a new version.")
@click.option("--description", default=None)
@click.option("--key-id", default=None, help="A SecureString's KMS key (default alias/aws/ssm).")
@click.pass_context
@_aws_errors
def params_put(ctx: click.Context, name: str, value: str | None, from_file: str | None, kind: str | None,
               overwrite: bool, description: str | None, key_id: str | None) -> None:
    """Put a parameter; prints its version."""
    text = _read_value(value, from_file)
    if text is None:
        raise click.UsageError("give --value or --from-file")
    made = _open(ctx).parameters.put_parameter(name, text, kind or (None if overwrite else "String"), description,
                                               key_id, overwrite)
    click.echo(f"{name}  version {made['Version']}")


@params.command("get")
@click.argument("name")
@click.option("--decrypt", is_flag=True, help="A SecureString's value in the clear (otherwise sealed).")
@click.pass_context
@_aws_errors
def params_get(ctx: click.Context, name: str, decrypt: bool) -> None:
    """Print a parameter's value (NAME may be name:version or name:label)."""
    click.echo(_open(ctx).parameters.get(name, decrypt)["Value"])


@params.command("list")
@click.option("--path", default=None, help="Only parameters under this path.")
@click.option("--recursive", is_flag=True, help="Every level under --path, not only the next.")
@click.pass_context
@_aws_errors
def params_list(ctx: click.Context, path: str | None, recursive: bool) -> None:
    """Parameters: name, type, version (no values)."""
    c = _open(ctx)
    if path is None:
        found = c.parameters.describe()
    else:
        found = c.parameters.by_path(path, recursive, False)
    for p in found:
        click.echo(f"{p['Name']}  {p['Type']}  version {p['Version']}")


@params.command("history")
@click.argument("name")
@click.pass_context
@_aws_errors
def params_history(ctx: click.Context, name: str) -> None:
    """A parameter's versions: version, date, labels, who (values only for plain types)."""
    for p in _open(ctx).parameters.history(name, False):
        value = "(SecureString)" if p["Type"] == "SecureString" else p["Value"]
        labels = ",".join(p.get("Labels", [])) or "-"
        click.echo(f"{p['Version']}  {_when(p['LastModifiedDate'])}  {labels}  {p.get('LastModifiedUser', '')}  "
                   f"{value}")


@params.command("delete")
@click.argument("name")
@click.pass_context
@_aws_errors
def params_delete(ctx: click.Context, name: str) -> None:
    """Delete a parameter and its versions."""
    _open(ctx).parameters.delete(name)
    click.echo(f"{name}  deleted")
