"""The node canvas: scene, view, items and gestures over the graph model."""

from glyphic_desktop.ui.canvas.editor import Editor, EditorWidget, build_editor
from glyphic_desktop.ui.canvas.scene import EditorScene, NodeRequest
from glyphic_desktop.ui.canvas.view import EditorView

__all__ = ["Editor", "EditorScene", "EditorView", "EditorWidget", "NodeRequest", "build_editor"]
