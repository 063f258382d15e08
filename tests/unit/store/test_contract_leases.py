"""``Leases``' contract, for every backend (``conftest.BACKENDS``): one owner at a time, renewed
by its holder, taken over when it runs out or its holder's process is gone."""

from __future__ import annotations

import socket
import subprocess
import sys

from cumulo.store.ports import MessageStore, lease_owner

T = 1_700_000_000_000


def test_one_owner_holds_a_lease_until_it_runs_out(messages: MessageStore) -> None:
    leases = messages.leases
    me, other = lease_owner(), lease_owner()
    assert me != other
    assert leases.take_lease("job", me, 1_000, T)
    assert not leases.take_lease("job", other, 1_000, T + 999)
    assert leases.take_lease("another job", other, 1_000, T)
    assert leases.take_lease("job", me, 1_000, T + 999)            # renewed: now until T + 1999
    assert not leases.take_lease("job", other, 1_000, T + 1_998)
    assert leases.take_lease("job", other, 1_000, T + 1_999)
    assert not leases.take_lease("job", me, 1_000, T + 2_000)


def test_a_lease_whose_holder_on_this_host_is_gone_is_taken_over_at_once(messages: MessageStore) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = f"{socket.gethostname()}|{proc.stdout.strip()}|0000"
    assert messages.leases.take_lease("job", dead, 60_000, T)
    assert messages.leases.take_lease("job", lease_owner(), 60_000, T + 1)


def test_another_hosts_holder_is_trusted_until_its_lease_runs_out(messages: MessageStore) -> None:
    elsewhere = "another-host.invalid|1|0000"
    assert messages.leases.take_lease("job", elsewhere, 60_000, T)
    assert not messages.leases.take_lease("job", lease_owner(), 60_000, T + 59_999)
    assert messages.leases.take_lease("job", lease_owner(), 60_000, T + 60_000)
