"""`glyphic run --only / --to / --from NODE [--execution ID]`, pinned data in `glyphic run`,
and `glyphic export` with pinned data (masked secrets, `--strip-pins`)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from engine.partial_helpers import CALLS, Limit, Source, Step  # noqa: E402

from glyphic_desktop.cli.main import main  # noqa: E402
from glyphic_desktop.nodes.registry import catalog, default_registry  # noqa: E402
from glyphic_desktop.store.database import Database  # noqa: E402
from glyphic_desktop.store.repositories.executions import ExecutionRepository  # noqa: E402
from glyphic_desktop.store.repositories.users import current_user_id  # noqa: E402

SECRET = "pinned-SECRET-token-77"


@pytest.fixture
def partial_nodes():
    """The partial-run test node types, available to the CLI through the catalog."""
    default_registry()
    added = [cls for cls in (Source, Step, Limit) if catalog().get(cls.key) is None]
    for cls in added:
        catalog().register(cls)
    CALLS.clear()
    yield
    for cls in added:
        catalog().unregister(cls.key)


def _chain_file(path: Path, n: int = 4, pinned: dict | None = None) -> Path:
    nodes = [{"id": "src", "type": "p.source", "data": {"label": "Source"}}]
    edges = []
    previous = "src"
    for i in range(1, n + 1):
        data = {"label": f"Step {i}", "fields": {"add": i}}
        if pinned and f"s{i}" in pinned:
            data["pinnedData"] = pinned[f"s{i}"]
        nodes.append({"id": f"s{i}", "type": "p.step", "data": data})
        edges.append({"id": i, "source": previous, "target": f"s{i}"})
        previous = f"s{i}"
    path.write_text(
        json.dumps({"nodes": nodes, "edges": edges, "metadata": {"name": "chain"}}),
        encoding="utf-8",
    )
    return path


def _summary(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out.strip().splitlines()[-1])


def _execution(database_url: str, execution_id: str):
    db = Database(database_url)
    try:
        with db.session() as session:
            return ExecutionRepository(session, current_user_id(db)).get(execution_id)
    finally:
        db.dispose()


def test_run_from_only_and_to_a_node(database_url, partial_nodes, tmp_path, capsys):
    path = _chain_file(tmp_path / "chain.json")
    assert main(["run", str(path), "--input", '{"n": 0}', "--json"]) == 0
    first = _summary(capsys)
    assert CALLS == ["src", "s1", "s2", "s3", "s4"] and first["result"]["n"] == 10

    CALLS.clear()
    assert main(["run", "chain", "--from", "Step 3", "--json"]) == 0
    summary = _summary(capsys)
    assert CALLS == ["s3", "s4"]
    assert (summary["nodes_run"], summary["nodes_reused"]) == (2, 1)
    assert summary["result"]["n"] == 10 and summary["result"]["path"] == [
        "s1",
        "s2",
        "s3",
        "s4",
    ]
    execution = _execution(database_url, summary["execution_id"])
    assert execution.trigger_type == "manual"
    assert execution.trigger_data["partial"] == {
        "mode": "from",
        "node": "s3",
        "source_execution": first["execution_id"],
    }
    assert execution.trigger_data["source"] == "cli"

    CALLS.clear()
    assert main(["run", "chain", "--only", "s2"]) == 0
    out = capsys.readouterr().out
    assert CALLS == ["s2"]
    assert "(1 ran, 0 skipped, 0 failed)" in out.splitlines()[-1]  # its recorded inputs

    CALLS.clear()
    assert main(["run", "chain", "--from", "s4"]) == 0
    assert CALLS == ["s4"]
    assert "(1 ran, 0 skipped, 0 failed, 1 pinned or re-used)" in capsys.readouterr().out

    CALLS.clear()
    assert main(["run", "chain", "--to", "step 2", "--json"]) == 0
    assert CALLS == ["src", "s1", "s2"]
    assert _summary(capsys)["result"]["n"] == 3


def test_run_from_a_chosen_execution(database_url, partial_nodes, tmp_path, capsys):
    path = _chain_file(tmp_path / "chain.json", n=3)
    assert main(["run", str(path), "--input", '{"n": 100}', "--json"]) == 0
    older = _summary(capsys)["execution_id"]
    assert main(["run", "chain", "--input", '{"n": 0}', "--json"]) == 0
    capsys.readouterr()
    CALLS.clear()
    assert main(["run", "chain", "--from", "s3", "--execution", older, "--json"]) == 0
    summary = _summary(capsys)
    assert CALLS == ["s3"]
    assert summary["result"]["n"] == 106  # from the older run's s2 (100 + 1 + 2), + 3
    assert _execution(database_url, summary["execution_id"]).input_data == {"n": 100}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "Stpe 2"], "no node 'Stpe 2' in the workflow; did you mean 'Step 2'"),
        (["--only", "nothing-like-it"], "no node 'nothing-like-it' in the workflow"),
        (["--execution", "0e6f1a2b-0000-4000-8000-000000000000"], "--execution goes with"),
        (
            ["--from", "s2", "--execution", "0e6f1a2b-0000-4000-8000-000000000000"],
            "no execution with id",
        ),
        (["--from", "s2", "--execution", "not-an-id"], "no execution with id 'not-an-id'"),
        (["--to", "s2", "--execution", "0e6f1a2b-0000-4000-8000-000000000000"], "not --to"),
    ],
)
def test_bad_partial_arguments_exit_2_with_one_line(
    database_url, partial_nodes, tmp_path, capsys, args, message
):
    path = _chain_file(tmp_path / "chain.json", n=2)
    assert main(["run", str(path)]) == 0
    capsys.readouterr()
    CALLS.clear()
    assert main(["run", "chain", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert CALLS == []


def test_two_partial_modes_at_once_are_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "chain", "--from", "a", "--only", "b"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_execution_of_another_workflow_is_refused(database_url, partial_nodes, tmp_path, capsys):
    assert main(["run", str(_chain_file(tmp_path / "one.json", n=1)), "--json"]) == 0
    other = _summary(capsys)["execution_id"]
    data = json.loads((tmp_path / "one.json").read_text())
    data["metadata"]["name"] = "two"
    (tmp_path / "two.json").write_text(json.dumps(data))
    assert main(["run", str(tmp_path / "two.json")]) == 0
    capsys.readouterr()
    assert main(["run", "two", "--from", "s1", "--execution", other]) == 2
    assert "is a run of another workflow" in capsys.readouterr().err


def test_glyphic_run_honours_pinned_data(database_url, partial_nodes, tmp_path, capsys):
    pinned = {"s2": {"output": {"n": 1000, "path": ["pin"]}}}
    path = _chain_file(tmp_path / "chain.json", n=3, pinned=pinned)
    assert main(["run", str(path), "--json"]) == 0
    summary = _summary(capsys)
    assert CALLS == ["src", "s1", "s3"]  # s2's run is never called
    assert summary["result"] == {"n": 1003, "path": ["pin", "s3"], "other": None}
    assert summary["nodes_reused"] == 1


def _add_credential(monkeypatch, capsys) -> None:
    data = {
        "host": "127.0.0.1",
        "port": 2525,
        "security": "none",
        "user": "mailer",
        "password": SECRET,
    }
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(data)))
    assert main(["credentials", "add", "smtp", "Work", "--stdin"]) == 0
    capsys.readouterr()


@pytest.mark.usefixtures("no_os_keyring")
def test_export_masks_secrets_in_pinned_data_or_strips_the_pins(
    database_url, partial_nodes, tmp_path, capsys, monkeypatch
):
    _add_credential(monkeypatch, capsys)
    pinned = {"s1": {"output": {"token": SECRET, "note": f"Bearer {SECRET}", "n": 5}}}
    path = _chain_file(tmp_path / "chain.json", n=2, pinned=pinned)
    assert main(["import", str(path)]) == 0
    capsys.readouterr()

    assert main(["export", "chain"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out
    exported = json.loads(out)
    pins = exported["nodes"][1]["data"]["pinnedData"]
    assert pins == {"output": {"token": "••••", "note": "Bearer ••••", "n": 5}}

    assert main(["export", "chain", "--strip-pins", "-o", str(tmp_path / "out.json")]) == 0
    capsys.readouterr()
    stripped = json.loads((tmp_path / "out.json").read_text())
    assert all("pinnedData" not in node["data"] for node in stripped["nodes"])
    assert stripped["nodes"][1]["data"]["fields"] == {"add": 1}  # the rest is kept


@pytest.mark.usefixtures("no_os_keyring")
def test_export_with_pins_but_no_key_says_to_strip_them(
    database_url, partial_nodes, tmp_path, capsys, monkeypatch
):
    _add_credential(monkeypatch, capsys)
    path = _chain_file(tmp_path / "chain.json", n=1, pinned={"s1": {"output": 1}})
    assert main(["import", str(path)]) == 0
    capsys.readouterr()
    from glyphic_desktop import paths
    from glyphic_desktop.secrets.keys import KEY_FILE_NAME

    (paths.config_dir() / KEY_FILE_NAME).unlink()  # the key is gone (no keyring either)
    code = main(["export", "chain"])
    err = capsys.readouterr().err
    assert code == 2 and "--strip-pins" in err and "Traceback" not in err
    assert main(["export", "chain", "--strip-pins"]) == 0


def test_pinned_data_that_is_not_an_object_is_refused_naming_its_path(
    database_url, partial_nodes, tmp_path, capsys
):
    path = _chain_file(tmp_path / "chain.json", n=2, pinned={"s2": ["not", "ports"]})
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "nodes[2].data.pinnedData" in err and "Traceback" not in err
    assert CALLS == []
