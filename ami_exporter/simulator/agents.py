"""The truth about agents: per membership, what the simulated call centre really did.

The call centre tells the :class:`AgentLedger` of a membership each time it emits an event the
exporter counts per agent (``AgentConnect``, ``AgentRingNoAnswer``, ``AgentComplete``) and each
time the membership is paused or unpaused; pause spans are measured on the simulator's own clock.
:func:`true_state` is the agent state the membership is really in, from the simulator's own
knowledge (its wrap-up deadline, its devices, its calls), for end-to-end comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AgentLedger", "PauseReason", "true_state"]


@dataclass(frozen=True, slots=True)
class PauseReason:
    """A pause reason the simulated agents use, how long such a pause lasts (uniform, simulated
    seconds) and how often it is chosen relative to the others."""

    name: str
    duration: tuple[float, float]
    weight: float = 1.0


@dataclass(slots=True)
class AgentLedger:
    answered: int = 0
    ring_noanswer: int = 0
    talk_seconds: int = 0
    paused_seconds: dict[str, float] = field(default_factory=dict)  # closed pauses, by reason as sent
    pauses: dict[str, int] = field(default_factory=dict)  # pauses begun, by reason
    pause_reason: str | None = None  # the pause in progress
    pause_started: float = 0.0

    def pause(self, reason: str, now: float) -> None:
        """A pause event with Paused 1 (a new pause even when already paused, as in Asterisk)."""
        self.unpause(now)
        self.pause_reason = reason
        self.pause_started = now
        self.pauses[reason] = self.pauses.get(reason, 0) + 1

    def unpause(self, now: float) -> None:
        if self.pause_reason is not None:
            reason = self.pause_reason
            self.paused_seconds[reason] = self.paused_seconds.get(reason, 0.0) + now - self.pause_started
            self.pause_reason = None

    def paused_totals(self, now: float) -> dict[str, float]:
        totals = dict(self.paused_seconds)
        if self.pause_reason is not None:
            totals[self.pause_reason] = totals.get(self.pause_reason, 0.0) + now - self.pause_started
        return totals


def true_state(
    *, paused: bool, status: int, in_call: bool, ringinuse: bool, wrapup_until: float, now: float
) -> str:
    """The agent state by the exporter's documented precedence, from what the simulator knows."""
    if paused:
        return "paused"
    if status in (0, 4, 5):
        return "unavailable"
    if in_call or (not ringinuse and status in (2, 3, 8)):
        return "on_call"
    if status in (6, 7):
        return "ringing"
    if now < wrapup_until:
        return "wrapup"
    return "available"
