"""Lint and promtool tests for the Grafana dashboards and Prometheus rules in dashboards/."""
