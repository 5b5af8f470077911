"""The trust banner above the canvas: nodes that came in from outside and run code wait
for consent, like macros in an office suite (the policy is ``engine/trust.py``).

The banner lists the untrusted nodes of the open workflow that run code or commands,
with a "Trust and enable" button. Nodes become untrusted when a workflow file is opened
in the editor (not the bundled examples), when foreign workflow JSON is pasted (text
that did not come from a Glyphic copy), or when the stored workflow already lists them
(``workflows.untrusted_nodes``). Editing a node's code field (its type's
``code_fields``) trusts that node; the button trusts them all. While any is left, the
editor refuses to run the workflow with the same one-line message as ``glyphic run``.

A stored workflow's trust is written at once (an UPDATE of ``untrusted_nodes``); an
unsaved one's is kept here and written when it is first saved (:meth:`saved`).

The window creates it with :meth:`TrustBanner.install` and tells it when a document is
loaded, opened from a file, saved, and before it runs.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from glyphic_desktop.engine.trust import (
    describe_nodes,
    is_bundled_example,
    needs_trust,
    outside_nodes,
    refusal_message,
    refused_nodes,
)

log = logging.getLogger(__name__)

PASTE_SOURCE = "pasted in the editor"
_STYLE = (
    "QFrame#trustBanner { background: #5c4813; border-bottom: 1px solid #9e7c1c; }"
    "QFrame#trustBanner QLabel { color: #fff4d6; }"
)


class TrustBanner(QFrame):
    """The banner, and the open workflow's untrusted nodes (``untrusted``: node ids)."""

    trust_changed = Signal()

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.setObjectName("trustBanner")
        self.setStyleSheet(_STYLE)
        self.window_ = window
        self.untrusted: set[str] = set()
        self.source: str | None = None
        self._stored_id: uuid.UUID | None = None  # the stored workflow this state is of
        self._code: dict[str, tuple[Any, ...]] = {}  # code field values when it came in
        self.label = QLabel(self)
        self.label.setObjectName("trustBannerText")
        self.label.setWordWrap(True)
        self.button = QPushButton("Trust and enable", self)
        self.button.setObjectName("trustButton")
        self.button.setToolTip("Allow these nodes to run code and commands on this computer")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.button.clicked.connect(self.trust_all)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        model = window.model
        model.node_changed.connect(self._node_changed)
        model.nodes_added.connect(self._schedule_refresh)
        model.nodes_removed.connect(self._schedule_refresh)
        model.document_reset.connect(self._schedule_refresh)
        pasted = getattr(window.scene, "pasted", None)
        if pasted is not None:
            pasted.connect(self._pasted)
        self.hide()

    @classmethod
    def install(cls, window: Any) -> TrustBanner:
        """Put a banner above ``window``'s canvas (first in the editor widget's column)
        and return it; the palette shows the disabled node types."""
        banner = cls(window)
        window.editor.widget.layout().insertWidget(0, banner)
        banner._show_disabled_types()
        return banner

    # -- what the window tells it ---------------------------------------------------

    def document_loaded(self, workflow_id: uuid.UUID | None) -> None:
        """A document was loaded: a stored one brings its untrusted nodes, a new one none."""
        self.untrusted, self.source = set(), None
        self._stored_id = workflow_id
        if workflow_id is not None:
            try:
                with self.window_.db.session() as session:
                    ids, self.source = self._repo(session).trust_state(workflow_id)
                self.untrusted = set(ids)
            except Exception as exc:  # unreachable database: the runner still refuses
                log.warning("could not read the trust of workflow %s: %s", workflow_id, exc)
        self._remember_code(self.untrusted)
        self.refresh()

    def came_from_outside(self, source: str, path: str | Path | None = None) -> None:
        """The whole document came from outside (``source``: "opened x.json in the
        editor"); a bundled example ``path`` is trusted."""
        if path is not None and is_bundled_example(path):
            return
        self._add(outside_nodes(self.window_.model.doc, self.window_.registry), source)

    def saved(self, workflow_id: uuid.UUID) -> None:
        """The document was saved as ``workflow_id``: a workflow saved for the first time
        or under a new name gets the untrusted nodes (a stored one already has them: every
        change was written at once, and one trusted elsewhere meanwhile stays trusted)."""
        present = self._present(self.untrusted)
        if present and workflow_id != self._stored_id:
            self._write(lambda repo: repo.mark_untrusted(workflow_id, present, self._origin()))
        self._stored_id = workflow_id

    def allow_run(self) -> bool:
        """Whether the workflow may run; if not, say why (the same line as the CLI)."""
        nodes = self.refused()
        if not nodes:
            return True
        self.refresh()
        message = refusal_message(self.window_.workflow_name, nodes, self.source)
        self.window_.statusBar().showMessage("Not run: the workflow is not trusted", 8000)
        self.window_.scene.select_nodes([node.id for node in nodes])
        self.window_.prompts.error("The workflow cannot run", message)
        return False

    # -- state ----------------------------------------------------------------------

    def refused(self) -> list[Any]:
        """The untrusted nodes of the open document that run code (document order)."""
        return refused_nodes(self.window_.model.doc, self.untrusted, self.window_.registry)

    def refresh(self) -> None:
        """Show the banner listing the refused nodes, or hide it when there are none."""
        self._refresh_timer.stop()
        nodes = self.refused()
        if not nodes:
            self.hide()
            return
        origin = f" ({self.source})" if self.source else ""
        what = "1 node runs" if len(nodes) == 1 else f"{len(nodes)} nodes run"
        self.label.setText(
            f"Not trusted: this workflow came from outside{origin} and {what} code or "
            f"commands on this computer: {describe_nodes(nodes)}. Nothing runs until you "
            "trust them (editing a node's code trusts that node)."
        )
        self.show()

    def trust_all(self) -> None:
        """ "Trust and enable": every untrusted node may run (stored at once if saved)."""
        nodes = self.refused()
        if not self._write(lambda repo: repo.mark_trusted(self.window_.workflow_id)):
            return
        self.untrusted, self.source = set(), None
        self._code.clear()
        self.refresh()
        self.trust_changed.emit()
        if nodes:
            self.window_.statusBar().showMessage(f"Trusted {describe_nodes(nodes)}", 8000)

    # -- reactions --------------------------------------------------------------------

    def _pasted(self, node_ids: list[str], foreign: bool) -> None:
        if not foreign:
            return  # copied in this editor: the person's own nodes
        model, registry = self.window_.model, self.window_.registry
        pasted = (model.node(node_id) for node_id in node_ids if model.has_node(node_id))
        self._add([node.id for node in pasted if needs_trust(registry, node)], PASTE_SOURCE)

    def _node_changed(self, node_id: str) -> None:
        if node_id not in self.untrusted or node_id not in self._code:
            return
        if self._code_of(node_id) == self._code[node_id]:
            self._schedule_refresh()  # its label may have changed
            return
        # The person edited this node's code: that is trusting it.
        if not self._write(lambda repo: repo.mark_trusted(self.window_.workflow_id, [node_id])):
            return
        self.untrusted.discard(node_id)
        self._code.pop(node_id, None)
        self.refresh()
        self.trust_changed.emit()

    def _schedule_refresh(self, *_args: Any) -> None:
        if self.untrusted:
            self._refresh_timer.start()

    # -- helpers ----------------------------------------------------------------------

    def _add(self, ids: list[str], source: str) -> None:
        new = [node_id for node_id in ids if node_id not in self.untrusted]
        if not new:
            return
        if not self._write(lambda repo: repo.mark_untrusted(self.window_.workflow_id, new, source)):
            return
        self.untrusted.update(new)
        self.source = source
        self._remember_code(new)
        self.refresh()
        self.trust_changed.emit()

    def _origin(self) -> str:
        return self.source or "came from outside"

    def _present(self, ids: set[str]) -> list[str]:
        model = self.window_.model
        return sorted(node_id for node_id in ids if model.has_node(node_id))

    def _code_of(self, node_id: str) -> tuple[Any, ...]:
        model = self.window_.model
        if not model.has_node(node_id):
            return ()
        node = model.node(node_id)
        cls = self.window_.registry.get(node.type)
        names = getattr(cls, "code_fields", ()) or tuple(sorted(node.data.fields))
        return tuple(repr(node.data.fields.get(name)) for name in names)

    def _remember_code(self, ids: Any) -> None:
        for node_id in ids:
            self._code[node_id] = self._code_of(node_id)

    def _repo(self, session: Any) -> Any:
        from glyphic_desktop.store.repositories.workflows import WorkflowRepository

        return WorkflowRepository(session, self.window_.user_id)

    def _write(self, change: Any) -> bool:
        """Apply ``change(repo)`` to the stored workflow (nothing when it is not saved yet);
        False, after saying so, when the database refused."""
        if self.window_.workflow_id is None:
            return True
        try:
            with self.window_.db.session() as session:
                change(self._repo(session))
        except Exception as exc:
            from glyphic_desktop.ui.error_text import error_line

            self.window_.prompts.error("Cannot change the workflow's trust", error_line(exc))
            return False
        return True

    def _show_disabled_types(self) -> None:
        from glyphic_desktop.engine.disabled_nodes import disabled_node_types

        palette = getattr(self.window_, "palette_dock", None)
        if palette is None or not hasattr(palette, "set_disabled_types"):
            return
        try:
            with self.window_.db.session() as session:
                disabled = disabled_node_types(session, self.window_.user_id)
        except Exception:  # no database: the environment's list still applies
            disabled = disabled_node_types()
        palette.set_disabled_types(disabled)
