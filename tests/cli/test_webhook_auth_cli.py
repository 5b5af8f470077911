"""`glyphic webhook add --auth/--respond`, `glyphic webhook set`, and `list` showing them."""

from __future__ import annotations

import io

import pytest

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from tests.cli.webhook_helpers import listed, run

pytestmark = pytest.mark.usefixtures("no_os_keyring")


@pytest.fixture
def orders(db, user_id) -> None:
    with db.session() as session:
        WorkflowRepository(session, user_id).create("Orders", WorkflowDocument())


def test_add_with_each_auth_mode_and_a_response_mode(orders, capsys, monkeypatch) -> None:
    code, out, err = run(capsys, "add", "Orders", "--path", "gh", "--auth", "github")
    assert code == 0, err
    assert "X-Hub-Signature-256" in out and "secret: " in out
    code, out, err = run(
        capsys, "add", "Orders", "--path", "hd", "--auth", "header", "--header", "X-Token"
    )
    assert code == 0, err
    code, out, err = run(
        capsys,
        "add",
        "Orders",
        "--path",
        "ba",
        "--auth",
        "basic",
        "--user",
        "ci",
        "--respond",
        "when-finished",
        "--timeout",
        "12",
    )
    assert code == 0, err
    assert "answers when finished (12 s)" in out
    code, out, err = run(capsys, "add", "Orders", "--path", "open", "--auth", "none")
    assert code == 0, err
    assert "secret:" not in out and "127.0.0.1" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("whsec_from_stripe_0123456789\n"))
    code, out, err = run(
        capsys, "add", "Orders", "--path", "st", "--auth", "stripe", "--secret-stdin"
    )
    assert code == 0, err
    assert "whsec_from_stripe" not in out  # a given secret is not echoed
    items = listed(capsys)
    assert {path: item["auth"] for path, item in items.items()} == {
        "gh": "github",
        "hd": "header",
        "ba": "basic",
        "open": "none",
        "st": "stripe",
    }
    assert items["hd"]["auth_header"] == "X-Token" and items["ba"]["basic_user"] == "ci"
    assert (items["ba"]["respond"], items["ba"]["response_timeout"]) == ("when-finished", 12)
    assert items["gh"]["respond"] == "immediately"
    code, out, _ = run(capsys, "list")
    assert "AUTH" in out.splitlines()[0] and "when-finished (12 s)" in out


def test_set_changes_auth_and_response(orders, capsys) -> None:
    assert run(capsys, "add", "Orders", "--path", "p")[0] == 0
    code, out, err = run(capsys, "set", "p", "--auth", "header", "--header", "X-Key")
    assert code == 0, err
    assert out.splitlines()[0] == "webhook /webhooks/p: auth header (X-Key), answers immediately"
    code, out, err = run(capsys, "set", "p", "--respond", "when-finished", "--timeout", "5")
    assert code == 0, err
    assert "answers when finished (5 s)" in out
    item = listed(capsys)["p"]
    assert (item["auth"], item["auth_header"], item["respond"], item["response_timeout"]) == (
        "header",
        "X-Key",
        "when-finished",
        5,
    )


def test_bad_auth_arguments_are_one_line_and_exit_2(orders, capsys) -> None:
    code, _, err = run(capsys, "add", "Orders", "--auth", "header")
    assert code == 2 and "header name" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, "add", "Orders", "--auth", "github", "--user", "x")
    assert code == 2 and "only for auth mode 'basic'" in err
    code, _, err = run(capsys, "add", "Orders", "--auth", "hmac")
    assert code == 2 and "invalid choice: 'hmac'" in err
    code, _, err = run(capsys, "add", "Orders", "--respond", "when-finished", "--timeout", "0")
    assert code == 2 and "timeout" in err
    code, _, err = run(capsys, "set", "nowhere", "--auth", "none")
    assert (code, err) == (2, "glyphic: no webhook with id or path 'nowhere'\n")
    assert run(capsys, "add", "Orders", "--path", "q")[0] == 0
    code, _, err = run(capsys, "set", "q")
    assert code == 2 and "give --auth" in err
