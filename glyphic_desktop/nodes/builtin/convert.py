"""The Convert node: items to a JSON, CSV or XLSX file, and such a file back to items.

To a file: the items (a list of objects; one object is one item) become a produced file
of the run (``files_dir()/<execution id>/<name>``), output as file info. From a file: the
input file info (``{"path": …}``, as Write file / HTTP download output) or ``path``
is read; CSV and XLSX rows become objects keyed by the header row. XLSX uses openpyxl.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import resolve_path
from glyphic_desktop.nodes.builtin.files import MAX_READ_BYTES, save_produced_file
from glyphic_desktop.nodes.builtin.items import as_items
from glyphic_desktop.nodes.registry import register_node

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MIME = {"json": "application/json", "csv": "text/csv", "xlsx": XLSX_MIME}


class ConvertFields(BaseModel):
    """Fields of the Convert node."""

    model_config = ConfigDict(extra="forbid")

    direction: Literal["to_file", "from_file"] = Field(
        default="to_file", description="Items to a file, or a file to items."
    )
    format: Literal["json", "csv", "xlsx"] = Field(default="csv", description="The file format.")
    file_name: str = Field(default="", description="Name of the file made (to_file).")
    path: str = Field(
        default="", description="The file to read (from_file; empty: the input's file)."
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV delimiter.")
    sheet: str = Field(default="", description="XLSX sheet (empty: the first).")


def _columns(items: list[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for item in items for key in item))


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def items_to_bytes(items: list[Any], fmt: str, delimiter: str = ",") -> bytes:
    """``items`` written as ``fmt``: columns are every key in first-seen order; nested
    values are JSON texts in CSV / XLSX; a missing field is an empty cell."""
    if fmt == "json":
        return json.dumps(items, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    rows = [item if isinstance(item, Mapping) else {"value": item} for item in items]
    columns = _columns(rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
        return buffer.getvalue().encode("utf-8")
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Items")
    sheet.append(columns)
    for row in rows:
        sheet.append([_cell(row.get(c)) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def bytes_to_items(data: bytes, fmt: str, delimiter: str = ",", sheet: str = "") -> Any:
    """The items in a file's ``data`` (JSON as parsed; CSV texts; XLSX typed cells)."""
    if fmt == "json":
        try:
            return json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NodeError(f"the file is not valid JSON: {exc}", field="format") from None
    if fmt == "csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise NodeError(
                f"the CSV file is not UTF-8 (byte {exc.start})", field="format"
            ) from None
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        return [{k: v for k, v in row.items() if k is not None} for row in reader]
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for a file that is no XLSX
        raise NodeError(f"the file is not an XLSX workbook: {exc}", field="format") from None
    try:
        if sheet and sheet not in book.sheetnames:
            raise NodeError(
                f"no sheet {sheet!r}; the workbook has {', '.join(book.sheetnames)}", field="sheet"
            )
        rows = (book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return []
        names = [str(h) if h is not None else f"column_{i + 1}" for i, h in enumerate(header)]
        items = []
        for row in rows:
            if all(cell is None for cell in row):
                continue
            cells = list(row) + [None] * (len(names) - len(row))  # trailing empties are cut
            items.append({n: _xlsx_value(v) for n, v in zip(names, cells, strict=False)})
        return items
    finally:
        book.close()


def _source_path(ctx: NodeContext, fields: ConvertFields) -> Path:
    if fields.path.strip():
        return resolve_path(ctx, fields.path)
    value = ctx.input
    if isinstance(value, Mapping) and isinstance(value.get("path"), str):
        return Path(value["path"])
    if isinstance(value, str) and value.strip():
        return resolve_path(ctx, value, "input")
    raise NodeError(
        "no file to read: set path, or connect a node that outputs a file (its path)",
        field="path",
    )


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_READ_BYTES:
            raise NodeError(f"{str(path)!r} is over {MAX_READ_BYTES} bytes", field="path")
        return path.read_bytes()
    except FileNotFoundError:
        raise NodeError(f"file not found: {str(path)!r}", field="path") from None
    except OSError as exc:
        raise NodeError(f"cannot read {str(path)!r}: {exc.strerror or exc}", field="path") from None


@register_node
class ConvertNode(NodeType):
    """Writes the items to a JSON / CSV / XLSX file, or reads such a file into items."""

    key: ClassVar[str] = "convert"
    title: ClassVar[str] = "Convert to/from file"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "file-spreadsheet"
    summary_field: ClassVar[str] = "format"
    description: ClassVar[str] = "Items to a JSON, CSV or XLSX file, or such a file to items."
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "any", "Items or file"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "any", "File or items"),)
    Fields: ClassVar[type[BaseModel]] = ConvertFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Convert in a worker thread (XLSX can take a while)."""
        fields: ConvertFields = ctx.fields  # type: ignore[assignment]
        if fields.direction == "to_file":
            items = as_items(ctx.input)
            data = await asyncio.to_thread(items_to_bytes, items, fields.format, fields.delimiter)
            name = fields.file_name.strip() or f"items.{fields.format}"
            if "." not in name:
                name += f".{fields.format}"
            info = await save_produced_file(ctx, data, name, mime_type=_MIME[fields.format])
            ctx.log("info", f"wrote {len(items)} item(s) to {info['path']}")
            return {"output": info}
        path = _source_path(ctx, fields)
        data = await asyncio.to_thread(_read, path)
        items = await asyncio.to_thread(
            bytes_to_items, data, fields.format, fields.delimiter, fields.sheet
        )
        return {"output": items}
