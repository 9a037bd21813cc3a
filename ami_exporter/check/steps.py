"""Steps 2 to 6 of ``ami-exporter check``: login, privileges, events, snapshot and the web config.

Each step appends findings to its :class:`~.report.Step`; none raises for anything the server or
the files do (a lost connection is a finding too).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from ..ami.actions import QUERY_ACTION_WRITE_CLASSES
from ..ami.client import AMIError, AuthenticationError, ConnectionLostError, Session, listed_actions
from ..ami.protocol import Message
from ..pbx import PBX
from ..secret import SecretError
from ..service import SNAPSHOT_ACTIONS, AMISettings, take_snapshots
from . import knowledge
from .report import Status, Step

# -- 2. login --------------------------------------------------------------------------------------


async def login_step(step: Step, session: Session, settings: AMISettings) -> bool:
    user = settings.username
    try:
        secret = settings.secret.read()
    except SecretError as error:
        step.add(Status.FAIL, str(error), "set AMI_EXPORTER_SECRET or pass a readable --ami.secret-file")
        return False
    try:
        method = await session.login(
            user, secret, auth=settings.auth, events=settings.events, timeout=settings.action_timeout
        )
    except AuthenticationError as error:
        if session.login_method is None:  # --ami.auth md5 and the Challenge was refused: no Login sent
            step.add(
                Status.FAIL, str(error), "use --ami.auth auto or plain (with --ami.tls on untrusted networks)"
            )
            return False
        _authentication_failed(step, session, user, str(error))
        return False
    except (AMIError, ConnectionLostError, TimeoutError) as error:
        reason = "timed out" if isinstance(error, TimeoutError) else str(error)
        step.add(
            Status.FAIL,
            f"login as {user!r} did not complete: {reason}",
            "check Asterisk's log (full or messages) around this time; retry with --ami.timeout raised",
        )
        return False
    step.facts["method"] = method
    tls = settings.ssl_context is not None
    if method == "md5":
        step.add(
            Status.OK, f"logged in as {user!r} with the MD5 challenge (the secret never crossed the wire)"
        )
    elif settings.auth == "plain":
        status = Status.OK if tls else Status.NOTE
        step.add(
            status,
            f"logged in as {user!r} with a plain login"
            + ("" if tls else ": the secret crossed the network in clear text"),
            "" if tls else "use --ami.auth auto (the default) or md5, or --ami.tls",
        )
    else:
        step.add(
            Status.WARN,
            f"logged in as {user!r}, but only with a plain login: the server refused the MD5 challenge, "
            "so the secret crossed the network" + (" (inside TLS)" if tls else " in clear text"),
            "Asterisk refuses Challenge for users without a plain-text secret in manager.conf; keep "
            "'secret =' there (not a hash)",
        )
    return True


def _authentication_failed(step: Step, session: Session, user: str, message: str) -> None:
    sockname = session.extra_info("sockname")
    here = f" (this host connected from {sockname[0]})" if isinstance(sockname, tuple) and sockname else ""
    step.add(
        Status.FAIL,
        f"Asterisk refused the login as {user!r}: {message}",
        f"on the Asterisk host: asterisk -rx 'manager show user {user}'; its security log names the cause",
        [
            "Asterisk answers the same 'Authentication failed' for three different causes:",
            "  wrong secret: manager.conf's secret differs from AMI_EXPORTER_SECRET or --ami.secret-file"
            " (security event InvalidPassword, or ChallengeResponseFailed with the MD5 login)",
            f"  unknown user: no [{user}] section, or manager.conf not reloaded (security event"
            " InvalidAccountID)",
            f"  address not permitted: a deny=/permit= line of [{user}] excludes the address Asterisk sees"
            f"{here} (security event FailedACL)",
            "The security events show in Asterisk's security log (logger.conf: security => security) and"
            " to any AMI user with read = security.",
        ],
    )


# -- 3. privileges ---------------------------------------------------------------------------------

# Without ListCommands the exporter uses only the actions every user may run (authority 0).
_AUTHORITY_ZERO = frozenset(name for name, classes in QUERY_ACTION_WRITE_CLASSES.items() if not classes)


async def privileges_step(
    step: Step, session: Session, settings: AMISettings, permit_address: str | None
) -> None:
    user = settings.username
    try:
        reply = await session.action("ListCommands", timeout=settings.action_timeout)
    except (AMIError, TimeoutError) as error:
        session.permitted = _AUTHORITY_ZERO
        reason = "timed out" if isinstance(error, TimeoutError) else str(error)
        step.add(
            Status.WARN,
            f"ListCommands failed ({reason}): the exporter would use only "
            f"{', '.join(sorted(_AUTHORITY_ZERO))}",
            "check Asterisk's log; ListCommands needs no privilege",
        )
        privileges: dict[str, frozenset[str]] = {}
    else:
        session.permitted = listed_actions(reply)
        privileges = knowledge.listed_privileges(reply)
    permitted = session.permitted
    step.facts["permitted_actions"] = sorted(permitted)
    _families(step, permitted, user)
    held = knowledge.held_write_classes(privileges)
    step.facts["write_classes"] = sorted(held)
    excess = sorted(set(held) - knowledge.USABLE_WRITE_CLASSES)
    step.facts["excess_write_classes"] = excess
    if not excess:
        usable = ",".join(sorted(knowledge.USABLE_WRITE_CLASSES))
        step.add(Status.OK, f"no write class beyond what the exporter can use (write = {usable} at most)")
        return
    for write_class in excess:
        actions = held[write_class]
        shown = ", ".join(actions[:5]) + (", ..." if len(actions) > 5 else "")
        step.add(Status.WARN, f"write = {write_class}: {user!r} may run {shown}; the exporter never needs it")
    step.add(
        Status.WARN,
        f"{user!r} holds write classes the exporter never uses ({', '.join(excess)}); least privilege is:",
        f"replace [{user}] in manager.conf with the section above, then: asterisk -rx 'manager reload'",
        knowledge.least_privilege_block(user, settings.events, permit_address),
    )


def _families(step: Step, permitted: frozenset[str], user: str) -> None:
    """Per metric family: available, degraded (an optional snapshot is not permitted: NOTE with the
    write class that enables it) or unavailable (an action every user may run is missing: FAIL)."""
    states: dict[str, dict[str, object]] = {}
    for family in knowledge.FAMILIES:
        absent = knowledge.not_loaded(knowledge.missing_snapshots(family, permitted), permitted)
        missing = [
            action for action in knowledge.missing_snapshots(family, permitted) if action not in absent
        ]
        unprivileged = [action for action in missing if not QUERY_ACTION_WRITE_CLASSES.get(action)]
        state = "unavailable" if unprivileged else "degraded" if missing else "available"
        states[family.key] = {
            "state": state,
            "metrics": family.metrics,
            "snapshots": list(family.snapshots),
            "missing": missing,
            "read": list(family.read),
        }
        if not missing:
            sources = [f"{action} snapshot" for action in family.snapshots if action not in absent]
            sources += [f"{read_class} events" for read_class in family.read]
            loaded = f" ({', '.join(absent)}: not on this Asterisk, module not loaded)" if absent else ""
            step.add(Status.OK, f"{family.title}: {', '.join(sources)}{loaded}")
            continue
        if family.optional and not unprivileged:
            states[family.key]["state"] = "available"
            sources = [f"{read_class} events" for read_class in family.read]
            step.add(Status.OK, f"{family.title}: {', '.join(sources)} ({family.without})")
            continue
        if unprivileged:
            status = Status.FAIL
            offered = ", ".join(unprivileged)
            fix = f"ListCommands did not offer {offered}, which any user may run: check Asterisk's log"
        else:
            status = Status.NOTE
            write_class = knowledge.enabling_class(missing)
            fix = (
                f"add {write_class} to write= of [{user}] in manager.conf to let it run {', '.join(missing)}"
            )
        step.add(
            status,
            f"{family.title} ({family.metrics}): {state}, {', '.join(missing)} not permitted: "
            f"{family.without}",
            fix,
        )
    step.facts["families"] = states


# -- 4. events -------------------------------------------------------------------------------------


class EventObserver:
    """Collects the classes (``Privilege:``) and names of the events a session receives."""

    def __init__(self, mask: str) -> None:
        self.mask = [c for c in mask.split(",") if c]
        self.classes: Counter[str] = Counter()
        self.names_by_class: dict[str, Counter[str]] = {}
        # Classes of events that matched no class of the mask: Asterisk did not apply it.
        self.outside: Counter[str] = Counter()
        self.fully_booted = False
        self.all_seen = asyncio.Event()

    def on_event(self, message: Message) -> None:
        if message.name == "FullyBooted":
            self.fully_booted = True
        classes = knowledge.privilege_classes(message.fields.get("Privilege"))
        for event_class in classes:
            self.classes[event_class] += 1
            self.names_by_class.setdefault(event_class, Counter())[message.name] += 1
        if classes and classes.isdisjoint(self.mask):
            self.outside.update(classes)
        if all(c in self.classes for c in self.mask):
            self.all_seen.set()

    async def wait(self, seconds: float, closed: asyncio.Future[object]) -> None:
        """Until every class of the mask arrived, the session closed, or ``seconds`` passed."""
        if seconds <= 0:
            return
        waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(self.all_seen.wait()), closed]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiters[0].cancel()


def events_step(step: Step, observer: EventObserver, waited: float) -> None:
    mask = observer.mask
    step.facts["mask"] = ",".join(mask)
    step.facts["seen"] = dict(sorted(observer.classes.items()))
    for event_class in mask:
        count = observer.classes.get(event_class, 0)
        fed = ", ".join(family.title for family in knowledge.families_fed_by(event_class))
        if count:
            names = observer.names_by_class[event_class].most_common(3)
            examples = ", ".join(name for name, _ in names)
            proof = " (FullyBooted at login)" if event_class == "system" and observer.fully_booted else ""
            step.add(Status.OK, f"{event_class}: {count} event(s){proof}: {examples}")
        elif event_class == "system":
            step.add(
                Status.FAIL,
                "system: no FullyBooted at login, so this user does not receive system events "
                f"({fed} would stay empty)",
                f"add system to read= in manager.conf (read = {','.join(mask)}), unless Asterisk was "
                "still starting",
            )
        else:
            step.add(
                Status.NOTE,
                f"{event_class}: not seen in {waited:g}s (idle?); it feeds {fed}",
                f"if the PBX had traffic, check that read= in manager.conf includes {event_class}",
            )
    outside = sorted(observer.outside)
    if outside:
        step.add(
            Status.WARN,
            f"events of classes outside the Events: mask arrived ({', '.join(outside)}): Asterisk did not "
            f"apply the mask {','.join(mask)}",
            "the exporter would receive and skip them (CPU); narrow read= in manager.conf to "
            f"{','.join(mask)}",
        )
        step.facts["mask_applied"] = False
    elif observer.classes:
        step.add(Status.OK, f"the Events: mask {','.join(mask)} was applied (no other classes arrived)")
        step.facts["mask_applied"] = True
    else:
        step.facts["mask_applied"] = None


# -- 5. snapshot -----------------------------------------------------------------------------------


async def snapshot_step(step: Step, session: Session, settings: AMISettings) -> None:
    pbx = PBX()
    try:
        # --ami.timeout per list, not the exporter's generous list timeout: a check must end soon.
        outcomes = await take_snapshots(session, pbx, list_timeout=settings.action_timeout)
    except (ConnectionLostError, TimeoutError) as error:
        reason = "timed out" if isinstance(error, TimeoutError) else str(error)
        step.add(Status.FAIL, f"the snapshot did not complete: {reason}", "check Asterisk's load and log")
        return
    step.facts["actions"] = {name: failure or "ok" for name, failure in outcomes.items()}
    for name, failure in outcomes.items():
        if failure is not None:
            queues = name == "QueueStatus"
            fix = "is app_queue loaded? asterisk -rx 'module show like app_queue'" if queues else ""
            step.add(Status.FAIL if queues else Status.WARN, f"{name} failed: {failure}", fix)
        else:
            step.add(Status.OK, f"{name}: {_found(name, pbx)}")
    skipped = [name for name in SNAPSHOT_ACTIONS if name not in outcomes]
    if skipped:
        step.add(Status.SKIP, f"not permitted, not taken: {', '.join(skipped)}")


def _found(action: str, pbx: PBX) -> str:
    describe = _FOUND.get(action)
    return describe(pbx) if describe is not None else "taken"


def _queues_found(pbx: PBX) -> str:
    queues = list(pbx.queues.queues.values())
    members = sum(len(queue.members) for queue in queues)
    paused = sum(1 for queue in queues for member in queue.members.values() if member.paused)
    callers = sum(len(queue.callers) for queue in queues)
    return f"{len(queues)} queue(s), {members} member(s) ({paused} paused), {callers} caller(s) waiting"


def _version_found(pbx: PBX) -> str:
    state = pbx.system.state
    return f"Asterisk {state.version or '(no version)'}, AMI {state.ami_version or '?'}"


def _core_status_found(pbx: PBX) -> str:
    current = pbx.system.state.current_channels
    return f"{'?' if current is None else current} active channel(s) per Asterisk (CoreCurrentCalls)"


def _by_state(counts: dict[str, int]) -> str:
    shown = [f"{number} {state}" for state, number in counts.items() if number]
    return ", ".join(shown) or "none"


def _endpoints_found(pbx: PBX) -> str:
    return f"endpoints: {_by_state(pbx.endpoints.count_by_state())}"


# What each snapshot found, in the operator's words (an action without an entry: "taken").
_FOUND: dict[str, Callable[[PBX], str]] = {
    "QueueStatus": _queues_found,
    "CoreShowChannels": lambda pbx: f"{len(pbx.channels.channels)} channel(s)",
    "BridgeList": lambda pbx: f"{len(pbx.channels.bridges)} bridge(s)",
    "CoreSettings": _version_found,
    "CoreStatus": _core_status_found,
    "DeviceStateList": lambda pbx: f"{len(pbx.endpoints.devices)} device(s); {_endpoints_found(pbx)}",
    "PJSIPShowContacts": lambda pbx: f"contacts: {_by_state(pbx.endpoints.contacts.by_state())}",
    "PJSIPShowEndpoints": _endpoints_found,
    "PJSIPShowEndpoint": lambda pbx: f"contacts: {_by_state(pbx.endpoints.contacts.by_state())}",
    "PJSIPShowRegistrationsOutbound": lambda pbx: f"registrations: {_by_state(pbx.registrations.by_state())}",
}


# -- 6. web config ---------------------------------------------------------------------------------


def web_config_step(step: Step, path: Path | None) -> None:
    if path is None:
        step.add(Status.SKIP, "no --web.config.file given: /metrics is served over plain HTTP, without auth")
        return
    from ..web.webconfig import WebConfigError, load_web_config

    try:
        config = load_web_config(path)
        config.ssl_context()  # what the exporter builds at start-up: certificates must load
    except WebConfigError as error:
        step.add(Status.FAIL, f"{path}: {error}", "the exporter would refuse to start with this file")
        return
    parts: list[str] = []
    if config.tls is not None:
        parts.append(f"TLS (client certificates: {config.tls.client_auth_type})")
    else:
        parts.append("no TLS")
    users = len(config.basic_auth_users)
    parts.append(f"basic auth for {users} user(s)" if users else "no basic auth")
    if config.headers:
        parts.append(f"{len(config.headers)} extra header(s)")
    step.facts["tls"] = config.tls is not None
    step.facts["basic_auth_users"] = users
    step.add(Status.OK, f"{path} is valid: {', '.join(parts)}")


def skip_all(steps: Iterable[Step], reason: str) -> None:
    for step in steps:
        step.add(Status.SKIP, reason)
