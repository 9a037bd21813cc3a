"""Replay of the recorded agent shift (g-agents) through the real client, service, model and
collectors over TCP, against Asterisk's own per-agent record, ``ground-truth/queue_log``.

Timing: the recording's events carry no timestamps, and the replay streams them as fast as the
client reads. The recorded time of every read is in ``g-agents/timeline.jsonl`` (copied into
the fixtures for this test). The model's wall and monotonic clocks are injected: before each
event is folded, they are set to the recorded time of the read that carried it (and before each
snapshot, to the time its ``QueueStatusComplete`` arrived). Pause durations are therefore the
recorded PAUSE -> UNPAUSE spans, measured with no real-time sleeping. ``queue_log`` stamps whole
seconds, so each of our pauses must be within 1 s of its queue_log span.

Lab settings not visible over AMI (``capture README``): queue wrap-up times sales 2 s, support 3 s,
billing 1 s (``--queue.wrapup-time``); ringinuse per member from ``queue show``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import pytest

from ami_exporter.ami.protocol import Decoder, Kind
from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX, QueueSnapshot
from ami_exporter.pbx.agents import AGENT_STATES, WrapupTimes, agent_state
from ami_exporter.pbx.numbers import flag, to_int
from ami_exporter.service import AMIService, ConnectionStatus

from .conftest import ServiceFactory, wait_for
from .support.captures import capture
from .support.replay import Play, replay_server

G_AGENTS = ("g-agents/exporter.rx.raw", "g-agents/exporter.tx.raw")
LAB_WRAPUP = WrapupTimes(0.0, {"sales": 2.0, "support": 3.0, "billing": 1.0})
SNAPSHOTS = ("exporter-16", "exporter-75", "exporter-121")  # QueueStatus at start, middle and end


# -- the recording's timing --------------------------------------------------------------------


@dataclass
class Recording:
    events: list[tuple[str, float]]  # every event the model folds, in stream order, with its read time
    snapshots: list[tuple[float, list[tuple[str, dict[str, str]]]]]  # Complete time and items
    last_queue: list[dict[str, str]]  # per snapshot: interface -> queue of its last AgentComplete


def load_recording() -> Recording:
    """Decode the exporter connection's reads from the timeline, as the client would."""
    wanted = PBX().wants
    decoder = Decoder()
    recording = Recording([], [], [])
    items: list[tuple[str, dict[str, str]]] = []
    last_queue: dict[str, str] = {}
    raw = bytearray()
    for line in capture("g-agents/timeline.jsonl").read_text(encoding="utf-8").splitlines():
        chunk = json.loads(line)
        if chunk["conn"] != "exporter" or chunk["dir"] != "rx":
            continue
        data = chunk["data"].encode("latin-1")
        raw += data
        for message in decoder.feed(data):
            if message.kind is not Kind.EVENT:
                continue
            if message.fields.get("ActionID", "") in SNAPSHOTS:
                if message.name == "QueueStatusComplete":
                    recording.snapshots.append((chunk["t"], items))
                    recording.last_queue.append(dict(last_queue))
                    items = []
                else:
                    items.append((message.name, dict(message.fields)))
            elif wanted(message.name):
                recording.events.append((message.name, chunk["t"]))
                if message.name == "AgentComplete":
                    last_queue[message.fields["Interface"]] = message.fields["Queue"]
    assert bytes(raw) == capture(G_AGENTS[0]).read_bytes(), "the timeline is the recorded stream"
    assert len(recording.snapshots) == 3
    return recording


RECORDING = load_recording()


