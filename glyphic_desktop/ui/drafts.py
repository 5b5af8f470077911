"""Autosave drafts: the editor's unsaved document, written atomically to ``drafts_dir()``.

A draft is one JSON file per editor document (``<key>.json``) holding the workflow JSON
plus what is needed to offer it back (workflow id, name, the version it was based on,
when it was written). It is written a few seconds after each change by
:class:`Autosaver`, deleted when the document is saved or closed cleanly, and so a
draft found at start-up means the editor did not close cleanly (a crash): the window
offers it back.

Drafts never contain decrypted secrets: a node's ``data.credential`` keeps only its
reference keys (integration id, type, name), whatever else a caller put there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from glyphic_desktop import paths

log = logging.getLogger(__name__)

DRAFT_FORMAT = 1
DEFAULT_DELAY_MS = 3000
CREDENTIAL_REFERENCE_KEYS = frozenset(
    {"id", "integrationId", "integration", "integration_id", "type", "name"}
)
_KEY_RE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class Draft:
    """One autosaved document.

    ``document`` is JSON data, or a document snapshot (``GraphModel.snapshot``) that is
    written as JSON slice by slice when the draft is written (on the autosave's worker
    thread); ``release`` is then called with it.
    """

    key: str
    document: Any
    workflow_id: str | None = None
    name: str = "Untitled"
    base_version: int | None = None
    saved_at: str = ""
    release: Callable[[Any], None] | None = None

    def to_json(self) -> dict[str, Any]:
        """The file's content as JSON data."""
        return json.loads(self.to_bytes())

    def to_bytes(self) -> bytes:
        """The file's content as UTF-8 JSON: a document snapshot is written slice by
        slice (:func:`~glyphic_desktop.document.fast_json.document_json_bytes`), so the
        GUI thread gets the interpreter between slices while a worker writes a draft."""
        head = {
            "format": DRAFT_FORMAT,
            "key": self.key,
            "workflow_id": self.workflow_id,
            "name": self.name,
            "base_version": self.base_version,
            "saved_at": self.saved_at,
        }
        head_bytes = json.dumps(head, ensure_ascii=False).encode()
        return head_bytes[:-1] + b', "document": ' + document_bytes(self.document) + b"}"

    def done(self) -> None:
        """The draft was written (or failed): let go of a document snapshot."""
        if self.release is not None:
            release, self.release = self.release, None
            release(self.document)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        """Read a draft file's content; raises ValueError when it is not a draft."""
        if not isinstance(data, dict) or not isinstance(data.get("document"), dict):
            raise ValueError("not a Glyphic draft (no 'document' object)")
        return cls(
            key=str(data.get("key") or ""),
            document=data["document"],
            workflow_id=data.get("workflow_id"),
            name=str(data.get("name") or "Untitled"),
            base_version=data.get("base_version"),
            saved_at=str(data.get("saved_at") or ""),
        )


def document_bytes(document: Any) -> bytes:
    """A document (JSON data, or a :class:`WorkflowDocument`) as UTF-8 JSON with its
    secrets scrubbed (see :func:`scrub_secrets`).

    A :class:`WorkflowDocument` is written by the sliced serialiser; only the nodes whose
    credential holds more than reference keys are copied (scrubbed) first. Its port links
    are kept in sync by the editor, as ``to_data`` would make them.
    """
    if isinstance(document, dict):
        return json.dumps(scrub_secrets(document), ensure_ascii=False).encode()
    from glyphic_desktop.document.fast_json import document_json_bytes

    nodes = document.nodes
    scrubbed = None
    for index, node in enumerate(nodes):
        credential = node.data.credential
        if isinstance(credential, dict) and set(credential) - CREDENTIAL_REFERENCE_KEYS:
            if scrubbed is None:
                scrubbed = list(nodes)
            reference = {k: v for k, v in credential.items() if k in CREDENTIAL_REFERENCE_KEYS}
            data = node.data.model_copy(update={"credential": reference or None})
            scrubbed[index] = node.model_copy(update={"data": data})
    return document_json_bytes(document, nodes=scrubbed)


