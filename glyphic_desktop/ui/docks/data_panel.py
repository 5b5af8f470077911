"""The Data dock: the selected node's inputs and outputs from a run.

:class:`DataPanel` shows, for one node, each input port and each output port of the
run it was given (``set_records``: the node records of ``store/repositories/node_data.py``,
the workflow's last run or an execution opened from the Executions dock), in one of
three views like n8n's: a table (columns from the items' keys; rows fetched lazily),
a JSON tree (children made when expanded) and a schema (field, type, sample). Item
counts per port; the files the node produced, openable; buttons to pin the output,
type JSON as the output, or unpin (each becomes an undoable command in the window).

Values come as the store keeps them: capped and with secrets masked.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QUrl, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabBar,
    QTableView,
    QTreeView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from glyphic_desktop.document.truncation import TRUNCATED_KEY
from glyphic_desktop.ui.data_models import (
    ItemTableModel,
    JsonTreeModel,
    as_items,
    join_path,
    schema_rows,
)

VIEWS = ("table", "json", "schema")
FILE_ROLE = Qt.ItemDataRole.UserRole


def nodes_root(label: str, port: str) -> str:
    """The expression root reading output ``port`` of the node labelled ``label``."""
    root = f"nodes.{label}" if label.isidentifier() else f"nodes[{json.dumps(label)}]"
    return join_path(root, port)


def inputs_root(port: str) -> str:
    """The expression root reading input ``port`` (``input`` for the main one)."""
    return "input" if port == "input" else join_path("inputs", port)


class DataSide(QWidget):
    """One side of the panel (inputs or outputs): a port picker and the three views."""

    def __init__(self, side: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.values: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self.roots: dict[str, str] = {}
        self._schema_for: str | None = None
        self.title = QLabel(side.capitalize(), self)
        self.title.setObjectName(f"{side}Title")
        self.ports = QComboBox(self)
        self.ports.setObjectName(f"{side}Ports")
        self.ports.currentIndexChanged.connect(self._port_chosen)
        self.empty = QLabel("", self)
        self.empty.setObjectName(f"{side}Empty")
        self.empty.setWordWrap(True)
        self.table_model = ItemTableModel()
        self.tree_model = JsonTreeModel()
        self.table = QTableView(self)
        self.table.setObjectName(f"{side}Table")
        self.table.setModel(self.table_model)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.tree = QTreeView(self)
        self.tree.setObjectName(f"{side}Tree")
        self.tree.setModel(self.tree_model)
        self.tree.setUniformRowHeights(True)
        self.schema = QTreeWidget(self)
        self.schema.setObjectName(f"{side}Schema")
        self.schema.setHeaderLabels(["Field", "Type", "Sample"])
        self.schema.setRootIsDecorated(False)
        for view in (self.table, self.tree, self.schema):
            view.setDragEnabled(True)
            view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
            view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.schema.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.stack = QStackedWidget(self)
        for view in (self.table, self.tree, self.schema):
            self.stack.addWidget(view)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title)
        top.addWidget(self.ports, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

    def set_ports(
        self, values: dict[str, Any], counts: dict[str, int], roots: dict[str, str], empty: str
    ) -> None:
        """Show ``values`` ({port: value}) with their item counts; ``empty`` when none."""
        self.values, self.roots = values, roots
        self.counts = {p: counts.get(p, len(as_items(v))) for p, v in values.items()}
        self.ports.blockSignals(True)
        self.ports.clear()
        for port in values:
            count = self.counts[port]
            self.ports.addItem(f"{port} · {count} item{'s' * (count != 1)}", port)
        self.ports.blockSignals(False)
        self.empty.setText(empty if not values else "")
        self.empty.setVisible(not values)
        self.ports.setVisible(bool(values))
        self._port_chosen(0)

    def port(self) -> str | None:
        """The port shown."""
        return self.ports.currentData()

    def _port_chosen(self, _index: int) -> None:
        port = self.port()
        value = self.values.get(port) if port is not None else None
        root = self.roots.get(port or "", "input")
        self.table_model.expression_root = root
        self.tree_model.expression_root = root
        self.table_model.set_value(value if port is not None else None)
        self.tree_model.set_value(value if port is not None else [])
        if isinstance(value, dict) and value.get(TRUNCATED_KEY) is True:
            size = value.get("bytes")
            self.empty.setText(
                f"Too large to keep whole ({size} bytes): a preview of it was kept"
                if size
                else "Too large to keep whole: a preview of it was kept"
            )
            self.empty.show()
        self.schema.clear()
        self._schema_for = None
        if self.stack.currentIndex() == 2:
            self._fill_schema()
        self.stack.setVisible(port is not None)

    def _fill_schema(self) -> None:
        """Build the schema rows of the port shown (when the schema view shows)."""
        port = self.port()
        if port is None or self._schema_for == port:
            return
        self._schema_for = port
        self.schema.clear()
        items = []
        for path, kind, sample in schema_rows(self.values.get(port)):
            item = QTreeWidgetItem([path, kind, sample])
            item.setData(0, Qt.ItemDataRole.UserRole, path)
            items.append(item)
        self.schema.addTopLevelItems(items)

    def set_view(self, index: int) -> None:
        """0 table, 1 JSON tree, 2 schema."""
        if index == 2:
            self._fill_schema()
        self.stack.setCurrentIndex(index)


class DataPanel(QWidget):
    """The selected node's inputs and outputs from one run (see the module docstring)."""

    pinRequested = Signal(str, object)
    editPinRequested = Signal(str)
    unpinRequested = Signal(str)
    message = Signal(str)

    def __init__(self, model: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.db: Any = None
        self.user_id: Any = None
        self.node_id: str | None = None
        self.records: dict[str, Any] = {}
        self.execution_id: uuid.UUID | None = None
        self.source = ""
        self.viewing = False
        self.files: list[Any] = []
        self.header = QLabel("No node selected", self)
        self.header.setObjectName("dataHeader")
        self.header.setWordWrap(True)
        self.views = QTabBar(self)
        self.views.setObjectName("dataViews")
        for name in ("Table", "JSON", "Schema"):
            self.views.addTab(name)
        self.views.currentChanged.connect(self.set_view)
        self.inputs = DataSide("input", self)
        self.outputs = DataSide("output", self)
        split = QSplitter(Qt.Orientation.Horizontal, self)  # input | output, as n8n shows them
        split.addWidget(self.inputs)
        split.addWidget(self.outputs)
        self.file_list = QListWidget(self)
        self.file_list.setObjectName("dataFiles")
        self.file_list.setMaximumHeight(80)
        self.file_list.itemDoubleClicked.connect(self.open_file)
        self.pin_button = QPushButton("Pin output", self)
        self.pin_button.setObjectName("dataPin")
        self.pin_button.setToolTip("Keep this output: the node will not run, its data flows on")
        self.edit_pin_button = QPushButton("Set output…", self)
        self.edit_pin_button.setObjectName("dataEditPin")
        self.unpin_button = QPushButton("Unpin", self)
        self.unpin_button.setObjectName("dataUnpin")
        self.pin_button.clicked.connect(self._pin)
        self.edit_pin_button.clicked.connect(lambda: self._emit(self.editPinRequested))
        self.unpin_button.clicked.connect(lambda: self._emit(self.unpinRequested))
        buttons = QHBoxLayout()
        buttons.addWidget(self.pin_button)
        buttons.addWidget(self.edit_pin_button)
        buttons.addWidget(self.unpin_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.views)
        layout.addWidget(split, 1)
        layout.addWidget(self.file_list)
        layout.addLayout(buttons)
        self.show_node(None)

    # -- what the window gives it ------------------------------------------------------

    def set_records(
        self,
        records: dict[str, Any],
        execution_id: uuid.UUID | None,
        source: str = "",
        *,
        viewing: bool = False,
    ) -> None:
        """Show the node records of a run (``source`` says which run, for the header)."""
        self.records = dict(records or {})
        self.execution_id = execution_id
        self.source = source
        self.viewing = viewing
        self.files = self._load_files(execution_id)
        self.show_node(self.node_id)

    def _load_files(self, execution_id: uuid.UUID | None) -> list[Any]:
        if execution_id is None or self.db is None:
            return []
        from glyphic_desktop.store.repositories.files import FileRepository

        try:
            with self.db.session() as session:
                return FileRepository(session, self.user_id).list_for_execution(execution_id)
        except Exception as exc:  # files are extra: the data still shows
            self.message.emit(f"Cannot list the run's files: {exc}")
            return []

    # -- showing -----------------------------------------------------------------------

    def show_node(self, node_id: str | None) -> None:
        """Show ``node_id``'s data (None or an unknown node: the empty state)."""
        if node_id is not None and not self.model.has_node(node_id):
            node_id = None
        self.node_id = node_id
        if node_id is None:
            self.header.setText("Select a node to see the data it received and produced.")
            for side in (self.inputs, self.outputs):
                side.set_ports({}, {}, {}, "")
            self._set_files([])
            for button in (self.pin_button, self.edit_pin_button, self.unpin_button):
                button.setEnabled(False)
            return
        node = self.model.node(node_id)
        label = node.label
        record = self.records.get(node_id)
        pinned = node.data.pinnedData
        parts = [f"<b>{label}</b>"]
        if record is not None:
            parts.append(record.status)
            if record.origin != "run":
                parts.append(record.origin)
        if pinned is not None and not self.viewing:
            parts.append("<span style='color:#b48ead'>📌 pinned</span>")
        if self.source:
            parts.append(self.source)
        if record is None and (pinned is None or self.viewing):
            parts.append("did not run" if self.records else "no run yet: press Run (F5)")
        self.header.setText(" · ".join(parts))
        inputs = dict(record.inputs or {}) if record is not None else {}
        in_counts = dict(record.input_counts or {}) if record is not None else {}
        if pinned is not None and not self.viewing:
            outputs, out_counts = dict(pinned), {}
        else:
            outputs = dict(record.outputs or {}) if record is not None else {}
            out_counts = dict(record.output_counts or {}) if record is not None else {}
        if record is not None and record.error and not outputs:
            empty_out = f"Error: {record.error}"
        else:
            empty_out = "No output" if record is not None else ""
        self.inputs.set_ports(
            inputs,
            in_counts,
            {port: inputs_root(port) for port in inputs},
            "No input" if record is not None else "",
        )
        self.outputs.set_ports(
            outputs, out_counts, {port: nodes_root(label, port) for port in outputs}, empty_out
        )
        self._set_files([f for f in self.files if _file_node(f) == node_id])
        editable = not self.viewing
        self.pin_button.setEnabled(editable and pinned is None and bool(outputs))
        self.edit_pin_button.setEnabled(editable)
        self.unpin_button.setEnabled(editable and pinned is not None)

    def _set_files(self, files: list[Any]) -> None:
        from glyphic_desktop.ui.docks.executions import file_item_text

        self.node_files = files
        self.file_list.clear()
        for index, record in enumerate(files):
            item = QListWidgetItem(file_item_text(record))
            item.setData(FILE_ROLE, index)
            item.setToolTip(record.storage_path)
            self.file_list.addItem(item)
        self.file_list.setVisible(bool(files))

    def open_file(self, item: QListWidgetItem | None = None) -> bool:
        """Open a listed file with the system's application (as the Executions dock does)."""
        from glyphic_desktop.ui.docks import executions

        item = item or self.file_list.currentItem()
        if item is None:
            return False
        record = self.node_files[item.data(FILE_ROLE)]
        if not record.exists:
            self.message.emit(f"{record.filename} is no longer at {record.storage_path}")
            return False
        return bool(executions.open_with_system(QUrl.fromLocalFile(record.storage_path)))

    def set_view(self, index: int) -> None:
        """Switch both sides to view ``index`` (0 table, 1 JSON, 2 schema)."""
        if self.views.currentIndex() != index:
            self.views.setCurrentIndex(index)  # calls back here
            return
        self.inputs.set_view(index)
        self.outputs.set_view(index)

    def view_name(self) -> str:
        """``table``, ``json`` or ``schema``."""
        return VIEWS[self.views.currentIndex()]

    def current_output(self) -> dict[str, Any]:
        """The outputs shown ({port: value})."""
        return dict(self.outputs.values)

    # -- pins ------------------------------------------------------------------------

    def _emit(self, signal: Any) -> None:
        if self.node_id is not None:
            signal.emit(self.node_id)

    def _pin(self) -> None:
        if self.node_id is not None and self.outputs.values:
            self.pinRequested.emit(self.node_id, dict(self.outputs.values))


def _file_node(record: Any) -> str | None:
    metadata = getattr(record, "metadata", None) or {}
    return metadata.get("node_id")


class DataPanelDock(QDockWidget):
    """The dock hosting a :class:`DataPanel` (beside the Inspector)."""

    def __init__(self, model: Any, parent: QWidget | None = None) -> None:
        super().__init__("Data", parent)
        self.setObjectName("DataPanelDock")
        self.panel = DataPanel(model, self)
        self.setWidget(self.panel)

    def show_node(self, node_id: str | None) -> None:
        """Show ``node_id``'s data."""
        self.panel.show_node(node_id)


#: A node record's status as the canvas's state name.
CANVAS_STATES = {"success": "done", "error": "failed", "skipped": "skipped"}


def canvas_state(record: Any) -> tuple[str, str]:
    """(state, badge text) of a node record on the canvas."""
    state = CANVAS_STATES.get(record.status, record.status)
    text = ""
    if state == "done":
        count = sum((record.output_counts or {}).values())
        text = f"{count} item{'s' * (count != 1)}"
        if record.origin == "reused":
            text += " (reused)"
    return state, text


class RunData(QObject):
    """The window's run data: the records the canvas and the Data dock show.

    Loads the workflow's last run when a workflow opens and after each run; shows an
    execution opened from the Executions dock in a read-only "viewing run" state (a bar
    above the canvas, one click back to editing); badges nodes and counts items on
    wires; pins (commands on the undo stack); partial runs through the session; the
    expression context of the Inspector's live preview.
    """

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.records: dict[str, Any] = {}
        self.execution_id: uuid.UUID | None = None
        self.viewing: Any = None  # the ExecutionRecord being viewed, or None
        self.panel: DataPanel = window.data_dock.panel
        self.panel.db, self.panel.user_id = window.db, window.user_id
        self.bar = _ViewingBar(window)
        window.editor.widget.layout().insertWidget(0, self.bar)
        self.bar.back.clicked.connect(self.back_to_editing)
        self._guard = _ReadOnlyFilter(self)
        session = window.session
        session.document_loaded.connect(self._document_loaded)
        session.run_state_changed.connect(self._run_state_changed)
        window.scene.selection_settled.connect(self._selection_changed)
        window.model.node_changed.connect(self._node_changed)
        window.executions_dock.viewerOpened.connect(
            lambda viewer: self.view_execution(viewer.record)
        )
        self.panel.pinRequested.connect(self.pin)
        self.panel.unpinRequested.connect(lambda node_id: self.pin(node_id, None))
        self.panel.editPinRequested.connect(self.edit_pin)
        self.panel.message.connect(lambda text: window.statusBar().showMessage(text, 6000))
        inspector = window.inspector_dock.panel
        if hasattr(inspector, "expression_context"):
            inspector.expression_context = self.expression_context

    # -- loading -----------------------------------------------------------------------

    def _document_loaded(self, workflow_id: uuid.UUID | None) -> None:
        self._leave_viewing()
        self.load_latest(workflow_id)

    def _run_state_changed(self) -> None:
        if not self.window.is_running() and self.window.workflow_id is not None:
            self.load_latest(self.window.workflow_id, badges=True)

    def load_latest(self, workflow_id: uuid.UUID | None, *, badges: bool = True) -> bool:
        """Show the last run of ``workflow_id`` (nothing before its first run); True if one."""
        from glyphic_desktop.store.repositories.node_data import latest_node_records

        latest = None
        if workflow_id is not None:
            try:
                latest = latest_node_records(
                    self.window.db, workflow_id, user_id=self.window.user_id
                )
            except Exception as exc:  # the editor still opens without its run data
                self.window.statusBar().showMessage(f"Cannot load the last run: {exc}", 6000)
        if self.viewing is not None:
            return latest is not None
        if latest is None:
            self.records, self.execution_id = {}, None
            self.panel.set_records({}, None, "")
            return False
        self.records, self.execution_id = dict(latest.records), latest.execution_id
        self.panel.set_records(
            self.records, latest.execution_id, f"last run {str(latest.execution_id)[:8]}"
        )
        if badges:
            self.show_badges()
        return True

    def show_badges(self) -> None:
        """Badge every node with its recorded state, and count the items on each wire."""
        from glyphic_desktop.store.repositories.node_data import edge_item_counts

        scene = self.window.scene
        scene.clear_statuses()
        for node_id, record in self.records.items():
            state, text = canvas_state(record)
            scene.set_node_status(node_id, state, text)
        counts = edge_item_counts(self.window.model.doc, self.records)
        for edge_id, item in scene.edges.items():
            item.set_item_count(counts.get(edge_id))

    def clear_edge_counts(self) -> None:
        """Remove the item counts from the wires."""
        for item in self.window.scene.edges.values():
            item.set_item_count(None)

    # -- viewing a past run --------------------------------------------------------------

    def view_execution(self, record: Any) -> bool:
        """Show execution ``record`` (read-only canvas with its badges and data)."""
        from glyphic_desktop.store.repositories.node_data import node_records

        try:
            records = node_records(self.window.db, record.id, user_id=self.window.user_id)
        except Exception as exc:
            self.window.statusBar().showMessage(f"Cannot load the run's data: {exc}", 6000)
            return False
        self.viewing = record
        self.records, self.execution_id = dict(records), record.id
        when = (
            record.started_at.astimezone().strftime("%Y-%m-%d %H:%M") if record.started_at else ""
        )
        text = f"Viewing run {str(record.id)[:8]} · {record.status} · {when} — read-only"
        self.bar.show_text(text)
        self._guard.set_on(True)
        self.panel.set_records(self.records, record.id, f"run {str(record.id)[:8]}", viewing=True)
        self.show_badges()
        return True

    def back_to_editing(self) -> None:
        """Leave the viewing state: the canvas is editable again with the last run's data."""
        if self.viewing is None:
            return
        self._leave_viewing()
        self.load_latest(self.window.workflow_id)

    def _leave_viewing(self) -> None:
        self.viewing = None
        self.bar.hide()
        self._guard.set_on(False)

    def is_viewing(self) -> bool:
        """Whether a past run is shown (the canvas is read-only)."""
        return self.viewing is not None

    # -- selection and pins ----------------------------------------------------------

    def _selection_changed(self) -> None:
        try:
            self.panel.show_node(self.window.scene.single_selected_node())
        except RuntimeError:  # the scene is going away with the window
            return

    def _node_changed(self, node_id: str) -> None:
        if node_id == self.panel.node_id:
            self.panel.show_node(node_id)

    def pin(self, node_id: str, outputs: dict[str, Any] | None) -> bool:
        """Pin ``outputs`` on the node (None unpins): one undo step."""
        from glyphic_desktop.ui.commands import SetSettingCommand

        model = self.window.model
        return self.window.scene.push(
            lambda: SetSettingCommand(model, node_id, "pinnedData", outputs)
        )

    def edit_pin(self, node_id: str) -> bool:
        """Ask for the node's output as JSON (the pin dialog) and pin it."""
        from glyphic_desktop.ui.pin_dialog import PinDialog

        model = self.window.model
        node = model.node(node_id)
        ports = [port.name for port in node.outputs] if getattr(node, "outputs", None) else []
        current = node.data.pinnedData
        if current is None:
            record = self.records.get(node_id)
            current = dict(record.outputs) if record is not None and record.outputs else None
        dialog = PinDialog(node.label, ports, current, self.window)
        self.last_dialog = dialog
        if not dialog.exec() or dialog.value is None:
            return False
        return self.pin(node_id, dialog.value)

    def outputs_of(self, node_id: str) -> dict[str, Any] | None:
        """The node's recorded outputs in the run shown (None: none)."""
        record = self.records.get(node_id)
        return dict(record.outputs) if record is not None and record.outputs else None

    # -- partial runs ------------------------------------------------------------------

    def run_partial(self, mode: str, node_id: str | None = None) -> bool:
        """Run this node (``only``) / to here (``to``) / from here (``from``)."""
        window = self.window
        if node_id is None:
            node_id = window.scene.single_selected_node()
        if node_id is None:
            window.statusBar().showMessage("Select one node first", 4000)
            return False
        if window.is_running():
            return False
        source = self.viewing.id if self.viewing is not None else None
        if source is not None:
            self._leave_viewing()
        window._clear_problems()
        return window.session.run(partial=(mode, node_id, source))

    # -- expressions -------------------------------------------------------------------

    def expression_context(self, node_id: str) -> dict[str, Any] | None:
        """The names an expression of ``node_id`` sees, from the run shown (None: no run)."""
        if not self.records:
            return None
        from datetime import UTC, datetime

        from glyphic_desktop.engine.expressions import NodesView

        model = self.window.model
        record = self.records.get(node_id)
        inputs = dict(record.inputs or {}) if record is not None else {}
        outputs = {n: dict(r.outputs or {}) for n, r in self.records.items()}
        labels = {node.data.label: node.id for node in model.doc.nodes if node.data.label}
        return {
            "input": inputs.get("input", next(iter(inputs.values()), None)),
            "inputs": inputs,
            "nodes": NodesView(outputs, labels),
            "execution": {"id": str(self.execution_id), "trigger": "manual", "started_at": ""},
            "now": datetime.now(UTC),
            "env": {},
        }


class _ViewingBar(QFrame):
    """ "Viewing run …" above the canvas, with the way back to editing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewingBar")
        self.setStyleSheet(
            "#viewingBar { background: #3a3320; border-bottom: 1px solid #d29922; }"
            "#viewingBar QLabel { color: #f0d58a; }"
        )
        self.label = QLabel(self)
        self.label.setObjectName("viewingText")
        self.back = QPushButton("Back to editing", self)
        self.back.setObjectName("backToEditing")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.back)
        self.hide()

    def show_text(self, text: str) -> None:
        """Show the bar saying ``text``."""
        self.label.setText(text)
        self.show()


_EDIT_KEYS = frozenset(
    {Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_Tab}
    | {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right}
)


class _ReadOnlyFilter(QObject):
    """While a past run is viewed: clicks only select, nothing is dragged, dropped,
    typed into the canvas, or edited from the Inspector or the edit actions."""

    EDIT_ACTIONS = (
        "cut",
        "paste",
        "duplicate",
        "delete",
        "group",
        "ungroup",
        "tidy",
        "undo",
        "redo",
    )

    def __init__(self, data: RunData) -> None:
        super().__init__(data)
        self.data = data
        self.on = False
        window = data.window
        window.view.viewport().installEventFilter(self)
        window.view.installEventFilter(self)

    def set_on(self, on: bool) -> None:
        """Make the canvas read-only (or editable again)."""
        window = self.data.window
        if on == self.on:
            return
        self.on = on
        for name in self.EDIT_ACTIONS:
            action = window.actions.get(name)
            if action is not None:
                if on:
                    action.setProperty("_viewing_enabled", action.isEnabled())
                    action.setEnabled(False)
                else:
                    action.setEnabled(True)
        if not on:  # undo / redo follow their stack again
            window.actions["undo"].setEnabled(window.undo_stack.canUndo())
            window.actions["redo"].setEnabled(window.undo_stack.canRedo())
        inspector = window.inspector_dock.widget()
        if inspector is not None:
            inspector.setEnabled(not on)
        window.palette_dock.setEnabled(not on)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Swallow editing gestures while on; a left click selects the node under it."""
        if not self.on:
            return False
        kind = event.type()
        view = self.data.window.view
        if kind == QEvent.Type.MouseButtonPress and watched is view.viewport():
            if event.button() == Qt.MouseButton.LeftButton:
                pos = view.mapToScene(event.position().toPoint())
                node = view.scene().node_at(pos)
                scene = self.data.window.scene
                scene.select_nodes([node.node_id] if node is not None else [])
                return True
            return event.button() != Qt.MouseButton.MiddleButton
        if kind in (
            QEvent.Type.MouseButtonDblClick,
            QEvent.Type.MouseMove,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.DragEnter,
            QEvent.Type.DragMove,
            QEvent.Type.Drop,
            QEvent.Type.ContextMenu,
        ):
            if kind == QEvent.Type.MouseButtonRelease:
                return False  # a pan or rubber band ends normally
            if kind == QEvent.Type.MouseMove:
                return bool(event.buttons() & Qt.MouseButton.LeftButton)
            return True
        return kind == QEvent.Type.KeyPress and event.key() in _EDIT_KEYS
