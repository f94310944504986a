"""Orchestration: sources, device inventory, storage, measurement, reports, the CLI."""

__version__ = "0.1.0"
