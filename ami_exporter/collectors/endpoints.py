"""Endpoints, contacts, devices and outbound registrations."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..pbx import PBX
from ..pbx.endpoints import UP_STATES
from .base import Liveness, always_live


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
        endpoints = GaugeMetricFamily(
            "asterisk_endpoints",
            "Endpoints by reachability: PeerStatus/ContactStatus events, made exact at each "
            "reconcile by PJSIPShowEndpoints (write=system) or, for PJSIP endpoints, DeviceStateList "
            "(write=reporting) where the device state says it.",
            labels=["state"],
        )
        devices = GaugeMetricFamily(
            "asterisk_devices",
            "Devices by state (DeviceStateChange; DeviceStateList with write=reporting), Local "
            "channels and app_queue pseudo-devices excluded.",
            labels=["state"],
        )
        contacts = GaugeMetricFamily(
            "asterisk_contacts",
            "SIP contacts of PJSIP AORs by qualify status (ContactStatus events; PJSIPShowContacts "
            "and PJSIPShowEndpoint with write=system).",
            labels=["state"],
        )
        registrations = GaugeMetricFamily(
            "asterisk_registrations",
            "Outbound registrations (trunks) by state (Registry events; "
            "PJSIPShowRegistrationsOutbound with write=system or reporting).",
            labels=["state"],
        )
        registration_up = GaugeMetricFamily(
            "asterisk_registration_up",
            "1 when the outbound registration is registered. Named by PJSIPShowRegistrationsOutbound "
            "(write=system or reporting): registrations known only from Registry events, which "
            "carry URIs and no name, are counted in asterisk_registrations only.",
            labels=["registration"],
        )
        if live:
            for state, number in book.count_by_state().items():
                endpoints.add_metric([state], number)
            for state, number in book.devices_by_state().items():
                devices.add_metric([state], number)
            for state, number in book.contacts.by_state().items():
                contacts.add_metric([state], number)
            for state, number in self._pbx.registrations.by_state().items():
                registrations.add_metric([state], number)
            for name, state in sorted(self._pbx.registrations.named().items()):
                registration_up.add_metric([name], state == "registered")
        yield endpoints
        yield devices
        yield contacts
        yield registrations
        yield registration_up
        if not self._details:
            return
        reachable = GaugeMetricFamily(
            "asterisk_endpoint_up", "1 when the endpoint is reachable or registered.", labels=["endpoint"]
        )
        roundtrip = GaugeMetricFamily(
            "asterisk_contact_roundtrip_seconds",
            "Qualify round trip of the endpoint's reachable contacts as Asterisk last reported it "
            "(the largest when it has several; absent while none is reachable). ContactStatus comes "
            "only when a contact's status changes; PJSIPShowContacts (write=system) refreshes "
            "registered contacts at each reconcile.",
            labels=["endpoint"],
        )
        deprecated = GaugeMetricFamily(
            "asterisk_endpoint_roundtrip_seconds",
            "Deprecated: the same as asterisk_contact_roundtrip_seconds, removed in a later release.",
            labels=["endpoint"],
        )
        if live:
            for name, endpoint in sorted(dict(book.endpoints).items()):
                reachable.add_metric([name], endpoint.state in UP_STATES)
            for name, seconds in sorted(book.contacts.roundtrips().items()):
                roundtrip.add_metric([name], seconds)
                deprecated.add_metric([name], seconds)
        yield reachable
        yield roundtrip
        yield deprecated
