"""`glyphic webhook`: add (secret shown once), list, rotate, enable/disable, remove, bad input."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.webhooks import find_webhook_for_path
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from tests.cli.webhook_helpers import run

pytestmark = pytest.mark.usefixtures("no_os_keyring")


@pytest.fixture
def flow(db, user_id) -> str:
    with db.session() as session:
        WorkflowRepository(session, user_id).create("Orders", WorkflowDocument())
    return "Orders"


def secret_of(out: str) -> str:
    return next(line.split("secret: ")[1] for line in out.splitlines() if "secret: " in line)


def test_add_prints_path_and_secret_once_then_list_hides_it(db, flow, capsys) -> None:
    code, out, err = run(capsys, "add", flow, "--path", "shop/orders", "--method", "put")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("added webhook ") and lines[0].endswith(" for workflow 'Orders'")
    assert lines[1] == "  PUT /webhooks/shop/orders"
    secret = secret_of(out)
    assert len(secret) >= 43
    assert "not shown again" in out
    with db.session() as session:
        assert find_webhook_for_path(session, "shop/orders")[1] == secret
        stored = session.execute(text("SELECT secret FROM webhooks")).scalar_one()
    assert secret not in stored
    code, out, _ = run(capsys, "list")
    assert code == 0 and secret not in out
    header, row = out.splitlines()
    assert header.split()[:5] == ["ID", "METHOD", "PATH", "WORKFLOW", "ACTIVE"]
    assert row.split()[1:6] == ["PUT", "/webhooks/shop/orders", "Orders", "yes", "never"]
    assert row.split()[-5:] == ["0", "full", "glyphic", "immediately", "1"]
    code, out, _ = run(capsys, "list", "--json")
    [item] = json.loads(out)
    assert (item["path"], item["method"], item["workflow"], item["active"]) == (
        "shop/orders",
        "PUT",
        "Orders",
        True,
    )
    assert item["trigger_count"] == 0 and item["last_triggered_at"] is None
    assert secret not in out


def test_add_with_a_random_path(db, flow, capsys) -> None:
    code, out, err = run(capsys, "add", flow)
    assert code == 0, err
    assert out.splitlines()[1].startswith("  POST /webhooks/")


def test_empty_list(database_url, capsys) -> None:
    code, out, _ = run(capsys, "list")
    assert (code, out) == (0, "no webhooks (add one with 'glyphic webhook add WORKFLOW')\n")


def test_rotate_prints_a_new_secret(db, flow, capsys) -> None:
    _, out, _ = run(capsys, "add", flow, "--path", "hook")
    old = secret_of(out)
    webhook_id = out.split()[2]
    code, out, err = run(capsys, "rotate", webhook_id)
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("new secret for POST /webhooks/hook: ")
    new = first.rsplit(": ", 1)[1]
    assert new != old
    with db.session() as session:
        assert find_webhook_for_path(session, "hook")[1] == new
    code, out, _ = run(capsys, "rotate", "hook")  # by path
    assert code == 0 and new not in out


def test_disable_enable_and_remove(db, flow, capsys) -> None:
    run(capsys, "add", flow, "--path", "hook")
    assert run(capsys, "disable", "hook")[:2] == (0, "disabled webhook /webhooks/hook\n")
    _, out, _ = run(capsys, "list")
    assert out.splitlines()[1].split()[4] == "no"
    assert run(capsys, "enable", "hook")[:2] == (0, "enabled webhook /webhooks/hook\n")
    code, out, _ = run(capsys, "remove", "hook")
    assert (code, out) == (0, "removed webhook /webhooks/hook (workflow 'Orders')\n")
    code, _, err = run(capsys, "remove", "hook")
    assert (code, err) == (2, "glyphic: no webhook with id or path 'hook'\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "Orders", "--path", "a b"), "webhook path 'a b' may only use letters, digits"),
        (("add", "Orders", "--path", ""), "a webhook path must not be empty"),
        (("add", "Orders", "--method", "FETCH"), "webhook method 'FETCH' is not one of"),
        (("add",), "the following arguments are required: WORKFLOW"),
        (("rotate",), "the following arguments are required: ID"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(database_url, capsys, args, message) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    assert message in err and err.count("\n") == 1 and out == ""


def test_duplicate_path_is_exit_2(db, flow, capsys) -> None:
    run(capsys, "add", flow, "--path", "dup")
    code, _, err = run(capsys, "add", flow, "--path", "/dup")
    assert (code, err) == (2, "glyphic: the webhook path 'dup' is already taken\n")


def test_unknown_workflow_and_id(database_url, capsys) -> None:
    code, _, err = run(capsys, "add", "Nope")
    assert (code, err) == (2, "glyphic: no workflow named 'Nope'; 'glyphic list' lists them\n")
    code, _, err = run(capsys, "rotate", "00000000-0000-0000-0000-000000000000")
    assert code == 2 and err.startswith("glyphic: no webhook with id or path '00000000-")


def test_bare_webhook_command_prints_help(capsys) -> None:
    code, out, _ = run(capsys)
    assert code == 2 and "rotate" in out and "remove" in out
