"""Runboard trainers: model families, run specs, tracking and the training entry point."""

__version__ = "0.1.0"
