"""A node on the canvas: a plain block painted by Qt, its details painted by the scene.

:class:`NodeItem` is a ``QGraphicsRectItem`` without a Python ``paint``: at the lowest
zoom the block (in the node's category colour, or its run state's) is all that is drawn,
so painting 10,000 nodes makes no Python call per node. Above ``LABEL_LOD`` the scene's
``drawForeground`` calls, for the nodes in the exposed area only,
:func:`paint_zoomed_out` (header strip, state border, ports from ``PORT_LOD``, and the
title at a fixed on-screen size under the node, like a map label) or, from
``DETAIL_LOD``, :meth:`NodeItem.paint_detail` (icon, title, summary line, typed ports with
their names, state border and badge, pinned / disabled marks). One graphics item per
node; ports are not items. A running node's border moves (a dash pattern stepped by one
shared timer that runs only while some node runs).

Text is drawn with cached ``QStaticText`` (built on first paint), not text items.
Items never change the document: gestures push commands (see ``interactions.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPen,
    QPixmap,
    QStaticText,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from glyphic_desktop.ui.canvas.port_item import PortRef, paint_port, port_center
from glyphic_desktop.ui.canvas.style import (
    HEADER_HEIGHT,
    LABEL_MAX_PX,
    LABEL_PX,
    NODE_WIDTH,
    PORT_HIT_RADIUS,
    PORT_LOD,
    PORT_RADIUS,
    ROW_HEIGHT,
    STATE_COLORS,
    CanvasTheme,
)
from glyphic_desktop.ui.graph_model import PortInfo

if TYPE_CHECKING:
    from glyphic_desktop.ui.canvas.edge_item import EdgeItem

_FONT: QFont | None = None
_BOLD: QFont | None = None
_LABELS: dict[tuple[str, bool], QStaticText] = {}

#: Status badge colours (set by the window while a run is going).
STATUS_COLORS = STATE_COLORS
#: What a badge says for a state without its own text.
_BADGE_TEXT = {"failed": "error", "skipped": "skipped", "cancelled": "cancelled"}
#: Icon size in scene units, and the x where the title starts.
ICON = 16.0
TITLE_X = 29.0


class NodeVisual(NamedTuple):
    """How a node looks besides its text: icon name, header colour, engine marks."""

    icon: str = "node"
    color: str = "#7f8a99"
    disabled: bool = False
    pinned: bool = False
    expression: bool = False


_PLAIN = NodeVisual()


def _fonts() -> tuple[QFont, QFont]:
    global _FONT, _BOLD
    if _FONT is None:
        _FONT = QFont()
        _FONT.setPointSizeF(8.5)
        _BOLD = QFont(_FONT)
        _BOLD.setBold(True)
    return _FONT, _BOLD  # type: ignore[return-value]


_LABEL_FONT: QFont | None = None


def label_font() -> QFont:
    """The simplified drawing's title font: ``LABEL_PX`` pixels high on screen."""
    global _LABEL_FONT
    if _LABEL_FONT is None:
        _LABEL_FONT = QFont()
        _LABEL_FONT.setPixelSize(LABEL_PX)
        _LABEL_FONT.setBold(True)
    return _LABEL_FONT


_ICONS: dict[tuple[str, int], QPixmap] = {}
_SVG_TEXT: dict[str, str] = {}


def icon_pixmap(name: str, color: QColor, size: int = 32) -> QPixmap:
    """The node icon ``resources/icons/nodes/<name>.svg`` stroked in ``color`` (cached; the
    generic node icon when there is no such file)."""
    key = (name, color.rgba())
    found = _ICONS.get(key)
    if found is not None:
        return found
    from PySide6.QtCore import QByteArray
    from PySide6.QtSvg import QSvgRenderer

    from glyphic_desktop import paths

    text = _SVG_TEXT.get(name)
    if text is None:
        folder = paths.resources_dir() / "icons" / "nodes"
        path = folder / f"{name}.svg"
        if not path.is_file():
            path = folder / "node.svg"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            text = ""
        _SVG_TEXT[name] = text
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    if text:
        renderer = QSvgRenderer(QByteArray(text.replace("#000000", color.name()).encode()))
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
    found = _ICONS[key] = QPixmap.fromImage(image)
    return found


