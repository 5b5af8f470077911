"""The built-in node catalog (DESIGN.md §4).

Each module declares its types with ``@register_node``; ``NodeRegistry.load_builtins``
imports every module of this package. :func:`load_all` does the same for callers that
only want the declarations imported. This ``__init__`` stays import-free so the Code
node's child process (``code_child``) starts fast.

Modules: triggers (manual, schedule, webhook), flow (if, switch, merge, delay,
stop_error), flow_graph (loop, subworkflow), data (set, log), code_runner (code),
files (read_file, write_file), command (run_command), http (http_request),
integrations (gmail, slack, github), transforms (filter, sort, limit, aggregate,
summarize, split_out, remove_duplicates, compare_datasets), datetime_node, crypto_node,
convert, html_extract, llm (llm_chat), respond (respond_webhook).
"""

from __future__ import annotations

import importlib

MODULES: tuple[str, ...] = (
    "triggers",
    "flow",
    "flow_graph",
    "data",
    "code_runner",
    "files",
    "command",
    "http",
    "integrations",
    "transforms",
    "datetime_node",
    "crypto_node",
    "convert",
    "html_extract",
    "llm",
    "respond",
    "waits",
)


def load_all() -> None:
    """Import every module of the catalog (registering its node types)."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
