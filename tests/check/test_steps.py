"""Steps 2 to 6: login failures replayed from the recorded Asterisk, privileges per simulator user,
events (idle, busy, a user without the system class, a mask Asterisk did not apply), the snapshot
and the web config file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import bcrypt
import pytest

from ami_exporter.simulator import Simulator, SimulatorConfig
from ami_exporter.simulator.config import EXPORTER_READ, PjsipConfig, UserConfig

from ..reliability.harness import wait_until
from ..simulator.conftest import quiet_config
from ..support.replay import Play, replay_server
from .conftest import SECRET, USERS, RunCheck

# -- login -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recording", "auth"),
    [
        ("exporter-wrong-secret", "plain"),
        ("unknown-user", "plain"),
        ("exporter-from-127.0.0.2", "plain"),
        ("exporter-bad-md5", "md5"),
    ],
)
async def test_failed_logins_of_the_recorded_asterisk(run_check: RunCheck, recording: str, auth: str) -> None:
    """Asterisk 22 answers a wrong secret, an unknown user and a denied address alike: the check
    says so, lists the three causes and the security event that names each."""
    rx, tx = f"e-failed-login/{recording}.rx.raw", f"e-failed-login/{recording}.tx.raw"
    async with replay_server([Play(rx, tx, close_at_end=True)]) as server:
        user = "nosuchuser" if recording == "unknown-user" else "exporter"
        result = await run_check(
            f"--ami.address=127.0.0.1:{server.port}", f"--ami.username={user}", f"--ami.auth={auth}"
        )
    assert result.code == 2
    assert result.line("FAIL  Asterisk refused the login") == (
        f"FAIL  Asterisk refused the login as {user!r}: Authentication failed"
    )
    for cause in ("wrong secret:", "unknown user:", "address not permitted:"):
        assert cause in result.out
    for event in ("InvalidPassword", "ChallengeResponseFailed", "InvalidAccountID", "FailedACL"):
        assert event in result.out
    assert f"manager show user {user}" in result.line("fix:")
    assert result.line("3. Privileges").endswith("SKIP")
    assert [action["Action"] for action in server.actions][-1] == "Login"  # no Logoff without a login


async def test_wrong_secret_against_the_simulator(run_check: RunCheck, sim: Simulator) -> None:
    result = await run_check(f"--ami.address=127.0.0.1:{sim.port}", secret="wrong")
    assert result.code == 2
    assert "(this host connected from 127.0.0.1)" in result.line("address not permitted:")


async def test_plain_login_is_a_note_without_tls(run_check: RunCheck, sim: Simulator) -> None:
    result = await run_check(f"--ami.address=127.0.0.1:{sim.port}", "--ami.auth=plain", "--check.wait=100ms")
    assert result.code == 0
    assert "clear text" in result.line("NOTE  logged in as 'exporter' with a plain login")


async def test_md5_against_a_server_that_refuses_the_challenge(run_check: RunCheck) -> None:
    """--ami.auth md5 never falls back to a plain login: the check says why and how to allow it."""
    sim = Simulator(SimulatorConfig(challenge=False, time_scale=0))
    await sim.start(traffic=False)
    try:
        result = await run_check(f"--ami.address=127.0.0.1:{sim.port}", "--ami.auth=md5")
    finally:
        await sim.stop()
    assert result.code == 2
    assert "refused the MD5 challenge" in result.line("FAIL  the server refused")
    assert "--ami.auth auto or plain" in result.line("fix:")
    assert "wrong secret:" not in result.out
    assert {a for stats in sim.session_stats.values() for a in stats.actions} == {"Challenge"}


# -- privileges ------------------------------------------------------------------------------------


async def test_read_only_user(run_check: RunCheck, sim: Simulator) -> None:
    result = await run_check(f"--ami.address=127.0.0.1:{sim.port}", "--check.wait=100ms")
    assert result.code == 0
    assert result.line("3. Privileges").endswith("NOTE")
    channels = result.line("NOTE  channels and bridges")
    assert "degraded, CoreShowChannels not permitted" in channels
    assert "only channels seen starting" in channels
    assert result.line("fix: add reporting to write= of [exporter]").endswith(
        "to let it run CoreShowChannels"
    )
    assert "CoreSettings not permitted" in result.line("NOTE  Asterisk version")
    assert result.line("OK    queue state") == "OK    queue state: QueueStatus snapshot, agent events"
    assert "no write class beyond" in result.line("OK    no write class")
    assert "WARN" not in result.out


async def test_reporting_user(run_check: RunCheck, sim: Simulator) -> None:
    result = await run_check(
        f"--ami.address=127.0.0.1:{sim.port}", "--ami.username=exporter_rep", "--check.wait=100ms"
    )
    assert result.code == 0
    assert result.line("3. Privileges").endswith("OK")
    assert "CoreShowChannels snapshot" in result.line("OK    channels and bridges")
    assert result.line("OK    CoreSettings:") == "OK    CoreSettings: Asterisk 22.10.1, AMI 11.0.0"


async def test_all_powerful_admin_gets_warnings_and_the_least_privilege_block(
    run_check: RunCheck, sim: Simulator
) -> None:
    result = await run_check(
        f"--ami.address=127.0.0.1:{sim.port}", "--ami.username=admin", "--check.wait=100ms"
    )
    assert result.code == 0  # dangerous, but everything the exporter needs works
    assert result.line("3. Privileges").endswith("WARN")
    for write_class, action in [
        ("originate", "Originate"),
        ("command", "Command"),
        ("system", "DBPut"),
        ("config", "UpdateConfig"),
        ("agi", "AGI"),
        ("user", "UserEvent"),
        ("call", "Atxfer"),
        ("agent", "QueueAdd"),
    ]:
        line = result.line(f"WARN  write = {write_class}:")
        assert action in line and line.endswith("the exporter never needs it"), line
    assert "WARN  write = reporting" not in result.out
    out = result.out
    block = out[out.index("least privilege is:") :]
    for expected in (
        "[admin]",
        "deny = 0.0.0.0/0.0.0.0",
        "permit = 127.0.0.1/255.255.255.255",
        "read = system,call,agent,cdr,security",
        "write = reporting",
    ):
        assert expected in block, expected
    assert "replace [admin] in manager.conf" in result.line("fix: replace")


async def test_only_allowlisted_read_only_actions_reach_the_server(
    run_check: RunCheck, sim: Simulator
) -> None:
    from ami_exporter.ami.actions import READ_ONLY_ACTIONS

    result = await run_check(
        f"--ami.address=127.0.0.1:{sim.port}", "--ami.username=admin", "--check.wait=100ms"
    )
    assert result.code == 0
    sent = {name for stats in sim.session_stats.values() for name in stats.actions}
    assert {"Login", "ListCommands", "QueueStatus", "CoreShowChannels", "Logoff"} <= sent
    assert sent <= READ_ONLY_ACTIONS, sent - READ_ONLY_ACTIONS


# -- events ----------------------------------------------------------------------------------------


async def test_idle_pbx_classes_not_seen_are_notes(run_check: RunCheck, sim: Simulator) -> None:
    result = await run_check(f"--ami.address=127.0.0.1:{sim.port}", "--check.wait=200ms")
    assert result.code == 0
    assert result.line("OK    system:") == "OK    system: 1 event(s) (FullyBooted at login): FullyBooted"
    assert "SuccessfulAuth" in result.line("OK    security:")
    for event_class in ("call", "agent", "cdr"):
        assert "not seen in 0.2s (idle?)" in result.line(f"NOTE  {event_class}:")
    assert "was applied" in result.line("OK    the Events: mask")


async def test_busy_pbx_every_class_arrives(run_check: RunCheck, sim: Simulator) -> None:
    """Traffic driven by the test: a caller joins, is answered and hangs up (agent, call, cdr)."""
    check = asyncio.create_task(run_check(f"--ami.address=127.0.0.1:{sim.port}", "--check.wait=60s"))
    await wait_until(
        lambda: any(s.user == "exporter" and s.actions["QueueStatus"] for s in sim.session_stats.values())
    )
    await sim.place_call("sales", patience=300, answer=True)
    for _ in range(30):
        await sim.advance(10)
        if check.done():
            break
    result = await check
    assert result.code == 0
    for event_class in ("system", "call", "agent", "cdr", "security"):
        assert "event(s)" in result.line(f"OK    {event_class}:")
    assert "QueueCallerJoin" in result.out or "AgentConnect" in result.out


async def test_user_without_system_class(run_check: RunCheck, sim: Simulator) -> None:
    result = await run_check(
        f"--ami.address=127.0.0.1:{sim.port}", "--ami.username=no_system", "--check.wait=100ms"
    )
    assert result.code == 1  # would run degraded: no start time, reloads, shutdowns
    assert "no FullyBooted at login" in result.line("FAIL  system:")
    assert "add system to read=" in result.line("fix: add system")


async def test_recorded_stream_without_the_mask_applied(run_check: RunCheck) -> None:
    """The b-scenario recording logged in with 'Events: on': dialplan and user events arrive,
    which the exporter's mask would have kept away."""
    plan = [Play("b-scenario/exporter.rx.raw", "b-scenario/exporter.tx.raw")]
    async with replay_server(plan) as server:
        result = await run_check(
            f"--ami.address=127.0.0.1:{server.port}", "--ami.auth=plain", "--check.wait=5s"
        )
    line = result.line("WARN  events of classes outside the Events: mask arrived")
    assert "dialplan" in line
    assert result.code == 0
    # the recorded QueueStatus reply, folded by the exporter's own reconcile code
    assert result.line("OK    QueueStatus:") == (
        "OK    QueueStatus: 3 queue(s), 8 member(s) (0 paused), 0 caller(s) waiting"
    )
    assert [action["Action"] for action in server.actions] == [
        "Login",
        "ListCommands",
        "QueueStatus",
        "BridgeList",
        "Logoff",
    ]


