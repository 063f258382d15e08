"""The ``cumulo`` command, run as a user runs it: a real process on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"


@pytest.fixture
def run(tmp_path: Path):
    env = {**os.environ, "CUMULO_HOME": str(tmp_path / "state")}

    def run(*args: str, check: int | None = 0, **kwargs) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "cumulo", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=60, **kwargs)
        if check is not None:
            assert proc.returncode == check, proc.stderr + proc.stdout
        return proc

    return run


def test_create_invoke_and_tail(run) -> None:
    created = json.loads(run("function", "create", "hello", "--code", str(EXAMPLE), "--handler", "app.handler",
                             "--memory", "256", "--timeout", "5", "--env", "STAGE=dev").stdout)
    assert created["FunctionName"] == "hello" and created["MemorySize"] == 256 and created["Timeout"] == 5
    assert created["Environment"] == {"Variables": {"STAGE": "dev"}}
    assert len(created["CodeSha256"]) == 44
    proc = run("invoke", "hello", "--payload", '{"name": "Ada"}', "--tail")
    assert json.loads(proc.stdout)["message"] == "Hello, Ada!"
    assert "START RequestId:" in proc.stderr and "greeting Ada" in proc.stderr and "REPORT RequestId:" in proc.stderr


def test_payload_from_file_and_zip_code(run, tmp_path: Path) -> None:
    archive = tmp_path / "code.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("handler.py", "def main(event, context):\n    return sorted(event)\n")
    run("function", "create", "zipped", "--code", str(archive), "--handler", "handler.main")
    (tmp_path / "event.json").write_text('{"b": 1, "a": 2}')
    assert json.loads(run("invoke", "zipped", "--payload", "@event.json").stdout) == ["a", "b"]


def test_same_folder_gives_same_code_sha(run) -> None:
    a = json.loads(run("function", "create", "a", "--code", str(EXAMPLE), "--handler", "app.handler").stdout)
    b = json.loads(run("function", "create", "b", "--code", str(EXAMPLE), "--handler", "app.handler").stdout)
    assert a["CodeSha256"] == b["CodeSha256"]


def test_list_get_update_delete(run, tmp_path: Path) -> None:
    run("function", "create", "f", "--code", str(EXAMPLE), "--handler", "app.handler")
    assert "f" in run("function", "list").stdout.split()
    updated = json.loads(run("function", "update-config", "f", "--timeout", "9", "--env", "AB=1").stdout)
    assert updated["Timeout"] == 9 and updated["Environment"]["Variables"] == {"AB": "1"}
    code = tmp_path / "v2"
    code.mkdir()
    (code / "app.py").write_text("def handler(e, c):\n    return 'v2'\n")
    run("function", "update-code", "f", "--code", str(code))
    assert json.loads(run("invoke", "f").stdout) == "v2"
    got = json.loads(run("function", "get", "f").stdout)
    assert got["Configuration"]["Timeout"] == 9 and Path(got["Code"]["Location"]).is_file()
    published = json.loads(run("function", "publish", "f").stdout)
    assert published["Version"] == "1" and published["FunctionArn"].endswith(":f:1")
    run("function", "delete", "f")
    gone = run("function", "get", "f", check=3)
    assert "An error occurred (ResourceNotFoundException): Function not found" in gone.stderr


def test_errors_and_exit_codes(run) -> None:
    bad = run("function", "create", "bad", "--code", str(EXAMPLE), "--handler", "app.handler", "--memory", "64", check=3)
    assert "ValidationException" in bad.stderr and "greater than or equal to 128" in bad.stderr
    reserved = run("function", "create", "bad", "--code", str(EXAMPLE), "--handler", "app.handler",
                   "--env", "AWS_REGION=x", check=3)
    assert "InvalidParameterValueException" in reserved.stderr and "AWS_REGION" in reserved.stderr
    run("function", "create", "boom", "--code", str(EXAMPLE), "--handler", "app.missing")
    failed = run("invoke", "boom", check=1)
    assert json.loads(failed.stdout)["errorType"] == "Runtime.HandlerNotFound"
    assert run("invoke", "nope", check=3).stderr.startswith("An error occurred (ResourceNotFoundException)")
    usage = run("function", "create", "x", check=2)
    assert "Missing option" in usage.stderr


def test_logs_since_and_follow(run, tmp_path: Path) -> None:
    run("function", "create", "hello", "--code", str(EXAMPLE), "--handler", "app.handler")
    run("invoke", "hello", "--payload", '{"name": "Logs"}')
    out = run("logs", "hello", "--since", "10m").stdout
    assert "greeting Logs" in out and "REPORT RequestId" in out
    assert run("logs", "hello", "--since", "bogus", check=2).returncode == 2
    env = {**os.environ, "CUMULO_HOME": str(tmp_path / "state")}
    follower = subprocess.Popen([sys.executable, "-m", "cumulo", "logs", "hello", "--follow", "--since", "10m"],
                                stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)
        reader.start()

        def wait_for(text: str) -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(text in l for l in lines):
                time.sleep(0.05)
            assert any(text in l for l in lines), lines

        wait_for("greeting Logs")     # the follower is up (it printed what was there): only now invoke,
        assert not any("greeting Follower" in l for l in lines)   # so the next line can only come from following
        run("invoke", "hello", "--payload", '{"name": "Follower"}')
        wait_for("greeting Follower")
    finally:
        follower.terminate()
        follower.wait(timeout=10)
        follower.stdout.close()


def test_home_may_follow_the_command(run, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    run("function", "create", "here", "--code", str(EXAMPLE), "--handler", "app.handler", "--home", str(other))
    assert "here" in run("--home", str(other), "function", "list").stdout.split()
    assert "here" not in run("function", "list").stdout.split()          # not in CUMULO_HOME's store
    assert json.loads(run("invoke", "here", "--home", str(other), "--payload", '{"name": "Ada"}').stdout)[
        "message"] == "Hello, Ada!"


def test_deploy_without_a_server_prints_api_urls_relative_to_the_gateway(run, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(EXAMPLE.parent / "hello-sam", tmp_path / "app")
    out = run("deploy", str(tmp_path / "app" / "template.yaml")).stdout
    assert "Stack app: deployed" in out and "app-HelloWorldFunction (HelloWorldFunction): create" in out
    assert "amazonaws.com" not in out and "/Prod/hello/" in out, out
    assert "(<gateway>: where `cumulo up` serves HTTP APIs" in out


def test_help_describes_commands(run) -> None:
    top = run("--help").stdout
    for word in ("function", "invoke", "logs", "--home"):
        assert word in top
    create = run("function", "create", "--help").stdout
    for option in ("--code", "--handler", "--runtime", "--memory", "--timeout", "--env"):
        assert option in create


def test_event_invoke_queue_and_schedule_commands_work_on_the_store(run, tmp_path: Path) -> None:
    run("function", "create", "hello", "--code", str(EXAMPLE), "--handler", "app.handler")
    accepted = run("invoke", "hello", "--payload", '{"name": "Later"}', "--event").stdout
    assert accepted.startswith("accepted: request id ")
    # nothing runs it without a server; the event waits, durable, in the store
    from cumulo import Cumulo
    from cumulo.model.queue import ASYNC_QUEUE
    with Cumulo(home=tmp_path / "state") as c:
        assert sum(c.messages.queues.counts(ASYNC_QUEUE, int(time.time() * 1000))) == 1
        c.start_workers()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("greeting Later" in r.message for r in c.get_logs("hello")):
            time.sleep(0.05)
        assert any("greeting Later" in r.message for r in c.get_logs("hello"))
    assert run("queue", "create", "jobs", "--attribute", "VisibilityTimeout=5").stdout.strip().endswith("/jobs")
    run("queue", "send", "jobs", "work")
    received = json.loads(run("queue", "receive", "jobs", "--delete").stdout)
    assert received["Body"] == "work"
    bad = run("schedule", "create", "s", "cron(0 10 * * * *)", "hello", check=3)
    assert "ValidationException" in bad.stderr
    run("schedule", "create", "s", "rate(5 minutes)", "hello")
    assert "rate(5 minutes)" in run("schedule", "list").stdout


def test_keys_create_export_is_for_eval_in_a_shell(run, tmp_path: Path) -> None:
    """`eval "$(cumulo keys create --export)"` sets the AWS CLI's and boto3's variables to a new key of the store."""
    line = run("keys", "create", "--export").stdout.strip()
    assert line.startswith("export AWS_ACCESS_KEY_ID=") and "\n" not in line
    shell = subprocess.run(["bash", "-euc", f'eval "$({sys.executable} -m cumulo keys create --export)"; env'],
                           capture_output=True, text=True, cwd=tmp_path, timeout=60,
                           env={**os.environ, "CUMULO_HOME": str(tmp_path / "state"), "CUMULO_REGION": "eu-west-1"})
    assert shell.returncode == 0, shell.stderr
    exported = dict(v.split("=", 1) for v in shell.stdout.splitlines() if v.startswith("AWS_"))
    assert exported["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert exported["AWS_ACCESS_KEY_ID"].startswith("AKIA") and len(exported["AWS_ACCESS_KEY_ID"]) == 20
    from cumulo import Cumulo
    with Cumulo(home=tmp_path / "state") as c:
        assert c.store.access_key_secret(exported["AWS_ACCESS_KEY_ID"]) == exported["AWS_SECRET_ACCESS_KEY"]
    listed = run("keys", "list").stdout
    assert exported["AWS_ACCESS_KEY_ID"] in listed and line.split()[1].split("=", 1)[1] in listed
    assert set(json.loads(run("keys", "create").stdout)) == {"AccessKeyId", "SecretAccessKey", "CreateDate"}
    assert "--export" in run("keys", "create", "--help").stdout
