"""The HTML extract node: values picked from HTML with CSS selectors.

Parsing is BeautifulSoup (html.parser, forgiving of broken markup) and selection is
soupsieve, BeautifulSoup's CSS selector engine (``div.price > span``, ``a[href]``,
``:nth-child``...).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin.data import set_path
from glyphic_desktop.nodes.builtin.items import MISSING, get_path
from glyphic_desktop.nodes.registry import register_node


class Extraction(BaseModel):
    """One value to extract: ``name`` = what ``selector`` finds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Output field name.")
    selector: str = Field(
        min_length=1, description="CSS selector, e.g. h1, a.next, td:nth-child(2)."
    )
    returns: Literal["text", "html", "attribute"] = Field(
        default="text", description="The element's text, its inner HTML, or an attribute."
    )
    attribute: str = Field(default="", description="The attribute (returns: attribute), e.g. href.")
    all: bool = Field(default=False, description="A list of every match (else the first, or null).")


class HtmlExtractFields(BaseModel):
    """Fields of the HTML extract node."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        default="", description="The item's field holding the HTML (empty: a text input itself)."
    )
    extractions: list[Extraction] = Field(
        default_factory=list, min_length=1, description="What to extract."
    )
    trim: bool = Field(default=True, description="Collapse whitespace in texts.")


def extract(html: str, fields: HtmlExtractFields) -> dict[str, Any]:
    """``{name: value}`` for each extraction on ``html``."""
    from bs4 import BeautifulSoup
    from soupsieve import SelectorSyntaxError

    soup = BeautifulSoup(html, "html.parser")
    out: dict[str, Any] = {}
    for ext in fields.extractions:
        try:
            found = soup.select(ext.selector) if ext.all else [soup.select_one(ext.selector)]
        except SelectorSyntaxError as exc:
            raise NodeError(
                f"extraction {ext.name!r}: {ext.selector!r} is not a CSS selector: "
                f"{str(exc).splitlines()[0]}",
                field="extractions",
            ) from None
        values = []
        for element in found:
            if element is None:
                values.append(None)
            elif ext.returns == "html":
                values.append(element.decode_contents())
            elif ext.returns == "attribute":
                value = element.get(ext.attribute)
                values.append(" ".join(value) if isinstance(value, list) else value)
            else:
                text = element.get_text(" " if fields.trim else "")
                values.append(" ".join(text.split()) if fields.trim else text)
        out[ext.name] = values if ext.all else values[0]
    return out


@register_node
class HtmlExtractNode(NodeType):
    """Extracts values from HTML with CSS selectors.

    A text input is the HTML (output: one object of the extracted fields); an object
    item has its HTML in ``field`` (the extracted fields are added to it); a list does
    this per item. A selector that matches nothing gives null (``all``: an empty list).
    """

    key: ClassVar[str] = "html_extract"
    title: ClassVar[str] = "HTML extract"
    category: ClassVar[str] = "Data"
    icon: ClassVar[str] = "code-xml"
    summary_field: ClassVar[str] = "extractions"
    description: ClassVar[str] = "Picks texts, HTML or attributes out of HTML with CSS selectors."
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "any", "HTML or items"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "any", "Items"),)
    Fields: ClassVar[type[BaseModel]] = HtmlExtractFields

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Extract per item."""
        fields: HtmlExtractFields = ctx.fields  # type: ignore[assignment]
        value = ctx.input
        if isinstance(value, list):
            return {"output": [self._one(fields, v, f"item {n}") for n, v in enumerate(value)]}
        return {"output": self._one(fields, value, "input")}

    @staticmethod
    def _one(fields: HtmlExtractFields, item: Any, where: str) -> dict[str, Any]:
        if isinstance(item, str) and not fields.field:
            return extract(item, fields)
        html = get_path(item, fields.field) if fields.field else MISSING
        if html is MISSING or html is None:
            what = f"field {fields.field!r}" if fields.field else "HTML text"
            raise NodeError(f"{where}: no {what} to read", field="field")
        if not isinstance(html, str):
            raise NodeError(
                f"{where}: field {fields.field!r} holds a {type(html).__name__}, not HTML text",
                field="field",
            )
        base = copy.deepcopy(dict(item)) if isinstance(item, Mapping) else {}
        for name, value in extract(html, fields).items():
            set_path(base, name, value)
        return base