# -- web config ------------------------------------------------------------------------------------


async def test_invalid_web_config_file(run_check: RunCheck, sim: Simulator, tmp_path: Path) -> None:
    config = tmp_path / "web.yml"
    config.write_text("basic_auth_users:\n  alice: plaintext-password\n", encoding="utf-8")
    result = await run_check(
        f"--ami.address=127.0.0.1:{sim.port}", f"--web.config.file={config}", "--check.wait=100ms"
    )
    assert result.code == 1  # the AMI side is fine; the exporter would not start with this file
    assert "not a bcrypt hash" in result.line("FAIL  ")
    assert result.line("6. Web config").endswith("FAIL")


async def test_valid_web_config_file(run_check: RunCheck, tmp_path: Path) -> None:
    config = tmp_path / "web.yml"
    password_hash = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    config.write_text(f"basic_auth_users:\n  alice: '{password_hash}'\n", encoding="utf-8")
    from ..support.net import free_port

    result = await run_check(f"--ami.address=127.0.0.1:{free_port()}", f"--web.config.file={config}")
    assert result.code == 2  # no AMI here, but the file is checked anyway
    assert (
        result.line(f"OK    {config} is valid")
        == f"OK    {config} is valid: no TLS, basic auth for 1 user(s)"
    )
    assert SECRET not in result.out


