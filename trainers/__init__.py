"""Runboard trainers: model families, run specs, tracking and the training entry point."""

__version__ = "0.1.0"


def __getattr__(name):
    """``from trainers import RunboardLogger`` without importing torch at ``import trainers``."""
    if name == "RunboardLogger":
        from trainers.dropin import RunboardLogger

        return RunboardLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
