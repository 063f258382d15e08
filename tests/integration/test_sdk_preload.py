"""The runtime's AWS SDK, preloaded: functions that import boto3 are forked from a zygote that has it
imported and a default session warm (zygote_main._warm_sdk); what a function brings itself wins."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from cumulo import Cumulo
from cumulo.runtime import catalog

USES_SDK = """
import time
started = time.perf_counter()
import boto3, sys
sqs = boto3.client("sqs")
MADE_MS = (time.perf_counter() - started) * 1000
def handler(event, context):
    import urllib3
    return {"made_ms": MADE_MS, "client": type(sqs).__name__, "region": sqs.meta.region_name,
            "preloaded": "botocore.client" in sys.modules, "urllib3": getattr(urllib3, "MINE", None),
            "version": getattr(boto3, "MINE", None), "credentials": sqs._request_signer._credentials.access_key
            if sqs._request_signer._credentials else None}
"""


def _zip(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Cumulo:
    if catalog.runtime_packages_dir() is None:
        pytest.skip("boto3 is not installed beside this interpreter")
    with Cumulo(home=tmp_path_factory.mktemp("sdk") / "home") as c:
        yield c


def _sdk_zygote_children(c: Cumulo) -> set[int]:
    """The environments the SDK zygote forked: children of the zygote's own child."""
    zygote = c.pool.zygote().pid
    found: set[int] = set()
    for task in Path(f"/proc/{zygote}/task").iterdir():
        for child in (task / "children").read_text().split():
            for sub in Path(f"/proc/{child}/task").iterdir():
                found |= {int(p) for p in (sub / "children").read_text().split()}
    return found


@pytest.mark.parametrize("snap_start", ["None", "PublishedVersions"])
def test_a_function_importing_boto3_gets_the_runtimes_sdk_warm(platform: Cumulo, snap_start: str) -> None:
    name = f"uses-{snap_start.lower()}"
    platform.create_function(name, _zip(**{"app.py": USES_SDK}), "app.handler", snap_start=snap_start,
                             environment={"AWS_EC2_METADATA_DISABLED": "true"})
    result = platform.invoke(name)
    assert result.function_error is None, result.payload
    seen = result.json()
    assert seen["client"] == "SQS" and seen["region"] == platform.settings.region
    assert seen["preloaded"] is True and seen["urllib3"] is None and seen["version"] is None
    # nothing of the machine's own AWS configuration: no credentials the function was not given
    assert seen["credentials"] is None
    assert _sdk_zygote_children(platform)     # its environment (or template) was the SDK zygote's child


def test_a_function_bringing_its_own_copy_gets_its_own(platform: Cumulo) -> None:
    """Its own boto3: forked from the lean zygote, nothing preloaded. Its own urllib3 beside the
    runtime's boto3: the preloaded urllib3 is dropped, its import finds the function's."""
    own_boto3 = _zip(**{"app.py": "import boto3\ndef handler(e, c):\n    return boto3.MINE\n",
                        "boto3/__init__.py": "MINE = 'bundled boto3'\n"})
    platform.create_function("own-boto3", own_boto3, "app.handler", snap_start="None")
    assert platform.invoke("own-boto3").json() == "bundled boto3"
    own_urllib3 = _zip(**{"app.py": USES_SDK, "urllib3/__init__.py": "MINE = 'bundled urllib3'\n"})
    platform.create_function("own-urllib3", own_urllib3, "app.handler", snap_start="None",
                             environment={"AWS_EC2_METADATA_DISABLED": "true"})
    seen = platform.invoke("own-urllib3").json()
    assert seen["urllib3"] == "bundled urllib3" and seen["client"] == "SQS"


def test_which_functions_use_the_runtimes_sdk(tmp_path: Path) -> None:
    def code(**files: str) -> Path:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        return folder

    assert catalog.uses_runtime_sdk(code(**{"app.py": "import json\nimport boto3\n"}))
    assert catalog.uses_runtime_sdk(code(**{"lib/aws.py": "from botocore.config import Config\n"}))
    assert not catalog.uses_runtime_sdk(code(**{"app.py": "import json  # boto3 is not imported\n"}))
    assert not catalog.uses_runtime_sdk(code(**{"app.py": "import boto3\n", "boto3/__init__.py": ""}))
    layers = code(**{"python/boto3/__init__.py": ""})
    assert not catalog.uses_runtime_sdk(code(**{"app.py": "import boto3\n"}), layers)


EVERY_SERVICE = """
import boto3
import botocore.httpsession
import os, sys
def handler(event, context):
    assert boto3.DEFAULT_SESSION is not None, "not forked from the SDK zygote"
    made = [type(boto3.client(name)).__name__ for name in event["services"]]
    return {"made": made, "sdk_here": os.path.isdir(os.path.dirname(sys.modules["botocore"].__file__)),
            "ca_bundle": os.path.isfile(botocore.httpsession.DEFAULT_CA_BUNDLE)}
"""


@pytest.mark.parametrize("snap_start", ["None", "PublishedVersions"])
def test_services_not_preloaded_load_from_where_the_sdk_is_inside(platform: Cumulo, snap_start: str) -> None:
    """Models the SDK zygote did not load are read from disk inside the sandbox. Where the platform
    is installed under /tmp or /opt (a CI checkout), its packages are bound elsewhere there
    (/var/runtime): the preloaded SDK's paths follow them (zygote_main._relocate_preloaded)."""
    name = f"every-{snap_start.lower()}"
    platform.create_function(name, _zip(**{"app.py": EVERY_SERVICE}), "app.handler", snap_start=snap_start,
                             environment={"AWS_EC2_METADATA_DISABLED": "true"})
    result = platform.invoke(name, json.dumps({"services": ["codedeploy", "xray", "cloudwatch", "sqs"]}).encode())
    assert result.function_error is None, result.payload
    assert result.json() == {"made": ["CodeDeploy", "XRay", "CloudWatch", "SQS"], "sdk_here": True,
                             "ca_bundle": True}


OWN_SETTINGS = """
import boto3
sqs = boto3.client("sqs")
def handler(event, context):
    return {"attempts": sqs.meta.config.retries.get("total_max_attempts"),
            "credentials": sqs._request_signer._credentials.access_key}
"""


def test_a_functions_own_sdk_settings_are_read(platform: Cumulo) -> None:
    """The preloaded session was made with no configuration file and its credential chain built
    once, before any function: a function whose variables name a configuration file or a profile
    (AWS_CONFIG_FILE, AWS_PROFILE …) still gets them, read as boto3 reads them (a session of its own)."""
    files = {"app.py": OWN_SETTINGS, "aws/config": "[profile tuned]\nmax_attempts = 7\n",
             "aws/credentials": "[tuned]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = s\n"}
    platform.create_function("own-settings", _zip(**files), "app.handler", snap_start="None", environment={
        "AWS_CONFIG_FILE": "/var/task/aws/config", "AWS_SHARED_CREDENTIALS_FILE": "/var/task/aws/credentials",
        "AWS_PROFILE": "tuned"})
    result = platform.invoke("own-settings")
    assert result.function_error is None, result.payload
    assert result.json() == {"attempts": 7, "credentials": "AKIDFROMFILE"}
    assert _sdk_zygote_children(platform)