async def test_pjsip_snapshots_per_user(run_check: RunCheck) -> None:
    """On a PBX with res_pjsip: write=reporting lists devices and registrations, and leaves the
    contact lists (write=system) out as recommended, without calling that degraded."""
    users = (*USERS, UserConfig("exporter_sys", SECRET, read=EXPORTER_READ, write="system,reporting"))
    simulator = Simulator(quiet_config(users=users, pjsip=PjsipConfig(phones_down=("hank",))))
    await simulator.start(traffic=False)
    try:
        address = f"--ami.address=127.0.0.1:{simulator.port}"
        result = await run_check(address, "--ami.username=exporter_rep", "--check.wait=100ms")
        assert result.code == 0
        assert result.line("3. Privileges").endswith("OK")
        assert "DeviceStateList snapshot" in result.line("OK    device states and PJSIP endpoints")
        assert "write = system would list them" in result.line("OK    every PJSIP endpoint and contact")
        assert result.line("OK    DeviceStateList:").endswith(
            "6 device(s); endpoints: 4 reachable, 2 unreachable"
        )
        assert result.line("OK    PJSIPShowRegistrationsOutbound:").endswith("registrations: 1 registered")
        system = await run_check(address, "--ami.username=exporter_sys", "--check.wait=100ms")
        assert system.line("OK    PJSIPShowContacts:").endswith("contacts: 4 reachable, 1 unreachable")
        assert "PJSIPShowEndpoints snapshot" in system.line("OK    every PJSIP endpoint and contact")
    finally:
        await simulator.stop()
