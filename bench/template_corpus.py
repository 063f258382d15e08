"""How much of a public collection of SAM applications Cumulo deploys unchanged (issue 20).

    python bench/template_corpus.py CORPUS [--deploy] [--json OUT] [--top N] [--only SUBSTRING]

CORPUS is a folder holding templates, e.g. a checkout of AWS's ``aws-samples/serverless-patterns``.
Every ``*.yaml``/``*.yml``/``*.json``/``*.template`` file that parses as a CloudFormation template (a
``Resources`` map of typed resources) is counted; the SAM ones (``Transform:
AWS::Serverless-2016-10-31``) are the collection measured, and the plain CloudFormation ones are
measured the same way beside them. For each template:

- *types accepted*: every resource type is one Cumulo deploys or accepts (``KINDS``);
- *runtimes run*: every function's ``Runtime`` (its own or ``Globals.Function``) is one Cumulo runs
  (``SUPPORTED_RUNTIMES``; a Node.js major still has to be on the machine to deploy);
- *services had*: it needs only services Cumulo has (``HAVE_SERVICES`` below, less the products of
  ``NOT_HAD``: no Cognito, AppSync, Pipes, ECS, load balancers, custom resources, ...; nor function events
  of services it lacks, ``MISSING_EVENTS``);
- *plans*: ``cumulo deploy --dry-run`` accepts it (``deploy(..., dry_run=True, build=False)`` on a
  store of its own, no server needed);
- *deploys* (with ``--deploy``): the real deploy, on a fresh store per template, without building
  (``--no-build``: no network), succeeds; a plan that passes and a deploy that fails is listed as a
  dry-run dishonesty.

The report gives the counts and the top reasons for refusal by number of templates: each type not
accepted (a template counts once per such type), and for the others the first error, with resource
names, lines and quoted values taken out. Parameters without a Default get a placeholder value that
satisfies their AllowedValues/pattern where that is easy (as a user would give one), so a template
is not refused only for needing a value. Not a test and not timed: a measurement of breadth.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if not os.environ.get("PYTHONPATH"):     # PYTHONPATH=another/checkout measures that build with this script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.deploy.engine import deploy  # noqa: E402
from cumulo.deploy.intrinsics import IntrinsicError, parse  # noqa: E402
from cumulo.deploy.kinds import KINDS  # noqa: E402
from cumulo.errors import CumuloError  # noqa: E402
from cumulo.model.function import SUPPORTED_RUNTIMES  # noqa: E402

SAM = "AWS::Serverless-2016-10-31"
SKIP_DIRS = {"node_modules", ".aws-sam", "cdk.out", ".git", "venv", ".venv", "__pycache__", "target", "dist",
             "build"}
SUFFIXES = {".yaml", ".yml", ".json", ".template"}
MAX_BYTES = 1_000_000
# The stack name a user gives (``sam deploy --guided`` offers this one): the folder's name, the default of
# ``cumulo deploy``, is often so long that names built from it (``${AWS::StackName}-...``) pass AWS's limits.
STACK = "sam-app"

# Services Cumulo has, by the service part of a resource type (AWS::<Service>::...), and SAM types.
# (Services with no local meaning count as had: their resources need not exist for the application to work.)
# A type of a had service that Cumulo does not deploy still counts as had (it is a gap in that service, and
# shows among the refusals); a type that is a different product under the same service name is in NOT_HAD.
HAVE_SERVICES = {"Lambda", "ApiGateway", "ApiGatewayV2", "SQS", "Kinesis", "Events", "StepFunctions", "Scheduler",
                 "IAM", "Logs", "CloudWatch", "KMS", "XRay", "S3", "SNS", "DynamoDB", "SecretsManager", "SSM",
                 "CodeDeploy"}
# A VPC's networking, without which functions run as on AWS (Cumulo's VpcConfig: no outbound network).
HAVE_TYPES = {f"AWS::EC2::{t}" for t in ("VPC", "Subnet", "SecurityGroup", "SecurityGroupIngress", "SecurityGroupEgress",
                                          "InternetGateway", "VPCGatewayAttachment", "RouteTable", "Route",
                                          "SubnetRouteTableAssociation", "EIP", "NatGateway", "VPCEndpoint")}
# Types of had services that are products Cumulo does not have, with the reason.
NOT_HAD: dict[str, str] = {
    "AWS::Lambda::MicrovmImage": "Lambda MicroVMs (an image built and run as microVMs), not functions",
    "AWS::Lambda::NetworkConnector": "Lambda MicroVMs' egress networking",
    "AWS::Lambda::CapacityProvider": "Lambda Managed Instances (functions on EC2 instances of the account)",
    "AWS::Serverless::CapacityProvider": "Lambda Managed Instances (functions on EC2 instances of the account)",
    "AWS::Logs::SubscriptionFilter": "log subscriptions deliver nothing (Cumulo accepts the filter inertly)",
    "AWS::Logs::Destination": "log subscriptions deliver nothing",
    "AWS::SSM::Document": "Systems Manager's run documents (Cumulo's SSM is Parameter Store)",
    "AWS::SSM::Association": "Systems Manager's run documents (Cumulo's SSM is Parameter Store)",
    "AWS::SSM::MaintenanceWindow": "Systems Manager's maintenance windows (Cumulo's SSM is Parameter Store)",
    "AWS::S3::AccessPoint": "S3 access points (and the S3 Object Lambda they serve)",
    "AWS::S3Express::DirectoryBucket": "S3 Express One Zone",
}
HAVE_SAM = {"AWS::Serverless::Function", "AWS::Serverless::Api", "AWS::Serverless::HttpApi",
            "AWS::Serverless::StateMachine", "AWS::Serverless::LayerVersion", "AWS::Serverless::Connector",
            "AWS::Serverless::SimpleTable"}
# Function event types of services Cumulo does not have (S3, SNS and DynamoDB events are wired; CloudWatchLogs
# is a log subscription, which delivers nothing).
MISSING_EVENTS = {"CloudWatchLogs", "IoTRule", "AlexaSkill", "Cognito", "MSK", "MQ", "SelfManagedKafka",
                  "DocumentDB"}


@dataclass
class Result:
    path: str
    sam: bool
    types: list[str] = field(default_factory=list)
    runtimes: list[str] = field(default_factory=list)
    not_accepted: list[str] = field(default_factory=list)
    missing_services: list[str] = field(default_factory=list)
    runtimes_run: bool = True
    plan_error: str | None = None
    plan_crash: str | None = None
    deploy_error: str | None = None
    deployed: bool | None = None
    warnings: int = 0

    @property
    def accepted(self) -> bool:
        return not self.not_accepted

    @property
    def planned(self) -> bool:
        return self.plan_error is None and self.plan_crash is None

    @property
    def services_had(self) -> bool:
        return not self.missing_services


def find_templates(root: Path, only: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix.lower() not in SUFFIXES or path.is_symlink() or (only and only not in str(path)):
                continue
            try:
                if path.stat().st_size > MAX_BYTES:
                    continue
                text = path.read_text(encoding="utf-8")
                if not _may_be_template(text):
                    continue
                doc = parse(text)
            except (OSError, UnicodeDecodeError, IntrinsicError, RecursionError):
                continue
            if _is_template(doc):
                found.append((path, doc))
    return found


def _may_be_template(text: str) -> bool:
    """A quick look before the (slow) CloudFormation parse: a template names its Resources and their types; a
    JSON document that is not one is told by the standard parser (vendored SDK data, package locks, ...)."""
    if "Resources" not in text or ("AWS::" not in text and "Custom::" not in text):
        return False
    if text.lstrip().startswith("{"):
        try:
            return _is_template(json.loads(text))
        except ValueError:
            return True
    return True


def _is_template(doc: Any) -> bool:
    resources = doc.get("Resources") if isinstance(doc, dict) else None
    return (isinstance(resources, dict) and bool(resources)
            and all(isinstance(r, dict) and isinstance(r.get("Type"), str) for r in resources.values()))


def _is_sam(doc: dict[str, Any]) -> bool:
    transform = doc.get("Transform")
    return SAM in (transform if isinstance(transform, list) else [transform])


def _service_missing(type_: str) -> bool:
    if type_ in HAVE_TYPES:
        return False
    if type_ in NOT_HAD:
        return True
    if type_.startswith("AWS::Serverless::"):
        return type_ not in HAVE_SAM
    if type_.startswith("Custom::") or type_ == "AWS::CloudFormation::CustomResource":
        return True    # a custom resource is a function CloudFormation calls with its own protocol
    parts = type_.split("::")
    return len(parts) != 3 or parts[0] != "AWS" or parts[1] not in HAVE_SERVICES


def inspect(path: Path, doc: dict[str, Any]) -> Result:
    resources = doc["Resources"]
    types = sorted({r["Type"] for r in resources.values()})
    result = Result(str(path), _is_sam(doc), types)
    result.not_accepted = [t for t in types if KINDS.of_type(t) is None]
    missing = {t for t in types if _service_missing(t)}
    globals_ = doc.get("Globals") if isinstance(doc.get("Globals"), dict) else {}
    global_runtime = (globals_.get("Function") or {}).get("Runtime") if isinstance(globals_.get("Function"),
                                                                                 dict) else None
    for r in resources.values():
        props = r.get("Properties") if isinstance(r.get("Properties"), dict) else {}
        if r["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            runtime = props.get("Runtime", global_runtime)
            if props.get("PackageType") == "Image":
                runtime = "(container image)"
            if isinstance(runtime, str):
                result.runtimes.append(runtime)
            events = props.get("Events") if isinstance(props.get("Events"), dict) else {}
            missing |= {f"{e.get('Type')} event" for e in events.values()
                        if isinstance(e, dict) and e.get("Type") in MISSING_EVENTS}
    result.runtimes = sorted(set(result.runtimes))
    result.runtimes_run = all(r in SUPPORTED_RUNTIMES for r in result.runtimes)
    result.missing_services = sorted(missing)
    return result


def placeholder_parameters(doc: dict[str, Any]) -> dict[str, str]:
    """A value for each parameter without a Default (or a secret's, ``NoEcho`` with an empty Default), as a user
    would pass one: each its own (two bucket names are two names), a URL where the name says it is one."""
    out: dict[str, str] = {}
    params = doc.get("Parameters") if isinstance(doc.get("Parameters"), dict) else {}
    for name, spec in params.items():
        if not isinstance(spec, dict) or ("Default" in spec and not (spec.get("NoEcho") in (True, "true", "True")
                                                                     and spec.get("Default") == "")
                                          and not _asks_for_a_value(spec["Default"])):
            continue
        allowed = spec.get("AllowedValues")
        kind = str(spec.get("Type", "String"))
        if isinstance(allowed, list) and allowed:
            out[name] = str(allowed[0])
        elif kind == "Number" or kind == "List<Number>":
            out[name] = str(spec.get("MinValue", 1))
        elif kind.startswith("AWS::EC2::") or kind.startswith("List<AWS::EC2::"):
            out[name] = {"AWS::EC2::VPC::Id": "vpc-0123456789abcdef0", "AWS::EC2::Subnet::Id": "subnet-0123456789abcdef0",
                         "AWS::EC2::SecurityGroup::Id": "sg-0123456789abcdef0"}.get(
                kind.removeprefix("List<").removesuffix(">"), "example")
        else:
            minimum = int(spec.get("MinLength", 1)) if str(spec.get("MinLength", "1")).isdigit() else 1
            maximum = int(spec.get("MaxLength", 40)) if str(spec.get("MaxLength", "40")).isdigit() else 40
            own = "example-" + re.sub(r"[^a-z0-9]", "", name.lower())
            out[name] = (own + "x" * max(0, minimum - len(own)))[:max(maximum, minimum)]
            if "@" in str(spec.get("AllowedPattern", "")) or "mail" in name.lower():
                out[name] = "someone@example.com"
            elif isinstance(spec.get("AllowedPattern"), str):
                out[name] = _matching(spec["AllowedPattern"]) or out[name]
            elif re.search(r"url|endpoint|webhook", name, re.IGNORECASE) or str(spec.get("Default", "")).startswith(
                    ("http://", "https://")):
                out[name] = "https://example.com/" + re.sub(r"[^a-z0-9]", "", name.lower())
    return out


def _asks_for_a_value(default: Any) -> bool:
    """A Default that is an instruction to the user, not a value ('https://webhook.site/<<ENTER YOUR URL>>',
    'Enter a name for the log group'): the user gives one."""
    text = str(default)
    return bool(re.search(r"<<[^>]*>>|<[A-Z_ ]{3,}>|^(enter|your|replace|insert|put) ", text, re.IGNORECASE))


def _matching(pattern: str) -> str | None:
    """A short string matching ``pattern`` (as a user would type one), if hypothesis finds one quickly."""
    try:
        import warnings

        from hypothesis import strategies
        from hypothesis.errors import NonInteractiveExampleWarning
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonInteractiveExampleWarning)
            value = strategies.from_regex(pattern, fullmatch=True).filter(
                lambda s: s.isascii() and s.isprintable() and 0 < len(s) < 64).example()
            return str(value)
    except Exception:  # noqa: BLE001 - no hypothesis, or a pattern Python cannot read: keep the placeholder
        return None


_LINE = re.compile(r"\s*\(line \d+\)")
_QUOTED = re.compile(r"'([^']*)'")


def reason(message: str) -> str:
    """An error message with what differs between templates taken out (resource names, lines, values)."""
    text = message.split("\n", 1)[0]
    text = re.sub(r"^Deploy of stack \S+ failed and was rolled back: ", "", text)
    text = _LINE.sub("", text)
    text = re.sub(r"^(Resource|Parameter|Output|Condition|Mapping) \w+: ", r"\1 …: ", text)
    text = re.sub(r"\bevent \w+\b", "event …", text)
    text = re.sub(r"^Template: Resource \w+: ", "Resource …: ", text)
    text = re.sub(r"\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) /\S*: ", "METHOD /…: ", text)
    text = re.sub(r"\broute [^:]+: ", "METHOD /…: ", text)
    text = text.replace("property DefinitionBody: METHOD", "METHOD")
    text = re.sub(r"integration type (aws|AWS)\b", "integration type AWS", text)
    text = re.sub(r"\(only Lambda proxy integrations.*", "(only Lambda proxy integrations …)", text)

    def quoted(match: re.Match[str]) -> str:
        value = match.group(1)
        keep = value.startswith(("AWS::", "Fn::", "Custom::")) or value in ("Ref",) or re.fullmatch(
            r"[A-Z][A-Za-z]+", value) is not None
        return f"'{value}'" if keep else "'…'"

    text = _QUOTED.sub(quoted, text)
    text = re.sub(r"(Cumulo deploys|supported event types:|use) .*", r"\1 …", text)
    text = re.sub(r"\(looked for [^)]*\)", "", text)
    text = re.sub(r"\d{3,}", "N", text)
    return text.strip()[:200]


def plan_one(home: Path, path: Path, doc: dict[str, Any], result: Result) -> None:
    with Cumulo(home=home) as c:
        try:
            planned = deploy(c, path, placeholder_parameters(doc), stack_name=STACK, dry_run=True,
                             build=False)
            result.warnings = len(planned.warnings)
        except CumuloError as exc:
            result.plan_error = exc.message
        except Exception as exc:  # noqa: BLE001 - a crash is a finding, not the end of the run
            result.plan_crash = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(limit=-3)


def deploy_one(path: Path, doc: dict[str, Any], result: Result) -> None:
    with tempfile.TemporaryDirectory(prefix="corpus-") as tmp, Cumulo(home=Path(tmp) / "home") as c:
        try:
            deploy(c, path, placeholder_parameters(doc), stack_name=STACK, build=False)
            result.deployed = True
        except CumuloError as exc:
            result.deployed, result.deploy_error = False, exc.message
        except Exception as exc:  # noqa: BLE001
            result.deployed, result.deploy_error = False, f"crash {type(exc).__name__}: {exc}"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


def _top(counter: collections.Counter[str], n: int) -> list[str]:
    return [f"{count:5d}  {what}" for what, count in counter.most_common(n)]


def report(results: list[Result], corpus: Path, top: int, deployed: bool) -> str:
    sam = [r for r in results if r.sam]
    plain = [r for r in results if not r.sam]
    runs = [r for r in sam if r.runtimes_run]
    accepted = [r for r in sam if r.accepted]
    planned = [r for r in sam if r.planned]
    had = [r for r in runs if r.services_had]
    lines = [f"corpus: {corpus}", f"templates: {len(results)} ({len(sam)} SAM, {len(plain)} other CloudFormation)",
             "", "SAM templates:",
             f"  use only resource types Cumulo accepts  {len(accepted):4d} / {len(sam)}",
             f"  plan (deploy --dry-run)                 {len(planned):4d} / {len(sam)}",
             f"  runtimes Cumulo runs                    {len(runs):4d} / {len(sam)}",
             f"    of those, plan                        {sum(r.planned for r in runs):4d} / {len(runs)}",
             f"  runtimes run and only services Cumulo has {len(had):4d}",
             f"    of those, plan                        {sum(r.planned for r in had):4d} / {len(had)}"]
    if deployed:
        lines += [f"  deploy (real, --no-build)               {sum(bool(r.deployed) for r in sam):4d} / {len(sam)}",
                  f"    runtimes run and services had, deploy {sum(bool(r.deployed) for r in had):4d} / {len(had)}"
                  f"  ({_share(sum(bool(r.deployed) for r in had), len(had))})",
                  f"  plan passes but deploy fails (dry-run dishonest) "
                  f"{sum(r.planned and r.deployed is False for r in sam):4d}"]
    crashes = [r for r in sam if r.plan_crash]
    if crashes:
        lines += ["", f"planner crashes ({len(crashes)}):"] + [f"  {r.path}: {r.plan_crash}" for r in crashes[:20]]
    types = collections.Counter(t for r in sam for t in r.not_accepted)
    lines += ["", "resource types not accepted, by templates:"] + _top(types, top)
    errors = collections.Counter(reason(r.plan_error) for r in sam if r.accepted and r.plan_error)
    lines += ["", "first refusal of templates whose types are all accepted, by templates:"] + _top(errors, top)
    had_errors = collections.Counter(reason(r.plan_error) if r.plan_error else f"not accepted: {r.not_accepted[0]}"
                                     for r in had if not r.planned)
    lines += ["", "why templates needing only what Cumulo has do not plan:"] + _top(had_errors, top)
    if deployed:
        failures = collections.Counter(reason(r.deploy_error or "") for r in results if r.planned and r.deployed is False)
        lines += ["", "planned but refused by the real deploy:"] + _top(failures, top)
        blockers = collections.Counter(
            reason(r.plan_error) if r.plan_error else f"not accepted: {r.not_accepted[0]}" if r.not_accepted
            else f"planner crash: {r.plan_crash}" if r.plan_crash else f"deploy: {reason(r.deploy_error or '')}"
            for r in had if not r.deployed)
        lines += ["", "why templates needing only what Cumulo has do not deploy (plan or deploy refusal):"] + _top(
            blockers, top)
    plain_had = [r for r in plain if r.runtimes_run and r.services_had]
    lines += ["", "plain CloudFormation templates (no SAM transform):",
              f"  use only resource types Cumulo accepts  {sum(r.accepted for r in plain):4d} / {len(plain)}",
              f"  plan (deploy --dry-run)                 {sum(r.planned for r in plain):4d} / {len(plain)}",
              f"  runtimes run and only services Cumulo has {len(plain_had):4d}",
              f"    of those, plan                        {sum(r.planned for r in plain_had):4d} / {len(plain_had)}"]
    if deployed:
        lines += [f"  deploy (real, --no-build)               {sum(bool(r.deployed) for r in plain):4d} / {len(plain)}",
                  f"    runtimes run and services had, deploy {sum(bool(r.deployed) for r in plain_had):4d} / "
                  f"{len(plain_had)}  ({_share(sum(bool(r.deployed) for r in plain_had), len(plain_had))})",
                  f"  plan passes but deploy fails (dry-run dishonest) "
                  f"{sum(r.planned and r.deployed is False for r in plain):4d}"]
    plain_errors = collections.Counter(reason(r.plan_error) if r.plan_error else f"not accepted: {r.not_accepted[0]}"
                                       for r in plain_had if not r.planned)
    lines += ["", "why plain templates needing only what Cumulo has do not plan:"] + _top(plain_errors, top)
    runtimes = collections.Counter(rt for r in sam for rt in r.runtimes if rt not in SUPPORTED_RUNTIMES)
    lines += ["", "runtimes Cumulo does not run, by templates:"] + _top(runtimes, 10)
    missing = collections.Counter(s for r in runs for s in r.missing_services)
    lines += ["", "services Cumulo does not have (templates whose runtimes it runs):"] + _top(missing, top)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--deploy", action="store_true", help="also deploy each template for real (slower)")
    parser.add_argument("--json", type=Path, help="write every template's result here")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--only", help="only templates whose path contains this")
    args = parser.parse_args()
    started = time.monotonic()
    templates = [(p, d) for p, d in find_templates(args.corpus, args.only)]
    found = time.monotonic()
    results = []
    planning = deploying = 0.0
    with tempfile.TemporaryDirectory(prefix="corpus-plan-") as tmp:
        for path, doc in templates:
            result = inspect(path.relative_to(args.corpus), doc)
            began = time.monotonic()
            plan_one(Path(tmp) / "home", path, doc, result)      # SAM and plain CloudFormation alike
            planning += time.monotonic() - began
            if args.deploy and result.planned:
                began = time.monotonic()
                deploy_one(path, doc, result)
                deploying += time.monotonic() - began
            results.append(result)
    print(report(results, args.corpus, args.top, args.deploy))
    print(f"\n({time.monotonic() - started:.0f} s: finding templates {found - started:.0f} s, planning "
          f"{planning:.0f} s" + (f", deploying {deploying:.0f} s" if args.deploy else "") + ")")
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "planned": r.planned} for r in results], indent=1))


if __name__ == "__main__":
    main()
