"""The simulator's agent truth: pause spans, wrap-up like app_queue, and the per-agent counts."""

from __future__ import annotations

from ami_exporter.simulator import Simulator
from ami_exporter.simulator.agents import AgentLedger, true_state

from .conftest import quiet_config


def test_ledger_pause_spans_by_reason() -> None:
    ledger = AgentLedger()
    ledger.pause("lunch", 100.0)
    ledger.pause("break", 130.0)  # paused again: a new pause with another reason
    ledger.unpause(135.0)
    ledger.unpause(200.0)  # not paused: nothing
    ledger.pause("", 300.0)
    assert ledger.paused_totals(310.0) == {"lunch": 30.0, "break": 5.0, "": 10.0}
    assert ledger.pauses == {"lunch": 1, "break": 1, "": 1}


def test_true_state_precedence() -> None:
    def state(**kw: object) -> str:
        args: dict[str, object] = {
            "paused": False,
            "status": 1,
            "in_call": False,
            "ringinuse": False,
            "wrapup_until": 0.0,
            "now": 10.0,
        }
        return true_state(**{**args, **kw})  # type: ignore[arg-type]

    assert state() == "available"
    assert state(paused=True, status=5) == "paused"
    assert state(status=5, in_call=True) == "unavailable"
    assert state(status=2) == "on_call"
    assert state(status=2, ringinuse=True) == "available"
    assert state(status=6) == "ringing"
    assert state(wrapup_until=11.0) == "wrapup"


async def test_a_call_leaves_every_membership_in_wrapup_of_the_queue_that_took_it() -> None:
    """shared_lastcall: Eve (sales and billing) takes a sales call; sales' 2 s wrap-up applies in
    billing too, from LastCall in whole seconds; answered and talk time count in sales only."""
    sim = Simulator(quiet_config())
    await sim.start()
    try:
        sim.model.clock.advance(0.4)
        for interface in ("Local/agent1@agents/n", "Local/agent2@agents/n", "PJSIP/hank", "PJSIP/ivy"):
            sim.pause_member(interface, True, "lunch", queue="sales")
        await sim.place_call("sales", answer=True, ring=1.0, talk=4.0)
        await sim.advance(5.0)  # answered after 1 s, talked 4 s
        members = sim.model.member_truth()
        eve_sales = members[("sales", "Local/agent5@agents/n")]
        eve_billing = members[("billing", "Local/agent5@agents/n")]
        assert (eve_sales.answered, eve_sales.talk_seconds) == (1, 4)
        assert (eve_billing.answered, eve_billing.talk_seconds) == (0, 0)
        assert eve_sales.last_call == eve_billing.last_call == int(sim.clock.now())
        assert eve_sales.state == eve_billing.state == "wrapup"
        await sim.advance(2.0)
        assert sim.model.member_truth()[("billing", "Local/agent5@agents/n")].state == "available"
        alice = members[("sales", "Local/agent1@agents/n")]
        assert alice.state == "paused" and alice.pauses == {"lunch": 1}
    finally:
        await sim.stop()