def _static(text: str, font: QFont, width: float) -> QStaticText:
    elided = QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)
    static = QStaticText(elided)
    static.setTextFormat(Qt.TextFormat.PlainText)
    static.prepare(font=font)
    return static


def _port_label(name: str, output: bool) -> QStaticText:
    key = (name, output)
    label = _LABELS.get(key)
    if label is None:
        label = _LABELS[key] = _static(name, _fonts()[0], NODE_WIDTH / 2 - 14)
    return label


_BRUSHES: dict[int, QBrush] = {}
_LAYOUTS: dict[tuple, tuple[dict[str, QPointF], dict[str, QPointF]]] = {}


def _brush(color: QColor) -> QBrush:
    key = color.rgba()
    brush = _BRUSHES.get(key)
    if brush is None:
        brush = _BRUSHES[key] = QBrush(color)
    return brush


def selection_brush(theme: CanvasTheme) -> QBrush:
    """The block's brush while selected (:meth:`NodeItem.apply_theme` of a selected node;
    a bulk selection sets it directly)."""
    return _brush(theme.selection)


def _layout(
    inputs: tuple[PortInfo, ...], outputs: tuple[PortInfo, ...], width: float
) -> tuple[dict[str, QPointF], dict[str, QPointF]]:
    """Port centres for a port list and width (shared by every node of the same shape)."""
    key = (tuple(p.name for p in inputs), tuple(p.name for p in outputs), width)
    found = _LAYOUTS.get(key)
    if found is None:
        found = _LAYOUTS[key] = (
            {p.name: port_center(i, False, width) for i, p in enumerate(inputs)},
            {p.name: port_center(i, True, width) for i, p in enumerate(outputs)},
        )
    return found


_MIXED: dict[tuple[int, int, float], QColor] = {}


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a fraction ``t`` towards ``b`` (remembered: a few colours serve
    thousands of nodes)."""
    key = (a.rgba(), b.rgba(), t)
    found = _MIXED.get(key)
    if found is None:
        if len(_MIXED) > 4096:  # custom colours: stay bounded
            _MIXED.clear()
        found = _MIXED[key] = QColor(
            round(a.red() + (b.red() - a.red()) * t),
            round(a.green() + (b.green() - a.green()) * t),
            round(a.blue() + (b.blue() - a.blue()) * t),
        )
    return found


_QCOLORS: dict[str, QColor] = {}


def _qcolor(name: str) -> QColor:
    color = _QCOLORS.get(name)
    if color is None:
        color = _QCOLORS[name] = QColor(name)
    return color


class RunningAnimator(QObject):
    """Moves the border of every running node of one scene: one timer, on only while a
    node runs (no node running: no timer, no repaint)."""

    INTERVAL_MS = 80

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.items: set[NodeItem] = set()
        self.phase = 0.0
        self.ticks = 0
        self.timer = QTimer(self)
        self.timer.setInterval(self.INTERVAL_MS)
        self.timer.timeout.connect(self._tick)

    def track(self, item: NodeItem, running: bool) -> None:
        """Animate ``item`` (or stop animating it)."""
        if running:
            self.items.add(item)
            if not self.timer.isActive():
                self.timer.start()
        else:
            self.items.discard(item)
            if not self.items:
                self.timer.stop()

    def _tick(self) -> None:
        self.ticks += 1
        self.phase = (self.phase - 1.5) % 12.0
        for item in list(self.items):
            try:
                if item.scene() is None or item.status != "running":
                    self.items.discard(item)
                    continue
                item.refresh()
            except RuntimeError:  # the item's C++ side is gone (scene rebuilt)
                self.items.discard(item)
        if not self.items:
            self.timer.stop()


def animator(scene: Any) -> RunningAnimator:
    """The scene's :class:`RunningAnimator` (made on first use)."""
    found = getattr(scene, "_running_animator", None)
    if found is None:
        found = RunningAnimator(scene)
        scene._running_animator = found
    return found


