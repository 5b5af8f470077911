"""The agent: scheduler, webhook listener and queue runner (DESIGN.md §7); no Qt.

Only settings light enough for ``glyphic agent --help`` live here.
"""

#: Executions an agent runs at once by default (``glyphic agent --concurrency``). Runs
#: are asyncio tasks that mostly wait (HTTP, the database, child processes), so ten, as
#: n8n's queue workers: four left a 2-core machine idle between short runs (450 trivial
#: runs/s drained where ten drain 550, bench/agent_queue.py).
DEFAULT_CONCURRENCY = 10
