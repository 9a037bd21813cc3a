"""Endpoints, contacts, devices and outbound registrations."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ..pbx import PBX
from ..pbx.endpoints import UP_STATES
from .base import Liveness, Series, always_live


class EndpointCollector(Collector):
    """Endpoint, contact, device and registration gauges: samples only while ``live()`` (they
    would show a state nobody can vouch for); the families are always yielded so that their
    names stay registered."""

    def __init__(self, pbx: PBX, *, details: bool = False, live: Liveness = always_live) -> None:
        self._pbx = pbx
        self._details = details
        self._live = live

    def collect(self) -> Iterator[Metric]:
        book = self._pbx.endpoints
        live = self._live()
        endpoints = Series.gauge(
            "asterisk_endpoints",
            "Endpoints by reachability: PeerStatus/ContactStatus events, made exact at each "
            "reconcile by PJSIPShowEndpoints (write=system) or, for PJSIP endpoints, DeviceStateList "
            "(write=reporting) where the device state says it.",
            labels=["state"],
        )
        devices = Series.gauge(
            "asterisk_devices",
            "Devices by state (DeviceStateChange; DeviceStateList with write=reporting), Local "
            "channels and app_queue pseudo-devices excluded.",
            labels=["state"],
        )
        contacts = Series.gauge(
            "asterisk_contacts",
            "SIP contacts of PJSIP AORs by qualify status (ContactStatus events; PJSIPShowContacts "
            "and PJSIPShowEndpoint with write=system).",
            labels=["state"],
        )
        registrations = Series.gauge(
            "asterisk_registrations",
            "Outbound registrations (trunks) by state (Registry events; "
            "PJSIPShowRegistrationsOutbound with write=system or reporting).",
            labels=["state"],
        )
        registration_up = Series.gauge(
            "asterisk_registration_up",
            "1 when the outbound registration is registered. Named by PJSIPShowRegistrationsOutbound "
            "(write=system or reporting): registrations known only from Registry events, which "
            "carry URIs and no name, are counted in asterisk_registrations only.",
            labels=["registration"],
        )
        if live:
            for state, number in book.count_by_state().items():
                endpoints.add({"state": state}, number)
            for state, number in book.devices_by_state().items():
                devices.add({"state": state}, number)
            for state, number in book.contacts.by_state().items():
                contacts.add({"state": state}, number)
            for state, number in self._pbx.registrations.by_state().items():
                registrations.add({"state": state}, number)
            for name, state in sorted(self._pbx.registrations.named().items()):
                registration_up.add({"registration": name}, state == "registered")
        yield endpoints.family
        yield devices.family
        yield contacts.family
        yield registrations.family
        yield registration_up.family
        if not self._details:
            return
        reachable = Series.gauge(
            "asterisk_endpoint_up", "1 when the endpoint is reachable or registered.", labels=["endpoint"]
        )
        roundtrip = Series.gauge(
            "asterisk_contact_roundtrip_seconds",
            "Qualify round trip of the endpoint's reachable contacts as Asterisk last reported it "
            "(the largest when it has several; absent while none is reachable). ContactStatus comes "
            "only when a contact's status changes; PJSIPShowContacts (write=system) refreshes "
            "registered contacts at each reconcile.",
            labels=["endpoint"],
        )
        deprecated = Series.gauge(
            "asterisk_endpoint_roundtrip_seconds",
            "Deprecated: the same as asterisk_contact_roundtrip_seconds, removed in a later release.",
            labels=["endpoint"],
        )
        if live:
            for name, endpoint in sorted(dict(book.endpoints).items()):
                reachable.add({"endpoint": name}, endpoint.state in UP_STATES)
            for name, seconds in sorted(book.contacts.roundtrips().items()):
                labels = {"endpoint": name}
                roundtrip.add(labels, seconds)
                deprecated.add(labels, seconds)
        yield reachable.family
        yield roundtrip.family
        yield deprecated.family
