"""The ``cumulo`` command: a thin shell over ``cumulo.Cumulo``.

Exit codes: 0 success; 1 the function itself failed (invoke printed its error
document), or a state machine execution did (``states start``); 2 bad
command-line usage; 3 the platform refused the request (the AWS error type and
message are printed to stderr).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click

from cumulo.errors import CumuloError
from cumulo.cli.apis import api
from cumulo.cli.events import events
from cumulo.cli.iam import iam
from cumulo.cli.states import states
from cumulo.cli.layers import layer, package
from cumulo.cli.queues import mapping, queue, schedule, stream
from cumulo.cli.secrets import params, secrets
from cumulo.cli._common import (
    EXIT_FUNCTION_ERROR, EXIT_PLATFORM_ERROR, aws_errors as _aws_errors, open_cumulo as _open,
    parse_pairs as _parse_env, parse_since, print_json as _print_json, read_payload as _read_payload,
    server_client as _server_client,
)

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="CUMULO_HOME", default=".cumulo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding Cumulo's state (SQLite store, code, logs). Env: CUMULO_HOME.")
@click.version_option(package_name="cumulo")
@click.pass_context
def cli(ctx: click.Context, home: Path) -> None:
    """Cumulo: run AWS Lambda functions on your own machine.

    Functions, their code and their logs live in an embedded SQLite store under
    --home. Exit codes: 0 ok, 1 the function (or, for `states start`, the
    execution) failed, 2 usage error, 3 the platform refused the request (AWS
    error type on stderr).
    """
    ctx.ensure_object(dict)
    ctx.obj["home"] = home


@cli.group()
def function() -> None:
    """Create, inspect, update, publish and delete functions."""


def _function_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options shared by ``function create`` and ``function deploy``."""
    options = [
        click.argument("name"),
        click.option("--code", required=True, type=click.Path(exists=True, path_type=Path),
                     help="A folder (zipped for you) or a .zip file."),
        click.option("--handler", required=True, help="module.function, e.g. app.handler"),
        click.option("--runtime", default="python3.11", show_default=True),
        click.option("--memory", "memory_size", type=int, default=128, show_default=True, help="MB, 128-10240."),
        click.option("--timeout", type=int, default=3, show_default=True, help="Seconds, 1-900."),
        click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="Environment variable (repeatable)."),
        click.option("--description", default=""),
        click.option("--ephemeral-storage", type=int, default=512, show_default=True, help="/tmp size in MB, 512-10240."),
        click.option("--publish", is_flag=True, help="Also publish a version."),
        click.option("--layer", "layers", multiple=True, metavar="ARN", help="A layer version ARN (repeatable, in order)."),
        click.option("--snap-start", type=click.Choice(["PublishedVersions", "None"]), default=None,
                     help="SnapStart ApplyOn (default: Cumulo forks templates for every version)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _function_config(name: str, code: Path, handler: str, runtime: str, memory_size: int, timeout: int,
                     env: tuple[str, ...], description: str, ephemeral_storage: int, publish: bool,
                     layers: tuple[str, ...] = (), snap_start: str | None = None) -> dict[str, Any]:
    config = dict(name=name, code=code, handler=handler, runtime=runtime, memory_size=memory_size, timeout=timeout,
                  environment=_parse_env(env), description=description, ephemeral_storage=ephemeral_storage,
                  publish=publish, layers=list(layers))
    if snap_start is not None:
        config["snap_start"] = snap_start
    return config


@function.command("create")
@_function_options
@click.pass_context
@_aws_errors
def function_create(ctx: click.Context, **options: Any) -> None:
    """Store a new function NAME."""
    c = _open(ctx)
    _print_json(c.create_function(**_function_config(**options)).to_aws(c.arns))


@function.command("deploy")
@_function_options
@click.pass_context
@_aws_errors
def function_deploy(ctx: click.Context, **options: Any) -> None:
    """Create NAME, or update it to this code and configuration (idempotent)."""
    c = _open(ctx)
    _print_json(c.deploy_function(**_function_config(**options)).to_aws(c.arns))


