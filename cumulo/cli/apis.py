"""``cumulo api``: HTTP APIs of the gateway, their access logs, API keys and usage plans."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import click

from cumulo.deploy.kinds.api import route_target

from cumulo.cli._common import aws_errors as _aws_errors, open_cumulo as _open, parse_since, print_json

__all__ = ["api"]


@click.group()
def api() -> None:
    """HTTP APIs served by the gateway: APIs, routes, access logs, API keys and usage plans."""


@api.command("list")
@click.pass_context
@_aws_errors
def api_list(ctx: click.Context) -> None:
    """List HTTP APIs and their routes."""
    for item in _open(ctx).apis.list_apis():
        stages = ", ".join(s.name for s in item.stages)
        click.echo(f"{item.api_id}  {item.name}  (stages: {stages})")
        for r in item.routes:
            proxied = r.function and r.integration_type == "AWS_PROXY" and not r.integration_subtype
            click.echo(f"    {r.route_key:<32} -> {route_target(r) or '-'}"
                       + (f" (payload {r.payload_version})" if proxied else ""))


@api.command("create")
@click.argument("name")
@click.option("--stage", "stages", multiple=True, help="Stage names (default: $default).")
@click.pass_context
@_aws_errors
def api_create(ctx: click.Context, name: str, stages: tuple[str, ...]) -> None:
    """Create an HTTP API; prints its id."""
    click.echo(_open(ctx).apis.create_api(name, list(stages) or None).api_id)


@api.command("route")
@click.argument("api_id")
@click.argument("route_key")
@click.argument("function")
@click.option("--payload-version", type=click.Choice(["2.0", "1.0"]), default="2.0", show_default=True)
@click.option("--timeout-ms", type=int, default=None, help="Integration timeout (50-30000 ms).")
@click.pass_context
@_aws_errors
def api_route(ctx: click.Context, api_id: str, route_key: str, function: str, payload_version: str,
              timeout_ms: int | None) -> None:
    """Route ROUTE_KEY (e.g. "GET /items/{id}", "$default") to a function (Lambda proxy)."""
    route = _open(ctx).apis.create_route(api_id, route_key, function, payload_version, timeout_ms)
    click.echo(route.route_id)


@api.command("logs")
@click.argument("api_id")
@click.option("--since", default="1h", show_default=True, help="How far back: 30s, 10m, 2h, 1d, or an ISO time.")
@click.pass_context
@_aws_errors
def api_logs(ctx: click.Context, api_id: str, since: str) -> None:
    """Access logs of an API: one JSON line per request."""
    from cumulo.edge.gateway import access_log_group

    c = _open(ctx)
    c.apis.get_api(api_id)
    for rec in c.store.query_logs(access_log_group(api_id), since_ms=parse_since(since)):
        click.echo(rec.message)


@api.group("keys")
def api_keys() -> None:
    """API keys for routes that require one (the x-api-key header)."""


@api_keys.command("create")
@click.argument("name")
@click.option("--value", default=None, help="The key's secret value (20-128 characters; generated if left out).")
@click.pass_context
@_aws_errors
def api_keys_create(ctx: click.Context, name: str, value: str | None) -> None:
    """Create an enabled API key; prints its id and value."""
    key = _open(ctx).usage_plans.create_key(name, value)
    print_json({"id": key.key_id, "name": key.name, "value": key.value, "enabled": key.enabled})


@api_keys.command("list")
@click.pass_context
@_aws_errors
def api_keys_list(ctx: click.Context) -> None:
    """List API keys (values are not shown)."""
    for key in _open(ctx).usage_plans.list_keys():
        click.echo(f"{key.key_id}  {key.name}  {'enabled' if key.enabled else 'disabled'}")


@api_keys.command("delete")
@click.argument("key_id")
@click.pass_context
@_aws_errors
def api_keys_delete(ctx: click.Context, key_id: str) -> None:
    """Delete an API key (and its subscriptions to usage plans)."""
    _open(ctx).usage_plans.delete_key(key_id)


@api.group("plans")
def api_plans() -> None:
    """Usage plans: which API stages a key may call, how fast and how often."""


@api_plans.command("create")
@click.argument("name")
@click.option("--stage", "stages", multiple=True, required=True, metavar="API_ID:STAGE",
              help="An API stage the plan covers (repeatable).")
@click.option("--rate", type=float, default=None, help="Requests per second per key.")
@click.option("--burst", type=int, default=None, help="Burst per key.")
@click.option("--quota", default=None, metavar="N/PERIOD", help="Requests per DAY, WEEK or MONTH per key, e.g. 1000/DAY.")
@click.pass_context
@_aws_errors
def api_plans_create(ctx: click.Context, name: str, stages: tuple[str, ...], rate: float | None, burst: int | None,
                     quota: str | None) -> None:
    """Create a usage plan; prints its id."""
    from cumulo.gateway.model import Throttle
    from cumulo.gateway.usage import Quota

    pairs = []
    for stage in stages:
        api_id, sep, stage_name = stage.partition(":")
        if not sep:
            raise click.BadParameter(f"{stage!r} is not API_ID:STAGE", param_hint="--stage")
        pairs.append((api_id, stage_name))
    throttle = Throttle(rate if rate is not None else 10_000.0, burst if burst is not None else 5_000) \
        if rate is not None or burst is not None else None
    limit = None
    if quota is not None:
        count, _, period = quota.partition("/")
        if not count.isdigit():
            raise click.BadParameter(f"{quota!r} is not N/PERIOD", param_hint="--quota")
        limit = Quota(int(count), period.upper() or "DAY")
    click.echo(_open(ctx).usage_plans.create_plan(name, pairs, throttle, limit).plan_id)


@api_plans.command("add-key")
@click.argument("plan_id")
@click.argument("key_id")
@click.pass_context
@_aws_errors
def api_plans_add_key(ctx: click.Context, plan_id: str, key_id: str) -> None:
    """Subscribe an API key to a usage plan."""
    _open(ctx).usage_plans.add_plan_key(plan_id, key_id)


@api_plans.command("list")
@click.pass_context
@_aws_errors
def api_plans_list(ctx: click.Context) -> None:
    """List usage plans with their stages, limits and keys."""
    for plan in _open(ctx).usage_plans.list_plans():
        limits = []
        if plan.throttle:
            limits.append(f"rate {plan.throttle.rate:g}/s burst {plan.throttle.burst}")
        if plan.quota:
            limits.append(f"quota {plan.quota.limit}/{plan.quota.period}")
        stages = ", ".join(f"{a}:{s}" for a, s in plan.api_stages)
        click.echo(f"{plan.plan_id}  {plan.name}  [{stages}]  {'; '.join(limits) or 'no limits'}  "
                   f"keys: {', '.join(plan.key_ids) or '-'}")


@api_plans.command("usage")
@click.argument("plan_id")
@click.option("--days", type=int, default=7, show_default=True, help="How many days back, today included.")
@click.pass_context
@_aws_errors
def api_plans_usage(ctx: click.Context, plan_id: str, days: int) -> None:
    """Requests per key and day (and what the quota leaves)."""
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=max(days, 1) - 1)
    for key_id, series in _open(ctx).usage_plans.usage(plan_id, first, today).items():
        for offset, (used, remaining) in enumerate(series):
            day: date = first + timedelta(days=offset)
            click.echo(f"{key_id}  {day.isoformat()}  used {used}" + (f"  remaining {remaining}" if remaining >= 0 else ""))
