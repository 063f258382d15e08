"""``cumulo store rotate-key``, as an operator runs it: a store holding one of every kind of sealed
value (a function's environment in ``$LATEST`` and a version, a secret's versions, a SecureString,
a KMS key's material, an API destination connection's credentials, an access key's secret) is
rotated; the old key then opens nothing (a start with it is refused, and no sealed value opens with
it), and everything reads back with the new one, in process and through unchanged boto3 against a
server signed with the rotated access key. On SQLite and on PostgreSQL (with ``--new-key-file``).
And ``kill -9`` during the rotation: the store opens afterwards with exactly one of the two keys,
and every value reads back."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cumulo import Cumulo
from cumulo.api.keys import create_key
from cumulo.keyring import Keyring, KeyringError, SealedValueError
from tests.integration.test_server import CumuloServer

PLANTED = {"env": "env-PLANTED-7f3a", "secret": "secret-PLANTED-91c2", "param": "param-PLANTED-55d0",
           "kms": b"kms-PLANTED-2b8e", "connection": "conn-PLANTED-c4a1"}


def cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo", "--home", str(home), *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


def plant(c: Cumulo, code: Path) -> dict[str, Any]:
    """One of every kind of sealed value; what is needed to read each back."""
    key = create_key(c.store)          # the oldest key: the one a server announces
    c.create_function("fn", code, "app.handler", environment={"DB_PASSWORD": PLANTED["env"]})
    c.publish_version("fn")
    c.secrets.create_secret("app/db", PLANTED["secret"] + "-old")
    c.secrets.put_secret_value("app/db", PLANTED["secret"])
    c.parameters.put_parameter("/app/token", PLANTED["param"], "SecureString")
    kms_key = c.kms.create_key("rotation test")["KeyId"]
    blob = c.kms.encrypt(kms_key, PLANTED["kms"], {"app": "x"})["CiphertextBlob"]
    c.api_destinations.create_connection("hook", "API_KEY", {"ApiKeyAuthParameters": {
        "ApiKeyName": "x-api-key", "ApiKeyValue": PLANTED["connection"]}})
    return {"blob": blob, "key_id": key.id, "key_secret": key.secret}


def read_back(c: Cumulo, planted: dict[str, Any]) -> None:
    for qualifier in (None, "1"):
        config = c.get_function_configuration("fn", qualifier)
        assert config.environment == {"DB_PASSWORD": PLANTED["env"]}
    assert c.secrets.get_secret_value("app/db")["SecretString"] == PLANTED["secret"]
    assert c.secrets.get_secret_value("app/db", stage="AWSPREVIOUS")["SecretString"] == PLANTED["secret"] + "-old"
    assert c.parameters.get("/app/token", True)["Value"] == PLANTED["param"]
    assert c.kms.decrypt(planted["blob"], {"app": "x"})["Plaintext"] == PLANTED["kms"]
    auth = c.api_destinations._connection("hook")["auth"]
    assert auth["ApiKeyAuthParameters"]["ApiKeyValue"] == PLANTED["connection"]
    assert c.store.access_key_secret(planted["key_id"]) == planted["key_secret"]


def counts_of(done: subprocess.CompletedProcess[str]) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split("\t") for line in done.stdout.splitlines())}


def files_hold_nothing_planted(home: Path, *more: str) -> None:
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in (*PLANTED.values(), *more):
                assert (value if isinstance(value, bytes) else value.encode()) not in data, path


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "app.py").write_text("import os\ndef handler(e, c):\n    return os.environ['DB_PASSWORD']\n")
    return folder


def test_rotate_key_reseals_everything_and_the_old_key_opens_nothing(tmp_path: Path, code: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    with Cumulo(home=home) as c:
        planted = plant(c, code)
    files_hold_nothing_planted(home, planted["key_secret"])      # sealed as written, before any rotation
    old = (home / "master.key").read_text().strip()
    done = cli(home, "store", "rotate-key")
    assert done.returncode == 0, done.stderr
    assert counts_of(done) == {"keyring": 1, "secretsmanager-secret": 1, "ssm-parameter": 1, "kms-key": 1,
                               "event-connection": 1, "lambda-environment": 2, "access-key": 1}
    new = (home / "master.key").read_text().strip()
    assert new != old and not (home / "master.key.next").exists()
    assert (home / "master.key").stat().st_mode & 0o777 == 0o600
    # the old key opens nothing: a start with it is refused, and no sealed value opens with it
    monkeypatch.setenv("CUMULO_MASTER_KEY", old)
    with pytest.raises(KeyringError, match="not the one"):
        Cumulo(home=home)
    monkeypatch.delenv("CUMULO_MASTER_KEY")
    ring = Keyring(base64.b64decode(old))
    with Cumulo(home=home) as c:
        doc = c.store.get_document("secretsmanager-secret", "app/db")
        assert doc is not None
        for vid, version in doc["Versions"].items():
            with pytest.raises(SealedValueError):
                ring.open_sealed(version["sealed"], f"secretsmanager:{doc['ARN']}:{vid}")
        read_back(c, planted)
        assert c.invoke("fn", b"{}").json() == PLANTED["env"]
    files_hold_nothing_planted(home, planted["key_secret"])      # the access key's secret is sealed too
    # unchanged boto3, signed with the rotated access key
    server = CumuloServer(home)
    try:
        assert server.key_id == planted["key_id"]
        assert server.aws("secretsmanager").get_secret_value(SecretId="app/db")["SecretString"] == PLANTED["secret"]
        assert server.aws("ssm").get_parameter(Name="/app/token", WithDecryption=True)["Parameter"]["Value"] == \
            PLANTED["param"]
        assert server.aws("kms").decrypt(CiphertextBlob=planted["blob"],
                                         EncryptionContext={"app": "x"})["Plaintext"] == PLANTED["kms"]
        configuration = server.client().get_function_configuration(FunctionName="fn", Qualifier="1")
        assert configuration["Environment"]["Variables"] == {"DB_PASSWORD": PLANTED["env"]}
    finally:
        server.close()
    # a second rotation with the key already in place is refused, changing nothing
    (tmp_path / "same.key").write_text(new + "\n")
    again = cli(home, "store", "rotate-key", "--new-key-file", str(tmp_path / "same.key"))
    assert again.returncode == 3 and "already sealed with that key" in again.stderr


def test_rotate_key_refuses_a_wrong_current_key_and_a_running_server(tmp_path: Path, code: Path) -> None:
    home = tmp_path / "home"
    with Cumulo(home=home) as c:
        plant(c, code)
    wrong = base64.b64encode(bytes(32)).decode()
    refused = cli(home, "store", "rotate-key", CUMULO_MASTER_KEY=wrong)
    assert refused.returncode == 2 and "CUMULO_MASTER_KEY" in refused.stderr     # no --new-key-file
    refused = cli(home, "store", "rotate-key", "--new-key-file", str(tmp_path / "n.key"), CUMULO_MASTER_KEY=wrong)
    assert refused.returncode == 3 and "not the one" in refused.stderr
    server = CumuloServer(home)
    try:
        refused = cli(home, "store", "rotate-key")
        assert refused.returncode == 3 and "stop it first" in refused.stderr
    finally:
        server.close()


def test_rotate_key_on_postgresql_with_a_new_key_file(postgres: Any, tmp_path: Path, code: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres.fresh_database()
    home = tmp_path / "home"
    with Cumulo(home=home, store=url) as c:
        planted = plant(c, code)
        sts_key = c.identity.sessions.key          # a shared key, sealed in the database
    old_file = home / "master.key"
    old = old_file.read_text()
    new_file = tmp_path / "mounted" / "new.key"
    new_file.parent.mkdir()
    done = cli(home, "store", "rotate-key", "--new-key-file", str(new_file), CUMULO_STORE=url)
    assert done.returncode == 0, done.stderr
    assert counts_of(done)["shared-key"] >= 1 and counts_of(done)["access-key"] == 1
    assert old_file.read_text() == old and new_file.stat().st_mode & 0o777 == 0o600    # left where they are
    assert f"CUMULO_MASTER_KEY_FILE={new_file}" in done.stderr
    with pytest.raises(KeyringError, match="rotated on"):
        Cumulo(home=home, store=url)
    with Cumulo(home=home, store=url, master_key_file=str(new_file)) as c:
        read_back(c, planted)
        assert c.identity.sessions.key == sts_key


def _sealed_store(tmp_path: Path, code: Path, extra: int) -> tuple[Path, dict[str, Any]]:
    home = tmp_path / "home"
    with Cumulo(home=home) as c:
        planted = plant(c, code)
        for i in range(extra):       # enough values that the transaction takes a while
            c.parameters.put_parameter(f"/bulk/p{i}", f"bulk-{i}", "SecureString")
    return home, planted


def _rotate_and_kill(home: Path, after_s: float) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "cumulo", "--home", str(home), "store", "rotate-key"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "resealing" in line, line
    time.sleep(after_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()


def test_kill_9_during_a_rotation_leaves_one_key_that_opens_everything(tmp_path: Path, code: Path) -> None:
    home, planted = _sealed_store(tmp_path, code, 3000)
    proc = subprocess.Popen([sys.executable, "-m", "cumulo", "--home", str(home), "store", "rotate-key"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and "resealing" in proc.stderr.readline()
    started = time.monotonic()                       # a whole transaction (and the exit after it), timed
    assert proc.wait() == 0
    whole = time.monotonic() - started
    proc.stderr.close()
    killed_before_commit = 0
    for fraction in (0.0, 0.15, 0.3, 0.5, 0.7, 1.5):
        before = (home / "master.key").read_text()
        _rotate_and_kill(home, whole * fraction)
        staged = home / "master.key.next"
        with Cumulo(home=home) as c:                 # opens: with the old key, or finishing the switch
            read_back(c, planted)
            for i in range(0, 3000, 97):
                assert c.parameters.get(f"/bulk/p{i}", True)["Value"] == f"bulk-{i}"
        after = (home / "master.key").read_text()
        if after == before:
            killed_before_commit += 1               # the transaction left nothing: the old key goes on
            assert staged.exists()
        else:
            assert not staged.exists()              # committed: the switch was finished at the start
    assert killed_before_commit >= 2, whole          # killed inside the transaction, not only before it


def test_the_help_says_what_rotation_does() -> None:
    done = subprocess.run([sys.executable, "-m", "cumulo", "store", "rotate-key", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    text = re.sub(r"\s+", " ", done.stdout)
    assert "one transaction" in text and "--new-key-file" in text and ".next" in text
