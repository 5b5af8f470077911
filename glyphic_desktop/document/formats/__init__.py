"""Foreign workflow formats (ComfyUI, React Flow, n8n) converted to Glyphic documents.

:func:`detect_format` tells the formats apart; :func:`convert` turns a foreign file's
parsed JSON into a validated :class:`WorkflowDocument` plus ``notes`` saying what was
approximated or kept as a placeholder. Readers that accept any format are in
:mod:`glyphic_desktop.document.io` (``read_workflow_file`` / ``read_workflow_text``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glyphic_desktop.document.formats.comfyui import convert_comfyui
from glyphic_desktop.document.formats.common import BUILTIN_NODE_TYPES
from glyphic_desktop.document.formats.detect import FORMAT_TITLES, Format, detect_format
from glyphic_desktop.document.formats.n8n import convert_n8n
from glyphic_desktop.document.formats.reactflow import convert_reactflow
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.document.validation import DocumentError, DocumentProblem

__all__ = [
    "BUILTIN_NODE_TYPES",
    "FORMAT_TITLES",
    "ConversionResult",
    "Format",
    "convert",
    "detect_format",
]

_CONVERTERS: dict[str, Callable[..., tuple[WorkflowDocument, list[str]]]] = {
    "comfyui": convert_comfyui,
    "reactflow": convert_reactflow,
    "n8n": convert_n8n,
}


@dataclass
class ConversionResult:
    """A document read from some format, what happened on the way, and where it came from."""

    document: WorkflowDocument
    notes: list[str] = field(default_factory=list)
    format: str = "glyphic"

    @property
    def suggested_name(self) -> str | None:
        """The workflow name the file carries (``metadata.name``), if any."""
        name = self.document.metadata.get("name")
        return name.strip() if isinstance(name, str) and name.strip() else None


def convert(data: Any, *, source: str = "<input>") -> ConversionResult:
    """Convert parsed foreign JSON to a Glyphic document; raise DocumentError if unknown.

    Glyphic data is refused here (validate it with ``parse_document_data``).
    """
    fmt = detect_format(data)
    converter = _CONVERTERS.get(fmt or "")
    if converter is None:
        what = "a Glyphic workflow" if fmt == "glyphic" else "no format this app converts"
        raise DocumentError(source, [DocumentProblem("", f"nothing to convert: it is {what}")])
    document, notes = converter(data, source=source)
    return ConversionResult(document, list(notes), fmt or "")
