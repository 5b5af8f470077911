"""Colours and metrics of the canvas (dark and light), shared by every graphics item."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPen

#: Node geometry, in scene units.
NODE_WIDTH = 200.0
HEADER_HEIGHT = 26.0
ROW_HEIGHT = 22.0
PORT_RADIUS = 5.0
PORT_HIT_RADIUS = 10.0
GROUP_HEADER = 28.0
GRID_SIZE = 20.0

#: Level of detail (view scale) from which nodes draw in full (icon, title, summary, port
#: names). Below it they draw simplified: category colour, state border and a title label
#: at a fixed on-screen size (:data:`LABEL_PX`), like a map's place names.
DETAIL_LOD = 0.5
#: From this view scale ports are drawn and can be grabbed (in the simplified drawing too).
PORT_LOD = 0.3
#: Below this view scale nodes are plain coloured blocks (no Python paint per node).
LABEL_LOD = 0.1
#: Pixel size of the simplified drawing's title label on screen, whatever the zoom.
LABEL_PX = 11
#: Widest title label on screen (pixels): wider titles are elided.
LABEL_MAX_PX = 110.0
#: Below this view scale, wires draw as straight lines.
CURVE_LOD = 0.35
#: Below this view scale, wires are not drawn at all.
WIRE_LOD = 0.06
#: A wire a later edit made type-incompatible: drawn dashed (dash and gap in pen
#: widths) in the theme's ``refuse`` colour, a little wider than a normal wire (2.0).
INVALID_WIRE_WIDTH = 2.5
INVALID_WIRE_DASH = (4.0, 2.5)

#: Colour of each run state (border and badge) and of the pinned / disabled marks.
STATE_COLORS: dict[str, str] = {
    "running": "#42a5f5",
    "done": "#4caf50",
    "failed": "#ef5350",
    "skipped": "#9aa0a6",
    "cancelled": "#ff9800",
    "pinned": "#ab47bc",
    "disabled": "#7d848c",
}

#: Colour of each port type.
PORT_COLORS: dict[str, str] = {
    "any": "#9aa0a6",
    "string": "#4caf50",
    "number": "#42a5f5",
    "boolean": "#ef5350",
    "object": "#ffb74d",
    "array": "#ba68c8",
    "file": "#4dd0e1",
}


@dataclass
class CanvasTheme:
    """The canvas palette."""

    name: str
    background: QColor
    grid_minor: QColor
    grid_major: QColor
    node_body: QColor
    node_header: QColor
    node_block: QColor
    node_text: QColor
    node_subtext: QColor
    node_border: QColor
    selection: QColor
    wire: QColor
    wire_selected: QColor
    accept: QColor
    refuse: QColor
    unknown: QColor
    group_fill: QColor
    group_border: QColor
    group_text: QColor
    extra: dict[str, QColor] = field(default_factory=dict)


DARK = CanvasTheme(
    name="dark",
    background=QColor("#1e1f22"),
    grid_minor=QColor("#26282c"),
    grid_major=QColor("#303338"),
    node_body=QColor("#2b2d31"),
    node_header=QColor("#3a3f4b"),
    node_block=QColor("#4a5060"),
    node_text=QColor("#e8eaed"),
    node_subtext=QColor("#9aa0a6"),
    node_border=QColor("#15161a"),
    selection=QColor("#f0b429"),
    wire=QColor("#8a9099"),
    wire_selected=QColor("#f0b429"),
    accept=QColor("#4caf50"),
    refuse=QColor("#ef5350"),
    unknown=QColor("#c0392b"),
    group_fill=QColor(90, 120, 170, 45),
    group_border=QColor(120, 150, 200, 140),
    group_text=QColor("#c8d4e8"),
    extra={"expression": QColor("#d7a8ff"), "label_back": QColor(30, 31, 34, 200)},
)

LIGHT = CanvasTheme(
    name="light",
    background=QColor("#f5f6f8"),
    grid_minor=QColor("#eceef1"),
    grid_major=QColor("#dde0e5"),
    node_body=QColor("#ffffff"),
    node_header=QColor("#dfe4ee"),
    node_block=QColor("#b8c0d0"),
    node_text=QColor("#1f2328"),
    node_subtext=QColor("#5f6670"),
    node_border=QColor("#9aa3b0"),
    selection=QColor("#d98e04"),
    wire=QColor("#6b7280"),
    wire_selected=QColor("#d98e04"),
    accept=QColor("#2e7d32"),
    refuse=QColor("#c62828"),
    unknown=QColor("#c0392b"),
    group_fill=QColor(90, 120, 170, 35),
    group_border=QColor(90, 120, 170, 140),
    group_text=QColor("#2b3a55"),
    extra={"expression": QColor("#8a3ab9"), "label_back": QColor(255, 255, 255, 215)},
)

THEMES: dict[str, CanvasTheme] = {"dark": DARK, "light": LIGHT}


def invalid_wire_pen(theme: CanvasTheme, selected: bool = False) -> QPen:
    """The dashed pen of a wire whose types no longer fit, in ``theme``'s refusal colour
    (its selection colour when ``selected``, still dashed so the mark stays visible)."""
    color = theme.wire_selected if selected else theme.refuse
    pen = QPen(color, INVALID_WIRE_WIDTH + (0.5 if selected else 0.0))
    pen.setStyle(Qt.PenStyle.CustomDashLine)
    pen.setDashPattern(list(INVALID_WIRE_DASH))
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    return pen
