"""A streaming standby of the PostgreSQL test server, made for the replica tests and removed after them.

pg_basebackup -R into a temporary folder, then pg_ctl start on a free port,
from PostgreSQL's own binaries (/usr/lib/postgresql/<version>/bin on
Debian). The server must accept replication connections from this machine:
if its pg_hba.conf has no replication line, one for local connections with
the same method as its first local line is added and the configuration
reloaded (the default Debian cluster has one; this machine's had not). Any
failure FAILS the tests that need the standby, saying why: they never skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from pg_support import SERVER_URL, connect

SETTINGS_THAT_MUST_MATCH = (
    "max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions", "max_locks_per_transaction",
)


def fail(message: str) -> None:
    pytest.fail(f"cannot make a streaming standby of {SERVER_URL}: {message}", pytrace=False)


def binaries(version: int) -> Path:
    folder = Path(f"/usr/lib/postgresql/{version}/bin")
    if not (folder / "pg_basebackup").exists():
        found = shutil.which("pg_basebackup")
        if found is None:
            fail(f"pg_basebackup is not in {folder} nor on PATH")
        folder = Path(found).parent
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def as_server_owner(command: list[str], owner: str) -> list[str]:
    """PostgreSQL refuses to run as root: run its binaries as the cluster's owner when we are root."""
    return ["runuser", "-u", owner, "--", *command] if os.geteuid() == 0 else command


def allow_replication(admin: Any) -> None:
    """Add a replication line to pg_hba.conf when there is none, and reload."""
    hba = Path(admin.execute("SHOW hba_file").fetchone()[0])
    lines = hba.read_text().splitlines()
    if any(line.split()[1:2] == ["replication"] for line in lines if line.strip() and not line.lstrip().startswith("#")):
        return
    local = [line.split() for line in lines if line.strip().startswith(("local", "host "))]
    method = local[0][-1] if local else "trust"
    with hba.open("a") as out:
        out.write(f"\n# added by tradedb's tests: a streaming standby on this machine\n"
                  f"local replication all {method}\nhost replication all 127.0.0.1/32 {method}\n")
    admin.execute("SELECT pg_reload_conf()")


class Standby:
    """A running standby: its port, the URL of any database on it, and ways to pause, stop and start it."""

    def __init__(self, folder: Path, port: int, bin_dir: Path, owner: str) -> None:
        self.folder, self.port, self.bin_dir, self.owner = folder, port, bin_dir, owner

    def url_of(self, primary_url: str) -> str:
        """The same database's URL on the standby."""
        parts = urlsplit(primary_url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))

    def pg_ctl(self, *args: str) -> None:
        command = as_server_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.folder), *args], self.owner)
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = (self.folder / "log.txt").read_text()[-2000:] if (self.folder / "log.txt").exists() else ""
            fail(f"pg_ctl {' '.join(args)}: {done.stderr.strip()}\n{log}")

    def start(self) -> None:
        self.pg_ctl("-l", str(self.folder / "log.txt"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "-w", "stop")

    def sql(self, statement: str) -> Any:
        with connect(self.url_of(SERVER_URL)) as connection:
            return connection.execute(statement).fetchall()

    def wait_for_replay(self, timeout: float = 120) -> None:
        """Until the standby has replayed everything the primary wrote so far."""
        with connect(SERVER_URL) as primary:
            target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                [(done,)] = self.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
                if done:
                    return
            except Exception:
                pass
            time.sleep(0.05)
        log = (self.folder / "log.txt").read_text()[-1500:] if (self.folder / "log.txt").exists() else ""
        fail(f"the standby did not replay up to {target} within {timeout} s; its log ends:\n{log}")


def make_standby() -> Iterator[Standby]:
    with connect(SERVER_URL) as admin:
        version = int(admin.execute("SHOW server_version_num").fetchone()[0]) // 10000
        settings = {name: admin.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS_THAT_MUST_MATCH}
        owner = admin.execute("SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'template1'"
                              ).fetchone()[0]
        data_owner = Path(admin.execute("SHOW data_directory").fetchone()[0]).owner() if os.geteuid() == 0 else owner
        if admin.execute("SHOW wal_level").fetchone()[0] == "minimal":
            fail("its wal_level is minimal; set wal_level = replica and restart it")
        allow_replication(admin)
    bin_dir = binaries(version)
    folder = Path(tempfile.mkdtemp(prefix="tradedb-standby-"))
    if os.geteuid() == 0:
        shutil.chown(folder, data_owner, data_owner)
    folder.chmod(0o700)
    port = free_port()
    parts = urlsplit(SERVER_URL)
    backup = as_server_owner(
        [str(bin_dir / "pg_basebackup"), "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
         "-U", parts.username or "postgres", "-D", str(folder), "-R", "-X", "stream", "-c", "fast"],
        data_owner,
    )
    done = subprocess.run(backup, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        fail(f"pg_basebackup: {done.stderr.strip()}")
    config = [f"port = {port}", "listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{folder}'",
              "hot_standby = on", "shared_buffers = 32MB", "fsync = off",
              *(f"{name} = {value}" for name, value in settings.items())]
    for name, text in (("postgresql.conf", "\n".join(config) + "\n"),
                       ("pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\n"),
                       ("pg_ident.conf", "")):
        (folder / name).write_text(text)
        if os.geteuid() == 0:
            shutil.chown(folder / name, data_owner, data_owner)
    standby = Standby(folder, port, bin_dir, data_owner)
    try:
        standby.start()
        standby.wait_for_replay()
        yield standby
    finally:
        subprocess.run(as_server_owner([str(bin_dir / "pg_ctl"), "-D", str(folder), "-m", "immediate", "stop"],
                                       data_owner), capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
