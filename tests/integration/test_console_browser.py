"""The web console in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright
through what a person does — log in, invoke with a test event, watch the live tail, open a failed
execution and see the failing state marked, fix its cause and redrive it, redrive a dead-letter queue. Assertions are on what the
page shows; a screenshot of each page is saved under ``artifacts/console/`` (``CUMULO_ARTIFACTS``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.test_server import CumuloServer, create, unique, zip_of
from tests.integration.test_stepfunctions import states_role

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CUMULO_ARTIFACTS") or ROOT / "artifacts") / "console"
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'

APP = """
import json
def handler(event, context):
    print("got", json.dumps(event))
    if "marker" in event:
        print(json.dumps({"level": "INFO", "marker": event["marker"], "html": "<b>not bold</b>"}))
    if event.get("fail"):
        raise ValueError("refused: " + str(event.get("fail")))
    return {"echo": event}
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("[browser] no Chromium here (Debian's package chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("[browser] the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloServer]:
    srv = CumuloServer(tmp_path_factory.mktemp("console") / "home")
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def page(browser: Any, server: CumuloServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    dialogs: list[str] = []
    p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    p.dialogs = dialogs
    p.set_default_timeout(20_000)
    yield p
    assert p.title() != "pwned" and not dialogs, "a hostile string ran as script"
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page: Any, server: CumuloServer) -> None:
    page.goto(server.console_url + "/functions")
    assert page.url.endswith("/login")
    page.get_by_label("Access key ID").fill(server.key_id)
    page.get_by_label("Secret access key").fill(server.secret)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/functions")


@pytest.fixture(scope="module")
def function(server: CumuloServer) -> str:
    lam = server.client()
    name = unique("web")
    create(lam, name, zip_of(**{"app.py": APP}), Description=HOSTILE)
    lam.close()
    return name


def test_login_refuses_a_wrong_secret_then_lists_functions(page: Any, server: CumuloServer, function: str) -> None:
    page.goto(server.console_url + "/")
    page.get_by_label("Access key ID").fill(server.key_id)
    page.get_by_label("Secret access key").fill(server.secret + "x")
    page.get_by_role("button", name="Log in").click()
    assert "not this store's" in page.get_by_role("alert").inner_text()
    shot(page, "login")
    login(page, server)
    row = page.locator("tr", has=page.get_by_role("link", name=function))
    assert "python3.11" in row.inner_text() and "128 MB" in row.inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "cumulo_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert server.secret not in page.url and server.key_id not in page.url


def test_invoke_with_a_sample_event_shows_result_and_log_tail(page: Any, server: CumuloServer, function: str) -> None:
    login(page, server)
    page.get_by_role("link", name=function).click()
    assert HOSTILE in page.locator("dl.config").first.inner_text()      # shown as text, not run
    page.get_by_label("Sample event").select_option("SQS message")
    assert '"eventSource": "aws:sqs"' in page.get_by_label("Event (JSON)").input_value()
    page.get_by_role("button", name="Invoke").click()
    assert "succeeded" in page.locator("#result-status").inner_text()
    assert "Hello from SQS!" in page.locator("#result-payload").inner_text()
    log = page.locator("#result-log").inner_text()
    assert "START RequestId" in log and "got {" in log and "REPORT RequestId" in log
    shot(page, "function-invoked")

    page.get_by_label("Event (JSON)").fill(json.dumps({"fail": HOSTILE}))
    page.get_by_role("button", name="Invoke").click()
    assert "failed (Unhandled)" in page.locator("#result-status").inner_text()
    assert json.loads(page.locator("#result-payload").inner_text())["errorMessage"] == f"refused: {HOSTILE}"
    assert "[ERROR] ValueError" in page.locator("#result-log").inner_text()
    statuses = page.locator("table").filter(has_text="Billed").locator("tbody tr td:last-child").all_inner_texts()
    assert statuses[:2] == ["Error", "Success"], statuses      # newest first, from the REPORT lines
    page.locator("table").filter(has_text="Billed").get_by_role("link").first.click()
    assert "[ERROR] ValueError" in page.locator("#request-log").inner_text()