def scrub_secrets(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose nodes' ``data.credential`` keep only reference keys."""
    nodes = document.get("nodes")
    if not isinstance(nodes, list):
        return document
    clean_nodes = []
    for node in nodes:
        data = node.get("data") if isinstance(node, dict) else None
        credential = data.get("credential") if isinstance(data, dict) else None
        if isinstance(credential, dict) and set(credential) - CREDENTIAL_REFERENCE_KEYS:
            reference = {k: v for k, v in credential.items() if k in CREDENTIAL_REFERENCE_KEYS}
            node = {**node, "data": {**data, "credential": reference or None}}
        clean_nodes.append(node)
    return {**document, "nodes": clean_nodes}


def _safe_key(key: str) -> str:
    return _KEY_RE.sub("_", key) or "draft"


class DraftStore:
    """The drafts directory: write atomically, list, load, discard."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or paths.drafts_dir()

    def path_for(self, key: str) -> Path:
        """The file a draft with ``key`` is written to."""
        return self.directory / f"{_safe_key(key)}.json"

    def write(self, draft: Draft) -> Path:
        """Write ``draft`` atomically (temp file, fsync, rename); return its path."""
        paths.ensure_dir(self.directory)
        draft.saved_at = datetime.now(UTC).isoformat(timespec="seconds")
        target = self.path_for(draft.key)
        text = draft.to_bytes()
        fd, tmp_name = tempfile.mkstemp(prefix=".draft-", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o600)
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        return target

    def load(self, key: str) -> Draft | None:
        """The draft with ``key``, or None when there is none (or it is unreadable)."""
        path = self.path_for(key)
        try:
            return Draft.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable draft %s: %s", path, exc)
            return None

    def list(self) -> list[Draft]:
        """Every readable draft, newest first."""
        if not self.directory.is_dir():
            return []
        drafts = []
        for path in self.directory.glob("*.json"):
            try:
                drafts.append(Draft.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable draft %s: %s", path, exc)
        return sorted(drafts, key=lambda draft: draft.saved_at, reverse=True)

    def discard(self, key: str) -> None:
        """Delete the draft with ``key`` (nothing happens when there is none)."""
        with contextlib.suppress(FileNotFoundError):
            self.path_for(key).unlink()


class Autosaver(QObject):
    """Writes a draft ``delay_ms`` after the last change (each change restarts the wait).

    ``snapshot`` returns the draft to write (or None when there is nothing unsaved).
    ``written(path)`` / ``failed(message)`` report each attempt.
    """

    written = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        snapshot: Callable[[], Draft | None],
        store: DraftStore | None = None,
        *,
        delay_ms: int = DEFAULT_DELAY_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.snapshot = snapshot
        self.store = store or DraftStore()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.flush_in_background)
        self._worker: Any = None

    def schedule(self) -> None:
        """A change happened: (re)start the wait."""
        self.timer.start()

    def flush(self) -> Path | None:
        """Write the draft now, on this thread (when there is one); return its path."""
        self.timer.stop()
        self.wait()
        draft = self.snapshot()
        if draft is None:
            return None
        try:
            path = self.store.write(draft)
        except Exception as exc:  # disk full, permissions: tell the user, keep editing
            self.failed.emit(f"could not write the autosave draft: {exc}")
            return None
        finally:
            draft.done()
        self.written.emit(str(path))
        return path

    def flush_in_background(self) -> bool:
        """Write the draft on a worker thread (what the timer does); False when there
        was nothing to write or a write is still under way (the timer retries)."""
        from glyphic_desktop.ui.run_thread import WorkerThread

        self.timer.stop()
        if self._worker is not None:
            self.timer.start()  # one write at a time: try again after the next wait
            return False
        draft = self.snapshot()
        if draft is None:
            return False
        store = self.store
        worker = WorkerThread(lambda: store.write(draft))
        self._worker = worker

        def finished() -> None:
            if self._worker is not worker:
                return  # already reported (by wait())
            self._worker = None
            draft.done()
            worker.wait()
            if worker.error is not None:
                self.failed.emit(f"could not write the autosave draft: {worker.error}")
            else:
                self.written.emit(str(worker.result))
            worker.deleteLater()

        worker.finished.connect(finished)
        self._finish = finished
        worker.start()
        return True

    def busy(self) -> bool:
        """Whether a draft is being written on a worker thread."""
        return self._worker is not None

    def wait(self) -> None:
        """Wait for a draft being written on a worker thread (closing, saving)."""
        worker = self._worker
        if worker is not None:
            worker.wait()
            self._finish()  # report it now (its queued finished signal then does nothing)

    def discard(self, key: str) -> None:
        """Stop waiting and delete the draft ``key`` (after a save or a clean close)."""
        self.timer.stop()
        self.wait()  # a draft still being written would come back after the delete
        self.store.discard(key)
