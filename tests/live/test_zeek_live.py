"""``tapaudit zeek``'s session against a local WebSocket server speaking Zeek's documented API.

The server here does what Zeek's WebSocket API does (../shared/docs/zeek/websocket-api.rst): it
takes the client's topic array, answers ``{"type": "ack", ...}``, and sends ``data-message``s in
Broker's JSON, built here by hand from the document's example (``[1, 1, [name, [args], []]]``),
each carrying ``TapAudit::log_row("1", path, row)`` as ``tapaudit-publish.zeek`` publishes it, the
row as Zeek's ``to_json`` writes it (records nested). The rows are the Stratosphere lab's real
``003`` logs (conn and dns), each connection's dns rows sent before its conn row, as a live Zeek
does. Halfway the server drops the connection; the client reconnects, and the server sends the
last rows of the first half again, then the rest, an event of another script version and a
message that is not JSON. Everything sent arrives as flows and DNS rows, none of them twice.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.live.control import request
from appliance.live.zeek_client import ZeekClient, script_text
from appliance.live.zeek_session import ZeekLiveOptions, ZeekSession
from tests.support.paths import shared_path

SCENARIO = ("stratosphere-security-datasets-for-testing", "003-zeek-scenario-malicious")
RESENT = 10
PACE_S = 0.004  # between messages: the rows span several flushes, as a sensor's do


def _rows(path: Path) -> list[dict[str, Any]]:
    """A TSV log's rows as Zeek's to_json writes them: unset fields left out, ``id`` nested,
    counts and times as numbers, containers as arrays."""
    fields: list[str] = []
    types: list[str] = []
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line.startswith("#types"):
            types = line.split("\t")[1:]
        elif not line.startswith("#"):
            row: dict[str, Any] = {}
            for name, typ, v in zip(fields, types, line.split("\t"), strict=True):
                if v == "-":
                    continue
                if typ.startswith(("set[", "vector[")):
                    val: Any = [] if v == "(empty)" else v.split(",")
                elif typ in ("count", "port"):
                    val = int(v)
                elif typ in ("time", "interval"):
                    val = float(v)
                elif typ == "bool":
                    val = v == "T"
                else:
                    val = v
                if name.startswith("id."):
                    row.setdefault("id", {})[name[3:]] = val
                else:
                    row[name] = val
            out.append(row)
    return out


def _message(path: str, row: dict[str, Any], version: str = "1") -> str:
    def s(x: str) -> dict[str, Any]:
        return {"@data-type": "string", "data": x}

    event = {"@data-type": "vector", "data": [s("TapAudit::log_row"),
             {"@data-type": "vector", "data": [s(version), s(path), s(json.dumps(row))]},
             {"@data-type": "vector", "data": []}]}  # fmt: skip
    one = {"@data-type": "count", "data": 1}
    return json.dumps({"type": "data-message", "topic": f"tapaudit/v1/{path}", "@data-type": "vector",
                       "data": [one, one, event]})  # fmt: skip


class FakeZeek:
    """A WebSocket server with Zeek's API: the first connection gets ``first`` and is dropped, the
    next ones get ``again`` and stay open."""

    def __init__(self, first: list[str], again: list[str]) -> None:
        from websockets.sync.server import serve

        self.first, self.again = first, again
        self.connections = 0
        self.topics: list[Any] = []
        self.server = serve(self._handle, "127.0.0.1", 0)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handle(self, ws: Any) -> None:
        self.topics.append(json.loads(ws.recv()))
        self.connections += 1
        ws.send(json.dumps({"type": "ack", "endpoint": f"fake-{self.connections}", "version": "8.0.0"}))
        if self.connections == 1:
            for m in self.first:
                ws.send(m)
                time.sleep(PACE_S)
            ws.socket.close()  # dropped, no closing handshake: as a crashed or restarted Zeek
            return
        for m in self.again:
            ws.send(m)
            time.sleep(PACE_S)
        try:
            ws.recv()  # hold the connection until the client goes
        except Exception:
            return

    def close(self) -> None:
        self.server.shutdown()


def _ordered(conn: list[dict[str, Any]], dns: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """dns rows first, then their connection's conn row, as Zeek logs them live."""
    by_uid: dict[str, list[dict[str, Any]]] = {}
    for d in dns:
        by_uid.setdefault(str(d["uid"]), []).append(d)
    out: list[tuple[str, dict[str, Any]]] = []
    for c in conn:
        out += [("dns", d) for d in by_uid.pop(str(c["uid"]), [])]
        out.append(("conn", c))
    out += [("dns", d) for rows in by_uid.values() for d in rows]
    return out


