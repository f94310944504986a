"""Start Debian's clickhouse-server (18.16) on free loopback ports with a temporary data path; or
several, each one shard of a cluster named in every server's ``remote_servers`` (``running_cluster``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><console>0</console></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp}</tcp_port>
    <http_port>{http}</http_port>
    <path>{d}/data/</path>
    <tmp_path>{d}/tmp/</tmp_path>
    <user_files_path>{d}/user_files/</user_files_path>
    <format_schema_path>{d}/format_schemas/</format_schema_path>
    <users_config>{d}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>{extra}
</yandex>
"""
USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
        <profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"""


def binary() -> str | None:
    return shutil.which("clickhouse-server") or (
        "/usr/sbin/clickhouse-server" if os.path.exists("/usr/sbin/clickhouse-server") else None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, workdir: str, extra: str = "") -> None:
        self.dir = workdir
        self.tcp = free_port()
        self.http = free_port()
        self.extra = extra  # more server configuration (remote_servers of a cluster)
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "tapaudit") -> str:
        return f"clickhouse://default@127.0.0.1:{self.tcp}/{database}"

    def start(self, timeout: float = 30.0) -> None:
        exe = binary()
        assert exe, "clickhouse-server is not installed (make test installs it)"
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "config.xml"), "w") as fh:
            fh.write(CONFIG.format(d=self.dir, tcp=self.tcp, http=self.http, extra=self.extra))
        with open(os.path.join(self.dir, "users.xml"), "w") as fh:
            fh.write(USERS)
        out = open(os.path.join(self.dir, "stdout.log"), "ab")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            [exe, f"--config-file={self.dir}/config.xml"], stdout=out, stderr=subprocess.STDOUT, cwd=self.dir
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"clickhouse-server exited with {self.proc.returncode}; see {self.dir}")
            try:
                with socket.create_connection(("127.0.0.1", self.tcp), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("clickhouse-server did not start within 30 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def running_server() -> Iterator[Server]:
    d = tempfile.mkdtemp(prefix="tapaudit-ch-")
    srv = Server(d)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


def remote_servers(cluster: str, ports: list[int]) -> str:
    """``remote_servers`` naming a cluster of one shard per port on 127.0.0.1 (one replica each)."""
    shards = "".join(
        f"<shard><replica><host>127.0.0.1</host><port>{p}</port></replica></shard>" for p in ports
    )
    return f"\n    <remote_servers><{cluster}>{shards}</{cluster}></remote_servers>"


@contextmanager
def running_cluster(cluster: str, shards: int = 2) -> Iterator[list[Server]]:
    """``shards`` servers, each one shard of ``cluster``, every one knowing the whole cluster."""
    dirs = [tempfile.mkdtemp(prefix=f"tapaudit-ch{i}-") for i in range(shards)]
    servers = [Server(d) for d in dirs]
    extra = remote_servers(cluster, [s.tcp for s in servers])
    try:
        for s in servers:
            s.extra = extra
            s.start()
        yield servers
    finally:
        for s in servers:
            s.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
