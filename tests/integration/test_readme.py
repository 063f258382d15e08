"""README.md runs as written: a newcomer's first hour, checked.

README starts with two commands: set up and `cumulo up examples/hello-sam/template.yaml`, and run
the tests. Every other ```sh and ```python block must then run as written, in order, in the same
folder, and print what its `# → …` comments show (`…` stands for what differs from run to run).
```text blocks are reference (synopses with placeholders, benchmarks that take minutes) and are
not run; any other fence is refused, so a snippet cannot slip out of this test by its language.

The run is a scratch folder laid out as a checkout after the first command: a copy of examples/
and README.md, and `.venv` a symlink to the virtualenv running this test (its `bin/cumulo`,
`bin/pip`, `bin/python`, `bin/aws`). README's `cumulo up …` serves it on README's ports, 9000 and
8080 (the snippets name them), so the test is skipped when either is taken.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cumulo.deploy.apis import api_id_for

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PORTS = (9000, 8080, 8081)
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
EXPECTED = re.compile(r"#[^\n]*?→ ([^\n]*)")   # `# → what it prints`, in a comment
RUN = {"sh", "python"}
BLOCK_TIMEOUT_S = 90


def _blocks(text: str) -> list[tuple[str, str, int]]:
    """README's fenced blocks, in order: (language, code, line of the opening fence)."""
    return [(m.group(1).strip(), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def _expected(code: str) -> list[str]:
    return [m.group(1).strip() for m in EXPECTED.finditer(code)]


def _shows(output: str, expected: str) -> bool:
    """Does ``output`` show ``expected``: its parts between `…`, in that order?"""
    at = 0
    for part in (p.strip() for p in expected.split("…")):
        if not part:
            continue
        found = output.find(part, at)
        if found < 0:
            return False
        at = found + len(part)
    return True


def _up_command(first: str) -> list[str]:
    """The `cumulo up …` part of README's first command (the rest sets up the venv this test runs in)."""
    parts = [p.strip() for p in first.strip().split("&&") if "cumulo up" in p]
    assert len(parts) == 1, f"README's first command should end with one `cumulo up …`: {first!r}"
    return shlex.split(parts[0])


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def test_readme_blocks_are_commands_snippets_or_reference() -> None:
    blocks = _blocks(README.read_text())
    wrong = [f"line {line}: ```{lang}" for lang, _, line in blocks if lang not in RUN | {"text"}]
    assert not wrong, ("fence README's blocks as ```sh or ```python (run by test_readme) or ```text "
                       f"(reference, not run): {wrong}")
    (first, up, _), (second, tests, _) = blocks[:2]
    assert first == second == "sh"
    assert _up_command(up)[:2] == [".venv/bin/cumulo", "up"], up
    assert "pytest" in tests, tests
    assert tests.strip() in (ROOT / ".ci" / "run").read_text(), "CI (.ci/run) runs README's test command as written"
    snippets = [code for lang, code, _ in blocks[2:] if lang in RUN]
    shown = [e for code in snippets for e in _expected(code)]
    # what a newcomer is promised first: the API answers, the function answers 200 (and README's URL is right)
    assert f"curl http://127.0.0.1:8080/{api_id_for('hello-sam', 'ServerlessRestApi')}/Prod/hello/" in snippets[0]
    assert '{"message": "hello world"}' in shown and '"StatusCode": 200' in shown, shown
    assert all(placeholder not in code for code in snippets for placeholder in ("<api-id>", "my-function", ":..."))


def test_shows_matches_the_parts_in_order() -> None:
    assert _shows("200 None {'message': 'Hello, Ada!', 'x': 1}", "200 None {'message': 'Hello, Ada!', …}")
    assert _shows("INIT_START a START b END c REPORT", "INIT_START … START … END … REPORT")
    assert not _shows("REPORT … START", "START … REPORT")
    assert _expected('curl x   # → {"a": 1}\nls   # files; → moved 0\necho "#"') == ['{"a": 1}', "moved 0"]


def test_readme_runs_as_written(tmp_path: Path) -> None:
    venv = Path(sys.prefix)
    if not all((venv / "bin" / tool).exists() for tool in ("cumulo", "pip", "python")):
        pytest.skip(f"the tests' interpreter is not the checkout's venv with cumulo installed ({venv})")
    for tool in ("bash", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(f"README's snippets need {tool}, which is not installed")
    if taken := [port for port in PORTS if _port_taken(port)]:
        pytest.skip(f"README's `cumulo up` serves on ports 9000 and 8080; {taken} already taken here")
    blocks = _blocks(README.read_text())
    up_command = _up_command(blocks[0][1])

    scratch = tmp_path / "checkout"
    shutil.copytree(ROOT / "examples", scratch / "examples",
                    ignore=shutil.ignore_patterns("__pycache__", ".cumulo", ".aws-sam"))
    shutil.copy(README, scratch / "README.md")
    (scratch / ".venv").symlink_to(venv, target_is_directory=True)
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CUMULO_", "AWS_", "PYTHON", "VIRTUAL_ENV", "XDG_", "PIP_"))}
    # a newcomer's HOME (no ~/.aws, an empty package cache); pip already has what README installs, and
    # must not ask PyPI whether pip itself is current (this may run offline)
    env.update(HOME=str(tmp_path / "home"), PIP_DISABLE_PIP_VERSION_CHECK="1")

    log_path = tmp_path / "up.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(up_command, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    stopped = False
    try:
        deadline = time.monotonic() + 60
        while "Stop with Ctrl-C." not in log_path.read_text():
            if server.poll() is not None:
                said = log_path.read_text()
                if "already in use" in said:
                    pytest.skip(f"README's ports were taken while `cumulo up` started: {said}")
                pytest.fail(f"`{shlex.join(up_command)}` exited with {server.returncode}:\n{said}")
            assert time.monotonic() < deadline, f"`cumulo up` not ready within 60 s:\n{log_path.read_text()}"
            time.sleep(0.1)

        ran = 0
        for lang, code, line in blocks[2:]:
            if lang not in RUN:
                continue
            argv = ["bash", "-euo", "pipefail", "-c", code] if lang == "sh" else [".venv/bin/python", "-c", code]
            try:
                proc = subprocess.run(argv, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, timeout=BLOCK_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                pytest.fail(f"README line {line} (```{lang}) still running after {BLOCK_TIMEOUT_S} s:\n{code}\n"
                            f"--- it printed:\n{exc.output}")
            where = f"README line {line} (```{lang}):\n{code}\n--- it printed:\n{proc.stdout}"
            assert proc.returncode == 0, f"exit code {proc.returncode}, {where}"
            for expected in _expected(code):
                assert _shows(proc.stdout, expected), f"README shows `{expected}`, {where}"
            ran += 1
        assert ran >= 8, f"only {ran} README snippets ran"

        server.send_signal(signal.SIGINT)   # Ctrl-C, as `cumulo up` says
        assert server.wait(60) == 0, log_path.read_text()
        stopped = True
    finally:
        (scratch / ".venv").unlink()   # pytest's clean-up of old temporary folders must never reach the venv
        if not stopped and server.poll() is None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
