"""``cumulo secrets`` and ``cumulo params`` as a user runs them: values go in through a file or
stdin and come out only when asked (``--reveal``, ``--decrypt``); listings, histories and
descriptions never print them; the store's files hold none of them in the clear."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PLANTED = "pw-cli-4e1b7d0a-planted"


def run(home: Path, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "cumulo", "--home", str(home), *args], input=stdin,
                          capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_secrets_are_printed_only_when_asked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = run(home, "secrets", "create", "app/db", "--from-file", "-", "--description", "the db", stdin=PLANTED + "\n")
    arn, version = made.stdout.split()
    assert arn.startswith("arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-") and PLANTED not in made.stdout
    shown = run(home, "secrets", "get", "app/db").stdout
    assert PLANTED not in shown and shown.split()[:4] == [version, "AWSCURRENT", str(len(PLANTED)), "bytes"]
    assert run(home, "secrets", "get", "app/db", "--reveal").stdout == PLANTED + "\n"   # the file's newline dropped
    described = json.loads(run(home, "secrets", "describe", "app/db").stdout)
    assert described["Description"] == "the db" and described["RotationEnabled"] is False
    second = (tmp_path / "second")
    second.write_text("second-value")
    new_version = run(home, "secrets", "put", "app/db", "--from-file", str(second)).stdout.split()[0]
    assert run(home, "secrets", "get", "app/db", "--stage", "AWSPREVIOUS").stdout.split()[0] == version
    assert run(home, "secrets", "get", "app/db", "--reveal").stdout == "second-value\n"
    listed = run(home, "secrets", "list").stdout
    assert listed.startswith("app/db  no rotation") and PLANTED not in listed and "second-value" not in listed
    refused = run(home, "secrets", "get", "nope", ok=False)
    assert refused.returncode == 3 and "ResourceNotFoundException" in refused.stderr
    assert new_version in run(home, "secrets", "get", "app/db").stdout

    run(home, "params", "put", "/app/flag", "--value", "on")
    run(home, "params", "put", "/app/token", "--type", "SecureString", "--from-file", "-", stdin=PLANTED)
    assert run(home, "params", "get", "/app/flag").stdout == "on\n"
    sealed = run(home, "params", "get", "/app/token").stdout
    assert PLANTED not in sealed
    assert run(home, "params", "get", "/app/token", "--decrypt").stdout == PLANTED + "\n"
    listed = run(home, "params", "list", "--path", "/app").stdout
    assert listed.splitlines() == ["/app/flag  String  version 1", "/app/token  SecureString  version 1"]
    history = run(home, "params", "history", "/app/token").stdout
    assert "(SecureString)" in history and PLANTED not in history
    run(home, "params", "put", "/app/flag", "--value", "off", "--overwrite")
    assert run(home, "params", "get", "/app/flag:1").stdout == "on\n"
    run(home, "params", "delete", "/app/flag")
    assert "ParameterNotFound" in run(home, "params", "get", "/app/flag", ok=False).stderr

    for path in home.rglob("*"):          # the store's files: no secret in the clear
        if path.is_file():
            assert PLANTED.encode() not in path.read_bytes(), path
