"""The launch side: experiment files (YAML), the queue (= the store), executors, supervision, sweeps.

``queue.submit(spec)`` creates a SCHEDULED run; ``worker`` (``python -m experiments.worker`` or a
dashboard thread) starts SCHEDULED runs through an executor and reconciles the ones that died.
"""
