"""``cumulo queue``, ``stream``, ``mapping`` and ``schedule``: queues, streams, event-source mappings, schedules.

They work on the store directly, so they work with or without a running server;
messages sent here are picked up by a running server's pollers within a moment.
"""

from __future__ import annotations

import json

import click

from cumulo.cli._common import aws_errors as _aws_errors, open_cumulo as _open, parse_pairs, print_json

__all__ = ["queue", "mapping", "schedule", "stream"]


@click.group()
def queue() -> None:
    """Queues with SQS semantics (standard and FIFO)."""


@queue.command("create")
@click.argument("name")
@click.option("--attribute", "attributes", multiple=True, metavar="NAME=VALUE",
              help="Queue attribute, e.g. VisibilityTimeout=60 or FifoQueue=true (repeatable).")
@click.pass_context
@_aws_errors
def queue_create(ctx: click.Context, name: str, attributes: tuple[str, ...]) -> None:
    """Create a queue (idempotent with the same attributes); prints its URL."""
    click.echo(_open(ctx).queues.create_queue(name, parse_pairs(attributes)))


@queue.command("list")
@click.option("--prefix", default=None, help="Only queues whose names start with this.")
@click.pass_context
@_aws_errors
def queue_list(ctx: click.Context, prefix: str | None) -> None:
    """List queues with their message counts (visible / in flight / delayed)."""
    c = _open(ctx)
    for url in c.queues.list_queues(prefix).get("QueueUrls", []):
        a = c.queues.get_queue_attributes(url, ["All"])
        kind = "fifo" if a.get("FifoQueue") == "true" else "standard"
        click.echo(f"{url.rsplit('/', 1)[1]}  {kind}  visible={a['ApproximateNumberOfMessages']} "
                   f"in-flight={a['ApproximateNumberOfMessagesNotVisible']} "
                   f"delayed={a['ApproximateNumberOfMessagesDelayed']}")


@queue.command("attributes")
@click.argument("name")
@click.option("--set", "changes", multiple=True, metavar="NAME=VALUE", help="Change an attribute (repeatable).")
@click.pass_context
@_aws_errors
def queue_attributes(ctx: click.Context, name: str, changes: tuple[str, ...]) -> None:
    """Show (or change) a queue's attributes."""
    c = _open(ctx)
    if changes:
        c.queues.set_queue_attributes(name, parse_pairs(changes))
    print_json(c.queues.get_queue_attributes(name, ["All"]))


@queue.command("send")
@click.argument("name")
@click.argument("body")
@click.option("--group", default=None, help="MessageGroupId (FIFO queues).")
@click.option("--dedup-id", default=None, help="MessageDeduplicationId (FIFO queues).")
@click.option("--delay", type=int, default=None, help="DelaySeconds (standard queues).")
@click.option("--attribute", "attributes", multiple=True, metavar="NAME=VALUE",
              help="A String message attribute (repeatable).")
@click.pass_context
@_aws_errors
def queue_send(ctx: click.Context, name: str, body: str, group: str | None, dedup_id: str | None,
               delay: int | None, attributes: tuple[str, ...]) -> None:
    """Send a message; prints SendMessage's answer."""
    attrs = {k: {"DataType": "String", "StringValue": v} for k, v in parse_pairs(attributes).items()}
    print_json(_open(ctx).queues.send_message(name, body, delay, attrs or None, None, group, dedup_id))


@queue.command("receive")
@click.argument("name")
@click.option("--max", "max_messages", type=int, default=1, show_default=True, help="1 to 10 messages.")
@click.option("--wait", type=int, default=0, show_default=True, help="Long-poll for up to this many seconds (0-20).")
@click.option("--visibility", type=int, default=None, help="Visibility timeout for these messages.")
@click.option("--delete", is_flag=True, help="Delete what was received.")
@click.pass_context
@_aws_errors
def queue_receive(ctx: click.Context, name: str, max_messages: int, wait: int, visibility: int | None,
                  delete: bool) -> None:
    """Receive messages (printed as JSON lines)."""
    c = _open(ctx)
    for m in c.queues.receive_message(name, max_messages, visibility, wait, ["All"], ["All"]):
        if delete:
            c.queues.delete_message(name, m["ReceiptHandle"])
        click.echo(json.dumps(m))