class NodeItem(QGraphicsRectItem):
    """The block of one node; knows its ports and its wires, and paints its details."""

    #: How far ports stick out of the block (the scene repaints this margin too).
    MARGIN = PORT_RADIUS + 5.0

    # Per-node state; class-level defaults keep building 10,000 items cheap.
    inputs: tuple[PortInfo, ...] = ()
    outputs: tuple[PortInfo, ...] = ()
    in_centers: dict[str, QPointF] = {}  # noqa: RUF012 (replaced, never mutated)
    out_centers: dict[str, QPointF] = {}  # noqa: RUF012
    title = ""
    subtitle = ""
    preview = ""
    unknown = False
    width = 0.0
    height = 0.0
    status: str | None = None
    status_text = ""
    visual: NodeVisual = _PLAIN
    texts: dict[str, Any] | None = None
    #: ``(port_name, is_output, state)`` while a dragged wire or the cursor hovers a port.
    highlight: tuple[str, bool, str] | None = None
    #: Whether the scene draws only some of the type's outputs (``scene.DISPLAY_OUTPUTS``).
    filtered = False

    def __init__(self, ctx: Any, node_id: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.node_id = node_id
        self.edges: list[EdgeItem] = []
        self.setPen(_NO_PEN)
        self.setFlags(_FLAGS)

    # -- content ------------------------------------------------------------------------

    def configure(
        self,
        title: str,
        subtitle: str,
        inputs: tuple[PortInfo, ...],
        outputs: tuple[PortInfo, ...],
        preview: str,
        unknown: bool,
        size: list[float] | None,
        visual: NodeVisual | None = None,
    ) -> None:
        """Set what the node shows; recomputes its size and port positions."""
        self.title, self.subtitle, self.preview, self.unknown = title, subtitle, preview, unknown
        self.inputs, self.outputs = inputs, outputs
        self.visual = visual or _PLAIN
        rows = max(len(inputs), len(outputs), 1)
        height = HEADER_HEIGHT + rows * ROW_HEIGHT + (ROW_HEIGHT if preview or unknown else 0) + 6
        width = NODE_WIDTH
        if size:
            width = max(float(size[0]), 80.0)
            height = max(float(size[1]), height)
        if width != self.width or height != self.height:
            self.width, self.height = width, height
            self.setRect(0.0, 0.0, width, height)
        self.in_centers, self.out_centers = _layout(inputs, outputs, width)
        self.apply_theme(self.ctx.theme)
        self.texts = None
        self.refresh()

    def state_color(self) -> QColor | None:
        """The colour of the node's run state (None when it has none)."""
        if self.status is None:
            return None
        return _qcolor(STATE_COLORS.get(self.status, STATE_COLORS["skipped"]))

    def apply_theme(self, theme: CanvasTheme) -> None:
        """Colour the block (what the lowest zoom shows) for ``theme``: the selection
        colour, else the run state's, else the category's (greyed when disabled)."""
        visual = self.visual
        if self.isSelected():
            self.setBrush(selection_brush(theme))
            return
        if self.unknown:
            color = theme.unknown
        elif self.status in ("running", "failed", "cancelled"):
            color = self.state_color() or theme.node_block
        elif visual.disabled or self.status == "skipped":
            color = _mix(theme.node_body, theme.node_block, 0.35)
        else:
            color = _mix(theme.node_body, _qcolor(visual.color), 0.45)
        self.setBrush(_brush(color))

    def set_status(self, status: str | None, text: str = "") -> None:
        """Show a run state: ``running`` (moving border), ``done`` (``text``: the item
        count), ``failed``, ``skipped`` (dimmed), ``cancelled``; None clears it."""
        was = self.status
        self.status, self.status_text = status, text
        self.texts = None
        if (was == "running") != (status == "running"):
            animator(self.ctx).track(self, status == "running")
        self.apply_theme(self.ctx.theme)
        self.refresh()

    def set_highlight(self, highlight: tuple[str, bool, str] | None) -> None:
        """Show (or clear) the hover state of one port (``HOVER``, ``ACCEPT``, ``REFUSE``)."""
        if highlight != self.highlight:
            self.highlight = highlight
            self.refresh()

    def detail_rect(self) -> QRectF:
        """Scene rect covered by the block and its ports."""
        m = self.MARGIN
        pos = self.pos()
        return QRectF(pos.x() - m, pos.y() - 2.0, self.width + 2 * m, self.height + 4.0)

    def refresh(self) -> None:
        """Repaint the node including the ports sticking out of the block (and, zoomed
        out, its label, which may be wider than the node)."""
        scene = self.ctx
        if scene.building:
            return
        if scene.details_visible:
            scene.update(self.detail_rect())
        elif getattr(scene, "labels_visible", False):
            rect = self.detail_rect()
            scale = max(getattr(scene, "view_scale", 1.0), 0.01)
            spill = max(0.0, (LABEL_MAX_PX + 12.0) / scale - rect.width()) / 2
            scene.update(rect.adjusted(-spill, 0.0, spill, (LABEL_PX + 8.0) / scale))

    # -- geometry -----------------------------------------------------------------------

    def input_anchor(self, name: str) -> QPointF:
        """Node-local point where a wire meets input ``name``."""
        return self.in_centers.get(name) or QPointF(0.0, self.height / 2)

    def output_anchor(self, name: str) -> QPointF:
        """Node-local point where a wire leaves output ``name``."""
        return self.out_centers.get(name) or QPointF(self.width, self.height / 2)

    def port_at(self, scene_pos: QPointF) -> PortRef | None:
        """The port under ``scene_pos`` (within ``PORT_HIT_RADIUS``, and never less than
        8 screen pixels when zoomed out), or None."""
        local = scene_pos - self.pos()
        scale = max(getattr(self.ctx, "view_scale", 1.0), 0.01)
        radius = max(PORT_HIT_RADIUS, 8.0 / scale)
        limit = radius * radius
        best: tuple[float, PortRef] | None = None
        for port, output, c in self._ports():
            dx, dy = local.x() - c.x(), local.y() - c.y()
            d = dx * dx + dy * dy
            if d <= limit and (best is None or d < best[0]):
                best = (d, PortRef(self.node_id, port.name, output, port.type))
        return best[1] if best is not None else None

    def _ports(self) -> Iterator[tuple[Any, bool, QPointF]]:
        """Every port, inputs first: ``(port, is_output, node-local centre)``."""
        for output, ports, centers in (
            (False, self.inputs, self.in_centers),
            (True, self.outputs, self.out_centers),
        ):
            for port in ports:
                yield port, output, centers[port.name]

    def _port_looks(self) -> Iterator[tuple[Any, bool, QPointF, bool, str | None]]:
        """What painting a port needs: ``(port, is_output, node-local centre, wired,
        highlight state or None)``."""
        connected = self.connected_ports()
        highlight = self.highlight
        for port, output, c in self._ports():
            state = None
            if highlight is not None and highlight[0] == port.name and highlight[1] == output:
                state = highlight[2]
            yield port, output, c, (port.name, output) in connected, state

    def port_scene_pos(self, name: str, output: bool) -> QPointF:
        """Scene position of a port."""
        return self.pos() + (self.output_anchor(name) if output else self.input_anchor(name))

    def connected_ports(self) -> set[tuple[str, bool]]:
        """``(port_name, is_output)`` of every port with a wire."""
        found = set()
        for edge in self.edges:
            if edge.source is self:
                found.add((edge.source_port, True))
            if edge.target is self:
                found.add((edge.target_port, False))
        return found

    def move_to(self, x: float, y: float) -> None:
        """Move the block and re-route its wires (only its own: node → edges index)."""
        scene = self.ctx
        if (scene.details_visible or getattr(scene, "labels_visible", False)) and not (
            scene.building
        ):
            self.refresh()
            self.setPos(x, y)
            self.refresh()
        else:
            self.setPos(x, y)
        for edge in self.edges:
            edge.adjust()

    # -- painting -----------------------------------------------------------------------

    def badges(self) -> list[tuple[str, str]]:
        """``(text, state)`` of the badges in the header, right to left."""
        found = []
        if self.status:
            text = self.status_text or _BADGE_TEXT.get(self.status, self.status)
            if self.status == "done" and not self.status_text:
                text = "done"
            found.append((text, self.status))
        if self.visual.pinned:
            found.append(("pinned", "pinned"))
        if self.visual.disabled:
            found.append(("disabled", "disabled"))
        return found

    def _texts(self) -> dict[str, Any]:
        if self.texts is None:
            font, bold = _fonts()
            width = self.width - 16
            badges = [(_static(text, font, 80), state) for text, state in self.badges()]
            used = sum(b.size().width() + 16.0 + 8.0 * (s == "running") for b, s in badges)
            self.texts = {
                "title": _static(self.title, bold, max(20.0, width - used - TITLE_X + 8)),
                "badges": badges,
            }
            if self.unknown:
                self.texts["preview"] = _static(f"unknown type: {self.subtitle}", font, width)
            elif self.preview:
                self.texts["preview"] = _static(self.preview, font, width)
        return self.texts

    def _border(self, theme: CanvasTheme, phase: float) -> QPen:
        if self.isSelected():
            return QPen(theme.selection, 2.5)
        if self.unknown:
            return QPen(theme.unknown, 1.5, Qt.PenStyle.DashLine)
        state = self.state_color()
        if state is not None and self.status != "skipped":
            if self.status == "running":
                pen = QPen(state, 2.5, Qt.PenStyle.CustomDashLine)
                pen.setDashPattern([3.0, 3.0])
                pen.setDashOffset(phase)
                return pen
            if self.status == "cancelled":
                return QPen(state, 2.0, Qt.PenStyle.DashLine)
            return QPen(state, 2.0 if self.status == "failed" else 1.5)
        return QPen(theme.node_border, 1.0)

    def _dimmed(self) -> bool:
        return self.visual.disabled or self.status == "skipped"

    def paint_detail(self, painter: QPainter, theme: CanvasTheme) -> None:
        """Draw body, header strip, icon, title, badges, ports with names and the summary
        line (painter in node coordinates)."""
        texts = self._texts()
        w, h = self.width, self.height
        visual = self.visual
        color = _qcolor(visual.color)
        dimmed = self._dimmed()
        if dimmed:
            painter.setOpacity(0.45)
        phase = animator(self.ctx).phase if self.status == "running" else 0.0
        body = QRectF(0.0, 0.0, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.node_body)
        painter.drawRoundedRect(body, 5.0, 5.0)
        painter.fillRect(QRectF(0.5, 3.0, w - 1.0, HEADER_HEIGHT - 3.0), theme.node_header)
        painter.setBrush(color)
        painter.drawRoundedRect(QRectF(0.0, 0.0, w, 6.0), 3.0, 3.0)
        painter.fillRect(QRectF(0.0, 3.0, w, 1.5), color)
        painter.drawPixmap(QRectF(7.0, 6.0, ICON, ICON), icon_pixmap(visual.icon, color), _ICON_SRC)
        painter.setPen(theme.node_text)
        painter.drawStaticText(QPointF(TITLE_X, 7.0), texts["title"])
        x = w - 6.0
        for label, state in texts["badges"]:
            size = label.size()
            shift = 8.0 if state == "running" else 0.0
            pill = QRectF(x - size.width() - 12.0 - shift, 7.0, size.width() + 12.0 + shift, 15.0)
            badge = _qcolor(STATE_COLORS.get(state, STATE_COLORS["skipped"]))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_mix(theme.node_header, badge, 0.35))
            painter.drawRoundedRect(pill, 7.5, 7.5)
            painter.setBrush(badge)
            if state == "running":  # a dot that pulses with the border's phase
                r = 2.0 + abs(phase - 6.0) / 6.0 * 1.5
                painter.drawEllipse(QPointF(pill.left() + 6.0, pill.center().y()), r, r)
            painter.setPen(theme.node_text)
            painter.drawStaticText(QPointF(pill.left() + 6.0 + shift, 7.5), label)
            x = pill.left() - 4.0
        for port, output, c, wired, state in self._port_looks():
            label = _port_label(port.title or port.name, output)
            lx = c.x() - label.size().width() - 10.0 if output else c.x() + 10.0
            painter.setPen(theme.node_subtext)
            painter.drawStaticText(QPointF(lx, c.y() - 8.0), label)
            paint_port(
                painter, c, port.type, wired, state, theme.node_body, theme.accept, theme.refuse
            )
        preview = texts.get("preview")
        if preview is not None:
            y = h - ROW_HEIGHT - 2.0
            painter.fillRect(QRectF(6.0, y - 1.0, w - 12.0, 1.0), theme.grid_major)
            if self.unknown:
                painter.setPen(theme.unknown)
            elif visual.expression:
                painter.setPen(theme.extra.get("expression", theme.node_subtext))
            else:
                painter.setPen(theme.node_subtext)
            painter.drawStaticText(QPointF(8.0, y + 2.0), preview)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(self._border(theme, phase))
        painter.drawRoundedRect(body, 5.0, 5.0)
        if dimmed:
            painter.setOpacity(1.0)

    def label_text(self, max_px: float) -> QStaticText:
        """The title label of the simplified drawing, at most ``max_px`` wide (cached)."""
        return self._label(max_px)[0]

    def _label(self, max_px: float) -> tuple[QStaticText, float, float]:
        """``(label, width, height)`` for ``max_px`` (cached per 8-pixel step)."""
        texts = self.texts
        if texts is None:
            texts = self._texts()
        key = ("label", round(max_px / 8.0))
        found = texts.get(key)
        if found is None:
            label = _static(self.title, label_font(), max_px)
            size = label.size()
            found = texts[key] = (label, size.width(), size.height())
        return found

    def paint_simple(self, painter: QPainter, theme: CanvasTheme, scale: float) -> None:
        """The zoomed-out drawing of the node itself (painter in scene coordinates at view
        ``scale``): header strip in the category colour, state border, and ports from
        ``PORT_LOD``. Its title label is drawn by :func:`paint_zoomed_out`."""
        x, y = self.pos().x(), self.pos().y()
        w, h = self.width, self.height
        dimmed = self.visual.disabled or self.status == "skipped"
        if dimmed:
            painter.setOpacity(0.5)
        painter.fillRect(QRectF(x, y, w, HEADER_HEIGHT), _qcolor(self.visual.color))
        if self.status is not None or self.unknown or self.isSelected():
            phase = animator(self.ctx).phase if self.status == "running" else 0.0
            pen = self._border(theme, phase)
            if pen.color() != theme.node_border:
                pen.setWidthF(pen.widthF() * 1.2 / scale)
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(x, y, w, h))
        if scale >= PORT_LOD:
            radius = max(PORT_RADIUS, 3.5 / scale)  # at least 7 pixels across
            for port, _output, c, wired, state in self._port_looks():
                paint_port(
                    painter,
                    QPointF(x + c.x(), y + c.y()),
                    port.type,
                    wired,
                    state,
                    theme.node_body,
                    theme.accept,
                    theme.refuse,
                    radius,
                )
        if dimmed:
            painter.setOpacity(1.0)