def test_events_arrive_once_across_a_dropped_connection(store: Any, tmp_path: Path) -> None:
    d = shared_path(*SCENARIO)
    conn, dns = _rows(d / "conn.log"), _rows(d / "dns.log")
    assert len(conn) > 300 and dns
    rows = _ordered(conn, dns)
    half = len(rows) // 2
    first = [_message(p, r) for p, r in rows[:half]]
    again = [_message(p, r) for p, r in rows[half - RESENT :]]
    again.insert(3, _message("conn", {**conn[0], "uid": "Cother"}, version="2"))  # another script version
    again.insert(5, "{not json")
    server = FakeZeek(first, again)
    client = ZeekClient(f"ws://127.0.0.1:{server.port}", retry_s=0.1)
    ctl = str(tmp_path / "control.sock")
    opts = ZeekLiveOptions(url=client.url, spool_dir=str(tmp_path / "spool"), flush_s=0.2, control=ctl)
    session = ZeekSession(store, opts, client=client)
    done: dict[str, Any] = {}
    t = threading.Thread(target=lambda: done.setdefault("st", session.run()))
    t.start()
    try:
        end = time.monotonic() + 60
        while not os.path.exists(ctl) and time.monotonic() < end:
            time.sleep(0.05)
        mark = request(
            ctl, {"op": "mark", "phase": "idle", "note": "from the test"}
        )  # as `tapaudit mark` does
        while client.stats.rows < len(rows) + RESENT and time.monotonic() < end:
            time.sleep(0.1)
        assert client.stats.rows == len(rows) + RESENT, client.stats
    finally:
        session.stop.set()
        t.join(30)
        server.close()
    st = done["st"]
    assert server.topics == [["tapaudit/v1"], ["tapaudit/v1"]]
    assert client.stats.connects == 2 and client.stats.drops >= 1
    assert client.stats.wrong_version == 1 and client.stats.bad_messages == 1
    assert session.feed.duplicates == RESENT
    assert st.status == "complete" and st.batches > 1 and st.spool_pending == 0

    c = {"c": st.capture_id}
    flows = store.query("SELECT zeek_uid, pkts_up, bytes_up FROM {db}.flows WHERE capture_id = %(c)s", c)
    uids = [f["zeek_uid"] for f in flows]
    assert sorted(uids) == sorted(str(r["uid"]) for r in conn)  # every connection, once
    want = {(str(r["uid"]), int(r.get("orig_pkts", 0)), int(r.get("orig_ip_bytes", 0))) for r in conn}
    assert {(f["zeek_uid"], f["pkts_up"], f["bytes_up"]) for f in flows} == want
    got_dns = store.query("SELECT qname, flow_id FROM {db}.dns WHERE capture_id = %(c)s", c)
    assert sorted(r["qname"] for r in got_dns) == sorted(str(r["query"]) for r in dns)
    flow_ids = {
        r["flow_id"] for r in store.query("SELECT flow_id FROM {db}.flows WHERE capture_id = %(c)s", c)
    }
    assert {r["flow_id"] for r in got_dns} <= flow_ids  # each DNS row on its connection's flow
    cap = store.query(
        "SELECT format, status, flows FROM {db}.captures WHERE capture_id = %(c)s"
        " ORDER BY batch DESC LIMIT 1",
        c,
    )[0]
    assert cap["format"] == "zeek-ws" and cap["status"] == "complete" and cap["flows"] == len(conn)
    phases = store.query("SELECT phase, start_ns, note FROM {db}.phases WHERE capture_id = %(c)s", c)
    assert {(r["phase"], r["start_ns"], r["note"]) for r in phases} == {
        ("idle", mark["ts_ns"], "from the test")
    }


def test_the_shipped_zeek_script_is_versioned_and_publishes_what_the_client_reads() -> None:
    text = script_text()
    assert 'const version = "1"' in text and 'topic_prefix = "tapaudit/v1"' in text
    for log in ("Conn::log_conn", "DNS::log_dns", "SSL::log_ssl", "HTTP::log_http", "DHCP::log_dhcp"):
        assert f"event {log}(rec:" in text
    assert text.count("{") == text.count("}") and text.count("(") == text.count(")")


def test_a_url_that_is_not_websocket_is_refused() -> None:
    with pytest.raises(ValueError, match="ws://"):
        ZeekClient("http://127.0.0.1:1")
