"""Drag-and-drop from the palette onto the canvas with Qt's own drag events."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication


def drop_palette_item(window, key: str, viewport_pos: QPoint) -> bool:
    """Drag palette entry ``key`` onto the canvas viewport at ``viewport_pos``; accepted?"""
    item = window.palette_dock.item_for(key)
    assert item is not None, f"{key} is not listed in the palette"
    mime = window.palette_dock.tree.mimeData([item])
    viewport = window.view.viewport()
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(viewport_pos, actions, mime, buttons, mods)
    QApplication.sendEvent(viewport, enter)
    if not enter.isAccepted():
        return False
    move = QDragMoveEvent(viewport_pos, actions, mime, buttons, mods)
    QApplication.sendEvent(viewport, move)
    drop = QDropEvent(QPointF(viewport_pos), actions, mime, buttons, mods)
    QApplication.sendEvent(viewport, drop)
    return drop.isAccepted()
