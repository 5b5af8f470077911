"""The Palette dock: categories, search, drag a type onto the canvas; the node search popup."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.ui.docks.palette import (
    NODE_TYPE_MIME,
    NodeSearchPopup,
    PaletteDock,
    node_type_from_mime,
)

from .helpers import make_window
from .helpers_dnd import drop_palette_item


def _palette(qtbot):
    dock = PaletteDock(default_registry())
    qtbot.addWidget(dock)
    dock.show()
    return dock


def test_types_grouped_by_category(qtbot):
    dock = _palette(qtbot)
    categories = [dock.tree.topLevelItem(i).text(0) for i in range(dock.tree.topLevelItemCount())]
    assert categories[:4] == ["Triggers", "Flow", "Data", "Network"]
    triggers = dock.tree.topLevelItem(0)
    assert {triggers.child(i).text(0) for i in range(triggers.childCount())} >= {
        "Manual trigger",
        "Schedule",
        "Webhook",
    }


def test_search_filters_fuzzily(qtbot):
    dock = _palette(qtbot)
    qtbot.keyClicks(dock.search, "htrq")
    assert dock.visible_keys()[0] == "http_request"
    dock.search.clear()
    qtbot.keyClicks(dock.search, "delay")
    assert dock.visible_keys()[0] == "delay"
    with qtbot.waitSignal(dock.typeActivated) as activated:
        qtbot.keyClick(dock.search, Qt.Key.Key_Return)
    assert activated.args == ["delay"]


def test_drag_payload_names_the_type(qtbot):
    dock = _palette(qtbot)
    mime = dock.tree.mimeData([dock.item_for("log")])
    assert mime.hasFormat(NODE_TYPE_MIME)
    assert node_type_from_mime(mime) == "log"
    assert mime.text() == "log"


def test_dropping_a_type_on_the_canvas_adds_it_there(qtbot, db):
    window = make_window(qtbot, db)
    window.show_canvas()  # past the start page
    window.view.set_zoom(1.0)
    target = QPoint(200, 150)
    assert drop_palette_item(window, "log", target)
    (node,) = window.model.doc.nodes
    assert node.type == "log"
    expected = window.view.snap(window.view.mapToScene(target))
    assert (node.pos[0], node.pos[1]) == (expected.x(), expected.y())
    assert window.scene.selected_node_ids() == [node.id]
    assert window.inspector_dock.panel.node_id == node.id
    window.undo_stack.undo()
    assert window.model.doc.nodes == []


def test_double_click_adds_at_the_view_centre(qtbot, db):
    window = make_window(qtbot, db)
    item = window.palette_dock.item_for("manual")
    window.palette_dock.tree.itemActivated.emit(item, 0)
    assert [n.type for n in window.model.doc.nodes] == ["manual"]


def test_node_search_popup_filters_and_picks(qtbot):
    registry = default_registry()
    allowed = [registry.get("log"), registry.get("delay")]
    popup = NodeSearchPopup(registry, allowed)
    qtbot.addWidget(popup)
    popup.show()
    assert set(popup.keys()) == {"log", "delay"}
    qtbot.keyClicks(popup.search, "del")
    assert popup.keys() == ["delay"]
    qtbot.keyClick(popup.search, Qt.Key.Key_Return)
    assert popup.chosen_key == "delay"


def test_tab_on_the_canvas_opens_the_node_search(qtbot, db):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    window = make_window(qtbot, db)

    def pick() -> None:
        popups = [
            w
            for w in QApplication.topLevelWidgets()
            if isinstance(w, NodeSearchPopup) and w.isVisible()
        ]
        if not popups:
            QTimer.singleShot(20, pick)
            return
        qtbot.keyClicks(popups[0].search, "delay")
        qtbot.keyClick(popups[0].search, Qt.Key.Key_Return)

    QTimer.singleShot(20, pick)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Tab)
    assert [n.type for n in window.model.doc.nodes] == ["delay"]
    assert window.scene.selected_node_ids() == [window.model.doc.nodes[0].id]