@queue.command("purge")
@click.argument("name")
@click.pass_context
@_aws_errors
def queue_purge(ctx: click.Context, name: str) -> None:
    """Delete every message in a queue."""
    _open(ctx).queues.purge_queue(name)


@queue.command("redrive")
@click.argument("dead_letter_queue")
@click.option("--to", "destination", default=None, help="Target queue (default: the queue it is the DLQ of).")
@click.pass_context
@_aws_errors
def queue_redrive(ctx: click.Context, dead_letter_queue: str, destination: str | None) -> None:
    """Move messages from a dead-letter queue back to its source (StartMessageMoveTask)."""
    c = _open(ctx)
    c.queues.start_message_move_task(c.queues.arn(dead_letter_queue),
                                     c.queues.arn(destination) if destination else None)
    task = c.queues.list_message_move_tasks(c.queues.arn(dead_letter_queue))[0]
    click.echo(f"moved {task['ApproximateNumberOfMessagesMoved']} messages to {task['DestinationArn']}")


@queue.command("delete")
@click.argument("name")
@click.pass_context
@_aws_errors
def queue_delete(ctx: click.Context, name: str) -> None:
    """Delete a queue and its messages."""
    _open(ctx).queues.delete_queue(name)


@click.group()
def mapping() -> None:
    """Event-source mappings: queues polled into function invocations."""


