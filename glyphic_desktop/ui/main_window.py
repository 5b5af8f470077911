"""The editor's main window: canvas, docks, menus, toolbar, and their wiring.

Open it programmatically with::

    from glyphic_desktop.store.database import open_database
    from glyphic_desktop.ui.app import ensure_application
    from glyphic_desktop.ui.main_window import MainWindow

    app = ensure_application()
    window = MainWindow(open_database())      # an empty, unsaved workflow
    window.open_workflow(workflow_id)         # or open_reference("name or id or file.json")
    window.show()

The document lives in a :class:`GraphModel`; every edit is a command on
``window.undo_stack``; the title shows the workflow name and ``•`` while the document
differs from what was saved (the undo stack's clean state). Opening, saving (on a
worker thread; a stale base version opens the conflict dialog), drafts and runs are the
work of ``window.session``, a :class:`~glyphic_desktop.ui.session.WorkflowSession`;
the window's methods of the same names hand over to it.

Every question the window asks goes through ``window.prompts`` (a :class:`Prompts`),
so tests can answer them.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
)

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.nodes.registry import NodeRegistry, default_registry
from glyphic_desktop.store.database import Database
from glyphic_desktop.store.repositories.users import current_user_id
from glyphic_desktop.ui import app as ui_app
from glyphic_desktop.ui.canvas import Editor, EditorScene, EditorView, NodeRequest
from glyphic_desktop.ui.commands import add_node_command
from glyphic_desktop.ui.docks.data_panel import DataPanelDock, RunData
from glyphic_desktop.ui.docks.executions import ExecutionsDock
from glyphic_desktop.ui.docks.inspector import InspectorDock
from glyphic_desktop.ui.docks.logs import LogLine, LogsDock
from glyphic_desktop.ui.docks.palette import NodeSearchPopup, PaletteDock, node_type_from_mime
from glyphic_desktop.ui.docks.versions import VersionsDock
from glyphic_desktop.ui.drafts import DraftStore
from glyphic_desktop.ui.graph_model import EditError, GraphModel
from glyphic_desktop.ui.menus import ContextMenus, ShortcutsSheet, about_text
from glyphic_desktop.ui.open_dialog import OpenDialog
from glyphic_desktop.ui.prompts import Prompts
from glyphic_desktop.ui.refresh import DockRefresher
from glyphic_desktop.ui.session import UNTITLED, WorkflowSession, is_database_error, one_line
from glyphic_desktop.ui.start_page import StartPage
from glyphic_desktop.ui.trust_banner import TrustBanner

log = logging.getLogger(__name__)

__all__ = ["UNTITLED", "MainWindow", "Prompts", "is_database_error", "one_line"]

GEOMETRY_KEY = "window/geometry"
STATE_KEY = "window/state"
WINDOW_STATE_VERSION = 1

# Menu and toolbar layouts: action names in order, None for a separator.
_EDIT_GROUP = ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete")
_FILE_MENU = (
    "new",
    "open",
    "close",
    None,
    "save",
    "save_summary",
    "save_as",
    None,
    "import",
    "export",
    None,
    "quit",
)
_EDIT_MENU = (*_EDIT_GROUP, None, "select_all", None, "group", "ungroup", "tidy")
_VIEW_MENU = (
    *("fit", "fit_selection", None, "zoom_in", "zoom_out", "zoom_reset", None),
    *("grid", "snap", "minimap"),
)
_HELP_MENU = ("shortcuts", None, "about")
_RUN_MENU = (
    *("run", "stop", "run_background", None, "run_node", "run_to", "run_from", None),
    "clear_logs",
)
_TOOLBAR = (
    *("new", "open", "save", None, *_EDIT_GROUP, None, "fit", "zoom_in", "zoom_out", None),
    *("run", "stop", "run_background"),
)


def _setting_bool(settings: QSettings, key: str, default: bool) -> bool:
    """A yes/no setting (INI files give it back as the text ``true`` / ``false``)."""
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _add_actions(target: Any, actions: dict[str, QAction], names: tuple[str | None, ...]) -> None:
    """Add the named actions to a menu or toolbar in order, a separator for each None."""
    for name in names:
        target.addSeparator() if name is None else target.addAction(actions[name])


class _DropFilter(QObject):
    """Accepts palette drags on the canvas viewport and adds the node where dropped."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Handle drag-enter / drag-move / drop carrying a node type."""
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if node_type_from_mime(event.mimeData()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            key = node_type_from_mime(event.mimeData())
            if key:
                view = self.window.view
                scene_pos = view.mapToScene(event.position().toPoint())
                self.window.add_node(key, view.snap(scene_pos))
                event.acceptProposedAction()
                return True
        return False


class MainWindow(QMainWindow):
    """The editor window over one database and user: widgets, and the wiring between
    them and the :class:`WorkflowSession` that opens, saves, keeps drafts and runs."""

    def __init__(
        self,
        db: Database,
        *,
        user_id: uuid.UUID | None = None,
        registry: NodeRegistry | None = None,
        settings: QSettings | None = None,
        autosave_ms: int = 3000,
        drafts: DraftStore | None = None,
        restore_layout: bool = True,
    ) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.db = db
        self.user_id = user_id or current_user_id(db)
        self.registry = registry or default_registry()
        self.settings = settings or ui_app.settings()
        saved_theme = self.settings.value(ui_app.THEME_KEY, ui_app.DEFAULT_THEME)
        self.theme = saved_theme if saved_theme in ui_app.THEMES else ui_app.DEFAULT_THEME
        self.problem_nodes: list[str] = []

        self.editor = Editor(WorkflowDocument(), self.registry, self)
        self.model: GraphModel = self.editor.model
        self.undo_stack: QUndoStack = self.editor.stack
        self.scene: EditorScene = self.editor.scene
        self.view: EditorView = self.editor.view
        self.view.setObjectName("canvas")
        self.view.setAcceptDrops(True)
        self.view.viewport().setAcceptDrops(True)
        self._drop_filter = _DropFilter(self)
        self.view.viewport().installEventFilter(self._drop_filter)
        # The central area: the start page while no workflow is open, else the canvas.
        self.start_page = StartPage(db, self.user_id, self)
        self.central_stack = QStackedWidget(self)
        self.central_stack.setObjectName("centralStack")
        self.central_stack.addWidget(self.start_page)
        self.central_stack.addWidget(self.editor.widget)
        self.setCentralWidget(self.central_stack)

        self.session = WorkflowSession(
            db,
            self.user_id,
            self.model,
            self.undo_stack,
            prompts=Prompts(self),
            registry=self.registry,
            drafts=drafts,
            autosave_ms=autosave_ms,
            parent=self,
        )
        self.session.commit_pending_edits = self.commit_pending_edits
        self.drafts = self.session.drafts
        self.autosaver = self.session.autosaver

        self._build_docks()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._connect()
        self.context_menus = ContextMenus(self)
        self.run_data = RunData(self)  # run records: Data dock, badges, viewing a past run
        self.trust_banner = TrustBanner.install(self)  # above the canvas (ui/trust_banner.py)
        self.session.allow_run = self.trust_banner.allow_run
        self.resize(1400, 880)
        self._default_layout = self.saveState(WINDOW_STATE_VERSION)
        if restore_layout:
            self.restore_layout()
        self.apply_theme(self.theme, save=False)
        self._update_title()
        self._update_run_actions()

    # -- the session's state, as the window's (scripts and tests read these) -----------

    @property
    def prompts(self) -> Any:
        """Every question the window and its session ask (tests substitute their own)."""
        return self.session.prompts

    @prompts.setter
    def prompts(self, prompts: Any) -> None:
        self.session.prompts = prompts

    @property
    def workflow_id(self) -> uuid.UUID | None:
        """The stored workflow being edited (None: never saved)."""
        return self.session.workflow_id

    @property
    def workflow_name(self) -> str:
        """The workflow's name (``Untitled`` until saved)."""
        return self.session.workflow_name

    @property
    def base_version(self) -> int | None:
        """The stored version the edits started from."""
        return self.session.base_version

    @property
    def draft_key(self) -> str:
        """The key of this document's autosave draft."""
        return self.session.draft_key

    @property
    def _dirty_without_undo(self) -> bool:
        return self.session.dirty_without_undo

    @_dirty_without_undo.setter
    def _dirty_without_undo(self, value: bool) -> None:
        self.session.dirty_without_undo = value

    @property
    def run_thread(self) -> Any:
        """The run in progress, or None."""
        return self.session.run_thread

    @property
    def progress(self) -> Any:
        """What the run in progress has reported so far."""
        return self.session.progress

    @property
    def last_run_result(self) -> Any:
        """The result of the last run started here."""
        return self.session.last_run_result

    @property
    def last_run_error(self) -> BaseException | None:
        """The exception of the last run, when it failed."""
        return self.session.last_run_error

    # -- construction ------------------------------------------------------------------

    def _build_docks(self) -> None:
        """Every dock, created and placed here (one place: a new dock goes here too)."""
        self.palette_dock = PaletteDock(self.registry, self)
        self.inspector_dock = InspectorDock(
            self.model, self.undo_stack, self._list_credentials, self
        )
        self.logs_dock = LogsDock(self)
        self.logs_dock.view.copy_shortcut.setEnabled(False)  # the window's Copy routes here
        self.executions_dock = ExecutionsDock(self.db, self.user_id, self)
        self.versions_dock = VersionsDock(self.db, self.user_id, self.model, self.undo_stack, self)
        self.data_dock = DataPanelDock(self.model, self)
        left, right, bottom = (
            Qt.DockWidgetArea.LeftDockWidgetArea,
            Qt.DockWidgetArea.RightDockWidgetArea,
            Qt.DockWidgetArea.BottomDockWidgetArea,
        )
        self.addDockWidget(left, self.palette_dock)
        self.addDockWidget(right, self.inspector_dock)
        self.addDockWidget(bottom, self.logs_dock)
        self.addDockWidget(bottom, self.executions_dock)
        self.addDockWidget(right, self.versions_dock)
        # The Data dock sits beside the Logs (both visible with the Inspector, so a field
        # can be dragged from it into the Inspector's form).
        self.addDockWidget(bottom, self.data_dock)
        self.splitDockWidget(self.logs_dock, self.data_dock, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.logs_dock, self.executions_dock)
        self.tabifyDockWidget(self.inspector_dock, self.versions_dock)
        self.logs_dock.raise_()
        self.inspector_dock.raise_()
        self.resizeDocks(
            [self.palette_dock, self.inspector_dock], [220, 340], Qt.Orientation.Horizontal
        )
        self.resizeDocks([self.logs_dock], [260], Qt.Orientation.Vertical)
        self.resizeDocks([self.logs_dock, self.data_dock], [420, 620], Qt.Orientation.Horizontal)

    def docks(self) -> list[Any]:
        """Every dock of the window, in menu order."""
        return [
            self.palette_dock,
            self.inspector_dock,
            self.logs_dock,
            self.executions_dock,
            self.versions_dock,
            self.data_dock,
        ]

    def _action(
        self,
        name: str,
        text: str,
        slot: Callable[[], Any],
        shortcut: QKeySequence.StandardKey | str | None = None,
        icon: str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"action_{name}")
        if icon:
            action.setIcon(ui_app.icon(icon))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.actions[name] = action
        return action

    def _build_actions(self) -> None:
        self.actions: dict[str, QAction] = {}
        key = QKeySequence.StandardKey
        a = self._action
        a("new", "&New", self.new_workflow, key.New, "new", "Start a new workflow")
        a("open", "&Open…", self.show_open_dialog, key.Open, "open", "Open a stored workflow")
        a("close", "&Close", self.close_workflow, "Ctrl+W", tip="Back to the start page")
        a("save", "&Save", self.save, key.Save, "save", "Save a new version")
        a(
            "save_summary",
            "Save &with Summary…",
            self.save_with_summary,
            "Ctrl+Alt+S",
            tip="Save a new version, saying what changed",
        )
        a("save_as", "Save &As…", self.save_as, key.SaveAs, "save-as", "Save under a new name")
        a("import", "&Import…", self.import_file, "Ctrl+I", "import", "Open a workflow file")
        a(
            "export",
            "&Export…",
            self.export_file,
            "Ctrl+E",
            "export",
            "Write the workflow to a file",
        )
        a("quit", "&Quit", self.close, key.Quit)
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence(key.Undo))
        undo.setIcon(ui_app.icon("undo"))
        undo.setObjectName("action_undo")
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo_keys = [QKeySequence(key.Redo), QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")]
        redo.setShortcuts(list({k.toString(): k for k in redo_keys if not k.isEmpty()}.values()))
        redo.setIcon(ui_app.icon("redo"))
        redo.setObjectName("action_redo")
        self.actions["undo"], self.actions["redo"] = undo, redo
        a("cut", "Cu&t", self.cut, key.Cut, "cut")
        a("copy", "&Copy", self.copy, key.Copy, "copy")
        a("paste", "&Paste", self.paste, key.Paste, "paste")
        a("duplicate", "&Duplicate", self.duplicate, "Ctrl+D", "duplicate")
        a("delete", "De&lete", self.delete, key.Delete, "delete")
        a("select_all", "Select &All", self.select_all, key.SelectAll, "select-all")
        a("fit", "&Fit All", self.view.fit_all, "Ctrl+0", "fit", "Fit the whole graph (F)")
        a("fit_selection", "Fit &Selection", self.view.fit_selection, "Ctrl+Shift+0")
        a("zoom_in", "Zoom &In", lambda: self.view.zoom_by(1.25), key.ZoomIn, "zoom-in")
        a("zoom_out", "Zoom &Out", lambda: self.view.zoom_by(0.8), key.ZoomOut, "zoom-out")
        a("zoom_reset", "Actual Si&ze", lambda: self.view.set_zoom(1.0), "Ctrl+1")
        a("run", "&Run", self.run, "F5", "run", "Run the workflow here (F5)")
        a("stop", "S&top", self.stop, "Shift+F5", "stop", "Cancel the run (Shift+F5)")
        a(
            "run_background",
            "Run in &Background",
            self.run_in_background,
            "Ctrl+F5",
            "background",
            "Queue a run for the tray agent",
        )
        for name, text, mode, key in (
            ("run_node", "Run This &Node", "only", "F6"),
            ("run_to", "Run &to Here", "to", "F7"),
            ("run_from", "Run &from Here", "from", "F8"),
        ):
            tip = f"{text.replace('&', '')} ({key})"
            a(name, text, lambda m=mode: self.run_data.run_partial(m), key, tip=tip)
        a("theme_dark", "&Dark", lambda: self.apply_theme("dark"))
        a("theme_light", "&Light", lambda: self.apply_theme("light"))
        themes = QActionGroup(self)
        themes.setExclusive(True)
        for name in ("theme_dark", "theme_light"):
            self.actions[name].setCheckable(True)
            themes.addAction(self.actions[name])
        a("clear_logs", "&Clear Logs", self.logs_dock.clear)
        a("group", "&Group", self.group_selection, "Ctrl+G", tip="Frame the selected nodes")
        a("ungroup", "U&ngroup", self.ungroup_selection, "Ctrl+Shift+G")
        a("tidy", "&Tidy Up", self.tidy_up, "Ctrl+Shift+L", tip="Lay out left to right")
        a("grid", "Show &Grid", lambda: None)
        a("snap", "S&nap to Grid", lambda: None)
        a("minimap", "&Minimap", lambda: None, "Ctrl+M")
        minimap_available = self._minimap() is not None
        for name, default, slot in (
            ("grid", True, self.set_grid_visible),
            ("snap", True, self.set_snap),
            ("minimap", False, self.set_minimap_visible),
        ):
            on = _setting_bool(self.settings, f"view/{name}", default)
            self.actions[name].setCheckable(True)
            self.actions[name].toggled.connect(slot)
            self.actions[name].setChecked(on)
            slot(on)
        if not minimap_available:  # ui/canvas/minimap.py missing from this build
            self.actions["minimap"].setEnabled(False)
            self.actions["minimap"].setToolTip("The minimap is not available in this build")
        a("reset_layout", "&Reset Layout", self.reset_layout, tip="Put every dock back")
        a("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts, "F1")
        a("about", "&About Glyphic", self.show_about)
        # Canvas keys also reach these actions from any dock; avoid eating text-field keys.
        for name in ("delete",):
            self.actions[name].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.view.addAction(self.actions[name])

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        act = self.actions
        _add_actions(bar.addMenu("&File"), act, _FILE_MENU)
        _add_actions(bar.addMenu("&Edit"), act, _EDIT_MENU)
        view = bar.addMenu("&View")
        _add_actions(view, act, _VIEW_MENU)
        view.addSeparator()
        theme = view.addMenu("&Theme")
        theme.setObjectName("menu_theme")
        theme.addAction(act["theme_dark"])
        theme.addAction(act["theme_light"])
        docks = view.addMenu("&Docks")
        for dock in self.docks():
            docks.addAction(dock.toggleViewAction())
        view.addAction(act["reset_layout"])
        _add_actions(bar.addMenu("&Run"), act, _RUN_MENU)
        _add_actions(bar.addMenu("&Help"), act, _HELP_MENU)
        for menu in bar.findChildren(QMenu):
            if not menu.objectName():
                menu.setObjectName("menu_" + menu.title().replace("&", "").lower())

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("MainToolBar")
        toolbar.setMovable(False)
        _add_actions(toolbar, act, _TOOLBAR)
        self.toolbar = toolbar

    def _build_status_bar(self) -> None:
        self.run_label = QLabel("Ready", self)
        self.run_label.setObjectName("runStatus")
        self.zoom_label = QLabel("100 %", self)
        self.statusBar().addPermanentWidget(self.run_label)
        self.statusBar().addPermanentWidget(self.zoom_label)

    def _connect(self) -> None:
        session = self.session
        session.title_changed.connect(self._update_title)
        session.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        session.document_loaded.connect(self._document_loaded)
        session.imported.connect(self._imported)
        session.saved.connect(self._saved)
        session.problems.connect(self.show_problems)
        session.run_started.connect(self._run_started)
        session.run_events.connect(self._run_events)
        session.run_finished.connect(self._run_finished)
        session.run_failed.connect(self._run_failed)
        session.run_cancelled.connect(lambda: self.run_label.setText("Run cancelled"))
        session.run_cancelled.connect(self.scene.cancel_running)  # running nodes: cancelled
        session.run_state_changed.connect(self._run_state_changed)
        self.scene.selection_settled.connect(self._selection_changed)
        self.scene.status_message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.scene.node_requested.connect(self._node_requested)
        self.scene.node_activated.connect(self._node_activated)
        self.scene.group_rename_requested.connect(self.rename_group)
        self.start_page.new_requested.connect(self.new_workflow)
        self.start_page.open_dialog_requested.connect(self.show_open_dialog)
        self.start_page.workflow_requested.connect(self._start_page_open)
        self.start_page.example_requested.connect(self._start_page_example)
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        self.palette_dock.typeActivated.connect(self._add_at_center)
        self.logs_dock.nodeActivated.connect(self.focus_node)
        self.inspector_dock.panel.message.connect(lambda t: self.statusBar().showMessage(t, 6000))
        self.versions_dock.message.connect(lambda t: self.statusBar().showMessage(t, 6000))
        self.executions_dock.message.connect(lambda t: self.statusBar().showMessage(t, 6000))
        # Whole-graph dock reactions: at most once per event-loop turn, however many
        # nodes one command added or removed (see DockRefresher).
        self.dock_refresher = DockRefresher(self)
        self.dock_refresher.add("logs_nodes", self._nodes_changed)
        self._seen_nodes_revision = -1
        self.model.batch_finished.connect(self._model_batch_finished)

    # -- state -------------------------------------------------------------------------

    def is_dirty(self) -> bool:
        """Whether the document differs from what was last saved (or loaded)."""
        return self.session.is_dirty()

    def title_text(self) -> str:
        """``Name • — Glyphic`` while unsaved, ``Name — Glyphic`` otherwise."""
        return self.session.title_text()

    def _update_title(self) -> None:
        with contextlib.suppress(RuntimeError):  # the stack is destroyed with the window
            self.setWindowTitle(self.title_text())

    def _model_batch_finished(self) -> None:
        """Once per edit, however many nodes it touched."""
        if self.model.nodes_revision != self._seen_nodes_revision:
            self._seen_nodes_revision = self.model.nodes_revision
            self.dock_refresher.mark("logs_nodes")
            if self.model.doc.nodes:
                self.show_canvas()  # a node added from the palette leaves the start page

    def _nodes_changed(self) -> None:
        self.logs_dock.set_nodes((node.id, node.label) for node in self.model.doc.nodes)

    def _selection_changed(self) -> None:
        try:
            self.inspector_dock.show_node(self.scene.single_selected_node())
        except RuntimeError:  # the scene is being destroyed with the window
            return

    def _list_credentials(self, credential_type: str) -> list[tuple[str, str]]:
        from glyphic_desktop.store.repositories.integrations import IntegrationRepository

        with self.db.session() as session:
            infos = IntegrationRepository(session, self.user_id, None).list(
                credential_type, active_only=True
            )
        return [(info.id, info.name) for info in infos]

    def start_page_shown(self) -> bool:
        """Whether the start page (not the canvas) fills the central area."""
        return self.central_stack.currentWidget() is self.start_page

    def show_start_page(self) -> None:
        """Show the start page (recent workflows refreshed) instead of the canvas."""
        self.start_page.refresh()
        self.central_stack.setCurrentWidget(self.start_page)

    def show_canvas(self) -> None:
        """Show the canvas instead of the start page."""
        if self.central_stack.currentWidget() is not self.editor.widget:
            self.central_stack.setCurrentWidget(self.editor.widget)

    def _start_page_open(self, workflow_id: uuid.UUID) -> None:
        if self.start_page_shown():  # a double-click reports twice: open once
            self.open_workflow(workflow_id)

    def _start_page_example(self, path: str) -> None:
        if self.start_page_shown():  # a double-click reports twice: open once
            self.open_example(path)

    def open_example(self, path: str) -> bool:
        """Open a bundled example straight from its file (stored only when saved)."""
        return self.import_file(path)

    def _document_loaded(self, workflow_id: uuid.UUID | None) -> None:
        """A fresh document is in the model: reset what showed the previous one."""
        self.show_canvas()
        self.statusBar().clearMessage()  # nothing said about the previous workflow stays
        self.scene.clear_statuses()
        self.problem_nodes = []
        self.logs_dock.clear()
        self.run_label.setText("Ready")
        labels = {node.id: node.label for node in self.model.doc.nodes}
        self.executions_dock.set_workflow(workflow_id, labels)
        self.versions_dock.set_workflow(workflow_id)
        self.inspector_dock.show_node(None)
        self.trust_banner.document_loaded(workflow_id)
        QTimer.singleShot(0, self.view.fit_all)

    def _imported(self, path: str) -> None:
        self.trust_banner.came_from_outside(f"opened {Path(path).name} in the editor", path)

    def _saved(self, record: Any) -> None:
        self.trust_banner.saved(record.id)
        if self.start_page_shown():  # otherwise refreshed when it shows
            self.start_page.refresh()
        labels = {node.id: node.label for node in self.model.doc.nodes}
        self.executions_dock.set_workflow(record.id, labels)
        self.versions_dock.set_workflow(record.id)

    # -- editing actions ---------------------------------------------------------------

    def add_node(self, key: str, pos: QPointF | None = None) -> str | None:
        """Add a node of type ``key`` at scene ``pos`` (the view's centre); its id."""
        if pos is None:
            pos = self.view.mapToScene(self.view.viewport().rect().center())
            taken = {tuple(node.pos) for node in self.model.doc.nodes}
            while (pos.x(), pos.y()) in taken:  # cascade instead of stacking
                pos = QPointF(pos.x() + 40, pos.y() + 40)
        try:
            command = add_node_command(self.model, key, (pos.x(), pos.y()))
        except EditError as exc:
            self.statusBar().showMessage(exc.message, 6000)
            return None
        self.undo_stack.push(command)
        node_id = command.node_ids[0]
        self.scene.select_nodes([node_id])
        return node_id

    def _add_at_center(self, key: str) -> None:
        self.add_node(key)

    def _node_requested(self, request: NodeRequest) -> None:
        popup = NodeSearchPopup(self.registry, request.compatible_types(), self)
        popup.move(self.view.mapToGlobal(self.view.mapFromScene(request.pos)))
        if popup.exec() and popup.chosen_key:
            node_id = request.accept(popup.chosen_key)
            if node_id:
                self.scene.select_nodes([node_id])

    def _node_activated(self, node_id: str) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        self.inspector_dock.show_node(node_id)

    def focus_node(self, node_id: str) -> None:
        """Select ``node_id`` on the canvas and centre the view on it."""
        if not self.model.has_node(node_id):
            return
        self.scene.select_nodes([node_id])
        item = self.scene.nodes.get(node_id)
        if item is not None:
            self.view.centerOn(item)

    def _logs_focused(self) -> bool:
        focus = QApplication.focusWidget()
        return focus is not None and (
            focus is self.logs_dock.view.table or self.logs_dock.isAncestorOf(focus)
        )

    def copy(self) -> None:
        """Copy the selected log lines (Logs focused) or the canvas selection."""
        if self._logs_focused():
            self.logs_dock.view.copy()
        else:
            count = self.scene.copy_selection()
            if count:
                self.statusBar().showMessage(f"Copied {count} node{'s' * (count != 1)}", 4000)

    def cut(self) -> None:
        """Cut the canvas selection."""
        self.scene.cut_selection()

    def paste(self) -> None:
        """Paste workflow JSON from the clipboard at the cursor."""
        self.scene.paste(at=self.view.cursor_scene_pos())

    def duplicate(self) -> None:
        """Duplicate the canvas selection."""
        self.scene.duplicate_selection()

    def delete(self) -> None:
        """Delete the canvas selection."""
        self.scene.delete_selection()

    def select_all(self) -> None:
        """Select every log line (Logs focused) or every node."""
        if self._logs_focused():
            self.logs_dock.view.table.selectAll()
        else:
            self.scene.select_all()

    def apply_theme(self, name: str, *, save: bool = True) -> None:
        """Switch to theme ``name`` (``dark`` / ``light``) for the window and canvas."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            name = ui_app.apply_theme(app, name)
        self.theme = name
        self.scene.set_theme(name)
        action = self.actions.get(f"theme_{name}")
        if action is not None:
            action.setChecked(True)
        if save:
            self.settings.setValue(ui_app.THEME_KEY, name)

    def group_selection(self) -> str | None:
        """Frame the selected nodes in a new group (one undo step); its key."""
        return self.scene.group_selection()

    def ungroup_selection(self) -> int:
        """Remove the selected group frames; how many."""
        count = self.scene.ungroup_selection()
        if not count:
            self.statusBar().showMessage("Select a group to ungroup", 4000)
        return count

    def rename_group(self, key: str) -> bool:
        """Ask for a group's new title (double-click on its title bar); True if renamed."""
        from glyphic_desktop.ui.commands import RenameGroupCommand

        if not self.model.has_group(key):
            return False
        old = self.model.group(key).title
        title = self.prompts.ask_text("Rename group", "Group title:", old)
        if not title or title == old:
            return False
        return self.scene.push(lambda: RenameGroupCommand(self.model, key, title))

    def tidy_up(self) -> bool:
        """Lay out the selected nodes (all nodes without a selection) left to right, as
        one undo step."""
        from glyphic_desktop.ui.menus import move_command, tidy_positions

        node_ids = self.scene.selected_node_ids()
        if len(node_ids) < 2:
            node_ids = self.model.node_ids()
        if not node_ids:
            return False
        command = move_command(self, tidy_positions(self, node_ids))
        self.undo_stack.push(command)
        return True

    def set_grid_visible(self, on: bool) -> None:
        """Show or hide the canvas grid (remembered)."""
        self.view.grid_visible = bool(on)
        self.view.viewport().update()
        self.view.resetCachedContent()
        self.settings.setValue("view/grid", bool(on))

    def set_snap(self, on: bool) -> None:
        """Snap moved and added nodes to the grid, or not (remembered)."""
        self.view.snap_enabled = bool(on)
        self.settings.setValue("view/snap", bool(on))

    def _minimap(self) -> Any:
        """The canvas minimap (``ui/canvas/minimap.py``), or None where there is none."""
        minimap = getattr(self, "_minimap_widget", None)
        if minimap is not None:
            return minimap
        import importlib.util

        if importlib.util.find_spec("glyphic_desktop.ui.canvas.minimap") is None:
            return None
        try:
            from glyphic_desktop.ui.canvas import minimap as module

            minimap = getattr(self.view, "minimap", None) or module.Minimap(self.view)
        except Exception as exc:  # a minimap that cannot be built must not stop the window
            log.warning("no minimap: %s", exc)
            return None
        minimap.hide()
        self._minimap_widget = minimap
        return minimap

    def set_minimap_visible(self, on: bool) -> None:
        """Show or hide the minimap in the canvas corner."""
        minimap = self._minimap()
        if minimap is not None:
            minimap.setVisible(bool(on))
            self.settings.setValue("view/minimap", bool(on))

    def reset_layout(self) -> None:
        """Put every dock back where a new window has it."""
        for dock in self.docks():
            dock.show()
        self.restoreState(self._default_layout, WINDOW_STATE_VERSION)
        self.statusBar().showMessage("Docks back in their places", 4000)

    def show_shortcuts(self) -> ShortcutsSheet:
        """Help > Keyboard Shortcuts (non-modal; returned for scripts and tests)."""
        sheet = getattr(self, "_shortcuts_sheet", None)
        if sheet is None:
            sheet = self._shortcuts_sheet = ShortcutsSheet(self.actions, self)
        sheet.show()
        sheet.raise_()
        return sheet

    def show_about(self) -> QMessageBox:
        """Help > About (non-modal; returned for scripts and tests)."""
        box = QMessageBox(QMessageBox.Icon.Information, "About Glyphic", about_text(), parent=self)
        box.setObjectName("aboutBox")
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        return box

    # -- files and the store (the session does the work) -------------------------------

    def commit_pending_edits(self) -> None:
        """Commit a half-typed inspector field (fields commit on focus out) before saving."""
        focus = QApplication.focusWidget()
        if focus is not None and self.inspector_dock.isAncestorOf(focus):
            focus.clearFocus()
            focus.setFocus()

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; True when it is fine to drop the document now."""
        return self.session.maybe_save()

    def new_workflow(self) -> bool:
        """Start an empty, unsaved workflow (after asking about unsaved changes)."""
        return self.session.new_workflow()

    def close_workflow(self) -> bool:
        """Close the workflow (after asking about unsaved changes): the start page shows."""
        if not self.session.maybe_save():
            return False
        self.session.set_document(
            WorkflowDocument(), workflow_id=None, name=UNTITLED, base_version=None
        )
        self.show_start_page()
        return True

    def show_open_dialog(self) -> bool:
        """Pick a stored workflow in the Open dialog and open it."""
        types = [(cls.key, cls.title) for cls in self.registry.all()]
        dialog = OpenDialog(self.db, self.user_id, types, self)
        if not dialog.exec() or dialog.selected_id is None:
            return False
        return self.open_workflow(dialog.selected_id)

    def open_workflow(self, workflow_id: uuid.UUID | str, *, ask: bool = True) -> bool:
        """Open the stored workflow ``workflow_id`` (after asking about unsaved changes)."""
        return self.session.open_workflow(workflow_id, ask=ask)

    def open_reference(self, reference: str) -> bool:
        """Open a workflow file (``*.json`` path) or a stored workflow by name or id."""
        return self.session.open_reference(reference)

    def import_file(self, path: str | None = None) -> bool:
        """Open a workflow file (any format Glyphic reads) as a new, unsaved workflow."""
        return self.session.import_file(path)

    def export_file(self, path: str | None = None) -> bool:
        """Write the document to a workflow file (credentials as references only)."""
        return self.session.export_file(path)

    def save(self) -> bool:
        """Save a new version (a new workflow asks for a name); True when saved."""
        return self.session.save()

    def save_with_summary(self) -> bool:
        """Save a new version with a change summary the user writes (the counted one is
        offered)."""
        from glyphic_desktop.ui.session import change_summary

        if self.workflow_id is None:
            return self.save_as()
        suggested = change_summary(self.undo_stack) if self.is_dirty() else ""
        summary = self.prompts.ask_text("Save with summary", "What changed:", suggested)
        if not summary:
            return False
        return self.session.save(summary)

    def save_as(self, name: str | None = None) -> bool:
        """Store the document as a new workflow under a name the user gives."""
        return self.session.save_as(name)

    def offer_drafts(self) -> bool:
        """Offer back the drafts a crash left behind (newest first); True if one was restored."""
        return self.session.offer_drafts()

    # -- running -----------------------------------------------------------------------

    def is_running(self) -> bool:
        """Whether a run is in progress."""
        return self.session.is_running()

    def _update_run_actions(self) -> None:
        running = self.is_running()
        self.actions["run"].setEnabled(not running)
        self.actions["run_background"].setEnabled(not running)
        self.actions["stop"].setEnabled(running)
        for name in ("run_node", "run_to", "run_from"):
            self.actions[name].setEnabled(not running)

    def _run_state_changed(self) -> None:
        self._update_run_actions()
        if not self.is_running():
            self.executions_dock.refresh()

    def _clear_problems(self) -> None:
        self.scene.clear_statuses()
        self.problem_nodes = []
        self.inspector_dock.panel.set_problems({})

    def show_problems(self, problems: list[Any]) -> None:
        """List preflight problems in the Logs dock and a dialog; badge and select the nodes."""
        lines = [LogLine(None, "error", p.node_id, p.label or "", p.message) for p in problems]
        self.logs_dock.append_lines(lines)
        node_ids = list(dict.fromkeys(p.node_id for p in problems if p.node_id))
        for node_id in node_ids:
            self.scene.set_node_status(node_id, "failed", "problem")
        self.problem_nodes = node_ids
        by_node: dict[str, list[tuple[str | None, str]]] = {}
        for problem in problems:
            if problem.node_id:
                by_node.setdefault(problem.node_id, []).append((problem.field, problem.message))
        self.inspector_dock.panel.set_problems(by_node)
        if node_ids:
            self.scene.select_nodes([n for n in node_ids if self.model.has_node(n)])
        count = len(problems)
        self.run_label.setText(f"Cannot run: {count} problem{'s' if count != 1 else ''}")
        self.logs_dock.raise_()
        self.prompts.error(
            "The workflow cannot run",
            f"Preflight found {count} problem{'s' if count != 1 else ''}; "
            "the nodes concerned are marked on the canvas.",
            "\n".join(str(p) for p in problems),
        )

    def run(self) -> bool:
        """Run the document on screen on a background thread; True when a run started."""
        if self.is_running():
            return False
        self._clear_problems()
        return self.session.run()

    def _run_started(self) -> None:
        self.logs_dock.clear()
        self.scene.clear_statuses()
        self.run_data.clear_edge_counts()  # the last run's counts are not this run's
        self.run_label.setText("Running…")
        self.logs_dock.raise_()

    def stop(self) -> None:
        """Cancel the run in progress."""
        if self.is_running():
            self.session.stop()
            self.run_label.setText("Stopping…")

    def _run_events(self, lines: list[Any], changed: set[str]) -> None:
        if lines:
            self.logs_dock.append_lines(lines)
        for node_id in changed:
            state = self.progress.nodes[node_id]
            text = f"{state.items} item{'s' if state.items != 1 else ''}" if state.items else ""
            self.scene.set_node_status(node_id, state.status, text)

    def _run_finished(self, result: Any) -> None:
        status = getattr(result, "status", "completed")
        if status == "cancelled":
            self.scene.cancel_running()
        seconds = (getattr(result, "duration_ms", 0) or 0) / 1000
        self.run_label.setText(f"Run {status} in {seconds:.2f} s")
        self.statusBar().showMessage(f"Run {status}", 5000)

    def _run_failed(self, message: str) -> None:
        self.run_label.setText("Run failed")
        self.logs_dock.append_lines([LogLine(None, "error", None, "", message)])
        self.prompts.error("The run failed", message)

    def run_in_background(self) -> bool:
        """Queue a run of the saved workflow for the tray agent (saves first when needed)."""
        self._clear_problems()
        return self.session.run_in_background()

    # -- layout and closing ------------------------------------------------------------

    def save_layout(self) -> None:
        """Remember the window geometry and the dock layout."""
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.setValue(STATE_KEY, self.saveState(WINDOW_STATE_VERSION))
        self.settings.sync()

    def restore_layout(self) -> bool:
        """Restore the geometry and dock layout saved by a previous window."""
        geometry = self.settings.value(GEOMETRY_KEY)
        state = self.settings.value(STATE_KEY)
        restored = False
        if geometry is not None:
            restored = self.restoreGeometry(geometry)
        if state is not None:
            restored = self.restoreState(state, WINDOW_STATE_VERSION) and restored
        return restored

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask about unsaved changes, stop a run, remember the layout."""
        if not self.maybe_save():
            event.ignore()
            return
        self.session.close()
        self.save_layout()
        event.accept()

    def selected_item_view(self) -> QAbstractItemView:
        """The Logs dock's table (for tests and scripts)."""
        return self.logs_dock.view.table
