"""The start page: what the canvas area shows while no workflow is open.

Recent workflows (click to open), the bundled examples (opened straight from
``resources/examples``, nothing is stored until the user saves), New and Open, and three
things to try first. Signals: ``new_requested()``, ``open_dialog_requested()``,
``workflow_requested(uuid)``, ``example_requested(path)``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from glyphic_desktop.store.database import Database

#: What a new user should try first (shown on the start page).
THINGS_TO_TRY = (
    "Open an example below and press F5: the nodes light up as they run and the Logs "
    "dock streams what they say.",
    "Press Tab (or double-click the canvas) and type to add a node; drag from an output "
    "port to an input port to wire them.",
    "Right-click a node, a wire or the canvas for everything you can do there; F1 lists "
    "the keyboard shortcuts.",
)
RECENT_LIMIT = 8
ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class Example:
    """A bundled example workflow file."""

    path: Path
    name: str
    description: str


def bundled_examples(directory: Path | None = None) -> list[Example]:
    """The example workflows in ``resources/examples``, by name."""
    if directory is None:
        from glyphic_desktop.paths import resources_dir

        directory = resources_dir() / "examples"
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata") or {}
        except (OSError, ValueError, AttributeError):
            continue
        name = str(metadata.get("name") or path.stem.replace("-", " ").capitalize())
        found.append(Example(path, name, str(metadata.get("description") or "")))
    return sorted(found, key=lambda example: example.name.lower())


class StartPage(QScrollArea):
    """Recent workflows, examples, New / Open and three things to try first (scrolls
    rather than making the window's minimum size larger)."""

    new_requested = Signal()
    open_dialog_requested = Signal()
    workflow_requested = Signal(object)
    example_requested = Signal(str)

    def __init__(
        self,
        db: Database,
        user_id: uuid.UUID,
        parent: QWidget | None = None,
        *,
        examples_dir: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("startPage")
        self.db = db
        self.user_id = user_id
        self.examples_dir = examples_dir
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget(self)
        content.setObjectName("startContent")

        title = QLabel("<h1>Glyphic</h1>", self)
        subtitle = QLabel("Build a workflow, run it, watch it work.", self)
        self.new_button = QPushButton("New Workflow", self)
        self.new_button.setObjectName("startNew")
        self.open_button = QPushButton("Open…", self)
        self.open_button.setObjectName("startOpen")
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)

        self.recent = QListWidget(self)
        self.recent.setObjectName("startRecent")
        self.recent_empty = QLabel("Workflows you save appear here.", self)
        self.recent_empty.setObjectName("startRecentEmpty")
        self.examples = QListWidget(self)
        self.examples.setObjectName("startExamples")
        tips = QLabel("<ol>" + "".join(f"<li>{tip}</li>" for tip in THINGS_TO_TRY) + "</ol>", self)
        tips.setObjectName("startTips")
        tips.setWordWrap(True)

        grid = QGridLayout()
        grid.addWidget(QLabel("<b>Recent workflows</b>", self), 0, 0)
        grid.addWidget(QLabel("<b>Examples</b> (open without importing)", self), 0, 1)
        grid.addWidget(self.recent, 1, 0)
        grid.addWidget(self.examples, 1, 1)
        grid.addWidget(self.recent_empty, 2, 0)

        card = QFrame(self)
        card.setObjectName("startCard")
        card.setMaximumWidth(900)
        column = QVBoxLayout(card)
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addLayout(buttons)
        column.addLayout(grid, 1)
        column.addWidget(QLabel("<b>Three things to try first</b>", self))
        column.addWidget(tips)
        outer = QHBoxLayout(content)
        outer.addStretch(1)
        outer.addWidget(card, 4)
        outer.addStretch(1)

        self.setWidget(content)
        self.new_button.clicked.connect(self.new_requested)
        self.open_button.clicked.connect(self.open_dialog_requested)
        self.recent.itemActivated.connect(self._recent_activated)
        self.recent.itemClicked.connect(self._recent_activated)
        self.examples.itemActivated.connect(self._example_activated)
        self.examples.itemClicked.connect(self._example_activated)
        self.refresh()

    def refresh(self) -> None:
        """Reload the recent workflows and the examples."""
        from glyphic_desktop.store.repositories.workflows import WorkflowRepository

        self.recent.clear()
        try:
            with self.db.session() as session:
                summaries = WorkflowRepository(session, self.user_id).list()[:RECENT_LIMIT]
        except Exception:  # an unreachable database: the examples still work
            summaries = []
        for summary in summaries:
            item = QListWidgetItem(summary.name, self.recent)
            item.setData(ROLE, summary.id)
            item.setToolTip(summary.description or f"version {summary.version}")
        self.recent_empty.setVisible(not summaries)
        self.examples.clear()
        for example in bundled_examples(self.examples_dir):
            item = QListWidgetItem(example.name, self.examples)
            item.setData(ROLE, str(example.path))
            item.setToolTip(example.description)

    def recent_names(self) -> list[str]:
        """The names listed under Recent workflows."""
        return [self.recent.item(i).text() for i in range(self.recent.count())]

    def example_names(self) -> list[str]:
        """The names listed under Examples."""
        return [self.examples.item(i).text() for i in range(self.examples.count())]

    def _recent_activated(self, item: QListWidgetItem) -> None:
        self.workflow_requested.emit(item.data(ROLE))

    def _example_activated(self, item: QListWidgetItem) -> None:
        self.example_requested.emit(item.data(ROLE))
