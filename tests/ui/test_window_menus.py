"""Menus where a person looks for them: right-click menus on nodes, wires, groups and the
canvas; View (grid, snap, minimap, theme, reset layout), Help, Edit > Group / Ungroup;
double-click on a group's title renames it. Real mouse and key events throughout."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from glyphic_desktop.ui.commands import ConnectCommand, MoveCommand

from .helpers import make_window


def two_wired_nodes(window) -> tuple[str, str, int]:
    a = window.add_node("manual", QPointF(0.0, 0.0))
    b = window.add_node("log", QPointF(400.0, 0.0))
    command = ConnectCommand(window.model, a, "output", b, "input")
    window.undo_stack.push(command)
    window.view.set_zoom(1.0)
    window.view.centerOn(300.0, 40.0)
    return a, b, command.edge_id


def right_click(qtbot, window, scene_pos: QPointF) -> QMenu:
    """A real context-menu event at ``scene_pos``; the menu that opened."""
    viewport = window.view.viewport()
    local = window.view.mapFromScene(scene_pos)
    window.context_menus.last_menu = None
    QTest.mouseClick(viewport, Qt.MouseButton.RightButton, pos=local)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, local, viewport.mapToGlobal(local))
    QApplication.sendEvent(viewport, event)
    menu = window.context_menus.last_menu
    assert menu is not None
    qtbot.waitExposed(menu)
    return menu


def click(qtbot, menu: QMenu, name: str) -> None:
    """Click the menu entry whose action is named ``name`` (the menu is shown first)."""
    if not menu.isVisible():
        menu.popup(QPoint(50, 50))
        qtbot.waitExposed(menu)
    action = next(a for a in menu.actions() if a.objectName() == name)
    assert action.isEnabled(), name
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
    qtbot.wait(5)


def names(menu: QMenu) -> list[str]:
    return [a.objectName() for a in menu.actions() if a.objectName()]


def body(window, node_id: str) -> QPointF:
    return window.scene.nodes[node_id].sceneBoundingRect().center()


def test_node_menu_disable_rename_delete(qtbot, db):
    window = make_window(qtbot, db)
    a, b, _ = two_wired_nodes(window)
    menu = right_click(qtbot, window, body(window, b))
    wanted = [
        *("ctx_run", "ctx_pin", "ctx_disable", "ctx_rename"),
        *("ctx_duplicate", "ctx_copy", "ctx_delete", "ctx_group"),
    ]
    assert [name for name in names(menu) if name in wanted] == wanted  # (and partial runs)
    assert not next(x for x in menu.actions() if x.objectName() == "ctx_pin").isEnabled()
    click(qtbot, menu, "ctx_disable")
    assert window.model.node(b).data.disabled is True
    window.undo_stack.undo()
    assert not window.model.node(b).data.disabled

    window.prompts.text_answers = ["Say hello"]
    click(qtbot, right_click(qtbot, window, body(window, b)), "ctx_rename")
    assert window.model.node(b).data.label == "Say hello"

    click(qtbot, right_click(qtbot, window, body(window, a)), "ctx_delete")
    assert not window.model.has_node(a)
    assert window.model.has_node(b)


def test_wire_menu_deletes_and_inserts(qtbot, db):
    window = make_window(qtbot, db)
    a, b, edge_id = two_wired_nodes(window)
    middle = window.scene.edges[edge_id].path().pointAtPercent(0.5)
    menu = right_click(qtbot, window, middle)
    assert names(menu) == ["ctx_delete_wire", "ctx_insert_node"]
    click(qtbot, menu, "ctx_delete_wire")
    assert not window.model.has_edge(edge_id)
    window.undo_stack.undo()
    assert window.model.has_edge(edge_id)

    def pick_log() -> None:  # the node search is modal: answer it with real keys
        popup = QApplication.activePopupWidget() or QApplication.activeModalWidget()
        assert popup is not None and popup.objectName() == "NodeSearchPopup"
        QTest.keyClicks(popup.search, "Log")
        QTest.keyClick(popup.search, Qt.Key.Key_Return)

    QTimer.singleShot(100, pick_log)
    click(qtbot, right_click(qtbot, window, middle), "ctx_insert_node")
    (new,) = [n for n in window.model.node_ids() if n not in (a, b)]
    assert window.model.node(new).type == "log"
    pairs = {(e.source, e.target) for e in window.model.doc.edges}
    assert pairs == {(a, new), (new, b)}
    window.undo_stack.undo()  # one undo step puts the wire back
    assert {(e.source, e.target) for e in window.model.doc.edges} == {(a, b)}
    assert not window.model.has_node(new)


def test_canvas_menu_select_all_and_tidy_up(qtbot, db):
    window = make_window(qtbot, db)
    a, b, _ = two_wired_nodes(window)
    window.undo_stack.push(MoveCommand(window.model, {b: ((400.0, 0.0), (-600.0, 500.0))}))
    empty = QPointF(200.0, -300.0)
    menu = right_click(qtbot, window, empty)
    assert names(menu) == ["ctx_add_node", "ctx_paste", "ctx_select_all", "ctx_fit", "ctx_tidy"]
    click(qtbot, menu, "ctx_select_all")
    assert set(window.scene.selected_node_ids()) == {a, b}
    window.scene.clearSelection()
    before = window.undo_stack.count()
    click(qtbot, right_click(qtbot, window, empty), "ctx_tidy")
    assert window.undo_stack.count() == before + 1  # one undo step
    ax, ay = window.model.node(a).pos
    bx, by = window.model.node(b).pos
    assert bx > ax and by == ay  # left to right, same row
    window.undo_stack.undo()
    assert window.model.node(b).pos == [-600.0, 500.0]


def test_group_menu_colour_rename_ungroup_and_edit_menu_group(qtbot, db):
    window = make_window(qtbot, db)
    a, b, _ = two_wired_nodes(window)
    window.view.setFocus()
    window.scene.select_nodes([a, b])
    QTest.keyClick(window.view.viewport(), Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    (key,) = window.model.group_keys()
    frame = window.scene.groups[key].sceneBoundingRect()
    header = QPointF(frame.left() + 60.0, frame.top() + 8.0)
    menu = right_click(qtbot, window, header)
    assert names(menu) == ["ctx_rename_group", "ctx_ungroup"]
    colours = next(a.menu() for a in menu.actions() if a.menu() is not None)
    next(x for x in colours.actions() if x.objectName() == "ctx_colour_blue").trigger()
    assert window.model.group(key).color == "#3b6ea5"
    window.prompts.text_answers = ["Inputs"]
    click(qtbot, right_click(qtbot, window, header), "ctx_rename_group")
    assert window.model.group(key).title == "Inputs"
    click(qtbot, right_click(qtbot, window, header), "ctx_ungroup")
    assert window.model.group_keys() == []
    edit = window.menuBar().findChild(QMenu, "menu_edit")
    assert {"action_group", "action_ungroup"} <= {x.objectName() for x in edit.actions()}


def test_double_click_on_a_group_title_renames_it_without_the_node_search(qtbot, db):
    window = make_window(qtbot, db)
    a, b, _ = two_wired_nodes(window)
    window.scene.select_nodes([a, b])
    key = window.group_selection()
    requested = []
    window.scene.node_requested.connect(requested.append)
    frame = window.scene.groups[key].sceneBoundingRect()
    header = window.view.mapFromScene(QPointF(frame.left() + 60.0, frame.top() + 8.0))
    window.prompts.text_answers = ["Greeting"]
    QTest.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=header)
    assert window.model.group(key).title == "Greeting"
    assert requested == []
    window.undo_stack.undo()
    assert window.model.group(key).title == "Group"


def test_view_menu_grid_snap_minimap_theme_and_reset_layout(qtbot, db):
    window = make_window(qtbot, db)
    view_menu = window.menuBar().findChild(QMenu, "menu_view")
    assert window.actions["grid"].isChecked() and window.view.grid_visible
    click(qtbot, view_menu, "action_grid")
    assert window.view.grid_visible is False
    click(qtbot, view_menu, "action_snap")
    assert window.view.snap_enabled is False
    minimap = window.actions["minimap"]
    assert minimap in view_menu.actions() and minimap.isEnabled()
    assert not window.view.minimap.isVisible()
    window.show_canvas()
    click(qtbot, view_menu, "action_minimap")
    assert window.view.minimap.isVisible()
    again = make_window(qtbot, db)  # grid, snap and minimap are remembered
    assert again.view.grid_visible is False and again.view.snap_enabled is False
    assert again.actions["minimap"].isChecked()
    click(qtbot, view_menu, "action_minimap")
    assert not window.view.minimap.isVisible()
    theme_menu = window.menuBar().findChild(QMenu, "menu_theme")
    current = window.theme
    other = "light" if current == "dark" else "dark"
    assert window.actions[f"theme_{current}"].isChecked()
    view_menu.popup(QPoint(40, 40))
    qtbot.waitExposed(view_menu)
    click(qtbot, theme_menu, f"action_theme_{other}")
    assert window.theme == other
    assert window.actions[f"theme_{other}"].isChecked()
    assert not window.actions[f"theme_{current}"].isChecked()
    window.logs_dock.hide()
    click(qtbot, view_menu, "action_reset_layout")
    assert window.logs_dock.isVisible()


def test_help_menu_shortcuts_sheet_and_about(qtbot, db):
    window = make_window(qtbot, db)
    window.view.setFocus()
    QTest.keyClick(window.view.viewport(), Qt.Key.Key_F1)
    sheet = window._shortcuts_sheet
    qtbot.waitExposed(sheet)
    rows = dict(sheet.rows())
    assert rows["Ctrl+S"] == "Save"
    assert "Ctrl+G" in rows and "Right-click" in rows
    sheet.close()
    help_menu = window.menuBar().findChild(QMenu, "menu_help")
    assert [a.objectName() for a in help_menu.actions() if isinstance(a, QAction)][-1] == (
        "action_about"
    )
    click(qtbot, help_menu, "action_about")
    box = window.findChild(QMessageBox, "aboutBox")
    assert box is not None and box.isVisible()
    assert "Glyphic Desktop" in box.text()
    box.close()
