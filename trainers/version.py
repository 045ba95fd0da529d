"""Runboard's version, written on every run (``runboard.version``). Its own module so that the code
writing it need not import the ``trainers`` package's ``__init__`` (whose lazy ``RunboardLogger``
leads back to the run record)."""

__version__ = "0.1.0"
