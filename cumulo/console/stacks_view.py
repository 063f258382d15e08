"""The console's stacks: every stack with its status, a form that deploys a template (CreateStack or
UpdateStack through the API, see ``server.py``), and one stack's outputs, resources and events.

Reads are CloudFormation's own (``deploy/stacks.py``: what DescribeStacks, DescribeStackResources
and DescribeStackEvents answer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cumulo.console.html import Safe, join, render, url
from cumulo.deploy import stacks

if TYPE_CHECKING:
    from cumulo.app import Cumulo

__all__ = ["stacks_page", "stack_page", "deploy_form", "SAMPLE_TEMPLATE"]

SAMPLE_TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return {"hello": event.get("name", "world")}
Outputs:
  HelloArn:
    Value: !GetAtt Hello.Arn
"""


def _status_class(status: str) -> str:
    if status.endswith("_COMPLETE") and "ROLLBACK" not in status and "DELETE" not in status:
        return "good"
    if "FAILED" in status or "ROLLBACK" in status:
        return "bad"
    return "muted"


def deploy_form(csrf: str, stack: str = "", template: str = "") -> Safe:
    return render(
        '<form method="post" action="/stacks/deploy" class="deploy"><h2>Deploy a template</h2>'
        '<input type="hidden" name="csrf" value="{csrf}">'
        '<label for="stack">Stack name</label><input type="text" id="stack" name="stack" value="{stack}" required>'
        '<label for="template">Template (YAML or JSON; SAM or plain CloudFormation; code inline)</label>'
        '<textarea id="template" name="template" required>{body}</textarea>'
        '<p><input type="checkbox" id="ack" name="ack" value="yes"> <label for="ack" class="inline-label">'
        'I acknowledge that this template may create IAM roles and expand macros (CAPABILITY_IAM, '
        'CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND)</label></p>'
        '<p><button type="submit">Deploy</button></p></form>',
        csrf=csrf, stack=stack, body=template or SAMPLE_TEMPLATE)


def stacks_page(c: "Cumulo", csrf: str) -> Safe:
    rows = [render('<tr><td><a href="{h}">{n}</a></td><td class="{cls}">{s}</td><td>{r}</td><td>{t}</td></tr>',
                   h=url("stacks", s["StackName"]), n=s["StackName"], cls=_status_class(s["StackStatus"]),
                   s=s["StackStatus"], r=s.get("StackStatusReason", ""),
                   t=s.get("LastUpdatedTime") or s.get("CreationTime", ""))
            for s in sorted(stacks.describe_stacks(c), key=lambda s: s["StackName"])]
    table = render('<table><caption class="muted">Stacks (cumulo deploy, CloudFormation\'s API, this page)'
                   '</caption><thead><tr><th scope="col">Stack</th><th scope="col">Status</th>'
                   '<th scope="col">Reason</th><th scope="col">Updated</th></tr></thead><tbody>{rows}</tbody></table>',
                   rows=join(rows) or Safe('<tr><td colspan="4">No stacks.</td></tr>'))
    return render("{t}{f}", t=table, f=deploy_form(csrf))


def _physical(resource: dict[str, str]) -> Safe:
    """A resource's physical id; a function's links to its page."""
    physical = str(resource.get("PhysicalResourceId", ""))
    if resource.get("ResourceType") in ("AWS::Lambda::Function", "AWS::Serverless::Function") and physical:
        return render('<a href="{h}"><code>{p}</code></a>', h=url("functions", physical.rsplit(":", 1)[-1]), p=physical)
    return render("<code>{p}</code>", p=physical)


def stack_page(c: "Cumulo", name: str, csrf: str) -> Safe:
    [stack] = stacks.describe_stacks(c, name)
    outputs = [render("<tr><td>{k}</td><td><code>{v}</code></td><td>{d}</td></tr>", k=o.get("OutputKey", ""),
                      v=o.get("OutputValue", ""), d=o.get("Description", "")) for o in stack.get("Outputs", [])]
    resources = [render('<tr><td>{l}</td><td>{t}</td><td>{p}</td><td class="{cls}">{s}</td></tr>',
                        l=r.get("LogicalResourceId", ""), t=r.get("ResourceType", ""), p=_physical(r),
                        cls=_status_class(str(r.get("ResourceStatus", ""))), s=r.get("ResourceStatus", ""))
                 for r in stacks.describe_stack_resources(c, name)]
    events = [render('<tr><td>{t}</td><td>{l}</td><td class="{cls}">{s}</td><td>{r}</td></tr>',
                     t=e.get("Timestamp", ""), l=e.get("LogicalResourceId", ""),
                     cls=_status_class(str(e.get("ResourceStatus", ""))), s=e.get("ResourceStatus", ""),
                     r=e.get("ResourceStatusReason", "")) for e in stacks.describe_stack_events(c, name)[:50]]
    template = stacks.get_template(c, name).get("TemplateBody", "")
    return render(
        '<p>Status: <span class="{cls}" id="stack-status">{status}</span> {reason}</p>'
        '<h2>Outputs</h2><table><thead><tr><th scope="col">Key</th><th scope="col">Value</th>'
        '<th scope="col">Description</th></tr></thead><tbody>{outputs}</tbody></table>'
        '<h2>Resources</h2><table><thead><tr><th scope="col">Logical id</th><th scope="col">Type</th>'
        '<th scope="col">Physical id</th><th scope="col">Status</th></tr></thead><tbody>{resources}</tbody></table>'
        '<h2>Events, newest first</h2><table><thead><tr><th scope="col">When</th><th scope="col">Resource</th>'
        '<th scope="col">Status</th><th scope="col">Reason</th></tr></thead><tbody>{events}</tbody></table>{form}',
        cls=_status_class(stack["StackStatus"]), status=stack["StackStatus"], reason=stack.get("StackStatusReason", ""),
        outputs=join(outputs) or Safe('<tr><td colspan="3">No outputs.</td></tr>'),
        resources=join(resources) or Safe('<tr><td colspan="4">No resources.</td></tr>'),
        events=join(events) or Safe('<tr><td colspan="4">No events.</td></tr>'),
        form=deploy_form(csrf, name, template if isinstance(template, str) else ""))
