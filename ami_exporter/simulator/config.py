"""Configuration of the simulated PBX: manager users, queues, members and traffic."""

from __future__ import annotations

from dataclasses import dataclass, field

from ami_exporter.simulator.agents import PauseReason

__all__ = ["MemberConfig", "PauseReason", "PjsipConfig", "QueueConfig", "SimulatorConfig", "UserConfig"]

EXPORTER_READ = "system,call,agent,user,dtmf,reporting,cdr,dialplan,security"
STRATEGIES = ("ringall", "rrmemory", "leastrecent", "fewestcalls", "random", "linear", "wrandom", "rrordered")


@dataclass(frozen=True, slots=True)
class UserConfig:
    """A ``manager.conf`` user. ``read``/``write`` use manager.conf syntax (``get_perm()``)."""

    name: str
    secret: str
    read: str = "all"
    write: str = ""
    writetimeout_ms: int = 100

    @classmethod
    def parse(cls, spec: str) -> UserConfig:
        """``NAME:SECRET[:WRITE[:READ]]`` (the ``--user`` flag)."""
        parts = spec.split(":")
        if len(parts) < 2 or not parts[0]:
            raise ValueError(f"user must be NAME:SECRET[:WRITE[:READ]], got {spec!r}")
        write = parts[2] if len(parts) > 2 else ""
        read = parts[3] if len(parts) > 3 else EXPORTER_READ
        return cls(parts[0], parts[1], read=read, write=write)


def default_users() -> tuple[UserConfig, ...]:
    return (
        UserConfig("exporter", "exportersecret", read=EXPORTER_READ, write=""),
        UserConfig("exporter_rep", "exportersecret", read=EXPORTER_READ, write="reporting"),
        UserConfig("admin", "adminsecret", read="all", write="all"),
    )


@dataclass(frozen=True, slots=True)
class MemberConfig:
    """One agent (device). Members with the same interface in several queues share the device.

    Behaviour: with probability ``busy_prob`` the device answers Busy; otherwise with probability
    ``answer_prob`` it answers after a ring delay drawn from ``ring_delay`` (seconds), and the call
    lasts a talk time drawn from ``talk_time``; otherwise it rings until the queue gives up."""

    interface: str
    name: str
    penalty: int = 0
    answer_prob: float = 0.9
    busy_prob: float = 0.0
    ring_delay: tuple[float, float] = (1.0, 5.0)
    talk_time: tuple[float, float] = (5.0, 60.0)
    agent_hangup_prob: float = 0.85
    wrapuptime: int = 0  # the member's own wrap-up time (Wrapuptime), 0 = the queue's


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    strategy: str = "ringall"
    members: tuple[MemberConfig, ...] = ()
    timeout: float = 10.0  # ring time per member attempt (queues.conf timeout)
    retry: float = 2.0
    wrapuptime: float = 2.0
    ringinuse: bool = False
    joinempty: bool = True  # False = "paused,invalid,unavailable": refuse when no member can take calls
    maxlen: int = 0
    servicelevel: int = 30
    weight: int = 0
    queue_timeout: float = 60.0  # Queue() application timeout: caller leaves (reported as abandon)
    arrival_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}")


# What agents pause for and for how long (simulated seconds; a demo compresses a shift): short
# breaks often, lunch rarely but long, a reason with non-ASCII text, and pauses without a reason.
DEFAULT_PAUSE_REASONS: tuple[PauseReason, ...] = (
    PauseReason("break", (60.0, 300.0), weight=4.0),
    PauseReason("lunch", (300.0, 900.0), weight=1.0),
    PauseReason("training", (180.0, 600.0), weight=1.0),
    PauseReason("coaching", (60.0, 240.0), weight=1.0),
    PauseReason("café ☕", (60.0, 180.0), weight=1.0),
    PauseReason("", (30.0, 120.0), weight=2.0),
)


