"""One editor: model + undo stack + scene + view built from a document, for the window.

Typical use in the main window::

    editor = Editor(document)                  # or Editor(document, registry=...)
    window.setCentralWidget(editor.widget)     # an EditorWidget (QWidget) around the view
    undo_action = editor.stack.createUndoAction(window)
    editor.scene.status_message.connect(window.statusBar().showMessage)
    editor.scene.node_requested.connect(window.open_node_search)   # NodeRequest.accept(key)
    editor.scene.node_activated.connect(inspector.show_node)
    editor.stack.cleanChanged.connect(window.update_title)
    editor.load(other_document)                # replace the document, clear the undo stack
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QVBoxLayout, QWidget

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.ui.canvas.scene import EditorScene
from glyphic_desktop.ui.canvas.view import EditorView
from glyphic_desktop.ui.graph_model import GraphModel


class EditorWidget(QWidget):
    """A plain widget holding the canvas view (what the window puts in its centre)."""

    def __init__(self, view: EditorView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)
        self.view = view


class Editor:
    """The editing core for one document: ``model``, ``stack``, ``scene``, ``view``, ``widget``."""

    def __init__(
        self,
        document: WorkflowDocument | None = None,
        registry: Any = None,
        parent: QWidget | None = None,
        *,
        bsp_index: bool = True,
    ) -> None:
        self.model = GraphModel(document, registry)
        self.stack = QUndoStack()
        self.scene = EditorScene(self.model, self.stack, bsp_index=bsp_index)
        self.view = EditorView(self.scene)
        self.widget = EditorWidget(self.view, parent)

    @property
    def document(self) -> WorkflowDocument:
        """The document being edited (always current: edits write it immediately)."""
        return self.model.doc

    def load(self, document: WorkflowDocument) -> None:
        """Show another document; the undo history is cleared and the stack marked clean."""
        self.stack.clear()
        self.model.set_document(document)
        self.stack.setClean()

    def to_data(self) -> dict[str, Any]:
        """The document as JSON-ready data (port links derived from the edges)."""
        return self.model.doc.to_data()


def build_editor(document: WorkflowDocument | None = None, registry: Any = None) -> Editor:
    """Construct model + undo stack + scene + view (+ widget) for ``document``."""
    return Editor(document, registry)
