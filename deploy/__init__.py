"""Deployment of rtbfast as a service: image, Helm chart, monitoring, and their checks (check.py)."""
