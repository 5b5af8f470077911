"""Which port types may feed which: the one compatibility table (no Qt).

The editor's connect-time check (``ui/graph_model.py``), the canvas's hover feedback and
the node search (``ui/canvas/scene.py``) and the engine's preflight
(``engine/preflight.py``) all ask :func:`ports_compatible` (re-exported by
``nodes/base.py``), so a wire the editor refuses is also one preflight reports.

The rules:

- ``any`` feeds and accepts everything (untyped ports, expressions, plugins);
- a type feeds itself;
- the conversions that need no converting: a ``file`` value (``{path, name, size, ...}``)
  *is* an ``object``. The engine passes values along wires unchanged, so a ``number`` is
  not offered to a ``string`` input (the node would get an int, not text): convert it
  in a Code or Set fields node, or declare the input ``any``;
- everything else is refused, with a reason :func:`mismatch_reason` words for people.
"""

from __future__ import annotations

#: ``(source type, target type)`` pairs allowed besides ``any`` and identical types.
SAFE_CONVERSIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("file", "object"),
    }
)

#: How each type is named in a refusal.
_NOUNS = {
    "string": "text",
    "number": "a number",
    "boolean": "true/false",
    "object": "an object",
    "array": "a list (array)",
    "file": "a file",
}

#: A hint for the commonest mismatches: ``(source, target)`` → what to do instead.
_HINTS = {
    ("array", "object"): "put a Loop over items between them to handle each item",
    ("object", "array"): "pick the list inside it with a Set fields or Code node",
    ("string", "number"): "convert it with a Code node",
    ("number", "string"): "format it as text with a Set fields or Code node",
    ("string", "object"): "parse it (Read file as JSON, or a Code node)",
}


def ports_compatible(source_type: str, target_type: str) -> bool:
    """Whether an output of ``source_type`` may feed an input of ``target_type``."""
    return (
        source_type == target_type
        or source_type == "any"
        or target_type == "any"
        or (source_type, target_type) in SAFE_CONVERSIONS
    )


def mismatch_reason(source_type: str, target_type: str) -> str | None:
    """Why ``source_type`` may not feed ``target_type`` (one phrase), or None when it may."""
    if ports_compatible(source_type, target_type):
        return None
    given = _NOUNS.get(source_type, source_type)
    wanted = _NOUNS.get(target_type, target_type)
    reason = f"it gives {given} but the input takes {wanted}"
    hint = _HINTS.get((source_type, target_type))
    return f"{reason}; {hint}" if hint else reason
