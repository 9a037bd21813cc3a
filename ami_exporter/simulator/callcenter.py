"""The call-center model: queues, agents, callers and the events Asterisk would publish for them.

Pure: no sockets, no asyncio. Time comes from a :class:`VirtualClock`, randomness from a seeded
``random.Random`` and every event goes to the ``emit`` callback in the order Asterisk would queue
it. Call flows follow the b-scenario capture (Local-channel callers answered in the dialplan
before ``Queue()``; Local or PJSIP members; ringall and single-member strategies).
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ami_exporter.pbx.codes import DEVICE_STATE_TEXT
from ami_exporter.simulator import events as ev
from ami_exporter.simulator.agents import AgentLedger, true_state
from ami_exporter.simulator.clock import Timer, VirtualClock
from ami_exporter.simulator.config import MemberConfig, QueueConfig, SimulatorConfig
from ami_exporter.simulator.pjsip import SipPlant
from ami_exporter.simulator.shapes import Bridge, Channel, Event
from ami_exporter.simulator.truth import CallerTruth, MemberTruth, QueueTruth

__all__ = ["CallCenter"]

WAITING, CONNECTED, DONE = "waiting", "connected", "done"


def _ts(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


@dataclass(eq=False)
class Agent:
    cfg: MemberConfig
    status: int = 1
    legs: int = 0
    calls: int = 0
    memberships: list[Member] = field(default_factory=list)
    online: bool = True  # a PJSIP phone's contact is reachable (or registered)
    last_queue: Queue | None = None  # Asterisk's member->lastqueue (shared_lastcall)

    @property
    def device(self) -> str:
        iface = self.cfg.interface
        return iface[:-2] if iface.startswith("Local/") and iface.endswith("/n") else iface


@dataclass(eq=False)
class Member:
    queue: Queue
    agent: Agent
    penalty: int
    login_time: int
    membership: str = "static"
    paused: bool = False
    paused_reason: str = ""
    last_pause: int = 0
    calls_taken: int = 0
    last_call: int = 0
    in_call: bool = False
    wrapup_until: float = 0.0
    wrapuptime: int = 0  # the member's own (QueueAdd Wrapuptime); 0 = the queue's
    ledger: AgentLedger = field(default_factory=AgentLedger)

    def blob(self) -> dict[str, str]:
        return {
            "Queue": self.queue.cfg.name,
            "MemberName": self.agent.cfg.name,
            "Interface": self.agent.cfg.interface,
            "StateInterface": self.agent.cfg.interface,
            "Membership": self.membership,
            "Penalty": str(self.penalty),
            "CallsTaken": str(self.calls_taken),
            "LastCall": str(self.last_call),
            "LastPause": str(self.last_pause),
            "LoginTime": str(self.login_time),
            "InCall": "1" if self.in_call else "0",
            "Status": str(self.agent.status),
            "Paused": "1" if self.paused else "0",
            "PausedReason": self.paused_reason,
            "Ringinuse": "1" if self.queue.cfg.ringinuse else "0",
            "Wrapuptime": str(self.wrapuptime),
        }


@dataclass(eq=False)
class Queue:
    cfg: QueueConfig
    members: dict[str, Member] = field(default_factory=dict)
    callers: list[Caller] = field(default_factory=list)
    rr_last: int = -1
    # Asterisk's own statistics (reset by restart / QueueReset)
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    holdtime: float = 0.0
    talktime: float = 0.0
    # the oracle's counters (never reset)
    joins: int = 0
    abandons: int = 0
    caller_abandons: int = 0
    timeouts: int = 0
    answered: int = 0
    completed_by: Counter[str] = field(default_factory=Counter)
    rna: int = 0
    joinempty: int = 0
    full: int = 0

    def usable_members(self) -> bool:
        return any(not m.paused and m.agent.status not in (4, 5) for m in self.members.values())


@dataclass(eq=False)
class Leg:
    caller: Caller
    member: Member
    chans: list[Channel]
    start: float
    timer: Timer | None = None


@dataclass(eq=False)
class Caller:
    ch1: Channel
    ch2: Channel
    queue: Queue
    patience: float
    join_time: float = 0.0
    original_position: int = 0
    state: str = WAITING
    legs: list[Leg] = field(default_factory=list)
    history: list[tuple[str, float, float, str]] = field(default_factory=list)  # dest, start, end, disp
    timers: list[Timer] = field(default_factory=list)
    retry: Timer | None = None
    force_answer: bool | None = None
    ring_delay: float = 1.0
    talk: float | None = None
    hangup_by: str | None = None
    connected: Leg | None = None
    connect_time: float = 0.0
    bridge: Bridge | None = None


class CallCenter:
    """The simulated PBX. ``emit`` receives every async event, in order."""

    def __init__(self, config: SimulatorConfig, clock: VirtualClock, emit: Callable[[Event], None]) -> None:
        self.config = config
        self.clock = clock
        self._emit_cb = emit
        self.rng = random.Random(config.seed)
        self.generation = 0
        self.boot_time = clock.now() - config.uptime_at_start
        self.reload_time = self.boot_time + 3
        self._seq = 0
        self._local_seq = 0x20
        self._call_seq = 0
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self._linked: Counter[str] = Counter()
        self._device_users: Counter[str] = Counter()
        self.emitted: Counter[str] = Counter()
        self.cdr_dispositions: Counter[str] = Counter()
        self.cdr_billable = 0
        self.security: Counter[str] = Counter()
        self.processed_calls = 0
        self.connected: list[Caller] = []
        self.agents: dict[str, Agent] = {}
        self.queues: dict[str, Queue] = {}
        self._build()
        self.sip: SipPlant | None = None
        if config.pjsip is not None:
            self.sip = SipPlant(
                config.pjsip,
                [iface[len("PJSIP/") :] for iface in self.agents if iface.startswith("PJSIP/")],
                clock,
                # Its own random stream: adding phones must not change the calls a seed makes.
                random.Random(f"pjsip-{config.seed}"),
                self.emit,
                self.set_online,
                self._agent_device_state,
                self._endpoint_channels,
            )
            for name, endpoint in self.sip.endpoints.items():
                agent = self.agents.get(f"PJSIP/{name}")
                if agent is not None and not endpoint.online:  # down before we started
                    agent.online, agent.status = False, 5
        self._running = False

    # --- setup --------------------------------------------------------------------------------

    def _build(self) -> None:
        login = int(self.clock.now())
        for qcfg in self.config.queues:
            queue = Queue(qcfg)
            for mcfg in qcfg.members:
                agent = self.agents.get(mcfg.interface)
                if agent is None:
                    agent = self.agents[mcfg.interface] = Agent(mcfg)
                member = Member(queue, agent, mcfg.penalty, login, wrapuptime=mcfg.wrapuptime)
                agent.memberships.append(member)
                queue.members[mcfg.interface] = member
            self.queues[qcfg.name] = queue

    def start_traffic(self) -> None:
        """Start the random processes: arrivals, pauses, the security scanner."""
        if self._running:
            return
        self._running = True
        cfg = self.config
        if cfg.call_rate > 0:
            self.clock.call_later(self.rng.expovariate(cfg.call_rate), self._arrival)
        if cfg.pause_interval > 0:
            for agent in self.agents.values():
                self.clock.call_later(self.rng.expovariate(1 / cfg.pause_interval), self._pause_tick(agent))
        if cfg.scanner_rate > 0:
            self.clock.call_later(self.rng.expovariate(cfg.scanner_rate), self._scan)
        if self.sip is not None:
            self.sip.start()

    def stop_traffic(self) -> None:
        self._running = False
        if self.sip is not None:
            self.sip.stop()

    # --- helpers ------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def emit(self, event: Event) -> None:
        self.emitted[event.name] += 1
        if self.config.timestamp_events:
            event.timestamp = self.now()
        if event.name == "Cdr":
            fields = dict(event.headers)
            self.cdr_dispositions[fields["Disposition"]] += 1
            self.cdr_billable += int(fields["BillableSeconds"])
        self._emit_cb(event)

    def _uid(self) -> str:
        self._seq += 1
        return f"{int(self.now())}.{self._seq}"

    def _local_pair(
        self, base: str, context: str, exten: str, linkedid: str | None
    ) -> tuple[Channel, Channel]:
        self._local_seq += 1
        name = f"Local/{base}-{self._local_seq:08x}"
        uid1 = self._uid()
        link = linkedid or uid1
        one = Channel(f"{name};1", uid1, link, context, exten, state=0, created=self.now())
        two = Channel(f"{name};2", self._uid(), link, context, exten, state=4, created=self.now())
        return one, two

    def _new_channel(self, ch: Channel) -> None:
        self.channels[ch.uniqueid] = ch
        self._linked[ch.linkedid] += 1
        self.emit(ev.cel("CHAN_START", ch, _ts(self.now()), caller=False))
        self.emit(ev.newchannel(ch))

    def _set_state(self, ch: Channel, state: int) -> None:
        if ch.state != state:
            ch.state = state
            if state == 6 and ch.answered is None:
                ch.answered = self.now()
            self.emit(ev.newstate(ch))
            if state == 6:
                self.emit(ev.cel("ANSWER", ch, _ts(self.now())))

    def _hangup(
        self, ch: Channel, cause: int, request: str | None = None, req_cause: int | None = None
    ) -> None:
        if ch.uniqueid not in self.channels:
            return
        if request is not None:
            self.emit(
                ev.hangup_request(ch, cause if req_cause is None else req_cause, soft=request == "soft")
            )
        self.emit(ev.cel("HANGUP", ch, _ts(self.now()), extra=f'{{"hangupcause":{cause}}}'))
        self.emit(ev.hangup(ch, cause))
        self.emit(ev.cel("CHAN_END", ch, _ts(self.now())))
        del self.channels[ch.uniqueid]
        self._linked[ch.linkedid] -= 1
        if self._linked[ch.linkedid] <= 0:
            del self._linked[ch.linkedid]
            self.emit(ev.cel("LINKEDID_END", ch, _ts(self.now())))

    def _cdr(
        self,
        ch: Channel,
        *,
        source: str,
        callerid: str,
        destination: str,
        dest_channel: str,
        last_app: str,
        last_data: str,
        start: float,
        answer: float | None,
        disposition: str,
    ) -> None:
        end = self.now()
        billable = int(end - answer) if answer is not None and disposition == "ANSWERED" else 0
        self.emit(
            ev.cdr(
                source=source,
                destination=destination,
                context=ch.context,
                callerid=callerid,
                channel=ch.name,
                dest_channel=dest_channel,
                last_app=last_app,
                last_data=last_data,
                start=_ts(start),
                answer=_ts(answer) if answer is not None and disposition == "ANSWERED" else "",
                end=_ts(end),
                duration=int(end - start),
                billable=billable,
                disposition=disposition,
                uniqueid=ch.uniqueid,
            )
        )

    def _device_use(self, device: str, delta: int) -> None:
        before = self._device_users[device]
        after = before + delta
        self._device_users[device] = after
        if before == 0 and after > 0:
            self.emit(ev.device_state_change(device, "INUSE"))
        elif before > 0 and after <= 0:
            del self._device_users[device]
            self.emit(ev.device_state_change(device, "NOT_INUSE"))

    def _update_agent(self, agent: Agent) -> None:
        if agent.cfg.interface.startswith("Local/"):
            status = 2 if agent.legs or agent.calls else 1
        elif agent.calls:
            status = 7 if agent.legs else 2
        else:
            status = 6 if agent.legs else 1 if agent.online else 5
        if status == agent.status:
            return
        agent.status = status
        self.emit(ev.device_state_change(agent.device, DEVICE_STATE_TEXT[status]))
        for member in agent.memberships:
            self.emit(ev.member_event("QueueMemberStatus", member.blob()))
        if status == 1:
            for member in agent.memberships:
                self._schedule_dispatch(member.queue, max(member.wrapup_until - self.now(), 0.0))

    def set_online(self, interface: str, online: bool) -> bool:
        """A member's phone became reachable or not; False when no member uses it."""
        agent = self.agents.get(interface)
        if agent is None:
            return False
        agent.online = online
        self._update_agent(agent)
        return True

    def _agent_device_state(self, device: str) -> str | None:
        agent = self.agents.get(device)
        return None if agent is None else DEVICE_STATE_TEXT[agent.status]

    def _endpoint_channels(self, endpoint: str) -> int:
        prefix = f"PJSIP/{endpoint}-"
        return sum(1 for ch in self.channels.values() if ch.name.startswith(prefix))

    def _schedule_dispatch(self, queue: Queue, delay: float = 0.0) -> None:
        self.clock.call_later(delay, lambda: self.dispatch(queue))

    # --- callers ------------------------------------------------------------------------------

    def place_call(
        self,
        queue_name: str,
        *,
        patience: float | None = None,
        answer: bool | None = None,
        ring: float = 1.0,
        talk: float | None = None,
        hangup_by: str | None = None,
        caller_name: str | None = None,
        caller_num: str | None = None,
    ) -> str:
        """A caller dials into ``queue_name``; returns the Uniqueid of the channel in the queue.

        ``answer=True`` makes the first member rung answer after ``ring`` seconds, ``False``
        makes every member ring out; ``None`` leaves it to the members' behaviour."""
        queue = self.queues[queue_name]
        qcfg = queue.cfg
        self._call_seq += 1
        n = self._call_seq
        num = caller_num or str(3100000 + n)
        name = caller_name or f"Caller {n}"
        if patience is None:
            patience = self.rng.uniform(*self.config.patience)
        one, two = self._local_pair(f"{qcfg.name}@incoming", "incoming", qcfg.name, None)
        caller = Caller(one, two, queue, patience, force_answer=answer, ring_delay=ring, talk=talk)
        caller.hangup_by = hangup_by
        self.processed_calls += 1
        self._new_channel(one)
        self._new_channel(two)
        self.emit(ev.newexten(one, "AppDial2", "(Outgoing Line)"))
        for ch in (one, two):
            ch.caller_num, ch.caller_name = num, name
            self.emit(ev.varset(ch, "__QTIMEOUT", str(int(qcfg.queue_timeout))))
            self.emit(ev.new_callerid(ch))
            ch.connected_num, ch.connected_name = num, name
            self.emit(ev.new_connected_line(ch))
        self.emit(ev.local_bridge(one, two))
        self.emit(ev.dial_begin(None, one, f"{qcfg.name}@incoming"))
        self._device_use(f"Local/{qcfg.name}@incoming", 1)
        self.emit(ev.newexten(two, "NoOp", f"caller {num} -> queue {qcfg.name}"))
        two.priority = 2
        self.emit(ev.newexten(two, "Set", f"QT={int(qcfg.queue_timeout)}"))
        self.emit(ev.varset(two, "QT", str(int(qcfg.queue_timeout))))
        two.priority = 3
        self.emit(ev.newexten(two, "Answer", ""))
        self._set_state(two, 6)
        self._set_state(one, 6)
        self.emit(ev.dial_end(None, one, "ANSWER"))
        one.application, one.app_data = "Wait", str(int(patience))
        two.priority = 4
        self.emit(ev.newexten(two, "Queue", f"{qcfg.name},r,,,{int(qcfg.queue_timeout)}"))
        for var in ("ANSWEREDTIME", "DIALEDTIME", "QUEUEWAIT"):
            self.emit(ev.varset(two, var, ""))
        if not qcfg.joinempty and not queue.usable_members():
            queue.joinempty += 1
            self._refuse(caller, "JOINEMPTY")
            return two.uniqueid
        if qcfg.maxlen and len(queue.callers) >= qcfg.maxlen:
            queue.full += 1
            self._refuse(caller, "FULL")
            return two.uniqueid
        caller.join_time = self.now()
        queue.callers.append(caller)
        caller.original_position = len(queue.callers)
        queue.joins += 1
        self.emit(ev.queue_caller_join(two, qcfg.name, len(queue.callers), len(queue.callers)))
        if patience < qcfg.queue_timeout:
            caller.timers.append(self.clock.call_later(patience, lambda: self._leave(caller, timeout=False)))
        else:
            caller.timers.append(self.clock.call_later(qcfg.queue_timeout, lambda: self._leave(caller, True)))
        self.dispatch(queue)
        return two.uniqueid

    def _refuse(self, caller: Caller, status: str) -> None:
        self.emit(ev.varset(caller.ch2, "QUEUESTATUS", status))
        caller.state = DONE
        self._hangup_caller(caller, 16)

    def _hangup_caller(self, caller: Caller, cause: int) -> None:
        one, two = caller.ch1, caller.ch2
        qname = caller.queue.cfg.name
        callerid = f'"{one.caller_name}" <{one.caller_num}>'
        self._hangup(two, cause, "soft", 16 if cause else 0)
        self._hangup(one, cause, "hard")
        self._cdr(
            one,
            source=one.caller_num,
            callerid=callerid,
            destination=qname,
            dest_channel="",
            last_app="Wait",
            last_data=one.app_data,
            start=one.created,
            answer=one.answered,
            disposition="ANSWERED",
        )
        rows = caller.history or [("", two.created, self.now(), "ANSWERED")]
        for dest, start, _end, disposition in rows:
            self._cdr(
                two,
                source=two.caller_num,
                callerid=callerid,
                destination=qname,
                dest_channel=dest,
                last_app="Queue",
                last_data=f"{qname},r,,,{int(caller.queue.cfg.queue_timeout)}",
                start=start,
                answer=two.answered if disposition == "ANSWERED" else None,
                disposition=disposition,
            )
        self._device_use(f"Local/{qname}@incoming", -1)

    def _position(self, caller: Caller) -> int:
        return caller.queue.callers.index(caller) + 1

    def _leave(self, caller: Caller, timeout: bool, cause: int = 16) -> None:
        """The caller leaves the queue unanswered: hang-up (abandon), queue timeout or restart."""
        if caller.state != WAITING:
            return
        queue = caller.queue
        caller.state = DONE
        for timer in caller.timers:
            timer.cancel()
        if caller.retry is not None:
            caller.retry.cancel()
        for leg in list(caller.legs):
            self._end_leg(leg, "CANCEL", cause, "NO ANSWER", rna=False)
        position = self._position(caller)
        hold = int(self.now() - caller.join_time)
        if timeout:
            hold = int(queue.cfg.queue_timeout)
        self.emit(
            ev.queue_caller_abandon(caller.ch2, queue.cfg.name, position, caller.original_position, hold)
        )
        queue.callers.remove(caller)
        self.emit(ev.queue_caller_leave(caller.ch2, queue.cfg.name, position, len(queue.callers)))
        queue.abandons += 1
        queue.abandoned += 1
        if hold <= queue.cfg.servicelevel:
            queue.abandoned_in_sl += 1
        if timeout:
            queue.timeouts += 1
            self.emit(ev.varset(caller.ch2, "QUEUESTATUS", "TIMEOUT"))
        elif cause:
            queue.caller_abandons += 1
        self._hangup_caller(caller, cause)
        self._schedule_dispatch(queue)

    # --- ringing members ----------------------------------------------------------------------

    def _available(self, member: Member, caller: Caller) -> bool:
        if member.paused or self.now() < member.wrapup_until:
            return False
        if any(leg.member.agent is member.agent for leg in caller.legs):
            return False
        status = member.agent.status
        if member.queue.cfg.ringinuse:
            return status not in (4, 5)
        return status in (0, 1)

    def _pick(self, queue: Queue, caller: Caller) -> list[Member]:
        candidates = [m for m in queue.members.values() if self._available(m, caller)]
        if not candidates:
            return []
        best = min(m.penalty for m in candidates)
        tier = [m for m in candidates if m.penalty == best]
        strategy = queue.cfg.strategy
        if strategy == "ringall":
            return tier
        if strategy == "linear":
            return tier[:1]
        if strategy in ("rrmemory", "rrordered"):
            order = list(queue.members.values())
            for step in range(1, len(order) + 1):
                index = (queue.rr_last + step) % len(order)
                if order[index] in tier:
                    queue.rr_last = index
                    return [order[index]]
            return tier[:1]
        if strategy == "leastrecent":
            return [min(tier, key=lambda m: m.last_call)]
        if strategy == "fewestcalls":
            return [min(tier, key=lambda m: m.calls_taken)]
        return [self.rng.choice(tier)]

    def dispatch(self, queue: Queue) -> None:
        """Ring members for every waiting caller that is not ringing or waiting to retry."""
        for caller in list(queue.callers):
            if caller.state != WAITING or caller.legs or caller.retry is not None:
                continue
            members = self._pick(queue, caller)
            for member in members:
                self._ring(caller, member)

    def _ring(self, caller: Caller, member: Member) -> None:
        agent = member.agent
        iface = agent.cfg.interface
        link = caller.ch2.linkedid
        num, name = caller.ch2.caller_num, caller.ch2.caller_name
        if iface.startswith("Local/"):
            base = iface[len("Local/") :].removesuffix("/n")
            exten, _, context = base.partition("@")
            one, two = self._local_pair(base, context or "agents", exten, link)
            chans = [one, two]
        else:
            self._local_seq += 1
            one = Channel(
                f"{iface}-{self._local_seq:08x}", self._uid(), link, "agents", "s", created=self.now()
            )
            chans = [one]
        leg = Leg(caller, member, chans, self.now())
        caller.legs.append(leg)
        agent.legs += 1
        for ch in chans:
            self._new_channel(ch)
        self.emit(ev.newexten(one, "AppQueue", "(Outgoing Line)"))
        for ch in chans:
            ch.caller_num, ch.caller_name = num, name
            self.emit(ev.new_callerid(ch))
            self.emit(ev.varset(ch, "DIALEDPEERNUMBER", iface.split("/", 1)[1]))
        for ch in chans:
            ch.connected_num, ch.connected_name = num, name
        if len(chans) == 2:
            self.emit(ev.new_connected_line(chans[1]))
            self.emit(ev.local_bridge(one, chans[1]))
        qname = member.queue.cfg.name
        self.emit(ev.agent_called(caller.ch2, one, qname, iface, agent.cfg.name))
        self.emit(ev.dial_begin(caller.ch2, one, iface))
        if len(chans) == 2:
            self.emit(ev.newexten(chans[1], "Ringing", ""))
        one.exten = qname
        self._set_state(one, 5)
        self.emit(ev.new_connected_line(one))
        self.emit(ev.dial_state(caller.ch2, one, "RINGING"))
        self._update_agent(agent)
        # what will happen on this leg
        cfg = agent.cfg
        timeout = member.queue.cfg.timeout
        if caller.force_answer is not None:
            busy, answers, delay = False, caller.force_answer, caller.ring_delay
        else:
            busy = self.rng.random() < cfg.busy_prob
            answers = not busy and self.rng.random() < cfg.answer_prob
            delay = self.rng.uniform(*cfg.ring_delay)
        if busy:
            leg.timer = self.clock.call_later(0.5, lambda: self._end_leg(leg, "BUSY", 17, "BUSY", rna=True))
        elif answers and delay < timeout:
            leg.timer = self.clock.call_later(delay, lambda: self._answer(leg))
        else:
            leg.timer = self.clock.call_later(
                timeout, lambda: self._end_leg(leg, "NOANSWER", 19, "NO ANSWER", rna=True)
            )

    def _end_leg(self, leg: Leg, dial_status: str, cause: int, disposition: str, *, rna: bool) -> None:
        caller, member = leg.caller, leg.member
        if leg not in caller.legs:
            return
        if leg.timer is not None:
            leg.timer.cancel()
        caller.legs.remove(leg)
        one = leg.chans[0]
        qname = member.queue.cfg.name
        if rna:
            member.queue.rna += 1
            member.ledger.ring_noanswer += 1
            ring_ms = int((self.now() - leg.start) * 1000)
            self.emit(
                ev.agent_ring_no_answer(
                    caller.ch2, one, qname, member.agent.cfg.interface, member.agent.cfg.name, ring_ms
                )
            )
        self.emit(ev.dial_end(caller.ch2, one, dial_status))
        self._hangup_leg(leg, cause, disposition)
        caller.history.append((one.name, leg.start, self.now(), disposition))
        member.agent.legs -= 1
        self._update_agent(member.agent)
        if caller.state == WAITING and not caller.legs and caller.retry is None:

            def retry() -> None:
                caller.retry = None
                self.dispatch(caller.queue)

            caller.retry = self.clock.call_later(caller.queue.cfg.retry, retry)

    def _hangup_leg(self, leg: Leg, cause: int, disposition: str) -> None:
        chans = leg.chans
        if len(chans) == 2:
            self._hangup(chans[1], cause, "hard")
            self._cdr(
                chans[1],
                source=chans[1].caller_num,
                callerid=f'"{chans[1].caller_name}" <{chans[1].caller_num}>',
                destination=chans[1].exten,
                dest_channel="",
                last_app="Wait" if disposition != "ANSWERED" else "Echo",
                last_data="120" if disposition != "ANSWERED" else "",
                start=chans[1].created,
                answer=chans[1].answered,
                disposition=disposition,
            )
        self._hangup(chans[0], cause, "soft" if len(chans) == 1 else None)

    def _answer(self, leg: Leg) -> None:
        caller, member = leg.caller, leg.member
        if caller.state != WAITING or leg not in caller.legs:
            return
        queue = caller.queue
        agent = member.agent
        one = leg.chans[0]
        if len(leg.chans) == 2:
            two = leg.chans[1]
            two.priority = 4
            self.emit(ev.newexten(two, "Answer", ""))
            self._set_state(two, 6)
        self._set_state(one, 6)
        self.emit(ev.dial_end(caller.ch2, one, "ANSWER"))
        caller.legs.remove(leg)
        caller.state = CONNECTED
        for other in list(caller.legs):
            self._end_leg(other, "CANCEL", 26, "NO ANSWER", rna=False)
        for timer in caller.timers:
            timer.cancel()
        position = self._position(caller)
        queue.callers.remove(caller)
        self.emit(ev.queue_caller_leave(caller.ch2, queue.cfg.name, position, len(queue.callers)))
        hold = int(self.now() - caller.join_time)
        self.emit(ev.varset(caller.ch2, "QUEUEWAIT", str(hold)))
        iface, mname = agent.cfg.interface, agent.cfg.name
        self.emit(
            ev.agent_connect(caller.ch2, one, queue.cfg.name, iface, mname, hold, int(self.now() - leg.start))
        )
        queue.answered += 1
        member.ledger.answered += 1
        queue.holdtime = (queue.holdtime * 3 + hold) / 4
        caller.connected = leg
        self.connected.append(caller)
        caller.connect_time = self.now()
        member.in_call = True
        agent.legs -= 1
        agent.calls += 1
        self._update_agent(agent)
        bridge = Bridge(str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), created=self.now())
        self.bridges[bridge.uniqueid] = bridge
        caller.bridge = bridge
        self.emit(ev.bridge_create(bridge))
        for ch in (one, caller.ch2):
            bridge.channels.append(ch.name)
            ch.bridge_id = bridge.uniqueid
            self.emit(ev.bridge_enter(bridge, ch))
        self.emit(ev.varset(one, "BRIDGEPEER", caller.ch2.name))
        self.emit(ev.varset(caller.ch2, "BRIDGEPEER", one.name))
        talk = caller.talk if caller.talk is not None else self.rng.uniform(*agent.cfg.talk_time)
        reason = caller.hangup_by or (
            "agent" if self.rng.random() < agent.cfg.agent_hangup_prob else "caller"
        )
        caller.timers = [self.clock.call_later(talk, lambda: self._complete(caller, reason))]

    def _complete(self, caller: Caller, reason: str, cause: int = 16) -> None:
        if caller.state != CONNECTED or caller.connected is None:
            return
        leg = caller.connected
        member, agent, queue = leg.member, leg.member.agent, caller.queue
        for timer in caller.timers:
            timer.cancel()
        one = leg.chans[0]
        now = self.now()
        hold = int(caller.connect_time - caller.join_time)
        talk = int(now - caller.connect_time)
        self.emit(
            ev.agent_complete(
                caller.ch2, one, queue.cfg.name, agent.cfg.interface, agent.cfg.name, hold, talk, reason
            )
        )
        queue.completed_by[reason] += 1
        queue.completed += 1
        queue.talktime = (queue.talktime * 3 + talk) / 4
        if hold <= queue.cfg.servicelevel:
            queue.completed_in_sl += 1
        member.ledger.talk_seconds += talk
        # app_queue with shared_lastcall (as in the recorded lab): every membership of the agent
        # gets LastCall (whole seconds) and the call; none is rung until LastCall plus its own
        # wrap-up time, else that of the queue that took the call.
        agent.last_queue = queue
        last_call = int(now)
        for m in agent.memberships:
            m.calls_taken += 1
            m.last_call = last_call
            m.wrapup_until = last_call + (m.wrapuptime or queue.cfg.wrapuptime)
        member.in_call = False
        bridge = caller.bridge
        if bridge is not None:
            for ch in (one, caller.ch2):
                bridge.channels.remove(ch.name)
                ch.bridge_id = ""
                self.emit(ev.varset(ch, "BRIDGEPEER", ""))
                self.emit(ev.bridge_leave(bridge, ch))
            self.emit(ev.bridge_destroy(bridge))
            del self.bridges[bridge.uniqueid]
        caller.history.append((one.name, leg.start, now, "ANSWERED"))
        self._hangup_leg(leg, cause, "ANSWERED")
        caller.state = DONE
        self.connected.remove(caller)
        self._hangup_caller(caller, cause)
        agent.calls -= 1
        self._update_agent(agent)

    # --- members ------------------------------------------------------------------------------

    def pause_member(
        self, interface: str, paused: bool = True, reason: str = "", queue: str | None = None
    ) -> int:
        """QueuePause: returns the number of memberships changed."""
        agent = self.agents[interface]
        changed = 0
        for member in agent.memberships:
            if queue is not None and member.queue.cfg.name != queue:
                continue
            member.paused = paused
            member.paused_reason = reason
            if paused:
                member.last_pause = int(self.now())
                member.ledger.pause(reason, self.now())
            else:
                member.ledger.unpause(self.now())
            device = f"Queue:{member.queue.cfg.name}_pause_{interface}"
            self.emit(ev.device_state_change(device, "INUSE" if paused else "NOT_INUSE"))
            self.emit(ev.member_event("QueueMemberPause", member.blob()))
            if not paused:
                member.paused_reason = ""
                self._schedule_dispatch(member.queue)
            changed += 1
        return changed

    def _pause_tick(self, agent: Agent) -> Callable[[], None]:
        def tick() -> None:
            if not self._running:
                return
            cfg = self.config
            if not any(m.paused for m in agent.memberships) and cfg.pause_reasons:
                weights = [reason.weight for reason in cfg.pause_reasons]
                reason = self.rng.choices(cfg.pause_reasons, weights)[0]
                self.pause_member(agent.cfg.interface, True, reason.name)

                def unpause() -> None:
                    self.pause_member(agent.cfg.interface, False, "")

                self.clock.call_later(self.rng.uniform(*reason.duration), unpause)
            self.clock.call_later(self.rng.expovariate(1 / cfg.pause_interval), tick)

        return tick

    def reset_stats(self, queue: str | None = None) -> None:
        """QueueReset: Asterisk's statistics only (the oracle's counters stay)."""
        for q in self.queues.values():
            if queue is not None and q.cfg.name != queue:
                continue
            q.completed = q.abandoned = q.completed_in_sl = q.abandoned_in_sl = 0
            q.holdtime = q.talktime = 0.0
            for m in q.members.values():
                m.calls_taken = 0
                m.last_call = 0

    # --- random processes ---------------------------------------------------------------------

    def _arrival(self) -> None:
        if not self._running:
            return
        queues = list(self.queues.values())
        weights = [q.cfg.arrival_weight for q in queues]
        queue = self.rng.choices(queues, weights)[0]
        self.place_call(queue.cfg.name)
        self.clock.call_later(self.rng.expovariate(self.config.call_rate), self._arrival)

    def _scan(self) -> None:
        if not self._running:
            return
        self.scanner_event()
        self.clock.call_later(self.rng.expovariate(self.config.scanner_rate), self._scan)

    def scanner_event(self, kind: str | None = None, service: str | None = None) -> Event:
        rng = self.rng
        kind = kind or rng.choice(
            ("InvalidAccountID", "InvalidPassword", "FailedACL", "ChallengeResponseFailed")
        )
        if service is None:
            service = (
                "PJSIP" if kind in ("InvalidAccountID", "InvalidPassword") and rng.random() < 0.5 else "AMI"
            )
        ip = f"203.0.113.{rng.randint(1, 254)}"
        port = rng.randint(1024, 65535)
        tv = security_tv(self.now())
        if service == "AMI":
            local, remote = "IPV4/TCP/127.0.0.1/5038", f"IPV4/TCP/{ip}/{port}"
            session_id = f"0x7f10{rng.getrandbits(32):08x}"
        else:
            local, remote = "IPV4/UDP/198.51.100.10/5060", f"IPV4/UDP/{ip}/{port}"
            session_id = f"{rng.getrandbits(64):016x}@{ip}"
        account = rng.choice(("admin", "100", "1000", "test", "sip", "asterisk"))
        extra: list[tuple[str, str]] = []
        version = 1
        if kind == "InvalidPassword":
            version = 2
            if service == "PJSIP":
                nonce = f"{rng.getrandbits(64):016x}"
                extra = [
                    ("Challenge", nonce),
                    ("ReceivedChallenge", nonce),
                    ("ReceivedHash", f"{rng.getrandbits(128):032x}"),
                ]
        elif kind == "ChallengeResponseFailed":
            account = ""
            extra = [
                ("Challenge", str(rng.randint(10**8, 10**9 - 1))),
                ("Response", f"{rng.getrandbits(128):032x}"),
                ("ExpectedResponse", f"{rng.getrandbits(128):032x}"),
            ]
        event = ev.security(
            kind,
            event_tv=tv,
            severity="Error",
            service=service,
            account=account,
            session_id=session_id,
            local=local,
            remote=remote,
            extra=extra,
            session_tv="1970-01-01T00:00:00.000+0000" if service == "AMI" else None,
            version=version,
        )
        self.security[kind] += 1
        self.emit(event)
        return event

    # --- restart ------------------------------------------------------------------------------

    def hangup_everything(self) -> None:
        """``core restart now``: every channel hung up with cause 0, waiting callers abandoned."""
        for queue in self.queues.values():
            for caller in list(queue.callers):
                self._leave(caller, timeout=False, cause=0)
        for caller in list(self.connected):
            self._complete(caller, "caller", cause=0)

    def reboot(self) -> None:
        """The process came back: new boot time, zeroed statistics, members unpaused."""
        self.clock.clear()
        self.generation += 1
        self.boot_time = self.reload_time = self.now()
        self.channels.clear()
        self.bridges.clear()
        self.connected.clear()
        self._linked.clear()
        self._device_users.clear()
        self.processed_calls = 0
        login = int(self.now())
        for agent in self.agents.values():
            agent.status, agent.legs, agent.calls = (1 if agent.online else 5), 0, 0
        for queue in self.queues.values():
            queue.callers.clear()
            self.reset_stats(queue.cfg.name)
            for member in queue.members.values():
                member.ledger.unpause(self.now())
                member.paused, member.paused_reason, member.last_pause = False, "", 0
                member.in_call, member.wrapup_until, member.login_time = False, 0.0, login
        running = self._running
        self._running = False
        if running:
            self.start_traffic()

    # --- views --------------------------------------------------------------------------------

    def queue_truth(self) -> dict[str, QueueTruth]:
        out: dict[str, QueueTruth] = {}
        for name, q in self.queues.items():
            callers = tuple(
                CallerTruth(c.ch2.uniqueid, c.ch2.name, c.join_time, i + 1) for i, c in enumerate(q.callers)
            )
            out[name] = QueueTruth(
                name=name,
                waiting=len(q.callers),
                callers=callers,
                joins=q.joins,
                abandons=q.abandons,
                caller_abandons=q.caller_abandons,
                timeouts=q.timeouts,
                answered=q.answered,
                completed=dict(q.completed_by),
                ring_no_answer=q.rna,
                joinempty=q.joinempty,
                full=q.full,
                completed_stat=q.completed,
                abandoned_stat=q.abandoned,
            )
        return out

    def member_truth(self) -> dict[tuple[str, str], MemberTruth]:
        out: dict[tuple[str, str], MemberTruth] = {}
        for name, q in self.queues.items():
            for iface, m in q.members.items():
                out[(name, iface)] = MemberTruth(
                    queue=name,
                    interface=iface,
                    name=m.agent.cfg.name,
                    status=m.agent.status,
                    paused=m.paused,
                    paused_reason=m.paused_reason,
                    in_call=m.in_call,
                    calls_taken=m.calls_taken,
                    last_call=m.last_call,
                    penalty=m.penalty,
                    answered=m.ledger.answered,
                    ring_noanswer=m.ledger.ring_noanswer,
                    talk_seconds=m.ledger.talk_seconds,
                    paused_seconds=m.ledger.paused_totals(self.now()),
                    pauses=dict(m.ledger.pauses),
                    state=true_state(
                        paused=m.paused,
                        status=m.agent.status,
                        in_call=m.in_call,
                        ringinuse=q.cfg.ringinuse,
                        wrapup_until=m.wrapup_until,
                        now=self.now(),
                    ),
                )
        return out


def security_tv(epoch: float) -> str:
    ms = int((epoch % 1) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{ms:03d}+0000"
