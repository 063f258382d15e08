"""``cumulo states``: state machines (Amazon States Language) and their executions."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cumulo.cli._common import (
    EXIT_FUNCTION_ERROR, EXIT_PLATFORM_ERROR, aws_errors as _aws_errors, open_cumulo as _open, print_json,
)

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["states"]


def _machine_arn(c: "Cumulo", name_or_arn: str) -> str:
    from cumulo.deploy.machines import machine_arn

    return name_or_arn if name_or_arn.startswith("arn:") else machine_arn(c.arns.region, c.arns.account, name_or_arn)


@click.group()
def states() -> None:
    """State machines: create them from ASL definitions, start and inspect executions."""


@states.command("create")
@click.argument("name")
@click.argument("definition", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--express", is_flag=True, help="An Express state machine (in memory, at most 5 minutes).")
@click.option("--role", default=None, metavar="ROLE_ARN",
              help="Its execution role: its tasks' calls are allowed by the role's policies, and the role must "
                   "trust states.amazonaws.com. Without it, the platform's own role, whose calls are not asked.")
@click.pass_context
@_aws_errors
def states_create(ctx: click.Context, name: str, definition: Path, express: bool, role: str | None) -> None:
    """Create (or, if it exists, update) NAME from the ASL file DEFINITION; prints its ARN."""
    c = _open(ctx)
    text = definition.read_text()
    arn = _machine_arn(c, name)
    if c.store.get_document("state-machine", name) is not None:
        c.state_machines.update_state_machine(arn, text, role)
    else:
        c.state_machines.create_state_machine(name, text, role, "EXPRESS" if express else "STANDARD")
    click.echo(arn)


@states.command("list")
@click.pass_context
@_aws_errors
def states_list(ctx: click.Context) -> None:
    """List state machines."""
    for m in _open(ctx).state_machines.list_state_machines():
        click.echo(f"{m['name']}  {m['type']}  {m['stateMachineArn']}")


@states.command("start")
@click.argument("machine")
@click.option("--input", "input_", default="{}", show_default=True, help="Execution input (JSON).")
@click.option("--name", default=None, help="Execution name (default: a UUID).")
@click.option("--wait", is_flag=True, help="Wait for the execution to end and print it; exit 1 unless it "
                                             "SUCCEEDED (Standard machines need a running `cumulo up` on this "
                                             "store, which runs their executions).")
@click.pass_context
@_aws_errors
def states_start(ctx: click.Context, machine: str, input_: str, name: str | None, wait: bool) -> None:
    """Start an execution of MACHINE (name or ARN); prints its ARN (or, with --wait, its result).

    Express machines always run to the end here and are printed like --wait. An execution that
    ends FAILED, TIMED_OUT or ABORTED exits 1, with its error and cause on stderr.
    """
    from cumulo.api.server import ServerLock

    c = _open(ctx)
    arn = _machine_arn(c, machine)
    if c.state_machines.describe_state_machine(arn)["type"] == "EXPRESS":
        c.start_workers()
        _ended(c.state_machines.start_sync_execution(arn, name, input_))
        return
    server = ServerLock(ctx.obj["home"])
    if wait and server.running_server() is None:
        raise click.UsageError(f"--wait: no `cumulo up` is serving {ctx.obj['home']}, and it is what runs Standard "
                               "executions; start one, or leave out --wait and look later with "
                               "`cumulo states describe EXECUTION_ARN`")
    started = c.state_machines.start_execution(arn, name, input_)
    if not wait:
        click.echo(started["executionArn"])
        return
    checked = time.monotonic()
    while True:
        desc = c.state_machines.describe_execution(started["executionArn"])
        if desc["status"] != "RUNNING":
            _ended(desc)
            return
        if time.monotonic() - checked > 1:
            checked = time.monotonic()
            if server.running_server() is None:
                click.echo(f"cumulo states: the `cumulo up` serving {ctx.obj['home']} stopped; the execution "
                           f"resumes when one runs again: {started['executionArn']}", err=True)
                sys.exit(EXIT_PLATFORM_ERROR)
        time.sleep(0.1)


def _ended(desc: dict) -> None:
    """Print an execution that ended, as describe-execution shows it; exit 1 unless it SUCCEEDED."""
    print_json(_dates(desc))
    if desc["status"] == "SUCCEEDED":
        return
    click.echo(f"Execution {desc['name']} {desc['status']}", err=True)
    for key in ("error", "cause"):
        if desc.get(key) is not None:
            click.echo(f"  {key}: {desc[key]}", err=True)
    sys.exit(EXIT_FUNCTION_ERROR)


@states.command("describe")
@click.argument("execution_arn")
@click.pass_context
@_aws_errors
def states_describe(ctx: click.Context, execution_arn: str) -> None:
    """Show an execution: status, input, output or error."""
    print_json(_dates(_open(ctx).state_machines.describe_execution(execution_arn)))


@states.command("history")
@click.argument("execution_arn")
@click.pass_context
@_aws_errors
def states_history(ctx: click.Context, execution_arn: str) -> None:
    """Print an execution's history, one event per line."""
    for e in _open(ctx).state_machines.get_execution_history(execution_arn, 1000)["events"]:
        details: dict = next((v for k, v in e.items() if k.endswith("EventDetails")), {})
        click.echo(f"{e['id']:>4}  {e['type']:<32} {json.dumps(details)[:160]}")


@states.command("executions")
@click.argument("machine")
@click.option("--status", default=None, type=click.Choice(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]))
@click.pass_context
@_aws_errors
def states_executions(ctx: click.Context, machine: str, status: str | None) -> None:
    """List a state machine's executions, newest first."""
    c = _open(ctx)
    for e in c.state_machines.list_executions(_machine_arn(c, machine), status):
        click.echo(f"{e['name']}  {e['status']}  {e['executionArn']}")


@states.command("stop")
@click.argument("execution_arn")
@click.option("--error", default=None)
@click.option("--cause", default=None)
@click.pass_context
@_aws_errors
def states_stop(ctx: click.Context, execution_arn: str, error: str | None, cause: str | None) -> None:
    """Stop a running execution (the server's engine carries it out)."""
    _open(ctx).state_machines.stop_execution(execution_arn, error, cause)


@states.command("redrive")
@click.argument("execution_arn")
@click.pass_context
@_aws_errors
def states_redrive(ctx: click.Context, execution_arn: str) -> None:
    """Continue a FAILED, TIMED_OUT or ABORTED Standard execution from the state it stopped in, with
    that state's input (RedriveExecution; within 14 days of its end); prints the redrive's date. The
    `cumulo up` serving this store carries it out (without one, when one next runs)."""
    from cumulo.api.server import ServerLock

    c = _open(ctx)
    if ServerLock(ctx.obj["home"]).running_server() is None:
        click.echo(f"cumulo states: no `cumulo up` is serving {ctx.obj['home']}; the execution is redriven when "
                   "one runs", err=True)
    click.echo(_dates(c.state_machines.redrive_execution(execution_arn))["redriveDate"])


def _dates(doc: dict) -> dict:
    return {k: (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(v)) if k.endswith("Date") and isinstance(v, float)
                else v) for k, v in doc.items()}
