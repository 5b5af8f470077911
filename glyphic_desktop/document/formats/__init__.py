"""Foreign workflow formats (ComfyUI UI and API, React Flow, n8n, Node-RED) -> Glyphic.

:func:`detect_format` tells the formats apart by their shape; :func:`convert` turns a
foreign file's parsed JSON into a validated :class:`WorkflowDocument` plus a grouped
:class:`ImportReport` (``notes`` are its text lines). It is the one conversion path:
``glyphic import``, the editor's Import / Open and pasting on the canvas all use it
(through :mod:`glyphic_desktop.document.io`). Files without positions (ComfyUI API) are
placed by the automatic layered layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glyphic_desktop.document.formats.comfyui import convert_comfyui
from glyphic_desktop.document.formats.comfyui_api import convert_comfyui_api
from glyphic_desktop.document.formats.common import BUILTIN_NODE_TYPES
from glyphic_desktop.document.formats.detect import (
    FORMAT_TITLES,
    FORMATS,
    Format,
    detect_format,
    find_reactflow,
)
from glyphic_desktop.document.formats.n8n import convert_n8n
from glyphic_desktop.document.formats.nodered import convert_nodered, split_flows
from glyphic_desktop.document.formats.reactflow import convert_reactflow
from glyphic_desktop.document.formats.report import ImportReport, build_report
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.document.validation import DocumentError, DocumentProblem

__all__ = [
    "BUILTIN_NODE_TYPES",
    "FORMATS",
    "FORMAT_TITLES",
    "ConversionResult",
    "Format",
    "ImportReport",
    "convert",
    "convert_split",
    "detect_format",
]

_CONVERTERS: dict[str, Callable[..., tuple[WorkflowDocument, Any]]] = {
    "comfyui": convert_comfyui,
    "comfyui_api": convert_comfyui_api,
    "reactflow": convert_reactflow,
    "n8n": convert_n8n,
    "nodered": convert_nodered,
}


@dataclass
class ConversionResult:
    """A document read from some format, what happened on the way, and where it came from."""

    document: WorkflowDocument
    notes: list[str] = field(default_factory=list)
    format: str = "glyphic"
    report: ImportReport | None = None
    name: str | None = None  # a name for this part (a Node-RED tab with --split-tabs)

    @property
    def suggested_name(self) -> str | None:
        """The workflow name the file carries (``metadata.name``), if any."""
        if self.name:
            return self.name
        name = self.document.metadata.get("name")
        return name.strip() if isinstance(name, str) and name.strip() else None


def _shape_problems(data: Any, fmt: str) -> list[DocumentProblem]:
    """One problem per thing that makes ``data`` unreadable as forced format ``fmt``."""
    if fmt == "nodered":
        items = data.get("flows") if isinstance(data, dict) else data
        if not isinstance(items, list):
            return [DocumentProblem("", "a Node-RED flow file is a JSON array of nodes")]
        return [
            DocumentProblem(f"[{i}]", "not a Node-RED node (an object with 'id' and 'type')")
            for i, item in enumerate(items)
            if not (isinstance(item, dict) and "id" in item and "type" in item)
        ]
    if fmt == "comfyui_api":
        if not isinstance(data, dict):
            return [DocumentProblem("", "a ComfyUI API file is an object of nodes by id")]
        prompt = data.get("prompt") if isinstance(data.get("prompt"), dict) else data
        where = "prompt." if prompt is not data else ""
        return [
            DocumentProblem(f"{where}{key}", "not a node (an object with 'class_type')")
            for key, value in prompt.items()
            if not (isinstance(value, dict) and isinstance(value.get("class_type"), str))
        ]
    if fmt == "reactflow":
        top_level = isinstance(data, dict) and isinstance(data.get("nodes"), list)
        if not top_level and find_reactflow(data) is None:
            return [
                DocumentProblem(
                    "", "no React Flow state ('nodes' with 'position' and 'edges') found"
                )
            ]
        return []
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return [DocumentProblem("nodes", f"{FORMAT_TITLES[fmt]} has a 'nodes' list")]
    return []


def convert(data: Any, *, source: str = "<input>", fmt: str | None = None) -> ConversionResult:
    """Convert parsed foreign JSON to a Glyphic document; raise DocumentError if unknown.

    ``fmt`` forces a format (else it is recognised). Glyphic data is refused here
    (validate it with ``parse_document_data``).
    """
    if fmt is None:
        fmt = detect_format(data)
    if fmt in _CONVERTERS:
        problems = _shape_problems(data, fmt)
        if problems:
            raise DocumentError(source, problems)
    converter = _CONVERTERS.get(fmt or "")
    if converter is None:
        what = "a Glyphic workflow" if fmt == "glyphic" else "no format this app converts"
        raise DocumentError(source, [DocumentProblem("", f"nothing to convert: it is {what}")])
    document, notes = converter(data, source=source)
    report = build_report(fmt or "", document, notes)
    return ConversionResult(document, report.lines(), fmt or "", report)


def convert_split(data: Any, *, source: str = "<input>") -> list[ConversionResult]:
    """A Node-RED flow file converted one workflow per tab (``--split-tabs``)."""
    results: list[ConversionResult] = []
    for label, items in split_flows(data):
        result = convert(items, source=f"{source} (tab {label!r})", fmt="nodered")
        result.name = label
        results.append(result)
    if not results:
        raise DocumentError(source, [DocumentProblem("", "the flow file has no tabs to split")])
    return results
