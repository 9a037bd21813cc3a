"""The truth oracle agrees with what a client received; every fault injection does what it says."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter

from ami_exporter.ami.protocol import Decoder
from ami_exporter.simulator import Simulator

from .conftest import RawClient, quiet_config


async def test_truth_matches_a_deterministic_scenario(sim: Simulator, admin: RawClient) -> None:
    sim.pause_member("PJSIP/judy", True, "lunch")
    await sim.place_call("sales", patience=100, answer=True, ring=2, talk=20, hangup_by="agent")
    await sim.place_call("sales", patience=3, answer=False)  # abandons after 3 s
    await sim.place_call("billing", patience=200, answer=False)  # queue timeout 25 s
    await sim.place_call("support", patience=100, answer=True, ring=1, talk=5, hangup_by="caller")
    for name in ("Local/agent3@agents/n", "Local/agent4@agents/n", "Local/agent6@agents/n", "PJSIP/ken"):
        sim.pause_member(name, True, "meeting")
    await sim.place_call("support", patience=100)  # JOINEMPTY: every support member paused
    waiting = await sim.place_call("sales", patience=500, answer=False)
    await sim.advance(40)
    await admin.request("Ping")
    truth = sim.truth()
    sales, support, billing = truth.queues["sales"], truth.queues["support"], truth.queues["billing"]
    assert (sales.joins, sales.answered, sales.caller_abandons, sales.completed) == (3, 1, 1, {"agent": 1})
    assert (support.joins, support.joinempty, support.completed) == (1, 1, {"caller": 1})
    assert (billing.timeouts, billing.abandons, billing.ring_no_answer > 0) == (1, 1, True)
    assert sales.waiting == 1 and sales.callers[0].uniqueid == waiting
    assert truth.members["support", "PJSIP/judy"].paused_reason == "lunch"
    # the oracle's per-session counters equal what the client decoded
    received = Counter(m.name for m in admin.events())
    assert truth.sessions[1].events == dict(received)
    assert truth.emitted["Cdr"] == received["Cdr"] == sum(truth.cdr_dispositions.values())
    billable = sum(int(m.fields["BillableSeconds"]) for m in admin.events("Cdr"))
    assert billable == truth.cdr_billable_seconds
    abandon = admin.events("QueueCallerAbandon")
    assert [m.fields["HoldTime"] for m in abandon if m.fields["Queue"] == "billing"] == ["25"]
    assert len(admin.events("AgentConnect")) == sales.answered + support.answered
    assert any(m.fields.get("Value") == "JOINEMPTY" for m in admin.events("VarSet"))
    # gauges: QueueStatus agrees with the truth
    items = await admin.request_list("QueueStatus", Queue="sales")
    entries = [m for m in items if m.name == "QueueEntry"]
    assert [m.fields["Uniqueid"] for m in entries] == [c.uniqueid for c in sales.callers]
    assert set(truth.channels) >= {waiting}


async def test_drop_mid_frame(sim: Simulator, admin: RawClient) -> None:
    assert sim.drop_mid_frame() == 1
    await admin.wait_eof()
    assert not admin.raw.endswith(b"\r\n\r\n")
    assert admin.decoder.buffered > 0
    assert sim.truth().sessions[1].close_reason == "dropped mid-frame"


async def test_garbage_and_oversized(sim: Simulator, admin: RawClient) -> None:
    sim.inject_garbage()
    sim.inject_oversized(2 * 1024 * 1024)
    pong = await admin.request("Ping")
    assert pong.fields["Ping"] == "Pong"
    assert b"x" * (2 * 1024 * 1024 - 100) in admin.raw
    stock = Decoder()  # 1 MiB frames: the 2 MiB frame is discarded, the stream resyncs
    names = [m.name for m in stock.feed(bytes(admin.raw))]
    assert stock.oversized_frames == 1 and stock.malformed_frames >= 1
    assert "Oversized" not in names and names[-1] == "Success"


async def test_stop_answering_is_half_open(sim: Simulator, admin: RawClient) -> None:
    sim.stop_answering()
    action_id = admin.send("Ping")
    await sim.place_call("sales", patience=10, answer=True, talk=2)
    await sim.advance(20)
    await asyncio.sleep(0.3)
    assert not admin.eof
    assert all(m.fields.get("ActionID") != action_id for m in admin.messages)
    late = await RawClient.connect(sim.port)
    await asyncio.sleep(0.1)
    assert late.raw == b"" and not late.eof
    sim.resume_answering()
    assert (await late.login("admin", "adminsecret")).fields["Message"] == "Authentication accepted"
    await late.close()


async def test_restart_sequence() -> None:
    sim = Simulator(quiet_config())
    await sim.start()
    try:
        client = await RawClient.connect(sim.port)
        await client.login("exporter", "exportersecret")
        await sim.place_call("billing", patience=300, answer=False)
        await sim.place_call("sales", patience=300, answer=False)
        await sim.advance(2)
        old_ids = set(sim.truth().channels)
        restart = asyncio.ensure_future(sim.restart(shutdown_delay=0.01, reset_for=0.3, refuse_for=0.3))
        await client.wait_eof()
        names = [m.name for m in client.events()]
        assert names.count("QueueCallerAbandon") == 2
        assert names[-1] == "Shutdown" or "Shutdown" in names[-6:]
        shutdown = client.events("Shutdown")[0]
        assert (shutdown.fields["Shutdown"], shutdown.fields["Restart"]) == ("Cleanly", "True")
        assert {m.fields["Cause"] for m in client.events("Hangup")[-8:]} == {"0"}
        abandon = client.events("QueueCallerAbandon")
        leave_index = [client.messages.index(m) for m in client.events("QueueCallerLeave")[-2:]]
        assert all(client.messages.index(a) < max(leave_index) for a in abandon)
        # during the reset period: accepted, then reset before any banner
        reset = await RawClient.connect(sim.port)
        await reset.wait_eof()
        assert reset.raw == b""
        await reset.close()
        await asyncio.sleep(0.35)
        refused = False
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", sim.port)
            writer.close()
        except ConnectionRefusedError:
            refused = True
        assert refused
        await restart
        again = await RawClient.connect(sim.port)
        await again.login("exporter", "exportersecret")
        booted = await again.wait_for(lambda m: m.name == "FullyBooted")
        assert booted.fields["Uptime"] == "0"
        params = await again.request_list("QueueStatus")
        assert all(m.fields["Completed"] == "0" for m in params if m.name == "QueueParams")
        await sim.place_call("sales", patience=300, answer=False)
        assert not set(sim.truth().channels) & old_ids
        assert sim.truth().generation == 1
        await client.close()
        await again.close()
    finally:
        await sim.stop()


async def test_writetimeout_closes_a_slow_reader() -> None:
    sim = Simulator(quiet_config(write_high_water=16 * 1024, sndbuf=16 * 1024, call_rate=5.0))
    await sim.start(traffic=False)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", sim.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        await reader.readline()
        writer.write(b"Action: Login\r\nUsername: admin\r\nSecret: adminsecret\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        # stop reading; flood events until the server gives up on us
        sim.model.start_traffic()
        for _ in range(200):
            await sim.advance(2)
            await asyncio.sleep(0.005)
            stats = sim.truth().sessions[1]
            if not stats.open:
                break
        assert not stats.open
        assert stats.close_reason == "writetimeout"
        writer.close()
    finally:
        await sim.stop()