@mapping.command("create")
@click.argument("queue_name")
@click.argument("function")
@click.option("--batch-size", type=int, default=None, help="1-10,000 (default 10).")
@click.option("--window", type=int, default=None, help="MaximumBatchingWindowInSeconds, 0-300.")
@click.option("--report-failures", is_flag=True, help="FunctionResponseTypes ReportBatchItemFailures.")
@click.option("--max-concurrency", type=int, default=None, help="ScalingConfig.MaximumConcurrency, 2-1000.")
@click.pass_context
@_aws_errors
def mapping_create(ctx: click.Context, queue_name: str, function: str, batch_size: int | None, window: int | None,
                   report_failures: bool, max_concurrency: int | None) -> None:
    """Poll QUEUE_NAME into FUNCTION; prints the mapping's UUID."""
    c = _open(ctx)
    params: dict = {"EventSourceArn": c.queues.arn(queue_name), "FunctionName": function, "BatchSize": batch_size,
                    "MaximumBatchingWindowInSeconds": window}
    if report_failures:
        params["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
    if max_concurrency:
        params["ScalingConfig"] = {"MaximumConcurrency": max_concurrency}
    click.echo(c.mappings.create(**params)["UUID"])


@mapping.command("list")
@click.pass_context
@_aws_errors
def mapping_list(ctx: click.Context) -> None:
    """List event-source mappings."""
    for m in _open(ctx).mappings.list():
        click.echo(f"{m['UUID']}  {m['EventSourceArn'].rsplit(':', 1)[1]} -> {m['FunctionArn'].split(':', 6)[6]}  "
                   f"{m['State']}  batch={m['BatchSize']}  last: {m['LastProcessingResult']}")


@mapping.command("enable")
@click.argument("uuid")
@click.pass_context
@_aws_errors
def mapping_enable(ctx: click.Context, uuid: str) -> None:
    """Enable a mapping."""
    _open(ctx).mappings.update(uuid, Enabled=True)


@mapping.command("disable")
@click.argument("uuid")
@click.pass_context
@_aws_errors
def mapping_disable(ctx: click.Context, uuid: str) -> None:
    """Disable a mapping (its pollers stop; messages stay in the queue)."""
    _open(ctx).mappings.update(uuid, Enabled=False)


@mapping.command("delete")
@click.argument("uuid")
@click.pass_context
@_aws_errors
def mapping_delete(ctx: click.Context, uuid: str) -> None:
    """Delete a mapping."""
    _open(ctx).mappings.delete(uuid)


@click.group()
def schedule() -> None:
    """Schedules: rate(...), cron(...) and at(...) expressions that invoke functions."""


@schedule.command("create")
@click.argument("name")
@click.argument("expression")
@click.argument("function")
@click.option("--timezone", "tz", default=None, help="IANA time zone for cron/at (default UTC).")
@click.option("--input", "input_", default=None, help="JSON the function receives (default: a Scheduled Event).")
@click.option("--window", type=int, default=None, help="Flexible time window in minutes (1-1440).")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.pass_context
@_aws_errors
def schedule_create(ctx: click.Context, name: str, expression: str, function: str, tz: str | None,
                    input_: str | None, window: int | None, disabled: bool) -> None:
    """Invoke FUNCTION (asynchronously) on EXPRESSION, e.g. "rate(5 minutes)" or "cron(0 9 ? * MON-FRI *)"."""
    doc = _open(ctx).schedules_service.create(name, expression, function, timezone_name=tz, input=input_,
                                              state="DISABLED" if disabled else "ENABLED",
                                              flexible_window_minutes=window)
    click.echo(f"{doc['Name']}: next {doc.get('NextInvocation', 'never')}")


@schedule.command("list")
@click.pass_context
@_aws_errors
def schedule_list(ctx: click.Context) -> None:
    """List schedules with their next invocation."""
    for d in _open(ctx).schedules_service.list():
        click.echo(f"{d['Name']}  {d['ScheduleExpression']} ({d['ScheduleExpressionTimezone']})  -> "
                   f"{d['Target']['Arn']}  {d['State']}  next {d.get('NextInvocation', '-')}")


@schedule.command("enable")
@click.argument("name")
@click.pass_context
@_aws_errors
def schedule_enable(ctx: click.Context, name: str) -> None:
    """Enable a schedule."""
    _open(ctx).schedules_service.set_state(name, True)


@schedule.command("disable")
@click.argument("name")
@click.pass_context
@_aws_errors
def schedule_disable(ctx: click.Context, name: str) -> None:
    """Disable a schedule."""
    _open(ctx).schedules_service.set_state(name, False)


@schedule.command("delete")
@click.argument("name")
@click.pass_context
@_aws_errors
def schedule_delete(ctx: click.Context, name: str) -> None:
    """Delete a schedule."""
    _open(ctx).schedules_service.delete(name)


@click.group()
def stream() -> None:
    """Streams with Kinesis semantics: shards, partition keys, ordered records."""


@stream.command("create")
@click.argument("name")
@click.option("--shards", type=int, default=1, show_default=True, help="Number of shards (1-64).")
@click.pass_context
@_aws_errors
def stream_create(ctx: click.Context, name: str, shards: int) -> None:
    """Create a stream; prints its ARN."""
    c = _open(ctx)
    c.streams.create_stream(name, shards)
    click.echo(c.streams.arn(name))


@stream.command("list")
@click.pass_context
@_aws_errors
def stream_list(ctx: click.Context) -> None:
    """List streams and their shards."""
    c = _open(ctx)
    for name in c.streams.list_streams():
        click.echo(f"{name}  shards={c.streams.shard_count(name)}  {c.streams.arn(name)}")


@stream.command("put")
@click.argument("name")
@click.argument("partition_key")
@click.argument("data")
@click.pass_context
@_aws_errors
def stream_put(ctx: click.Context, name: str, partition_key: str, data: str) -> None:
    """Append a record (DATA as text); prints its shard and sequence number."""
    print_json(_open(ctx).streams.put_record(name, data.encode(), partition_key))


@stream.command("read")
@click.argument("name")
@click.option("--shard", default="shardId-000000000000", show_default=True)
@click.option("--from", "start", type=click.Choice(["TRIM_HORIZON", "LATEST"]), default="TRIM_HORIZON",
              show_default=True)
@click.option("--limit", type=int, default=100, show_default=True)
@click.pass_context
@_aws_errors
def stream_read(ctx: click.Context, name: str, shard: str, start: str, limit: int) -> None:
    """Print a shard's records (JSON lines, data as text)."""
    c = _open(ctx)
    it = c.streams.get_shard_iterator(shard, start, name)
    for r in c.streams.get_records(it, limit)["Records"]:
        click.echo(json.dumps({**r, "Data": r["Data"].decode(errors="replace")}))