class ReplayedPBX(PBX):
    """The real model, its clocks set from the recording as each event or snapshot is folded.
    It also notes each pause that ends and the agent states right after each snapshot."""

    def __init__(self, recording: Recording) -> None:
        self.time = recording.events[0][1]
        super().__init__(now=lambda: self.time, monotonic=lambda: self.time, wrapup=LAB_WRAPUP)
        self._events = recording.events
        self._snapshots = recording.snapshots
        self.folded = 0
        self.pauses: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
        self.states_after_snapshot: list[dict[str, Counter[str]]] = []

    def apply(self, name: str, fields: Mapping[str, str]) -> None:
        expected, self.time = self._events[self.folded]
        assert name == expected, (self.folded, name, expected)
        self.folded += 1
        ending = name == "QueueMemberRemoved" or (
            name == "QueueMemberPause" and not flag(fields.get("Paused"))
        )
        record = None
        if ending:
            queue = self.queues.queues.get(fields.get("Queue", ""))
            member = queue.members.get(fields.get("Interface", "")) if queue else None
            record = member.agent if member else None
        before = (record.pause_reason, sum(record.paused_seconds.values())) if record else None
        super().apply(name, fields)
        if record is not None and before is not None and before[0]:
            span = sum(record.paused_seconds.values()) - before[1]
            self.pauses[(record.queue, record.label)].append((before[0], span))

    def reconcile_queues(self, snapshot: QueueSnapshot) -> dict[str, int]:
        index = min(len(self.states_after_snapshot), len(self._snapshots) - 1)
        self.time = max(self.time, self._snapshots[index][0])
        corrections = super().reconcile_queues(snapshot)
        states: dict[str, Counter[str]] = {}
        for queue in self.queues.queues.values():
            states[queue.name] = Counter(
                AGENT_STATES[member.agent.current(member, self.time)[0]] for member in queue.members.values()
            )
        self.states_after_snapshot.append(states)
        return corrections


# -- queue_log ----------------------------------------------------------------------------------


