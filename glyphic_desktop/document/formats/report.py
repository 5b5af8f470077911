"""The import report: what a conversion did, grouped (never one line per node).

Sections: nodes, edges and groups in; node types mapped to Glyphic types (with counts);
placeholders by type (with counts); expressions and credentials that need attention;
JavaScript kept in Code nodes; schedules created (always inactive: an import never arms
a schedule, the report says how to enable it); other notes. ``lines()`` is the text
``glyphic import`` prints, ``as_dict()`` what ``--json`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glyphic_desktop.document.formats.common import Notes
from glyphic_desktop.document.model import WorkflowDocument

_SHOWN = 10  # items listed per attention section before "... and N more"


@dataclass
class ImportReport:
    """A grouped summary of one conversion."""

    format: str
    nodes: int = 0
    edges: int = 0
    groups: int = 0
    mapped: list[dict[str, Any]] = field(default_factory=list)
    placeholders: list[dict[str, Any]] = field(default_factory=list)
    expressions_converted: int = 0
    expressions: list[dict[str, str]] = field(default_factory=list)
    credentials: list[dict[str, str]] = field(default_factory=list)
    code: list[dict[str, str]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "format": self.format,
            "nodes": self.nodes,
            "edges": self.edges,
            "groups": self.groups,
            "mapped": self.mapped,
            "placeholders": self.placeholders,
            "expressions": {"converted": self.expressions_converted, "attention": self.expressions},
            "credentials": self.credentials,
            "code": self.code,
            "schedules": self.schedules,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        """The report as text lines, grouped by section."""
        out = [f"{self.nodes} nodes, {self.edges} edges, {self.groups} groups"]
        if self.mapped:
            parts = [f"{m['from']} -> {m['to']} ({m['count']})" for m in self.mapped]
            out.append("mapped: " + ", ".join(parts))
        if self.placeholders:
            total = sum(p["count"] for p in self.placeholders)
            parts = [f"{p['type']} ({p['count']})" for p in self.placeholders[:_SHOWN]]
            more = len(self.placeholders) - _SHOWN
            tail = f", and {more} more types" if more > 0 else ""
            out.append(
                f"placeholders: {total} node(s) of {len(self.placeholders)} type(s) with no "
                f"Glyphic counterpart, kept with their data: {', '.join(parts)}{tail}"
            )
        if self.expressions_converted:
            out.append(f"expressions: {self.expressions_converted} rewritten to Glyphic's")
        if self.expressions:
            out.append(f"expressions that need attention ({len(self.expressions)}, kept as is):")
            out += [
                f"  {e['node']} {e['field']}: {e['text']} ({e['why']})"
                for e in self.expressions[:_SHOWN]
            ]
            if len(self.expressions) > _SHOWN:
                out.append(f"  ... and {len(self.expressions) - _SHOWN} more")
        if self.credentials:
            out.append(f"credentials ({len(self.credentials)}):")
            out += [
                f"  {c['node']}: {c['type']} {c['name']!r}: {c['status']}"
                for c in self.credentials[:_SHOWN]
            ]
            if len(self.credentials) > _SHOWN:
                out.append(f"  ... and {len(self.credentials) - _SHOWN} more")
        if self.code:
            out.append(
                f"code to rewrite ({len(self.code)}): JavaScript kept in Code nodes "
                "(Glyphic's Code node runs Python):"
            )
            out += [f"  {c['node']}" for c in self.code[:_SHOWN]]
            if len(self.code) > _SHOWN:
                out.append(f"  ... and {len(self.code) - _SHOWN} more")
        if self.schedules:
            out.append(
                f"schedules ({len(self.schedules)}), created INACTIVE: enable each with "
                "'glyphic schedule resume ID' (see 'glyphic schedule list'):"
            )
            out += [
                f"  {s['node']}: cron {s['cron']!r} in {s['timezone']} (from {s['from']})"
                for s in self.schedules
            ]
        out += [f"note: {note}" for note in self.notes]
        return out


def build_report(fmt: str, document: WorkflowDocument, notes: Notes) -> ImportReport:
    """The grouped report of a conversion to ``document`` whose notes are ``notes``."""
    mapped = [
        {"from": foreign, "to": glyphic, "count": count}
        for (foreign, glyphic), count in sorted(notes.mapped.items(), key=lambda i: -i[1])
    ]
    placeholders = [
        {"type": kind, "count": count}
        for kind, count in sorted(notes.placeholders.items(), key=lambda i: (-i[1], i[0]))
    ]
    return ImportReport(
        format=fmt,
        nodes=len(document.nodes),
        edges=len(document.edges),
        groups=len(document.groups),
        mapped=mapped,
        placeholders=placeholders,
        expressions_converted=notes.expressions_converted,
        expressions=list(notes.expressions),
        credentials=list(notes.credentials),
        code=list(notes.code),
        schedules=list(notes.schedules),
        notes=list(notes),
    )
