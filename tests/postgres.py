"""A throw-away PostgreSQL server for the tests: ``initdb`` in a temporary folder, on loopback.

The machine's own PostgreSQL programs (Debian's ``postgresql`` package, which ``.ci/run`` installs)
are used as they are. PostgreSQL refuses to run as root, so as root the cluster belongs to the
unprivileged user ``nobody`` and its programs are started through ``setpriv``; as an ordinary user
it is that user's. Authentication is ``trust`` on 127.0.0.1 only, and ``fsync`` is off: nothing
here outlives the test session.

``Cluster.fresh_database()`` answers the URL of a new, empty database (what one test's store gets).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["Cluster", "binaries", "unavailable"]


def binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres`` (the newest version installed)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def unavailable() -> str | None:
    """Why no cluster can be started here (None: it can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgresql]')"
    if binaries() is None:
        return "no PostgreSQL server programs (initdb, pg_ctl, postgres; Debian's postgresql package)"
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        return "root, and no setpriv to start PostgreSQL as an unprivileged user"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        bindir = binaries()
        assert bindir is not None, unavailable()
        self.folder = Path(tempfile.mkdtemp(prefix="cumulo-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.folder, nobody.pw_uid, nobody.pw_gid)
            self._as = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        self._bin = bindir
        self._run("initdb", "-D", str(self.data), "-U", "cumulo", "-A", "trust", "-E", "UTF8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.folder}'\nfsync = off\nsynchronous_commit = off\n"
                       "full_page_writes = off\nmax_connections = 300\nshared_buffers = 64MB\n")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "60", "start")
        self._names = itertools.count(1)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self._bin / program), *args], capture_output=True, text=True,
                              env={**os.environ, "LC_ALL": "C.UTF-8"}, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://cumulo@127.0.0.1:{self.port}/{database}"

    def fresh_database(self) -> str:
        """A new empty database's URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}_{int(time.time() * 1000) % 100000}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
