"""The engine: preflight, the asyncio executor, expressions, events, sinks and run records.

- ``preflight.py``: every problem of a workflow at once (:class:`PreflightFailed`).
- ``executor.py``: runs a document (the rules for data, skips and per-node settings).
- ``expressions.py``: ``{{ … }}`` in fields, in Jinja2's sandbox; ``sandbox.py`` and
  ``limits.py`` bound every evaluation in time and size.
- ``events.py`` / ``sinks.py``: run events, the database and terminal sinks.
- ``records.py``: outputs as JSON for the ``executions`` row, capped with a marker.
- ``runner.py``: :func:`run_workflow`, the one call the editor, the agent and the CLI use;
  ``finish.py`` ends the run's row whatever goes wrong while recording it.
"""