@function.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print AWS's ListFunctions documents.")
@click.pass_context
@_aws_errors
def function_list(ctx: click.Context, as_json: bool) -> None:
    """List functions."""
    c = _open(ctx)
    configs = c.list_functions()
    if as_json:
        _print_json({"Functions": [cfg.to_aws(c.arns) for cfg in configs]})
        return
    rows = [("NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "LAST MODIFIED")]
    rows += [(f.name, f.runtime, f.handler, str(f.memory_size), str(f.timeout), f.last_modified) for f in configs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@function.command("get")
@click.argument("name")
@click.option("--qualifier", default=None, help="A version number or $LATEST.")
@click.pass_context
@_aws_errors
def function_get(ctx: click.Context, name: str, qualifier: str | None) -> None:
    """Show a function (AWS's GetFunction document)."""
    _print_json(_open(ctx).get_function(name, qualifier))


@function.command("update-code")
@click.argument("name")
@click.option("--code", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--publish", is_flag=True, help="Also publish a version.")
@click.option("--revision-id", default=None, help="Fail unless $LATEST is still at this revision.")
@click.pass_context
@_aws_errors
def function_update_code(ctx: click.Context, name: str, code: Path, publish: bool, revision_id: str | None) -> None:
    """Replace the code of $LATEST."""
    c = _open(ctx)
    _print_json(c.update_function_code(name, code, publish=publish, revision_id=revision_id).to_aws(c.arns))


@function.command("update-config")
@click.argument("name")
@click.option("--handler", default=None)
@click.option("--runtime", default=None)
@click.option("--memory", "memory_size", type=int, default=None)
@click.option("--timeout", type=int, default=None)
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE",
              help="Replaces all environment variables, as AWS does (repeatable).")
@click.option("--clear-env", is_flag=True, help="Remove all environment variables.")
@click.option("--description", default=None)
@click.option("--ephemeral-storage", type=int, default=None)
@click.option("--snap-start", type=click.Choice(["PublishedVersions", "None"]), default=None, help="SnapStart ApplyOn.")
@click.option("--revision-id", default=None)
@click.pass_context
@_aws_errors
def function_update_config(ctx: click.Context, name: str, handler: str | None, runtime: str | None,
                           memory_size: int | None, timeout: int | None, env: tuple[str, ...], clear_env: bool,
                           description: str | None, ephemeral_storage: int | None, snap_start: str | None,
                           revision_id: str | None) -> None:
    """Change the configuration of $LATEST."""
    c = _open(ctx)
    environment = {} if clear_env else (_parse_env(env) if env else None)
    config = c.update_function_configuration(
        name, handler=handler, runtime=runtime, memory_size=memory_size, timeout=timeout, environment=environment,
        description=description, ephemeral_storage=ephemeral_storage, snap_start=snap_start, revision_id=revision_id)
    _print_json(config.to_aws(c.arns))


@function.command("delete")
@click.argument("name")
@click.option("--qualifier", default=None, help="Delete only this version.")
@click.pass_context
@_aws_errors
def function_delete(ctx: click.Context, name: str, qualifier: str | None) -> None:
    """Delete a function (or one of its versions)."""
    _open(ctx).delete_function(name, qualifier)


@function.command("publish")
@click.argument("name")
@click.option("--description", default=None)
@click.pass_context
@_aws_errors
def function_publish(ctx: click.Context, name: str, description: str | None) -> None:
    """Publish $LATEST as a new immutable version."""
    c = _open(ctx)
    _print_json(c.publish_version(name, description).to_aws(c.arns))


@function.command("versions")
@click.argument("name")
@click.pass_context
@_aws_errors
def function_versions(ctx: click.Context, name: str) -> None:
    """List a function's versions ($LATEST first)."""
    c = _open(ctx)
    _print_json({"Versions": [v.to_aws(c.arns) for v in c.list_versions_by_function(name)]})


@function.command("concurrency")
@click.argument("name")
@click.option("--reserved", type=int, default=None, help="Reserve this many concurrent executions (0 disables).")
@click.option("--delete", "remove", is_flag=True, help="Remove the reservation.")
@click.pass_context
@_aws_errors
def function_concurrency(ctx: click.Context, name: str, reserved: int | None, remove: bool) -> None:
    """Show or set a function's reserved concurrency."""
    c = _open(ctx)
    if remove:
        c.delete_function_concurrency(name)
    elif reserved is not None:
        c.put_function_concurrency(name, reserved)
    value = c.get_function_concurrency(name)
    _print_json({"ReservedConcurrentExecutions": value} if value is not None else {})


@cli.command()
@click.argument("name")
@click.option("--payload", default=None, metavar="JSON|@FILE", help="The event: JSON text, or @path to read it.")
@click.option("--qualifier", default=None, help="A version number or $LATEST.")
@click.option("--tail", is_flag=True, help="Also print this invocation's log lines (to stderr).")
@click.option("--event", "asynchronous", is_flag=True,
              help="Invoke asynchronously (InvocationType Event): commit the event, print its request id; a "
                   "running `cumulo up` runs it with retries and destinations.")
@click.pass_context
@_aws_errors
def invoke(ctx: click.Context, name: str, payload: str | None, qualifier: str | None, tail: bool,
           asynchronous: bool) -> None:
    """Invoke a function and print its result (or its error document).

    Exits 1 when the function failed.
    """
    kind = "Event" if asynchronous else "RequestResponse"
    client = _server_client(ctx)
    if client is not None:   # a `cumulo up` owns this store: share its environments and limits
        result = client.invoke(name, _read_payload(payload), qualifier=qualifier, log_type="Tail" if tail else "None",
                               invocation_type=kind)
    else:
        result = _open(ctx).invoke(name, _read_payload(payload), qualifier=qualifier, invocation_type=kind)
    if asynchronous:
        click.echo(f"accepted: request id {result.request_id}")
        return
    if tail:
        for line in result.log_lines:
            click.echo(line, err=True)
    click.echo(result.payload.decode(errors="replace"))
    if result.function_error:
        sys.exit(EXIT_FUNCTION_ERROR)


@cli.command()
@click.argument("name")
@click.option("--since", default="1h", show_default=True, help="How far back: 30s, 10m, 2h, 1d, or an ISO time.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines as they arrive (Ctrl-C to stop).")
@click.option("--request-id", default=None, help="Only the lines of this invocation.")
@click.option("--timestamps/--no-timestamps", default=True, show_default=True)
@click.pass_context
@_aws_errors
def logs(ctx: click.Context, name: str, since: str, follow: bool, request_id: str | None, timestamps: bool) -> None:
    """Show a function's stored logs."""
    c = _open(ctx)
    c.functions.record(name)
    since_ms, after = parse_since(since), 0
    try:
        while True:
            for rec in c.get_logs(name, since_ms=since_ms, after_id=after, request_id=request_id):
                after = rec.id
                if timestamps:
                    ts = datetime.fromtimestamp(rec.timestamp_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                    click.echo(f"{ts}Z {rec.message}")
                else:
                    click.echo(rec.message)
            if not follow:
                return
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


@cli.command()
@click.option("--since", default="1d", show_default=True, help="How far back: 30m, 2h, 7d, or an ISO time.")
@click.pass_context
@_aws_errors
def stats(ctx: click.Context, since: str) -> None:
    """Per function: invocations, errors, duration percentiles, and what the same invocations would
    cost on AWS Lambda (requests + GB-seconds at AWS's on-demand prices; docs/metrics.md).

    Read from the metric store, which a running `cumulo up` writes each minute."""
    from cumulo.metrics.cost import PRICES_DATE, estimate
    from cumulo.metrics.service import MetricsService

    c = _open(ctx)
    start, end = parse_since(since) / 1000, time.time() + 60
    rows, total_usd, priced_as = [], 0.0, c.arns.region
    service: MetricsService = c.metrics
    for config in sorted(c.list_functions(), key=lambda f: f.name):
        dims = [("FunctionName", config.name)]
        invocations = service.total("AWS/Lambda", "Invocations", dims, start, end)
        if not invocations.count:
            continue
        errors = service.total("AWS/Lambda", "Errors", dims, start, end)
        duration = service.total("AWS/Lambda", "Duration", dims, start, end)
        cost = estimate(c.arns.region, invocations.sum, duration.sum, config.memory_size, config.architecture)
        total_usd, priced_as = total_usd + cost.usd, cost.priced_as
        p50 = percentile_or_dash(duration, 50)
        p99 = percentile_or_dash(duration, 99)
        rows.append((config.name, f"{invocations.sum:.0f}", f"{errors.sum:.0f}", p50, p99, f"{cost.gb_seconds:.3f}",
                     f"{cost.usd:.6f}"))
    if not rows:
        click.echo(f"no invocations recorded since {since} ago")
        return
    head = ("FUNCTION", "INVOCATIONS", "ERRORS", "P50 MS", "P99 MS", "GB-S", "AWS USD")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        click.echo("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    click.echo(f"\ntotal on AWS Lambda: {total_usd:.6f} USD (on-demand, {priced_as} prices of {PRICES_DATE}, "
               "free tier not deducted)")


def percentile_or_dash(agg: Any, p: float) -> str:
    from cumulo.observe.metrics import percentile

    value = percentile(agg, p)
    return "-" if value is None else f"{value:.2f}"


_STACK_NAME = click.option(
    "--stack-name", default=None,
    help="The stack to deploy as (default: the template's folder name, e.g. hello-sam); a re-deploy of a stack "
         "updates what it made.")
_NO_BUILD = click.option(
    "--no-build", is_flag=True,
    help="Deploy functions' folders as they are. By default a folder with requirements.txt (Python) or "
         "package.json dependencies (Node.js) is built first, as `sam build` does: the dependencies are "
         "installed into a copy, cached by content.")


@cli.command()
@click.argument("template", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9000, show_default=True, type=int,
              help="Port of the AWS Lambda API (and SQS, EventBridge … ; 0: any free one).")
@click.option("--gateway-port", default=8080, show_default=True, type=int,
              help="Port of the API gateway: HTTP, REST and WebSocket APIs, function URLs (0: any free one).")
@click.option("--console-port", default=8081, show_default=True, type=int,
              help="Port of the web console (0: any free one; -1: no console). It asks for one of the store's "
                   "access keys, or, with --no-auth, answers loopback clients only.")
@click.option("--no-auth", is_flag=True, help="Accept unsigned requests (loopback addresses only).")
@click.option("--iam", "iam_mode", type=click.Choice(["enforce", "audit", "off"]), default=None,
              help="Requests signed with a role's credentials (a function's): enforce its policies (the default; "
                   "CUMULO_IAM), audit (allow, and log what would be denied) or off. The owner's keys pass but for a "
                   "bucket policy's explicit Deny; unsigned S3 requests are always decided by the bucket's policy.")
@click.option("--parameter", "parameters", multiple=True, metavar="KEY=VALUE", help="Template parameter (repeatable).")
@click.option("--metrics-port", default=None, type=int,
              help="Serve Prometheus' /metrics on this port (0: any free one; off by default; docs/metrics.md).")
@click.option("--otlp-endpoint", default=None, metavar="URL",
              help="Export traces to this OpenTelemetry collector over OTLP/HTTP (JSON), e.g. "
                   "http://127.0.0.1:4318 (docs/traces.md). Env: CUMULO_OTLP_ENDPOINT.")
@click.option("--store", "store_url", default=None, metavar="postgresql://…",
              help="Keep the state in this PostgreSQL database instead of SQLite files under --home: every node "
                   "started on the same database shares its functions, queues and work (docs/scale-out.md). "
                   "Env: CUMULO_STORE.")
@click.option("--reuse-port", is_flag=True,
              help="Share --port and --gateway-port with the other nodes of the same --store database on this "
                   "machine started with --reuse-port (SO_REUSEPORT): the kernel spreads connections over them, "
                   "each with its own event loop and environments, so one machine's cores all serve requests "
                   "(docs/server.md). Needs --store. Not for WebSocket APIs: an @connections call reaches the node "
                   "holding its connection only by chance.")
@_STACK_NAME
@_NO_BUILD
@click.pass_context
def up(ctx: click.Context, template: Path | None, host: str, port: int, gateway_port: int, console_port: int,
       no_auth: bool, iam_mode: str | None, parameters: tuple[str, ...], metrics_port: int | None,
       otlp_endpoint: str | None, store_url: str | None, reuse_port: bool,
       stack_name: str | None, no_build: bool) -> None:
    """Serve Cumulo: the AWS Lambda API for boto3 and the AWS CLI, on one store.

    The same endpoint and keys speak SQS, SNS, S3, DynamoDB, Kinesis, EventBridge, Step
    Functions, Secrets Manager, Parameter Store, KMS, IAM, STS, CloudFormation, CloudWatch,
    CloudWatch Logs, X-Ray and CodeDeploy's hook status; HTTP, REST APIs and function URLs are
    served on the gateway port, the web console on its own, and traced functions' segments on an
    X-Ray daemon port. The server also runs the workers: asynchronous invocations, queue and stream
    pollers, schedules, event delivery, state machine executions, metrics and alarms, and gradual
    deployments of aliases.

    With TEMPLATE (an AWS SAM template), deploy it first, as `cumulo deploy` does; its outputs
    that are API URLs are printed as the local gateway serves them. Stops on SIGINT/SIGTERM
    after in-flight requests finish, then shuts environments down and exits 0.
    """
    import ipaddress

    from cumulo.api import server
    from cumulo.api.keys import first_key

    if no_auth:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise click.UsageError("--no-auth serves unsigned requests, so it only binds loopback addresses")
    if port == gateway_port and port != 0:
        raise click.UsageError(f"--port and --gateway-port are both {port}: the Lambda API and the HTTP API gateway "
                               "need a port each")
    for flag, other in (("--port", port), ("--gateway-port", gateway_port)):
        if console_port == other and other > 0:
            raise click.UsageError(f"{flag} and --console-port are both {other}: the console needs a port of its own")
    if template is None and (parameters or stack_name):
        raise click.UsageError(f"{'--parameter' if parameters else '--stack-name'} is for deploying a TEMPLATE; "
                               "give one: cumulo up TEMPLATE")
    if iam_mode is not None:
        ctx.obj.setdefault("settings", {})["iam"] = iam_mode
    if otlp_endpoint is not None:
        if otlp_endpoint and not otlp_endpoint.startswith(("http://", "https://")):
            raise click.UsageError(f"--otlp-endpoint takes an http:// or https:// URL, not {otlp_endpoint!r}")
        ctx.obj.setdefault("settings", {})["otlp_endpoint"] = otlp_endpoint
    if store_url is not None:
        if store_url and not store_url.startswith(("postgresql://", "postgres://")):
            raise click.UsageError(f"--store takes a postgresql:// URL, not {store_url!r}")
        ctx.obj.setdefault("settings", {})["store"] = store_url
    if reuse_port and not (store_url if store_url is not None else os.environ.get("CUMULO_STORE", "")):
        # Two servers of two SQLite homes behind one port would be two platforms answering at random.
        raise click.UsageError("--reuse-port shares the ports among nodes of one PostgreSQL database: give "
                               "--store postgresql://… (or CUMULO_STORE)")
    lock = server.ServerLock(ctx.obj["home"])
    try:
        lock.acquire()
    except server.ServerBusy as exc:
        click.echo(f"cumulo up: {exc}", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    try:
        # Listen first: a busy port is reported before anything is deployed.
        sock, endpoint = _listen(host, port, "the AWS Lambda API", "--port", reuse_port)
        gateway_sock, gateway_url = _listen(host, gateway_port, "the HTTP API gateway", "--gateway-port", reuse_port)
        console_sock, console_url = (_listen(host, console_port, "the web console", "--console-port")
                                     if console_port >= 0 else (None, ""))
        c = _open(ctx)
        _check_store(c)
        cpus = c.place_cpus()
        c.endpoint_url = server.inside_url(c, sock)   # before anything deployed starts an environment
        _store_step(c, lambda: c.identity.sessions.key)   # the STS key (<home>/sts.key) made now, not at a cold start
        key, created = _store_step(c, lambda: first_key(c.store))
        stack, deployed = (_deploy_template(c, template, parameters, stack_name, gateway_url, not no_build)
                           if template else (None, []))
        lock.publish(endpoint, gateway_url)
        c.queues.endpoint = endpoint
        c.start_workers()
        scrape = _serve_prometheus(c, host, metrics_port) if metrics_port is not None else None
        _announce(c, endpoint, gateway_url, key, created, no_auth, deployed, cpus, stack, console_url)
        if scrape is not None:
            click.echo(f"Prometheus metrics: {scrape}/metrics", err=True)
        if c.otlp is not None:
            click.echo(f"traces exported over OTLP to {c.otlp.url}", err=True)
        server.serve(c, sock, auth=not no_auth, gateway=gateway_sock, console=console_sock)
        click.echo("cumulo: stopped accepting; in-flight requests finished; shutting environments down", err=True)
    finally:
        lock.release()


def _serve_prometheus(c: Any, host: str, port: int) -> str:
    """Prometheus' /metrics on a port of its own (a thread of prometheus_client's); its URL."""
    from prometheus_client import CollectorRegistry, start_http_server

    from cumulo.metrics.prometheus import PrometheusCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(PrometheusCollector(
        c.metrics, lambda: {f.name: (f.memory_size, f.architecture) for f in c.list_functions()}, c.arns.region))
    try:
        http, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        click.echo(f"cumulo up: cannot serve metrics on {host}:{port}: {exc.strerror}; choose another port with "
                   "--metrics-port PORT (0 picks a free one)", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    bound = http.server_address[1]
    return f"http://{f'[{host}]' if ':' in host else host}:{bound}"


def _store_step(c: Any, step: Callable[[], Any]) -> Any:
    """A start-up step that writes the store: its disk full (or a file found damaged) exits 3 saying
    so, instead of a traceback."""
    import sqlite3

    try:
        return step()
    except (sqlite3.DatabaseError, OSError) as exc:
        fault = c.store_fault(exc)
        if fault is None:
            raise
        click.echo(f"cumulo up: {fault.message}", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)


def _check_store(c: Any) -> None:
    """SQLite's quick check of the store's files before the server accepts a write: a damaged
    file exits 3, naming it and what to do; one too large to check in time is said and used."""
    from cumulo.store.health import QUICK_CHECK_BUDGET_S, StoreDamaged

    try:
        unchecked = c.check_store()
    except StoreDamaged as exc:
        click.echo(f"cumulo up: {exc}", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    for path in unchecked:
        click.echo(f"cumulo up: {path} is too large to check in {QUICK_CHECK_BUDGET_S:g} s at start-up; using it "
                   f"unchecked (check it yourself with: sqlite3 {path} 'PRAGMA quick_check')", err=True)


def _listen(host: str, port: int, what: str, flag: str, reuse_port: bool = False) -> tuple[Any, str]:
    """``server.listen``, or exit 3 with what went wrong and the option that changes it."""
    import errno
    import socket

    from cumulo.api import server

    try:
        return server.listen(host, port, reuse_port)
    except OSError as exc:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            why, fix = f"{host} is not an address of this machine", "choose another address with --host"
        elif exc.errno == errno.EADDRINUSE:
            why = "the address is already in use (another program, or a `cumulo up` of another --home, listens there)"
            fix = f"choose another port with {flag} PORT ({flag} 0 picks a free one)"
        elif exc.errno == errno.EACCES:
            why, fix = "permission denied (ports below 1024 need root)", f"choose a port from 1024 up with {flag} PORT"
        else:
            why, fix = exc.strerror or str(exc), f"check --host and {flag}"
        click.echo(f"cumulo up: cannot serve {what} on {where}: {why}; {fix}", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)


def _cpu_list(cpus: set[int]) -> str:
    return ("CPU " if len(cpus) == 1 else "CPUs ") + ",".join(str(n) for n in sorted(cpus))


def _announce(c: Any, endpoint: str, gateway_url: str, key: Any, created: bool, no_auth: bool,
              deployed: list[str], cpus: tuple[set[int], set[int]] | None = None, stack: str | None = None,
              console_url: str = "") -> None:
    say = lambda text="": click.echo(text, err=True)  # noqa: E731
    say(f"Cumulo is up: AWS Lambda API at {endpoint}")
    say(f"  SQS         {endpoint}  (boto3 sqs client, same endpoint and credentials)")
    say(f"  HTTP APIs   {gateway_url}/<api-id>/<path>  (or Host: <api-id>.execute-api.localhost)")
    if gateway_url.startswith("http"):
        say(f"  WebSockets  ws{gateway_url[4:]}/<api-id>/<stage>")
    if console_url:
        say(f"  console     {console_url}/  ({'no login: loopback only' if no_auth else 'log in with an access key'})")
    say(f"  store       {c.home.resolve()} (SQLite)")
    for i, line in enumerate(c.isolation()):
        say(f"  {'sandbox' if i == 0 else '':<11} {line}")
    if cpus is not None:
        say(f"  cpus        server on {_cpu_list(cpus[0])}, environments on {_cpu_list(cpus[1])} "
            "(Settings.cpu_split)")
    if no_auth:
        say("  auth        OFF (--no-auth): unsigned requests are accepted")
    else:
        say(f"  credentials {'(new) ' if created else ''}AWS_ACCESS_KEY_ID={key.id} AWS_SECRET_ACCESS_KEY={key.secret}")
        say(f"              region {c.arns.region}; more keys: cumulo keys create")
    say(f"  iam         {c.settings.iam}: requests with a role's credentials "
        + {"enforce": "are decided by its policies", "audit": "are allowed; denials are logged",
           "off": "are not checked"}[c.settings.iam] + "; the owner's keys have full access")
    if stack is not None:
        say(f"  stack       {stack}")
    from cumulo.runtime import catalog, node_sdk

    if catalog.node_version() is not None:   # Node.js functions get the AWS SDK for JavaScript, as on AWS
        if node_sdk.folder() is not None:
            say(f"  node sdk    AWS SDK for JavaScript v{node_sdk.VERSION} for Node.js functions")
        else:
            node_sdk.install_in_background(lambda text: say(f"  node sdk    {text}"))
    for line in deployed:
        say(f"  deployed    {line.replace('<gateway>', gateway_url)}")
    say("")
    say("Try it:")
    say(f"  export AWS_ACCESS_KEY_ID={key.id} AWS_SECRET_ACCESS_KEY={key.secret} AWS_DEFAULT_REGION={c.arns.region}")
    say(f"  aws --endpoint-url {endpoint} lambda list-functions")
    say(f"  python -c \"import boto3; print(boto3.client('lambda', endpoint_url='{endpoint}').list_functions())\"")
    say("Stop with Ctrl-C.")


def _deploy_template(c: Any, template: Path, parameters: tuple[str, ...], stack_name: str | None,
                     gateway_url: str, build: bool) -> tuple[str, list[str]]:
    from cumulo.deploy.engine import deploy

    try:
        result = deploy(c, template, _parse_env(parameters), stack_name, gateway_url=gateway_url, build=build)
    except CumuloError as err:
        click.echo(f"An error occurred ({err.type}): {err.message}", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    return f"{result.stack} ({'deployed' if result.changed else 'no changes'})", result.summary()


@cli.command("deploy")
@click.argument("template", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--parameter", "parameters", multiple=True, metavar="KEY=VALUE", help="Template parameter (repeatable).")
@_STACK_NAME
@_NO_BUILD
@click.option("--dry-run", is_flag=True, help="Only print the plan.")
@click.pass_context
@_aws_errors
def deploy_command(ctx: click.Context, template: Path, parameters: tuple[str, ...], stack_name: str | None,
                   no_build: bool, dry_run: bool) -> None:
    """Deploy a SAM or plain CloudFormation template: plan, apply, roll back if any resource fails.

    Re-deploying an unchanged template changes nothing. Functions removed from
    the template since the last deploy of the same stack are deleted. API URLs
    (routes, and outputs that are execute-api URLs) are printed as the gateway of
    the `cumulo up` serving this store serves them, or as <gateway>/… when none runs.
    """
    from cumulo.api.server import ServerLock
    from cumulo.deploy.engine import deploy

    running = ServerLock(ctx.obj["home"]).running_server() or {}
    gateway = running.get("gateway") or "<gateway>"
    result = deploy(_open(ctx), template, _parse_env(parameters), stack_name, dry_run=dry_run, gateway_url=gateway,
                    build=not no_build)
    click.echo(f"Stack {result.stack}: {'plan' if dry_run else ('deployed' if result.changed else 'no changes')}")
    lines = [line.replace("<gateway>", gateway) for line in result.summary()]
    for line in lines:
        click.echo(f"  {line}")
    if any("<gateway>" in line for line in lines):
        click.echo("  (<gateway>: where `cumulo up` serves HTTP APIs, http://127.0.0.1:8080 unless --gateway-port)")


@cli.group("store")
def store_group() -> None:
    """The store: SQLite files under --home, or a PostgreSQL database shared by nodes (docs/scale-out.md)."""


@store_group.command("migrate")
@click.option("--to", "url", required=True, metavar="postgresql://…", help="An empty PostgreSQL database.")
@click.pass_context
def store_migrate(ctx: click.Context, url: str) -> None:
    """Copy the SQLite store of --home (functions, code, queues and messages, logs, everything) into an
    empty PostgreSQL database, in one transaction; then start nodes with --store URL and this
    home's master key (CUMULO_MASTER_KEY_FILE). Stop the server on --home first."""
    from cumulo.api.server import ServerLock

    if not url.startswith(("postgresql://", "postgres://")):
        raise click.UsageError(f"--to takes a postgresql:// URL, not {url!r}")
    home = ctx.obj["home"]
    if ServerLock(home).running_server() is not None:
        click.echo(f"cumulo store migrate: a server runs on {home}; stop it first", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    from cumulo.store.migrate import NotEmpty, migrate

    try:
        copied = migrate(Path(home), url)
    except (NotEmpty, FileNotFoundError) as exc:
        click.echo(f"cumulo store migrate: {exc}", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    for table, n in sorted(copied.items()):
        click.echo(f"{table}\t{n}")
    click.echo(f"copied into the database; master key: {Path(home).absolute() / 'master.key'}", err=True)


@store_group.command("upgrade")
@click.pass_context
def store_upgrade(ctx: click.Context) -> None:
    """Bring the store's tables (--home's SQLite files, or CUMULO_STORE's database) to this version of
    Cumulo's schema, and print the versions; a store newer than this Cumulo is refused (exit 3)."""
    c = _open(ctx)
    for component, version in sorted(c.schema_versions().items()):
        click.echo(f"{component}\t{version}")


@store_group.command("rotate-key")
@click.option("--new-key-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Seal with the key in this file (32 bytes in base64; made, 0600, when it does not exist) and "
                   "leave the current key's file alone: start afterwards with CUMULO_MASTER_KEY_FILE naming it. "
                   "Without it a new key is made and replaces the current key file (<home>/master.key or "
                   "CUMULO_MASTER_KEY_FILE). Required when the key comes from CUMULO_MASTER_KEY.")
@click.pass_context
def store_rotate_key(ctx: click.Context, new_key_file: Path | None) -> None:
    """Rotate the store's master key: every value it sealed (secrets, SecureString parameters, KMS keys'
    material, functions' environment variables, API destination connections' credentials, access keys'
    secrets, and on PostgreSQL the STS and SNS signing keys) is opened with the current key and sealed
    with the new one, in one transaction: a process killed before the commit leaves the store as it
    was, with the old key. Without --new-key-file the new key is staged as <key file>.next first, and
    put in place after the commit; a start that finds the store sealed with the .next key finishes
    that switch. The old key opens nothing afterwards; older backups of the store still need it.
    Stop every server on the store first (docs/secrets.md, "Rotating the key")."""
    import secrets as random

    from cumulo.api.server import ServerLock
    from cumulo.keyring import (KEY_BYTES, Keyring, KeyringError, SealedValueError, finish_switch, load_key,
                                next_key_path, stage_key_file)

    home = ctx.obj["home"]
    if ServerLock(home).running_server() is not None:
        click.echo(f"cumulo store rotate-key: a server runs on {home}; stop it first", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    inline = os.environ.get("CUMULO_MASTER_KEY", "")
    if inline and new_key_file is None:
        raise click.UsageError("the master key comes from CUMULO_MASTER_KEY: give --new-key-file, then set "
                               "CUMULO_MASTER_KEY (or CUMULO_MASTER_KEY_FILE) to the new key")
    c = _open(ctx)
    nodes = c.live_nodes()
    if nodes:
        click.echo(f"cumulo store rotate-key: {len(nodes)} node(s) serve this store "
                   f"({', '.join(n['node'] for n in nodes)}); stop them first", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    current = Path(c.settings.master_key_file) if c.settings.master_key_file else Path(home) / "master.key"
    staged: Path | None = None
    try:
        if new_key_file is not None:
            key, _ = load_key(new_key_file, create=True)
        else:
            key = random.token_bytes(KEY_BYTES)
            staged = next_key_path(current)
            stage_key_file(staged, key)
    except (KeyringError, OSError) as exc:
        click.echo(f"cumulo store rotate-key: {exc}", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    new = Keyring(key)
    check = c.store.get_document("keyring", "check")
    if check is not None and new.opens(check):
        click.echo("cumulo store rotate-key: the store is already sealed with that key", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    click.echo("resealing every sealed value in one transaction …", err=True)
    try:
        counts = c.rotate_master_key(new)
    except SealedValueError as exc:
        click.echo(f"cumulo store rotate-key: {exc}; nothing was changed (the store keeps the current key)",
                   err=True)
        sys.exit(EXIT_PLATFORM_ERROR)
    if staged is not None:
        finish_switch(current)
    for place, n in sorted(counts.items()):
        click.echo(f"{place}\t{n}")
    where = str(current) if staged is not None else str(new_key_file)
    click.echo(f"the store is sealed with the key in {where}; the old key opens nothing of it now"
               + ("" if staged is not None else f": start with CUMULO_MASTER_KEY_FILE={where}")
               + " (back the new key up apart from the store)", err=True)


@cli.command()
@click.pass_context
def nodes(ctx: click.Context) -> None:
    """The live nodes sharing this store, with their load: every `cumulo up` on the PostgreSQL
    database of CUMULO_STORE (a node is live while its heartbeat, every 2 s, is under 10 s old);
    on SQLite, the one server of --home."""
    from datetime import datetime, timezone

    from cumulo.api.server import ServerLock

    c = _open(ctx)
    rows = c.live_nodes()
    if rows is None:            # SQLite: one server per home
        info = ServerLock(ctx.obj["home"]).running_server()
        rows = [] if info is None else [{"node": f"{os.uname().nodename}|{info.get('pid', '?')}",
                                         "endpoint": info.get("endpoint", ""), "started_ms": None,
                                         "in_flight": "?", "age_s": 0.0}]
    click.echo("NODE\tENDPOINT\tSTARTED\tIN-FLIGHT\tHEARTBEAT-AGE-S")
    for row in rows:
        started = ("-" if row["started_ms"] is None else
                   datetime.fromtimestamp(row["started_ms"] / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        click.echo(f"{row['node']}\t{row['endpoint']}\t{started}\t{row['in_flight']}\t{row['age_s']:.1f}")


@cli.group()
def keys() -> None:
    """Access keys for the control plane (AWS Signature Version 4)."""


@keys.command("create")
@click.option("--export", "as_export", is_flag=True,
              help="Print `export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_DEFAULT_REGION=…` instead, for "
                   "the AWS CLI and boto3 in a shell: eval \"$(cumulo keys create --export)\".")
@click.pass_context
def keys_create(ctx: click.Context, as_export: bool) -> None:
    """Create a key; prints its ID and secret (as JSON, or as shell exports with --export)."""
    import shlex

    from cumulo.api.keys import create_key

    c = _open(ctx)
    key = create_key(c.store)
    if as_export:
        click.echo(f"export AWS_ACCESS_KEY_ID={shlex.quote(key.id)} AWS_SECRET_ACCESS_KEY={shlex.quote(key.secret)} "
                   f"AWS_DEFAULT_REGION={shlex.quote(c.arns.region)}")
        return
    _print_json({"AccessKeyId": key.id, "SecretAccessKey": key.secret, "CreateDate": key.created})


@keys.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """List key IDs (secrets are not shown)."""
    for key_id, _, created in _open(ctx).store.list_access_keys():
        click.echo(f"{key_id}  {created}")


@keys.command("delete")
@click.argument("key_id")
@click.pass_context
def keys_delete(ctx: click.Context, key_id: str) -> None:
    """Delete a key: requests signed with it are refused from then on."""
    if not _open(ctx).store.delete_access_key(key_id):
        click.echo(f"An error occurred (ResourceNotFoundException): no access key {key_id}", err=True)
        sys.exit(EXIT_PLATFORM_ERROR)


def main() -> None:
    cli(obj={})



cli.add_command(api)
cli.add_command(iam)
cli.add_command(queue)
cli.add_command(mapping)
cli.add_command(schedule)
cli.add_command(stream)
cli.add_command(events)
cli.add_command(states)
cli.add_command(layer)
cli.add_command(package)
cli.add_command(secrets)
cli.add_command(params)


def _set_home(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["home"] = value


def _home_after_the_command(group: click.Group) -> None:
    """``--home`` also after a command's name (``cumulo up TEMPLATE --home DIR``), as users write it."""
    for command in group.commands.values():
        command.params.append(click.Option(
            ["--home"], type=click.Path(file_okay=False, path_type=Path), default=None, expose_value=False,
            callback=_set_home, help="Folder holding Cumulo's state, as `cumulo --home DIR` (default: $CUMULO_HOME, "
                                    "else ./.cumulo)."))
        if isinstance(command, click.Group):
            _home_after_the_command(command)


_home_after_the_command(cli)


if __name__ == "__main__":
    main()
