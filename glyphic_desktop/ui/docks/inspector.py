"""The Inspector dock: the selected node's settings and its generated field form.

Shows, for one node: its label, the engine settings (disabled, retries, timeout, on
error), the credential picker when the node type needs a credential, and the
:class:`~glyphic_desktop.ui.forms.NodeForm` of its type's ``Fields`` model. Every edit
is pushed onto the editor's undo stack as a command of :mod:`glyphic_desktop.ui.commands`
(``RenameCommand``, ``SetSettingCommand``, ``SetFieldCommand``); the dock then reflects
the model's ``node_changed`` signal, so undo and redo update the form too. A refused
edit (``EditError``) is shown in the dock and reported through ``message``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from glyphic_desktop.ui.commands import RenameCommand, SetFieldCommand, SetSettingCommand
from glyphic_desktop.ui.forms import NodeForm
from glyphic_desktop.ui.graph_model import EditError, GraphModel

ON_ERROR_CHOICES = (
    ("stop", "Stop the run"),
    ("continue", "Continue"),
    ("error_output", "Route to the error output"),
)
#: Lists a user's credentials of one type: ``credential_type -> [(integration id, name)]``.
CredentialLister = Callable[[str], Sequence[tuple[str, str]]]


def credential_types(cls: Any) -> tuple[tuple[str, ...], bool]:
    """The credential types a node type accepts and whether one is required.

    ``credential_type`` names a required type; ``credential_types`` (e.g. the HTTP
    request node's header / basic / bearer) lists optional ones.
    """
    if cls is None:
        return (), False
    required = getattr(cls, "credential_type", None)
    optional = tuple(getattr(cls, "credential_types", ()) or ())
    types = tuple(dict.fromkeys(([required] if required else []) + list(optional)))
    return types, bool(required)


def credential_binding(integration_id: str, credential_type: str, name: str) -> dict[str, Any]:
    """What ``data.credential`` holds for a chosen credential (never a secret)."""
    return {
        "integrationId": integration_id,
        "integration": {"type": credential_type, "name": name},
    }


class InspectorPanel(QWidget):
    """The inspector's content for one graph model and undo stack."""

    message = Signal(str)

    def __init__(
        self,
        model: GraphModel,
        undo_stack: QUndoStack,
        credentials: CredentialLister | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.undo_stack = undo_stack
        self.credentials = credentials
        self.node_id: str | None = None
        self.form: NodeForm | None = None
        self.problems: dict[str, list[tuple[str | None, str]]] = {}
        self._loading = False
        #: ``node_id -> {names an expression sees} | None``: the live preview's data
        #: (the window's run data sets it; ``ui/docks/data_panel.py``).
        self.expression_context: Callable[[str], Any] | None = None

        self.title = QLabel("No node selected", self)
        self.title.setObjectName("inspectorTitle")
        self.hint = QLabel("Select a node on the canvas to edit it.", self)
        self.hint.setObjectName("inspectorHint")
        self.hint.setWordWrap(True)
        self.error = QLabel(self)
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.hide()

        self.settings_box = QGroupBox("Node", self)
        settings = QFormLayout(self.settings_box)
        self.label_edit = QLineEdit(self.settings_box)
        self.label_edit.setObjectName("nodeLabel")
        self.disabled_box = QCheckBox("Pass input through without running", self.settings_box)
        self.disabled_box.setObjectName("nodeDisabled")
        self.retries_spin = QSpinBox(self.settings_box)
        self.retries_spin.setObjectName("nodeRetries")
        self.retries_spin.setRange(0, 100)
        self.retries_spin.setKeyboardTracking(False)
        self.timeout_spin = QDoubleSpinBox(self.settings_box)
        self.timeout_spin.setObjectName("nodeTimeout")
        self.timeout_spin.setRange(0, 86_400)
        self.timeout_spin.setDecimals(1)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setSpecialValueText("none")
        self.timeout_spin.setKeyboardTracking(False)
        self.on_error_combo = QComboBox(self.settings_box)
        self.on_error_combo.setObjectName("nodeOnError")
        for value, text in ON_ERROR_CHOICES:
            self.on_error_combo.addItem(text, value)
        self.credential_combo = QComboBox(self.settings_box)
        self.credential_combo.setObjectName("nodeCredential")
        self.credential_label = QLabel("Credential", self.settings_box)
        settings.addRow("Label", self.label_edit)
        settings.addRow("Disabled", self.disabled_box)
        settings.addRow("Retries", self.retries_spin)
        settings.addRow("Timeout", self.timeout_spin)
        settings.addRow("On error", self.on_error_combo)
        settings.addRow(self.credential_label, self.credential_combo)

        self.fields_box = QGroupBox("Fields", self)
        self.fields_layout = QVBoxLayout(self.fields_box)
        self.raw_fields = QPlainTextEdit(self.fields_box)
        self.raw_fields.setReadOnly(True)
        self.raw_fields.hide()
        self.fields_layout.addWidget(self.raw_fields)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)
        layout.addWidget(self.error)
        layout.addWidget(self.settings_box)
        layout.addWidget(self.fields_box)
        layout.addStretch(1)

        self.label_edit.editingFinished.connect(self._label_edited)
        self.disabled_box.toggled.connect(lambda on: self._set_setting("disabled", bool(on)))
        self.retries_spin.valueChanged.connect(lambda v: self._set_setting("retries", int(v)))
        self.timeout_spin.valueChanged.connect(
            lambda v: self._set_setting("timeout", float(v) if v > 0 else None)
        )
        self.on_error_combo.currentIndexChanged.connect(
            lambda _i: self._set_setting("onError", self.on_error_combo.currentData())
        )
        self.credential_combo.currentIndexChanged.connect(self._credential_chosen)

        model.node_changed.connect(self._node_changed)
        model.nodes_removed.connect(self._nodes_removed)
        model.document_reset.connect(lambda: self.show_node(None))
        self.show_node(None)

    # -- showing -----------------------------------------------------------------------

    def show_node(self, node_id: str | None) -> None:
        """Show ``node_id`` (None or an unknown id: the empty state)."""
        if node_id is not None and not self.model.has_node(node_id):
            node_id = None
        rebuild = node_id != self.node_id or self.form is None
        self.node_id = node_id
        self._show_error(None)
        if node_id is None:
            self.title.setText("No node selected")
            self.hint.setText("Select a node on the canvas to edit it.")
            self.settings_box.hide()
            self.fields_box.hide()
            self._drop_form()
            return
        node = self.model.node(node_id)
        cls = self.model.node_type(node_id)
        self.title.setText(node.label)
        type_title = cls.title if cls is not None else "unknown type"
        self.hint.setText(f"{type_title} · {node.type} · id {node.id}")
        self.settings_box.show()
        self.fields_box.show()
        if rebuild:
            self._drop_form()
            if cls is not None:
                self.form = NodeForm(cls.Fields, node.data.fields, self.fields_box)
                provider = self.expression_context
                if provider is not None:
                    self.form.set_expression_context(lambda n=node_id: provider(n))
                self.form.fieldEdited.connect(self._field_edited)
                self.fields_layout.addWidget(self.form)
                self.raw_fields.hide()
            else:
                self.raw_fields.setPlainText(json.dumps(node.data.fields, indent=2))
                self.raw_fields.show()
        self._load_values()

    def _drop_form(self) -> None:
        if self.form is not None:
            self.form.hide()
            self.form.deleteLater()
            self.form = None

    def _load_values(self) -> None:
        if self.node_id is None:
            return
        node = self.model.node(self.node_id)
        cls = self.model.node_type(self.node_id)
        data = node.data
        self._loading = True
        try:
            self.title.setText(node.label)
            if not self.label_edit.isModified():  # never overwrite text being typed
                self.label_edit.setText(data.label)
            self.disabled_box.setChecked(bool(data.disabled))
            self.retries_spin.setValue(int(data.retries))
            self.timeout_spin.setValue(float(data.timeout or 0))
            self.on_error_combo.setCurrentIndex(max(self.on_error_combo.findData(data.onError), 0))
            types, required = credential_types(cls)
            self.credential_label.setVisible(bool(types))
            self.credential_combo.setVisible(bool(types))
            if types:
                self._load_credentials(types, required, data.credential or {})
            if self.form is not None:
                self.form.set_values(data.fields)
            else:
                self.raw_fields.setPlainText(json.dumps(data.fields, indent=2))
            self._show_problems()
        finally:
            self._loading = False

    def set_problems(self, problems: dict[str, list[tuple[str | None, str]]]) -> None:
        """Preflight problems by node id, as ``(field or None, message)``; shown inline."""
        self.problems = problems
        if self.node_id is not None:
            self._load_values()

    def _show_problems(self) -> None:
        general: list[str] = []
        for field, message in self.problems.get(self.node_id or "", ()):
            name = re.split(r"[.\[]", field, maxsplit=1)[0] if field else None
            editor = self.form.editors.get(name) if (self.form and name) else None
            if editor is not None:
                editor.show_error(message)
            else:
                general.append(message)
        if general:
            self._show_error("\n".join(general))

    def _load_credentials(
        self, types: tuple[str, ...], required: bool, binding: dict[str, Any]
    ) -> None:
        combo = self.credential_combo
        combo.clear()
        what = " / ".join(types)
        combo.addItem(f"— choose a {what} credential —" if required else "— none —", None)
        for credential_type in types:
            choices: Sequence[tuple[str, str]] = ()
            if self.credentials is not None:
                try:
                    choices = self.credentials(credential_type)
                except Exception as exc:  # the database went away: say so, keep editing
                    self._show_error(f"cannot list {credential_type} credentials: {exc}")
            for integration_id, name in choices:
                text = name if len(types) == 1 else f"{name} ({credential_type})"
                combo.addItem(text, (integration_id, name, credential_type))
        chosen = binding.get("integrationId")
        index = next(
            (i for i in range(combo.count()) if (combo.itemData(i) or (None,))[0] == chosen),
            -1,
        )
        if index < 0 and chosen:
            reference = binding.get("integration") or {}
            combo.addItem(
                f"{reference.get('name', chosen)} (missing)",
                (chosen, reference.get("name", ""), reference.get("type", types[0])),
            )
            index = combo.count() - 1
        combo.setCurrentIndex(max(index, 0))

    # -- model signals -----------------------------------------------------------------

    def _node_changed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self._load_values()

    def _nodes_removed(self, node_ids: list[str]) -> None:
        if self.node_id in node_ids:
            self.show_node(None)

    # -- edits -------------------------------------------------------------------------

    def _push(self, build: Callable[[], QUndoCommand]) -> bool:
        try:
            command = build()
        except EditError as exc:
            self._show_error(exc.message)
            self.message.emit(exc.message)
            self._load_values()
            return False
        self._show_error(None)
        self.undo_stack.push(command)
        return True

    def _label_edited(self) -> None:
        if self._loading or self.node_id is None:
            return
        label = self.label_edit.text().strip()
        self.label_edit.setModified(False)
        node_id = self.node_id
        if label == self.model.node(node_id).data.label:
            return
        self._push(lambda: RenameCommand(self.model, node_id, label))

    def _set_setting(self, name: str, value: Any) -> None:
        if self._loading or self.node_id is None:
            return
        node_id = self.node_id
        if getattr(self.model.node(node_id).data, name, None) == value:
            return
        self._push(lambda: SetSettingCommand(self.model, node_id, name, value))

    def _field_edited(self, name: str, value: Any) -> None:
        if self._loading or self.node_id is None:
            return
        node_id = self.node_id
        if self.model.node(node_id).data.fields.get(name) == value:
            return
        self._push(lambda: SetFieldCommand(self.model, node_id, name, value))

    def _credential_chosen(self, _index: int) -> None:
        if self._loading or self.node_id is None:
            return
        chosen = self.credential_combo.currentData()
        value = None if chosen is None else credential_binding(chosen[0], chosen[2], chosen[1])
        self._set_setting("credential", value)

    def _show_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))


class InspectorDock(QDockWidget):
    """The dock hosting an :class:`InspectorPanel` in a scroll area."""

    def __init__(
        self,
        model: GraphModel,
        undo_stack: QUndoStack,
        credentials: CredentialLister | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Inspector", parent)
        self.setObjectName("InspectorDock")
        self.panel = InspectorPanel(model, undo_stack, credentials, self)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.panel)
        self.setWidget(scroll)

    def show_node(self, node_id: str | None) -> None:
        """Show ``node_id`` (None: nothing selected)."""
        self.panel.show_node(node_id)
