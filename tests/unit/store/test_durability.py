"""``durability="full"``: every commit of a message reaches the disk (an fsync), as the setting promises.

Seen from outside the process: a Cumulo sends messages to a queue under ``strace``, which records
every fsync/fdatasync and the file it was for. With ``full`` each send's commit syncs the message
store's write-ahead log; with ``normal`` (the default) commits do not sync at all (only checkpoints
do), which is why it survives ``kill -9`` but not a power loss.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SENDS = 30
CLIENT = textwrap.dedent("""
    import sys
    from cumulo import Cumulo
    with Cumulo(home=sys.argv[1], durability=sys.argv[2]) as c:
        c.queues.create_queue("q")
        for i in range(int(sys.argv[3])):
            c.queues.send_message("q", f"message {i}")
""")


def syncs_per_file(tmp_path: Path, durability: str) -> dict[str, int]:
    """How often each file was synced while a Cumulo with ``durability`` sent ``SENDS`` messages."""
    if shutil.which("strace") is None:
        pytest.skip("[strace] strace is not installed")
    trace = tmp_path / f"{durability}.trace"
    home = tmp_path / durability
    done = subprocess.run(["strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-o", str(trace),
                           sys.executable, "-c", CLIENT, str(home), durability, str(SENDS)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts: dict[str, int] = {}
    for line in trace.read_text().splitlines():
        found = re.search(r"f(?:data)?sync\(\d+<([^>]*)>\) = 0", line)
        if found:
            name = Path(found.group(1)).name
            counts[name] = counts.get(name, 0) + 1
    return counts


def test_full_durability_syncs_every_commit_and_normal_does_not(tmp_path: Path) -> None:
    full = syncs_per_file(tmp_path, "full")
    normal = syncs_per_file(tmp_path, "normal")
    assert full.get("queues.db-wal", 0) >= SENDS, full
    assert normal.get("queues.db-wal", 0) < 5, normal       # the checkpoints' syncs, not one per commit