@dataclass(frozen=True, slots=True)
class PjsipConfig:
    """res_pjsip is loaded: PJSIP endpoints, their contacts and outbound registrations.

    Every ``PJSIP/<name>`` queue member is a phone with a static, qualified contact; ``phones``
    adds more. ``softphones`` register (dynamic contacts, not qualified); ``trunks`` are inbound
    endpoints matched by address, with no contact (always offline, like f-pjsip's ``trunk``);
    ``registrations`` are outbound registrations to a provider. Mean intervals are simulated
    seconds, 0 = never."""

    phones: tuple[str, ...] = ()
    softphones: tuple[str, ...] = ()
    trunks: tuple[str, ...] = ("trunk",)
    registrations: tuple[str, ...] = ("trunk-provider",)
    phones_down: tuple[str, ...] = ()  # phones whose contact is Unreachable at start
    flap_interval: float = 0.0  # mean time between a phone dropping off, per phone
    down_time: tuple[float, float] = (20.0, 120.0)
    register_interval: float = 0.0  # mean time between a softphone's register and unregister
    registration_failure_interval: float = 0.0  # mean time between a trunk registration failing
    registration_retry: float = 60.0  # retry_interval: rejected until the next attempt


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator needs. ``call_rate`` is in calls per *simulated* second;
    ``time_scale`` simulated seconds pass per real second (0 = time moves only via ``advance``)."""

    queues: tuple[QueueConfig, ...] = ()
    users: tuple[UserConfig, ...] = field(default_factory=default_users)
    call_rate: float = 0.0
    patience: tuple[float, float] = (5.0, 120.0)  # caller patience, uniform (s)
    time_scale: float = 1.0
    seed: int = 0
    pause_interval: float = 0.0  # mean simulated seconds between random pauses per agent (0 = never)
    pause_reasons: tuple[PauseReason, ...] = field(default_factory=lambda: DEFAULT_PAUSE_REASONS)
    scanner_rate: float = 0.0  # security events per simulated second from a "scanner"
    auth_failure_delay: float = 1.0  # real seconds before "Authentication failed"
    # False: answer Challenge like an AMI proxy that does not implement it (tests --ami.auth).
    challenge: bool = True
    banner: str = "Asterisk Call Manager/11.0.0"
    asterisk_version: str = "22.10.1"
    write_high_water: int = 64 * 1024  # transport buffer above which writes count as blocked
    sndbuf: int | None = None  # SO_SNDBUF for sessions (None = OS default)
    tick: float = 0.02  # real seconds between clock advances
    uptime_at_start: float = 200.0  # seconds Asterisk has been up when the simulator starts
    pjsip: PjsipConfig | None = None  # None: res_pjsip not loaded (like the a-login-actions instance)
    # manager.conf [general] timestampevents = yes: every event carries "Timestamp: <unix>.<usec>"
    # right after its Privilege line (manager.c). Off in Asterisk's default and in the recordings.
    timestamp_events: bool = False

    @classmethod
    def build(
        cls,
        *,
        queues: int = 3,
        members_per_queue: int = 4,
        call_rate: float = 1.0,
        **kwargs: object,
    ) -> SimulatorConfig:
        """A generated call center: queue ``q1..qN`` with Local-channel agents."""
        strategies = ("ringall", "rrmemory", "leastrecent", "fewestcalls", "linear", "random")
        qs: list[QueueConfig] = []
        agent = 0
        for qi in range(queues):
            members: list[MemberConfig] = []
            for _ in range(members_per_queue):
                agent += 1
                members.append(MemberConfig(f"Local/agent{agent}@agents/n", f"Agent {agent}"))
            qs.append(
                QueueConfig(f"q{qi + 1}", strategy=strategies[qi % len(strategies)], members=tuple(members))
            )
        return cls(queues=tuple(qs), call_rate=call_rate, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def demo(cls, **overrides: object) -> SimulatorConfig:
        """A lively call center: 3 queues, 12 agents, about one call a second, with abandons,
        queue timeouts, pauses, a busy agent, SIP and Local members and a security scanner."""
        talk = (3.0, 12.0)

        def local(n: int, name: str, **kw: object) -> MemberConfig:
            return MemberConfig(f"Local/agent{n}@agents/n", name, talk_time=talk, **kw)  # type: ignore[arg-type]

        def sip(user: str, name: str, **kw: object) -> MemberConfig:
            return MemberConfig(f"PJSIP/{user}", name, talk_time=talk, **kw)  # type: ignore[arg-type]

        sales = QueueConfig(
            "sales",
            "ringall",
            (
                local(1, "Alice"),
                local(2, "Bob"),
                local(5, "Eve", answer_prob=0.5),
                sip("hank", "Hank"),
                sip("ivy", "Ivy"),
            ),
            timeout=10,
            retry=2,
            wrapuptime=2,
            queue_timeout=90,
            arrival_weight=2.0,
        )
        support = QueueConfig(
            "support",
            "rrmemory",
            (
                local(3, "Carol", wrapuptime=5),
                local(4, "Dave", answer_prob=0.6),
                local(6, "Frank", penalty=1, busy_prob=0.3),
                sip("judy", "Judy"),
                sip("ken", "Ken"),
            ),
            timeout=8,
            retry=1,
            wrapuptime=3,
            joinempty=False,
            queue_timeout=60,
            arrival_weight=2.0,
        )
        billing = QueueConfig(
            "billing",
            "leastrecent",
            (local(5, "Eve", answer_prob=0.5), local(7, "Grace", answer_prob=0.7), sip("leo", "Leo")),
            timeout=6,
            retry=1,
            wrapuptime=1,
            ringinuse=True,
            maxlen=50,
            queue_timeout=25,
            arrival_weight=1.0,
        )
        pjsip = PjsipConfig(
            phones=("reception",),
            softphones=("mobile1", "mobile2"),
            flap_interval=900.0,
            down_time=(30.0, 120.0),
            register_interval=300.0,
            registration_failure_interval=600.0,
            registration_retry=60.0,
        )
        values: dict[str, object] = {
            "queues": (sales, support, billing),
            "pjsip": pjsip,
            "call_rate": 0.8,
            "patience": (5.0, 150.0),
            "pause_interval": 600.0,
            "scanner_rate": 1 / 30,
            "seed": 1,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
