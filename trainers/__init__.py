"""Runboard trainers: model families, run specs, tracking and the training entry point."""

from trainers.version import __version__  # noqa: F401 - the package's version, as usual


def __getattr__(name):
    """``from trainers import RunboardLogger`` without importing torch at ``import trainers``."""
    if name == "RunboardLogger":
        from trainers.dropin import RunboardLogger

        return RunboardLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