@dataclass
class AgentTruth:
    answered: int = 0
    ring_noanswer: int = 0
    talk_seconds: int = 0
    pauses: list[tuple[str, int]] = field(default_factory=list)  # (reason, seconds) in order

    def paused_by_reason(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for reason, seconds in self.pauses:
            totals[reason] += seconds
        return dict(totals)


def queue_log_truth() -> dict[tuple[str, str], AgentTruth]:
    """Per (queue, agent): CONNECT, RINGNOANSWER, COMPLETE* talk time and PAUSE spans (to the next
    UNPAUSE or REMOVEMEMBER of that queue and agent). PAUSEALL/UNPAUSEALL (queue NONE) repeat
    the per-queue PAUSE/UNPAUSE lines and are left out."""
    truth: dict[tuple[str, str], AgentTruth] = defaultdict(AgentTruth)
    started: dict[tuple[str, str], tuple[int, str]] = {}
    text = capture("g-agents/ground-truth/queue_log").read_text(encoding="utf-8")
    for line in text.splitlines():
        time, _callid, queue, agent, event, *data = line.split("|")
        key = (queue, agent)
        if event == "CONNECT":
            truth[key].answered += 1
        elif event == "RINGNOANSWER":
            truth[key].ring_noanswer += 1
        elif event in ("COMPLETEAGENT", "COMPLETECALLER"):
            truth[key].talk_seconds += int(data[1])
        elif event == "PAUSE":
            assert key not in started, f"a pause while paused in queue_log: {line}"
            started[key] = (int(time), data[0] if data else "")
        elif event in ("UNPAUSE", "REMOVEMEMBER") and key in started:
            begun, reason = started.pop(key)
            truth[key].pauses.append((reason or "none", int(time) - begun))
    assert not started, f"pauses still open at the end of queue_log: {started}"
    return dict(truth)


def ringinuse_from_queue_show() -> dict[tuple[str, str], bool]:
    flags: dict[tuple[str, str], bool] = {}
    for name in ("start", "mid", "end"):
        queue = ""
        for line in capture(f"g-agents/ground-truth/queue-show-{name}.txt").read_text().splitlines():
            if match := re.match(r"^(\S+) has \d+ calls", line):
                queue = match.group(1)
            elif match := re.match(r"^\s+(.+?) \(\S+\).*\(ringinuse (enabled|disabled)\)", line):
                flags[(queue, match.group(1))] = match.group(2) == "enabled"
    return flags


# -- the replay ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth() -> dict[tuple[str, str], AgentTruth]:
    return queue_log_truth()


@pytest.fixture
async def replayed(running_service: ServiceFactory) -> AsyncIterator[AMIService]:
    pbx = ReplayedPBX(RECORDING)
    async with (
        replay_server([Play(*G_AGENTS)]) as server,
        running_service(server.port, pbx=pbx) as service,
    ):
        await wait_for(lambda: server.finished.is_set(), timeout=60)
        await wait_for(lambda: pbx.folded == len(RECORDING.events), timeout=20)
        await wait_for(lambda: len(pbx.states_after_snapshot) >= 3, timeout=20)
        yield service


def exported(pbx: PBX) -> dict[tuple[str, str], dict[str, float]]:
    """The per-agent counters as the collectors export them."""
    registry = build_registry(pbx, ConnectionStatus(up=True, ready=True), CollectorOptions(process=False))
    values: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.startswith("asterisk_queue_member_") and sample.name.endswith("_total"):
                key = (sample.labels["queue"], sample.labels["member"])
                metric = sample.name.removeprefix("asterisk_queue_member_").removesuffix("_total")
                if "reason" in sample.labels:
                    metric += ":" + sample.labels["reason"]
                values[key][metric] = sample.value
    return dict(values)


async def test_per_agent_counters_equal_queue_log(
    replayed: AMIService, truth: dict[tuple[str, str], AgentTruth]
) -> None:
    series = exported(replayed.pbx)
    for key, expected in truth.items():
        got = series[key]
        assert got["calls_answered"] == expected.answered, key
        assert got["ring_noanswer"] == expected.ring_noanswer, key
        assert got["talk_seconds"] == expected.talk_seconds, key
        paused = {
            m.removeprefix("paused_seconds:"): v for m, v in got.items() if m.startswith("paused_seconds:")
        }
        assert set(paused) == set(expected.paused_by_reason()), key
        for reason, seconds in expected.paused_by_reason().items():
            pauses = sum(1 for r, _ in expected.pauses if r == reason)
            assert abs(paused[reason] - seconds) <= pauses, (key, reason)
    # Every agent with activity is in queue_log, and the removed ones (Frank in sales, Zoë) are
    # still exported with their counters.
    active = {key for key, values in series.items() if any(values.values())}
    assert active == set(truth)
    assert {("sales", "Frank"), ("support", "Zoë Ångström-李")} <= set(series)


async def test_each_pause_is_within_a_second_of_queue_log(
    replayed: AMIService, truth: dict[tuple[str, str], AgentTruth]
) -> None:
    pbx = replayed.pbx
    assert isinstance(pbx, ReplayedPBX)
    recorded = {key: [(reason, round(s, 3)) for reason, s in pauses] for key, pauses in pbx.pauses.items()}
    expected = {key: t.pauses for key, t in truth.items() if t.pauses}
    assert set(recorded) == set(expected)
    assert sum(len(p) for p in expected.values()) == 23
    for key, pauses in expected.items():
        assert [reason for reason, _ in recorded[key]] == [reason for reason, _ in pauses], key
        for (_reason, ours), (_same, theirs) in zip(recorded[key], pauses, strict=True):
            assert abs(ours - theirs) < 1.0, (key, ours, theirs)


async def test_agent_states_at_each_snapshot_equal_its_items(replayed: AMIService) -> None:
    pbx = replayed.pbx
    assert isinstance(pbx, ReplayedPBX)
    ringinuse = ringinuse_from_queue_show()
    for index, (time, items) in enumerate(RECORDING.snapshots):
        expected: dict[str, Counter[str]] = defaultdict(Counter)
        for name, fields in items:
            if name != "QueueMember":
                continue
            queue, interface = fields["Queue"], fields["Location"]
            last_call, own = to_int(fields["LastCall"]), to_int(fields["Wrapuptime"])
            wrapup = LAB_WRAPUP.seconds(RECORDING.last_queue[index].get(interface, queue), own)
            state = agent_state(
                paused=flag(fields["Paused"]),
                status=to_int(fields["Status"]),
                in_call=flag(fields["InCall"]),
                ringinuse=ringinuse[(queue, fields["Name"])],
                in_wrapup=last_call > 0 and time < last_call + wrapup,
            )
            expected[queue][AGENT_STATES[state]] += 1
        got = pbx.states_after_snapshot[index]
        assert {q: +c for q, c in got.items()} == dict(expected), index
    # The middle of the shift has agents paused, on calls and available.
    assert {"paused", "on_call", "available", "unavailable"} <= set().union(
        *pbx.states_after_snapshot[1].values()
    )


async def test_states_and_pause_reasons_are_exported(replayed: AMIService) -> None:
    text = "\n".join(
        f"{s.name}{s.labels} {s.value}"
        for family in build_registry(
            replayed.pbx, ConnectionStatus(up=True, ready=True), CollectorOptions(process=False)
        ).collect()
        for s in family.samples
        if s.name in ("asterisk_queue_agents", "asterisk_queue_member_paused_seconds_total")
    )
    assert "'reason': 'café ☕'" in text  # non-ASCII reasons kept exactly
    assert "'member': 'Zoë Ångström-李'" in text
    assert "'state': 'wrapup'" in text
