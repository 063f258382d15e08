"""``cumulo deploy --dry-run`` never passes a template the real deploy then refuses: templates drawn from
pieces people write (functions of every runtime family with limits in and out of range, inline code,
queues and their events, schedules, log groups, alarms, layers, parameters), each planned and then
deployed on a store of its own."""

from __future__ import annotations

import uuid
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cumulo import Cumulo
from cumulo.deploy.engine import deploy
from cumulo.errors import CumuloError

FUNCTION = """\
  Fn{i}:
    Type: AWS::Serverless::Function
    Properties:
      Handler: {handler}
      Runtime: {runtime}
      MemorySize: {memory}
      Timeout: {timeout}
{code}{extra}"""
CODE = {"folder": "      CodeUri: src/\n", "inline": "      InlineCode: \"def handler(e, c):\\n    return 1\"\n",
        "missing": "      CodeUri: nowhere/\n", "default": ""}
EXTRAS = [
    "",
    "      ReservedConcurrentExecutions: 5\n",
    "      ReservedConcurrentExecutions: 100000\n",
    "      AutoPublishAlias: live\n      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 1}\n",
    "      Events:\n        Tick: {Type: Schedule, Properties: {Schedule: rate(5 minutes)}}\n",
    "      Events:\n        Tick: {Type: Schedule, Properties: {Schedule: rate(0 minutes)}}\n",
    "      Events:\n        Work: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 10}}\n",
    "      Events:\n        Work: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 100000}}\n",
    "      Layers: [!Ref Shared]\n",
    "      Environment: {Variables: {aws_reserved: x}}\n",
    "      Environment: {Variables: {AWS_REGION: x}}\n",
    "      Layers: [arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:38]\n",
    "      DurableConfig: {ExecutionTimeout: 900, RetentionPeriodInDays: 7}\n",
    "      DurableConfig: {ExecutionTimeout: 0}\n",
]
OTHERS = [
    "  Jobs:\n    Type: AWS::SQS::Queue\n",
    "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties: {VisibilityTimeout: 5}\n",
    "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: jobs.fifo}\n",
    "  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties: {RetentionInDays: 7}\n",
    "  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties: {RetentionInDays: 8}\n",
    "  Alarm:\n    Type: AWS::CloudWatch::Alarm\n    Properties: {MetricName: Errors, Threshold: 1}\n",
    "  Shared:\n    Type: AWS::Serverless::LayerVersion\n    Properties: {ContentUri: layer/}\n",
    "  Shared:\n    Type: AWS::Serverless::LayerVersion\n    Properties: {ContentUri: layer/, LayerName: 'bad name'}\n",
    "  Bus:\n    Type: AWS::Events::EventBus\n    Properties: {Name: orders}\n",
    "  Bus:\n    Type: AWS::Events::EventBus\n    Properties: {Name: default}\n",
]
RUNTIMES = ["python3.12", "python3.11", "nodejs20.x", "nodejs22.x", "nodejs24.x", "provided.al2023", "java21",
            "python2.7"]


def _invalid(extra: str) -> bool:
    return any(mark in extra for mark in ("100000", "rate(0", "aws_reserved", "AWS_REGION", "Insights",
                                          "ExecutionTimeout: 0"))


def mostly(valid: list[object], invalid: list[object]) -> st.SearchStrategy[object]:
    """Valid pieces twelve times as often as invalid ones, so that most templates get as far as the deploy."""
    return st.sampled_from(valid * 12 + invalid)


functions = st.builds(
    lambda runtime, memory, timeout, code, extra: (runtime, memory, timeout, code, extra),
    mostly(["python3.12", "python3.11", "nodejs20.x"], ["nodejs22.x", "nodejs24.x", "provided.al2023", "java21",
                                                         "python2.7"]),
    mostly([128, 512, 10240], [64, 10241]), mostly([3, 900], [901, 0]),
    mostly(["folder", "inline", "default"], ["missing"]),
    mostly([e for e in EXTRAS if not _invalid(e)], [e for e in EXTRAS if _invalid(e)]))
others = st.lists(mostly([o for o in OTHERS if "8}" not in o and "bad name" not in o and "default}" not in o
                          and "fifo" not in o],
                         [o for o in OTHERS if "8}" in o or "bad name" in o or "default}" in o or "fifo" in o]),
                  max_size=4)


def _template(root: Path, fns: list[tuple[str, int, int, str, str]], extra: list[str]) -> Path:
    app = root / f"app{uuid.uuid4().hex[:8]}"
    (app / "src").mkdir(parents=True)
    (app / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (app / "src" / "index.js").write_text("exports.handler = async () => 1;\n")
    (app / "layer" / "python").mkdir(parents=True)
    (app / "layer" / "python" / "shared.py").write_text("X = 1\n")
    body = "".join(FUNCTION.format(i=i, handler="index.handler" if code == "inline" else "app.handler",
                                   runtime=runtime, memory=memory, timeout=timeout, code=CODE[code], extra=extra)
                   for i, (runtime, memory, timeout, code, extra) in enumerate(fns))
    by_name = {piece.split(":", 1)[0]: piece for piece in extra}     # one resource of each name
    if "Jobs.Arn" in body and "  Jobs" not in by_name:
        by_name["  Jobs"] = OTHERS[0]
    if "!Ref Shared" in body and "  Shared" not in by_name:
        by_name["  Shared"] = OTHERS[6]
    path = app / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + body + "".join(by_name.values()))
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(st.lists(functions, min_size=1, max_size=3), others)
def test_a_plan_that_passes_is_a_deploy_that_passes(tmp_path: Path, fns: list[tuple[str, int, int, str, str]],
                                                    others: list[str]) -> None:
    path = _template(tmp_path, fns, others)
    with Cumulo(home=tmp_path / f"home{uuid.uuid4().hex[:8]}") as c:
        try:
            deploy(c, path, stack_name="s", dry_run=True, build=False)
        except CumuloError as exc:
            event(f"plan refused: {exc.message.split(':')[-1][:40]}")
            return                                  # refused by the plan: nothing to hold the deploy to
        event("planned")
        try:
            deploy(c, path, stack_name="s", build=False)
        except CumuloError as exc:
            raise AssertionError(f"the plan passed but the deploy refused:\n{path.read_text()}\n{exc}") from None
