"""`glyphic credentials`: add (prompts / stdin), list, remove, test, types, key-info, rotate-key."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.servers import SmtpServer

from glyphic_desktop import paths
from glyphic_desktop.cli import credentials as credentials_cli
from glyphic_desktop.cli.main import main
from glyphic_desktop.secrets.keys import (
    KEY_ENV,
    KEY_FILE_NAME,
    encode_key,
    generate_key,
    load_keyset,
)

SECRET = "cli-SECRET-password-31"


pytestmark = pytest.mark.usefixtures("no_os_keyring")


def run(capsys, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["credentials", *args])
    out, err = capsys.readouterr()
    return code, out, err


def add_smtp(capsys, monkeypatch, name: str = "Work", **fields) -> tuple[int, str, str]:
    data = {
        "host": "127.0.0.1",
        "port": 2525,
        "security": "none",
        "user": "mailer",
        "password": SECRET,
        **fields,
    }
    return run(
        capsys, "add", "smtp", name, "--stdin", stdin=json.dumps(data), monkeypatch=monkeypatch
    )


def test_add_from_stdin_then_list_never_shows_values(database_url, capsys, monkeypatch) -> None:
    code, out, err = add_smtp(capsys, monkeypatch)
    assert code == 0, err
    assert out.startswith("added smtp credential 'Work' (id ")
    assert SECRET not in out + err
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["TYPE", "NAME", "ACTIVE", "KEY"]
    assert lines[1].split()[:3] == ["smtp", "Work", "yes"]
    code, out, _ = run(capsys, "list", "--json")
    rows = json.loads(out)
    assert [(r["type"], r["name"]) for r in rows] == [("smtp", "Work")]
    assert SECRET not in out and "127.0.0.1" not in out


def test_add_prompts_secret_fields_without_echo(database_url, capsys, monkeypatch) -> None:
    asked_secret: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        asked_secret.append(prompt)
        return SECRET

    monkeypatch.setattr(credentials_cli.getpass, "getpass", fake_getpass)
    # host, port (default), security, user, from_address
    answers = "mail.test\n\nnone\nmailer\nbot@mail.test\n"
    code, out, err = run(capsys, "add", "smtp", "Prompted", stdin=answers, monkeypatch=monkeypatch)
    assert code == 0, err
    assert asked_secret == ["password: "]
    assert "host: " in err and "port [587]: " in err and "security (none/starttls/tls)" in err
    assert SECRET not in out + err
    keyset = load_keyset()
    from glyphic_desktop.store.database import Database
    from glyphic_desktop.store.repositories.integrations import IntegrationRepository
    from glyphic_desktop.store.repositories.users import current_user_id

    db = Database(database_url)
    try:
        with db.session() as session:
            fields = (
                IntegrationRepository(session, current_user_id(db), keyset)
                .get_decrypted("Prompted")
                .fields
            )
    finally:
        db.dispose()
    assert fields["password"] == SECRET and fields["port"] == 587
    assert fields["from_address"] == "bot@mail.test"


def test_prompt_input_ending_early_is_one_line(database_url, capsys, monkeypatch) -> None:
    code, _, err = run(capsys, "add", "smtp", "X", stdin="", monkeypatch=monkeypatch)
    assert code == 2
    assert err == "host: \nglyphic: input ended before every field was given\n"


def test_unknown_type_is_refused_and_nothing_stored(database_url, capsys, monkeypatch) -> None:
    code, _, err = run(
        capsys, "add", "gmail", "Mail", "--stdin", stdin="{}", monkeypatch=monkeypatch
    )
    assert code == 2
    assert err == (
        "glyphic: unknown credential type 'gmail' (known types: bearer, github, http_basic, "
        "http_header, openai_compatible, slack, smtp)\n"
    )
    assert not (paths.config_dir() / KEY_FILE_NAME).exists()


def test_bad_fields_are_each_named(database_url, capsys, monkeypatch) -> None:
    add_smtp(capsys, monkeypatch)
    code, _, err = run(
        capsys,
        "add",
        "smtp",
        "Bad",
        "--stdin",
        stdin=json.dumps({"port": "x", "password": SECRET, "colour": "red"}),
        monkeypatch=monkeypatch,
    )
    assert code == 2
    assert err.startswith("glyphic: smtp credential 'Bad': host: Field required; port: ")
    assert "colour: not a field of smtp" in err
    assert SECRET not in err and err.count("\n") == 1
    _, out, _ = run(capsys, "list")
    assert "Bad" not in out and "Work" in out


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ('{"password": "' + SECRET + '"', "from stdin is not valid JSON (line 1, column"),
        ('["' + SECRET + '"]', "from stdin must be a JSON object, not list"),
    ],
)
def test_bad_stdin_never_echoes_it(database_url, capsys, monkeypatch, stdin, message) -> None:
    code, _, err = run(
        capsys, "add", "bearer", "T", "--stdin", stdin=stdin, monkeypatch=monkeypatch
    )
    assert code == 2 and message in err and SECRET not in err


def test_duplicate_is_refused_and_original_kept(database_url, capsys, monkeypatch) -> None:
    add_smtp(capsys, monkeypatch)
    code, _, err = add_smtp(capsys, monkeypatch, password="other-password")
    assert code == 2
    assert err == "glyphic: a smtp credential named 'Work' already exists\n"
    with SmtpServer(login=("mailer", SECRET)) as server:
        code, _, _ = run(capsys, "remove", "smtp", "Work")
        add_smtp(capsys, monkeypatch, port=server.port)
        code, _, err = run(capsys, "test", "smtp", "Work")
    assert code == 0, err


def test_remove(database_url, capsys, monkeypatch) -> None:
    add_smtp(capsys, monkeypatch)
    code, out, _ = run(capsys, "remove", "smtp", "Work")
    assert (code, out) == (0, "removed smtp credential 'Work'\n")
    code, _, err = run(capsys, "remove", "smtp", "Work")
    assert code == 2 and err.startswith("glyphic: no ") and err.count("\n") == 1


def test_old_argument_order_still_works_with_a_deprecation_line(
    database_url, capsys, monkeypatch
) -> None:
    add_smtp(capsys, monkeypatch)
    code, out, err = run(capsys, "remove", "Work", "--type", "smtp")
    assert (code, out) == (0, "removed smtp credential 'Work'\n")
    assert err == (
        "glyphic: 'credentials remove NAME [--type TYPE]' is deprecated; "
        "use 'glyphic credentials remove TYPE NAME'\n"
    )


def test_usage_error_names_the_subcommand_help(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["credentials", "add", "smtp"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and "(see 'glyphic credentials add --help')" in err


def test_test_runs_the_smtp_check(database_url, capsys, monkeypatch) -> None:
    with SmtpServer(login=("mailer", SECRET)) as server:
        add_smtp(capsys, monkeypatch, port=server.port)
        add_smtp(capsys, monkeypatch, name="Wrong", port=server.port, password="wrong-pass-1")
        code, out, err = run(capsys, "test", "smtp", "Work")
        assert (code, err) == (0, "")
        assert (
            out
            == f"ok: connected to SMTP server 127.0.0.1:{server.port} and logged in as 'mailer'\n"
        )
        code, out, err = run(capsys, "test", "smtp", "Wrong")
    assert code == 1
    assert err == (
        f"glyphic: smtp credential 'Wrong': SMTP server 127.0.0.1:{server.port} "
        "rejected the login of 'mailer' (535)\n"
    )


def test_test_of_a_type_without_a_check(database_url, capsys, monkeypatch) -> None:
    run(
        capsys,
        "add",
        "bearer",
        "Tok",
        "--stdin",
        stdin='{"token": "tok-1234"}',
        monkeypatch=monkeypatch,
    )
    code, _, err = run(capsys, "test", "bearer", "Tok")
    assert (code, err) == (2, "glyphic: credential type 'bearer' has no connection test\n")


def test_types(capsys) -> None:
    code, out, _ = run(capsys, "types")
    assert code == 0
    assert "smtp         SMTP server [test]: host, port, security, user, password (secret)" in out
    assert len(out.splitlines()) == 7  # with openai_compatible


def test_key_info_creates_nothing_then_shows_source_and_id_never_the_key(
    database_url, capsys, monkeypatch
) -> None:
    key_file = paths.config_dir() / KEY_FILE_NAME
    code, out, _ = run(capsys, "key-info")
    assert code == 0
    assert (
        out == f"no master key yet: one will be created in {key_file} when a credential is added\n"
    )
    assert not key_file.exists()
    add_smtp(capsys, monkeypatch)
    keyset = load_keyset()
    code, out, _ = run(capsys, "key-info")
    assert out.splitlines()[:2] == [f"source: the file {key_file}", f"key id: {keyset.current_id}"]
    assert "note: no OS keyring backend is available" in out
    assert encode_key(keyset.current_key) not in out


def test_key_info_with_env_key(capsys, monkeypatch) -> None:
    monkeypatch.setenv(KEY_ENV, encode_key(generate_key()))
    code, out, _ = run(capsys, "key-info")
    assert out.splitlines()[0] == "source: the environment variable GLYPHIC_SECRET_KEY"
    monkeypatch.setenv(KEY_ENV, "YWJj")
    code, out, err = run(capsys, "key-info")
    assert code == 1
    assert (
        err
        == "glyphic: GLYPHIC_SECRET_KEY decodes to 3 bytes; it must be 32 bytes encoded in base64\n"
    )


def test_wrong_env_key_is_one_line_and_nothing_is_lost(database_url, capsys, monkeypatch) -> None:
    with SmtpServer(login=("mailer", SECRET)) as server:
        add_smtp(capsys, monkeypatch, port=server.port)
        monkeypatch.setenv(KEY_ENV, encode_key(generate_key()))
        code, _, err = run(capsys, "test", "smtp", "Work")
        assert (code, err) == (
            1,
            "glyphic: the secret key does not match the data of credential 'Work'\n",
        )
        code, _, err = run(
            capsys,
            "add",
            "bearer",
            "New",
            "--stdin",
            stdin='{"token": "abcd"}',
            monkeypatch=monkeypatch,
        )
        assert code == 1 and "does not match the stored credentials" in err
        assert err.count("\n") == 1
        code, _, err = run(capsys, "rotate-key")
        assert code == 1 and "does not match the stored credentials" in err
        monkeypatch.delenv(KEY_ENV)
        code, out, _ = run(capsys, "list")
        assert "New" not in out
        code, out, err = run(capsys, "test", "smtp", "Work")
    assert code == 0, err


def test_rotate_key(database_url, capsys, monkeypatch) -> None:
    add_smtp(capsys, monkeypatch)
    run(
        capsys,
        "add",
        "bearer",
        "Tok",
        "--stdin",
        stdin='{"token": "tok-1234"}',
        monkeypatch=monkeypatch,
    )
    old = load_keyset().current_id
    code, out, err = run(capsys, "rotate-key")
    assert code == 0, err
    new = load_keyset().current_id
    assert new != old
    assert out.splitlines() == [
        f"re-encrypted 2 credential(s) under key id {new} (the file "
        f"{paths.config_dir() / KEY_FILE_NAME})",
        f"retired key ids: {old}",
    ]
    _, out, _ = run(capsys, "list")
    assert old not in out and out.count(new) == 2
    _, out, _ = run(capsys, "key-info")
    assert f"key id: {new}" in out and "older readable" not in out


def test_rotate_key_counts_webhook_secrets(db, user_id, capsys, monkeypatch) -> None:
    from glyphic_desktop.document.model import WorkflowDocument
    from glyphic_desktop.store.repositories.webhooks import WebhookRepository
    from glyphic_desktop.store.repositories.workflows import WorkflowRepository

    add_smtp(capsys, monkeypatch)
    with db.session() as session:
        WorkflowRepository(session, user_id).create("Hooked", WorkflowDocument())
        WebhookRepository(session, user_id).add("Hooked", "hooked")
    code, out, err = run(capsys, "rotate-key")
    assert code == 0, err
    assert out.splitlines()[0].startswith(
        "re-encrypted 1 credential(s) and 1 webhook secret(s) under key id "
    )


def test_bare_credentials_command_prints_help(capsys) -> None:
    code, out, _ = run(capsys)
    assert code == 2 and "rotate-key" in out
