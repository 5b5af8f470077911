"""The body shared by the docks that list stored records (Executions, Versions).

A single-selection list with a status line and two buttons under it: Refresh and the
dock's action (Open, Restore); double-clicking a row runs the action too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class RecordListWidgets:
    """The widgets of a record list body, for the dock to keep as attributes."""

    tree: QTreeWidget
    status: QLabel
    action_button: QPushButton
    refresh_button: QPushButton


def build_record_list(
    dock: QDockWidget,
    *,
    tree_name: str,
    headers: list[str],
    status_text: str,
    action_text: str,
    on_action: Callable[[], None],
    on_refresh: Callable[[], None],
) -> RecordListWidgets:
    """Build the list body, set it as ``dock``'s widget and connect the buttons and rows."""
    body = QWidget(dock)
    tree = QTreeWidget(body)
    tree.setObjectName(tree_name)
    tree.setHeaderLabels(headers)
    tree.setRootIsDecorated(False)
    tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    status = QLabel(status_text, body)
    status.setWordWrap(True)
    action_button = QPushButton(action_text, body)
    refresh_button = QPushButton("Refresh", body)
    row = QHBoxLayout()
    row.addWidget(status, 1)
    row.addWidget(refresh_button)
    row.addWidget(action_button)
    layout = QVBoxLayout(body)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(tree)
    layout.addLayout(row)
    dock.setWidget(body)

    tree.itemDoubleClicked.connect(lambda _item, _col: on_action())
    action_button.clicked.connect(on_action)
    refresh_button.clicked.connect(on_refresh)
    return RecordListWidgets(tree, status, action_button, refresh_button)