def test_live_tail_shows_lines_as_they_are_written(page: Any, server: CumuloServer, function: str) -> None:
    login(page, server)
    page.goto(f"{server.console_url}/logs?function={function}&filter=marker")
    page.wait_for_function("document.getElementById('tail-state').textContent === 'live'")
    marker = unique("marker")

    def later() -> None:
        time.sleep(0.5)
        lam = server.client()
        lam.invoke(FunctionName=function, Payload=json.dumps({"marker": marker}))
        lam.close()

    threading.Thread(target=later, daemon=True).start()
    page.locator("#tail .field", has_text=f"marker={marker}").wait_for()       # a JSON line, shown as fields
    fields = page.locator("#tail > div", has=page.locator(".field")).last.locator(".field").all_inner_texts()
    assert fields == ["level=INFO", f"marker={marker}", "html=<b>not bold</b>"]
    lines = page.locator("#tail > div").all_inner_texts()
    assert any(marker in line and function in line and line.split(" ", 2)[-1].startswith("got") for line in lines)
    assert not any(line.split(" ", 2)[-1].startswith("START") for line in lines), "the filter let START through"
    shot(page, "logs-tail")


STOCK = """
import os
def handler(event, context):
    if os.environ.get("STOCK") != "restocked":
        raise ValueError("refused: " + str(event.get("fail")))
    return {"shipped": True}
"""


def test_failed_execution_marks_the_failing_state_then_is_redriven(page: Any, server: CumuloServer) -> None:
    lam = server.client()
    stock = unique("stock")
    arn = create(lam, stock, zip_of(**{"app.py": STOCK}))["FunctionArn"]
    sfn = server.aws("stepfunctions")
    definition = {"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Result": {"fail": "no stock"}, "Next": "Check stock"},
        "Check stock": {"Type": "Task", "Resource": arn, "Next": "Ship"},
        "Ship": {"Type": "Pass", "End": True}}}
    machine = sfn.create_state_machine(name=unique("orders"), definition=json.dumps(definition),
                                       roleArn=states_role(sfn))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"note": HOSTILE}))["executionArn"]
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    login(page, server)
    page.get_by_role("link", name="State machines").click()
    page.get_by_role("link", name=machine.rsplit(":", 1)[-1]).click()
    page.locator("td.status-FAILED").first.wait_for()
    page.locator("tbody a").first.click()
    assert page.locator("#status").inner_text() == "FAILED"
    assert page.locator("#failed-state").inner_text() == "Failed in state: Check stock"
    failed = page.locator("svg .state.failed")
    assert failed.count() == 1 and failed.get_attribute("data-state") == "Check stock"
    assert "✕ Check stock" in (failed.text_content() or "")
    assert failed.locator("rect").evaluate("r => getComputedStyle(r).stroke") == "rgb(176, 0, 30)"   # drawn red
    assert page.locator("svg .state.visited").get_attribute("data-state") == "Prepare"
    assert page.locator("svg .state[data-state='Ship']").get_attribute("class") == "state "
    assert "ValueError" in page.get_by_role("heading", name="Error").locator("xpath=following-sibling::pre[1]").inner_text()
    assert json.loads(page.locator("pre").first.inner_text()) == {"note": HOSTILE}     # the input, as text
    shot(page, "execution-failed")

    # Fix the cause (the function's configuration), then redrive from the page, after a confirmation.
    lam.update_function_configuration(FunctionName=stock, Environment={"Variables": {"STOCK": "restocked"}})
    lam.close()
    page.get_by_role("button", name="Redrive execution").click()
    assert "Redrive execution" in page.locator("#question").inner_text()
    assert sfn.describe_execution(executionArn=execution)["status"] == "FAILED", "redriven before it was confirmed"
    page.get_by_role("button", name="Confirm").click()
    deadline = time.monotonic() + 30
    while page.locator("#status").inner_text() != "SUCCEEDED":
        assert time.monotonic() < deadline, page.locator("#status").inner_text()
        time.sleep(0.3)
        page.reload()
    assert page.locator("svg .state.failed").count() == 0
    assert sorted(page.locator("svg .state.visited").evaluate_all("els => els.map(e => e.dataset.state)")) == \
        ["Check stock", "Prepare", "Ship"]
    assert page.locator("#redriven").inner_text().startswith("Redriven 1 time(s)")
    assert page.get_by_role("button", name="Redrive execution").count() == 0
    assert "ExecutionRedriven" in page.locator("table").last.inner_text()
    assert sfn.describe_execution(executionArn=execution)["redriveCount"] == 1
    shot(page, "execution-redriven")


