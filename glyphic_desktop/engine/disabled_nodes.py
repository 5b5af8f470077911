"""Node types switched off altogether (like n8n's ``NODES_EXCLUDE``).

Two sources, both honoured by preflight (each disabled node is named) and the palette:

- the environment variable ``GLYPHIC_DISABLE_NODES=code,run_command`` (for an admin or a
  server: every process started with it);
- the person's setting ``disabled_node_types`` in ``users.preferences`` (a list of type
  keys; ``glyphic nodes disable|enable KEY``), which follows them across machines.

:func:`disabled_node_types` maps each disabled key to the source preflight names.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

DISABLE_ENV = "GLYPHIC_DISABLE_NODES"
PREFERENCE_KEY = "disabled_node_types"
SETTING_SOURCE = "the disabled_node_types setting ('glyphic nodes enable' turns it back on)"


def parse_keys(text: str | Iterable[Any] | None) -> list[str]:
    """Type keys from ``code,run_command`` (commas or spaces) or a list; order kept, no repeats."""
    if text is None:
        return []
    parts = re.split(r"[,\s]+", text) if isinstance(text, str) else [str(p) for p in text]
    return list(dict.fromkeys(part.strip() for part in parts if part and part.strip()))


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The keys ``GLYPHIC_DISABLE_NODES`` disables, each mapped to that variable's name."""
    value = (os.environ if environ is None else environ).get(DISABLE_ENV, "")
    return {key: DISABLE_ENV for key in parse_keys(value)}


def from_preferences(preferences: Any) -> dict[str, str]:
    """The keys the person's ``disabled_node_types`` setting disables."""
    keys = preferences if isinstance(preferences, list) else []
    return {key: SETTING_SOURCE for key in parse_keys(keys)}


def read_setting(session: Any, user_id: uuid.UUID) -> list[str]:
    """The person's ``disabled_node_types`` setting (a list of keys)."""
    from glyphic_desktop.store.repositories.preferences import PreferenceRepository

    return parse_keys(PreferenceRepository(session, user_id).get(PREFERENCE_KEY, []) or [])


def write_setting(session: Any, user_id: uuid.UUID, keys: Iterable[str]) -> list[str]:
    """Store the person's ``disabled_node_types`` setting; returns the stored keys."""
    from glyphic_desktop.store.repositories.preferences import PreferenceRepository

    cleaned = parse_keys(list(keys))
    PreferenceRepository(session, user_id).set(PREFERENCE_KEY, cleaned or None)
    return cleaned


def disabled_node_types(session: Any = None, user_id: uuid.UUID | None = None) -> dict[str, str]:
    """Every disabled type key mapped to what disabled it (the environment wins).

    Without a session only the environment is read.
    """
    disabled: dict[str, str] = {}
    if session is not None and user_id is not None:
        disabled.update(from_preferences(read_setting(session, user_id)))
    disabled.update(from_env())
    return disabled
