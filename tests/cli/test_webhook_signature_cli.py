"""`glyphic webhook add --legacy-signature` and `glyphic webhook signature ID full|legacy`."""

from __future__ import annotations

import pytest

from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.store.repositories.workflows import WorkflowRepository
from tests.cli.webhook_helpers import listed, run

pytestmark = pytest.mark.usefixtures("no_os_keyring")


def schemes(capsys) -> dict[str, str]:
    return {path: item["signature"] for path, item in listed(capsys).items()}


def test_new_webhooks_sign_the_full_request_unless_asked_for_legacy(db, user_id, capsys) -> None:
    with db.session() as session:
        WorkflowRepository(session, user_id).create("Orders", WorkflowDocument())
    code, out, err = run(capsys, "add", "Orders", "--path", "full")
    assert code == 0, err
    assert "'<t>.<METHOD>.<path?query>.<body>'" in out and "older signature" not in out
    code, out, err = run(capsys, "add", "Orders", "--path", "old", "--legacy-signature")
    assert code == 0, err
    assert "also accepts the older signature over '<t>.<body>'" in out
    assert schemes(capsys) == {"full": "full", "old": "legacy"}

    code, out, err = run(capsys, "signature", "old", "full")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "webhook /webhooks/old now accepts full signatures"
    code, out, _ = run(capsys, "signature", "full", "legacy")
    assert out.splitlines()[0] == "webhook /webhooks/full now accepts legacy signatures"
    assert schemes(capsys) == {"full": "legacy", "old": "full"}
    code, out, _ = run(capsys, "list")
    assert [line.split()[-4] for line in out.splitlines()] == ["SIGNATURE", "legacy", "full"]


def test_bad_signature_arguments_are_one_line_and_exit_2(db, user_id, capsys) -> None:
    code, _, err = run(capsys, "signature", "nowhere", "sha1")
    assert code == 2 and "invalid choice: 'sha1'" in err
    code, _out, err = run(capsys, "signature", "nowhere", "full")
    assert (code, err) == (2, "glyphic: no webhook with id or path 'nowhere'\n")