def test_redrive_a_dead_letter_queue_after_confirmation(page: Any, server: CumuloServer) -> None:
    sqs = server.aws("sqs")
    dlq_name, source_name = unique("dlq"), unique("orders")
    dlq = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = sqs.create_queue(QueueName=source_name, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})})["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"lost {i}")
    login(page, server)
    page.get_by_role("link", name="Queues").click()
    row = page.locator(f"tr[data-queue='{dlq_name}']")
    assert row.locator("td.visible").inner_text() == "3"
    shot(page, "queues")
    row.get_by_role("button", name=f"Redrive {dlq_name}").click()
    assert f"Move the 3 message(s) of dead-letter queue {dlq_name}" in page.locator("#question").inner_text()
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "3", "moved before it was confirmed"
    page.get_by_role("button", name="Confirm").click()
    assert page.locator("#flash").inner_text() == f"Moved 3 message(s) from {dlq_name}."
    assert page.locator(f"tr[data-queue='{dlq_name}'] td.visible").inner_text() == "0"
    assert page.locator(f"tr[data-queue='{source_name}'] td.visible").inner_text() == "3"
    got = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["lost 0", "lost 1", "lost 2"]


def test_metrics_page_charts_a_functions_invocations(page: Any, server: CumuloServer) -> None:
    lam = server.client()
    name = unique("charted")
    create(lam, name, zip_of(**{"app.py": APP}))
    for _ in range(3):
        assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    lam.close()
    login(page, server)
    page.get_by_role("link", name="Metrics", exact=True).click()
    page.get_by_label("Function").select_option(name)
    page.get_by_role("button", name="Show").click()
    chart = page.get_by_role("img", name=re.compile(r"^Invocations \(per 1 min\)"))
    assert chart.is_visible() and "Invocations: total 3," in chart.get_attribute("aria-label")
    page.get_by_role("link", name="24h").click()
    assert "range=24h" in page.url and page.get_by_role("img", name=re.compile("Invocations: total 3,")).is_visible()
    shot(page, "metrics")


def test_apis_page_shows_routes_and_the_access_log(page: Any, server: CumuloServer, function: str) -> None:
    import urllib.request

    gateway = server.aws("apigatewayv2")
    arn = server.client().get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    api = gateway.create_api(Name=unique("shop"), ProtocolType="HTTP", Target=arn)
    login(page, server)
    page.get_by_role("link", name="APIs", exact=True).click()
    section = page.locator("h2", has_text=api["Name"])
    assert section.is_visible() and api["ApiId"] in section.inner_text()
    stage_url = page.locator("li", has_text="$default").locator("code").nth(1).inner_text()
    with urllib.request.urlopen(stage_url + "/visible-in-log", data=b"{}", timeout=30) as reply:
        assert reply.status == 200
    page.reload()
    log = page.get_by_label(f"Access log of {api['Name']}")
    assert "/visible-in-log" in log.inner_text()
    shot(page, "apis")


def test_deploy_a_template_then_invoke_its_function(page: Any, server: CumuloServer) -> None:
    login(page, server)
    page.get_by_role("link", name="Stacks", exact=True).click()
    stack = unique("site")
    page.get_by_label("Stack name").fill(stack)
    page.get_by_label("I acknowledge").check()
    page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(f"**/stacks/{stack}")
    assert page.locator("#stack-status").inner_text() == "CREATE_COMPLETE"
    page.locator("table").filter(has_text="Logical id").get_by_role("link").first.click()
    page.get_by_label("Event (JSON)").fill('{"name": "browser"}')
    page.get_by_role("button", name="Invoke").click()
    assert "succeeded" in page.locator("#result-status").inner_text()
    assert json.loads(page.locator("#result-payload").inner_text()) == {"hello": "browser"}
    shot(page, "deployed")


def test_readme_screenshots(browser: Any, server: CumuloServer) -> None:
    """The two pictures README shows (docs/console-function.png, docs/console-execution.png) are these
    screenshots, a window of 1000 × 760 (copied by hand from ``artifacts/console/readme-*.png``)."""
    lam, sqs, sfn = server.client(), server.aws("sqs"), server.aws("stepfunctions")
    checkout = unique("checkout")
    arn = create(lam, checkout, zip_of(**{"app.py": APP}))["FunctionArn"]
    queue = sqs.create_queue(QueueName=unique("orders"))["QueueUrl"]
    failed = sqs.create_queue(QueueName=unique("checkout-failed"))["QueueUrl"]
    arns = [sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            for u in (queue, failed)]
    lam.create_event_source_mapping(EventSourceArn=arns[0], FunctionName=checkout, BatchSize=10)
    lam.put_function_event_invoke_config(FunctionName=checkout, DestinationConfig={
        "OnFailure": {"Destination": arns[1]}})
    stock = unique("reserve")
    stock_arn = create(lam, stock, zip_of(**{"app.py": STOCK}))["FunctionArn"]
    definition = {"StartAt": "Validate", "States": {
        "Validate": {"Type": "Pass", "Next": "In stock?"},
        "In stock?": {"Type": "Choice", "Choices": [{"Variable": "$.qty", "NumericGreaterThan": 0,
                                                     "Next": "Reserve"}], "Default": "Notify"},
        "Reserve": {"Type": "Task", "Resource": stock_arn, "Next": "Ship"},
        "Ship": {"Type": "Parallel", "Next": "Done", "Branches": [
            {"StartAt": "Pack", "States": {"Pack": {"Type": "Pass", "End": True}}},
            {"StartAt": "Bill", "States": {"Bill": {"Type": "Pass", "End": True}}}]},
        "Notify": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    machine = sfn.create_state_machine(name=unique("orders"), definition=json.dumps(definition),
                                       roleArn=states_role(sfn))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"qty": 2}))["executionArn"]
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    page = context.new_page()
    page.set_default_timeout(20_000)
    login(page, server)
    page.get_by_role("link", name=checkout).click()
    page.get_by_label("Sample event").select_option("SQS message")
    page.get_by_role("button", name="Invoke").click()
    assert "succeeded" in page.locator("#result-status").inner_text()
    assert page.locator("svg.triggers .trigger.source").count() == 1
    assert page.locator("svg.triggers .trigger.destination").count() == 1
    page.screenshot(path=str(ARTIFACTS / "readme-console-function.png"))
    page.locator("#triggers").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "readme-console-triggers.png"))
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    page.goto(server.console_url + "/executions/" + execution.replace(":", "%3A"))
    assert page.locator("#failed-state").inner_text() == "Failed in state: Reserve"
    assert page.get_by_role("button", name="Redrive execution").count() == 1
    page.screenshot(path=str(ARTIFACTS / "readme-console-execution.png"))
    context.close()
    lam.close()


SECTIONS = ["Functions", "Logs", "State machines", "Queues", "Buses", "Streams", "Tables", "APIs", "Metrics", "Stacks"]


def test_every_section_opens_from_the_keyboard_and_is_saved(page: Any, server: CumuloServer, function: str) -> None:
    login(page, server)
    for section in SECTIONS:
        link = page.get_by_role("navigation", name="Sections").get_by_role("link", name=section, exact=True)
        link.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        current = page.get_by_role("navigation", name="Sections").get_by_role("link", name=section, exact=True)
        assert current.get_attribute("aria-current") is not None, section
        assert page.locator("h1").count() == 1
        unlabelled = page.locator("input:not([type=hidden]):not([id]), select:not([id]), textarea:not([id])").count()
        assert unlabelled == 0, section
        shot(page, "section-" + section.lower().replace(" ", "-"))
