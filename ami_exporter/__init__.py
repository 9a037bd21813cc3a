"""Prometheus exporter for the Asterisk PBX, fed by a read-only AMI session."""

__version__ = "0.1.0"
