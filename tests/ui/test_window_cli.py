"""`glyphic` / `glyphic editor`: the database comes up before the window; errors are one line."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from glyphic_desktop.cli.main import main
from glyphic_desktop.ui.main_window import MainWindow


def _windows() -> list[MainWindow]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]


def test_editor_opens_the_window_on_the_database(qtbot, database_url, capsys):
    seen: list[tuple[str, bool]] = []

    def close_soon() -> None:
        windows = [w for w in _windows() if w.isVisible()]
        if not windows:
            QTimer.singleShot(50, close_soon)
            return
        for window in windows:
            seen.append(
                (window.windowTitle(), window.db.url.endswith(database_url.rsplit("/", 1)[1]))
            )
            window.close()
            window.deleteLater()
        QApplication.instance().exit(0)  # exit(), unlike quit(), posts no stray Quit event

    app = QApplication.instance()
    app.setQuitOnLastWindowClosed(False)
    QTimer.singleShot(50, close_soon)
    try:
        assert main([]) == 0  # no command: the editor
    finally:
        app.setQuitOnLastWindowClosed(True)
    assert seen == [("Untitled — Glyphic", True)]


def test_unreachable_database_is_one_line_and_no_window(qtbot, monkeypatch, capsys):
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", "postgresql://nobody:x@127.0.0.1:9/none")
    before = len(_windows())
    assert main(["editor"]) == 3  # the database is unreachable
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("glyphic: cannot reach PostgreSQL at 127.0.0.1:9")
    assert len(_windows()) == before


def test_editor_help_lists_the_workflow_argument(capsys):
    try:
        main(["editor", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "workflow" in capsys.readouterr().out


def test_editor_opens_a_workflow_file_given_on_the_command_line(qtbot, database_url):
    from glyphic_desktop import paths

    example = paths.resources_dir() / "examples" / "webhook-echo.json"
    seen: list[tuple[str, int]] = []

    def close_soon() -> None:
        windows = [w for w in _windows() if w.isVisible()]
        if not windows:
            QTimer.singleShot(50, close_soon)
            return
        for window in windows:
            seen.append((window.workflow_name, len(window.model.doc.nodes)))
            window.prompts.unsaved_changes = lambda name: "discard"
            window.close()
            window.deleteLater()
        QApplication.instance().exit(0)

    app = QApplication.instance()
    app.setQuitOnLastWindowClosed(False)
    QTimer.singleShot(50, close_soon)
    try:
        assert main(["editor", str(example)]) == 0
    finally:
        app.setQuitOnLastWindowClosed(True)
    ((name, count),) = seen
    assert name and count > 0
