"""End-to-end tests: the exporter, the simulator and a real Prometheus, as processes."""
