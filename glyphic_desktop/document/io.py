"""Reading workflow files: JSON text or a file in, a validated :class:`WorkflowDocument` out.

Every failure is a :class:`DocumentError` naming the file and listing all its problems:
malformed JSON (line and column), model errors (JSON paths), structural errors, or a
file that is not a Glyphic workflow at all (saying so, and saying when it is a ComfyUI,
React Flow, n8n or Node-RED file that ``glyphic import`` converts).

``load_document_*`` accept Glyphic documents only; ``read_workflow_*`` accept every
format this app reads and convert foreign ones (see :mod:`glyphic_desktop.document.formats`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from glyphic_desktop.document.formats.detect import (
    FORMAT_TITLES,
    detect_format,
    may_be_foreign,
)
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.document.validation import (
    DocumentError,
    DocumentProblem,
    problems_from_validation_error,
    raw_structure_problems,
    validate_document,
)
from glyphic_desktop.perf import gc_paused

if TYPE_CHECKING:
    from glyphic_desktop.document.formats import ConversionResult

_JSON_KINDS = {list: "a JSON array", str: "a JSON string", bool: "a JSON boolean"}


def _fail(source: str, message: str, path: str = "") -> DocumentError:
    return DocumentError(source, [DocumentProblem(path, message)])


def parse_json_text(text: str, *, source: str = "<input>") -> Any:
    """``json.loads`` whose errors name the line and column (``invalid JSON at line 4, ...``)."""
    if not text.strip():
        raise _fail(source, "the file is empty, not a Glyphic workflow")
    try:
        with gc_paused():
            return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            source, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise _fail(source, "invalid JSON: nested too deeply") from None


def read_text_file(path: str | Path) -> str:
    """A file's text (UTF-8, a byte-order mark allowed); unreadable files raise DocumentError."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise _fail(source, "cannot read the file: it is a directory") from None
    except OSError as exc:
        raise _fail(source, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(
            source, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from None


def not_a_workflow_message(data: Any) -> str:
    """Why parsed JSON ``data`` is not a Glyphic workflow (for data that is not one)."""
    if isinstance(data, list) and data and all(detect_format(item) for item in data[:50]):
        formats = {detect_format(item) for item in data[:50]}
        each = f" (each {FORMAT_TITLES[formats.pop()]})" if len(formats) == 1 else ""
        return (
            f"not a Glyphic workflow: the file holds a JSON array of {len(data)} "
            f"workflows{each}; import reads one workflow per file"
        )
    kind = next((text for cls, text in _JSON_KINDS.items() if isinstance(data, cls)), None)
    if kind is None and not isinstance(data, dict):
        kind = "null" if data is None else "a JSON number"
    if kind is not None:
        return f"not a Glyphic workflow: the file holds {kind}, not an object with 'nodes'"
    fmt = detect_format(data)
    if fmt is not None and fmt != "glyphic":
        return (
            f"not a Glyphic workflow: it is {FORMAT_TITLES[fmt]}, which "
            "'glyphic import' converts to a Glyphic workflow"
        )
    keys = ", ".join(repr(key) for key in list(data)[:8]) or "none"
    return f"not a Glyphic workflow: the object has no 'nodes' (its keys: {keys})"


def _validated(data: dict[str, Any], source: str) -> WorkflowDocument:
    with gc_paused():
        try:
            document = WorkflowDocument.model_validate(data)
        except ValidationError as exc:
            problems = problems_from_validation_error(exc, data) + raw_structure_problems(data)
            raise DocumentError(source, problems) from None
        validate_document(document, source=source)
    return document


def parse_document_data(data: Any, *, source: str = "<input>") -> WorkflowDocument:
    """Validate parsed JSON ``data`` as a Glyphic workflow (foreign formats are refused)."""
    if detect_format(data) != "glyphic":
        raise _fail(source, not_a_workflow_message(data))
    return _validated(data, source)


def _sound_glyphic_text(text: str, source: str) -> WorkflowDocument | None:
    """The document when ``text`` is a Glyphic file pydantic's JSON parser validates, else None.

    Structural problems of such a file raise :class:`DocumentError`; anything else (bad
    JSON, model errors, a foreign or non-workflow file) returns None for the slow path.
    """
    try:
        document = WorkflowDocument.model_validate_json(text)
    except ValidationError:
        return None
    if may_be_foreign(document):
        return None
    validate_document(document, source=source)
    return document


def load_document_text(text: str, *, source: str = "<input>") -> WorkflowDocument:
    """Parse and validate Glyphic workflow JSON text.

    The common case (a sound Glyphic file) is validated straight from the text by
    pydantic's JSON parser; anything else is re-read with :mod:`json` to report
    line and column, node labels and the file's format.
    """
    with gc_paused():
        document = _sound_glyphic_text(text, source)
        if document is not None:
            return document
        return parse_document_data(parse_json_text(text, source=source), source=source)


def load_document_file(path: str | Path) -> WorkflowDocument:
    """Read and validate a Glyphic workflow file."""
    return load_document_text(read_text_file(path), source=str(path))


def read_workflow_data(
    data: Any, *, source: str = "<input>", fmt: str | None = None
) -> ConversionResult:
    """Parsed JSON in any format this app reads, as a validated Glyphic document.

    Glyphic data is validated as is (no notes); ComfyUI (UI and API), React Flow, n8n
    and Node-RED data is converted, laid out when it has no positions, the result
    validated, and the conversion's grouped report returned. ``fmt`` forces a format.
    """
    from glyphic_desktop.document.formats import ConversionResult, convert
    from glyphic_desktop.document.layout import needs_layout, tidy_document

    if fmt is None:
        fmt = detect_format(data)
        if fmt is None:
            raise _fail(source, not_a_workflow_message(data))
    if fmt == "glyphic":
        if not isinstance(data, dict):
            raise _fail(source, not_a_workflow_message(data))
        return ConversionResult(_validated(data, source), [], "glyphic")
    with gc_paused():
        result = convert(data, source=source, fmt=fmt)
        if needs_layout(result.document):
            tidy_document(result.document)
        # A converter bug or a foreign file with clashing ids.
        validate_document(result.document, source=source)
    return result


def read_workflow_text(
    text: str, *, source: str = "<input>", fmt: str | None = None
) -> ConversionResult:
    """JSON text in any format this app reads, as a validated Glyphic document plus notes."""
    from glyphic_desktop.document.formats import ConversionResult

    with gc_paused():
        if fmt in (None, "glyphic"):
            document = _sound_glyphic_text(text, source)
            if document is not None:
                return ConversionResult(document, [], "glyphic")
        return read_workflow_data(parse_json_text(text, source=source), source=source, fmt=fmt)


def read_workflow_file(path: str | Path, fmt: str | None = None) -> ConversionResult:
    """A file in any format this app reads, as a validated Glyphic document plus notes."""
    return read_workflow_text(read_text_file(path), source=str(path), fmt=fmt)
