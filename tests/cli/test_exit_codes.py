"""One table of exit codes for every command (README): 0 ok, 1 the run failed, 2 usage /
not found / invalid input, 3 the database is unreachable."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from glyphic_desktop.cli.main import main
from glyphic_desktop.paths import resources_dir

EXAMPLE = str(resources_dir() / "examples" / "loop-over-items.json")
SOME_ID = str(uuid.uuid4())

DATABASE_COMMANDS = [
    ["list"],
    ["runs"],
    ["show", "x"],
    ["logs", SOME_ID],
    ["run", "x"],
    ["run", EXAMPLE],
    ["export", "x"],
    ["import", EXAMPLE],
    ["trust", "x"],
    ["schedule", "list"],
    ["schedule", "add", "x", "--cron", "@daily"],
    ["webhook", "list"],
    ["credentials", "list"],
    ["db", "status"],
    ["agent", "status"],
]


@pytest.mark.parametrize("argv", DATABASE_COMMANDS, ids=[" ".join(a) for a in DATABASE_COMMANDS])
def test_an_unreachable_database_exits_3_with_one_line(argv, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GLYPHIC_DATABASE_URL", "postgresql://nobody:secretpw@127.0.0.1:9/none")
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "127.0.0.1:9" in err and "secretpw" not in err


NOT_FOUND = [
    ["show", "nope"],
    ["runs", "nope"],
    ["logs", SOME_ID],
    ["run", "nope"],
    ["export", "nope"],
    ["trust", "nope"],
    ["schedule", "add", "nope", "--cron", "@daily"],
    ["schedule", "pause", SOME_ID],
    ["webhook", "add", "nope"],
    ["webhook", "remove", "nope"],
    ["credentials", "remove", "smtp", "nope"],
]


@pytest.mark.parametrize("argv", NOT_FOUND, ids=[" ".join(a) for a in NOT_FOUND])
def test_not_found_exits_2_with_one_line(database_url, argv, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err


USAGE = [
    ["list", "--bogus"],
    ["runs", "--limit", "0"],
    ["logs"],
    ["show"],
    ["doctor", "extra"],
    ["credentials", "test"],
    ["agent", "status", "--nope"],
]


@pytest.mark.parametrize("argv", USAGE, ids=[" ".join(a) for a in USAGE])
def test_usage_errors_exit_2_naming_the_subcommand_help(argv, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    words = [a for a in argv if not a.startswith("-") and a not in ("0", "extra")]
    assert f"(see 'glyphic {' '.join(words)} --help')" in err


def test_a_duplicate_import_exits_2(database_url, capsys, tmp_path: Path) -> None:
    assert main(["import", EXAMPLE]) == 0
    assert main(["import", EXAMPLE]) == 2
    assert "nothing was imported" in capsys.readouterr().err


def test_input_that_is_not_an_object_is_refused_before_the_run(database_url, capsys) -> None:
    assert main(["import", EXAMPLE]) == 0
    capsys.readouterr()
    for text in ("[1,2]", "3", "{bad"):
        assert main(["run", "Loop over items", "--input", text]) == 2
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""
    assert main(["runs", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"  # no run was started


def test_a_failed_run_exits_1(db, user_id, capsys) -> None:
    from glyphic_desktop.document.model import WorkflowDocument
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    document = WorkflowDocument.model_validate(
        {
            "nodes": [
                {"id": "boom", "type": "stop_error", "data": {"fields": {"message": "stop here"}}}
            ],
            "edges": [],
        }
    )
    with db.session() as session:
        WorkflowRepository(session, user_id).create("Fails", document)
    assert main(["run", "Fails"]) == 1
    assert "stop here" in capsys.readouterr().err