#: Side of the grid cells (screen pixels) the label placement looks up.
_CELL = 128.0


def _cells(x1: float, y1: float, x2: float, y2: float) -> list[tuple[int, int]]:
    c = _CELL
    a, b, cx2, cy2 = int(x1 // c), int(y1 // c), int(x2 // c), int(y2 // c)
    if a == cx2 and b == cy2:
        return [(a, b)]
    return [(cx, cy) for cx in range(a, cx2 + 1) for cy in range(b, cy2 + 1)]


def paint_zoomed_out(
    painter: QPainter, theme: CanvasTheme, scale: float, items: list[NodeItem]
) -> int:
    """Draw ``items`` zoomed out (painter in scene coordinates, view scale ``scale``, no
    rotation): each node simplified (:meth:`NodeItem.paint_simple`), then the title
    labels, ``LABEL_PX`` high on screen, under their nodes like map labels under their
    pins. A label covers no other label, no other node, and not the strip under another
    node (kept for that node's own label): the whole title when it has room, else an
    elided one down to the node's width, else none. Returns how many labels were drawn."""
    world = painter.worldTransform()
    s, tx, ty = world.m11(), world.dx(), world.dy()
    strip = LABEL_PX + 6.0
    # Screen boxes of the nodes and the strips under them, by grid cell.
    blocked: dict[tuple[int, int], list[tuple[float, float, float, float, NodeItem]]] = {}
    screen = []
    for item in items:
        item.paint_simple(painter, theme, scale)
        pos = item.pos()
        x1, y1 = pos.x() * s + tx, pos.y() * s + ty
        x2, y2 = x1 + item.width * s, y1 + item.height * s
        screen.append((item, x1, y2, x2 - x1))
        box = (x1, y1, x2, y2 + strip, item)
        for cell in _cells(x1, y1, x2, y2 + strip):
            blocked.setdefault(cell, []).append(box)
    labels: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
    chosen = []
    for item, left, bottom, node_px in screen:
        widths = [LABEL_MAX_PX]
        if node_px < LABEL_MAX_PX - 6.0:
            widths.append(max(30.0, node_px))
        centre = left + node_px / 2
        top = bottom + 2.0
        for max_px in widths:
            text, width, height = item._label(max_px)
            x1 = centre - width / 2 - 3.0
            x2, y2 = x1 + width + 6.0, top + height + 2.0
            cells = _cells(x1, top, x2, y2)
            clash = False
            for cell in cells:
                for a1, b1, a2, b2 in labels.get(cell, ()):
                    if a1 < x2 and x1 < a2 and b1 < y2 and top < b2:
                        clash = True
                        break
                if clash:
                    break
                for a1, b1, a2, b2, owner in blocked.get(cell, ()):
                    if owner is not item and a1 < x2 and x1 < a2 and b1 < y2 and top < b2:
                        clash = True
                        break
                if clash:
                    break
            if not clash:
                for cell in cells:
                    labels.setdefault(cell, []).append((x1, top, x2, y2))
                chosen.append((item, text, x1, top, x2 - x1, y2 - top))
                break
    if not chosen:
        return 0
    painter.setWorldTransform(_IDENTITY)
    back = theme.extra.get("label_back", theme.background)
    for _, _, x1, top, w, h in chosen:
        painter.fillRect(QRectF(x1, top, w, h), back)
    painter.setPen(theme.node_text)
    for item, text, x1, top, _, _ in chosen:
        dimmed = item.visual.disabled or item.status == "skipped"
        if dimmed:
            painter.setOpacity(0.5)
        painter.drawStaticText(QPointF(x1 + 3.0, top + 1.0), text)
        if dimmed:
            painter.setOpacity(1.0)
    painter.setWorldTransform(world)
    return len(chosen)


_NO_PEN = QPen(Qt.PenStyle.NoPen)
_FLAGS = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
_ICON_SRC = QRectF(0.0, 0.0, 32.0, 32.0)
_IDENTITY = QTransform()
