"""Credential references: stripped on export, re-bound on import, resolved for the engine."""

from __future__ import annotations

import json

import pytest

from glyphic_desktop.document.export import export_document_data, prepare_imported_document
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.secrets.keys import Keyset, generate_key
from glyphic_desktop.secrets.masking import MASK, SecretMasker
from glyphic_desktop.secrets.references import (
    DatabaseCredentialResolver,
    RepositoryCredentialResolver,
    UnresolvedCredentialError,
    bind_credentials,
    make_binding,
    resolve_node_credential,
    strip_credentials,
)

TOKEN = "xoxb-REFERENCE-secret-42"
PASSWORD = "basic-REFERENCE-pass-7"


@pytest.fixture
def creds(repo_factory):
    with repo_factory() as repo:
        slack = repo.create("slack", "Team", {"bot_token": TOKEN})
        basic = repo.create("http_basic", "Api", {"username": "bob", "password": PASSWORD})
    return slack, basic


def document(*bindings) -> WorkflowDocument:
    nodes = [
        {
            "id": str(i + 1),
            "type": "slack_post",
            "data": {"label": f"Node {i + 1}", "credential": b},
        }
        for i, b in enumerate(bindings)
    ]
    nodes.append({"id": "99", "type": "log", "data": {"label": "No credential"}})
    return WorkflowDocument.model_validate({"nodes": nodes})


def test_strip_keeps_only_type_and_name(creds) -> None:
    slack, _ = creds
    stored = document(
        {**make_binding(slack), "token": TOKEN, "extra": {"password": PASSWORD}},
        {"integration": {"type": "smtp", "name": "Mail"}},
    )
    exported = strip_credentials(stored)
    assert exported.nodes[0].data.credential == {"integration": {"type": "slack", "name": "Team"}}
    assert exported.nodes[1].data.credential == {"integration": {"type": "smtp", "name": "Mail"}}
    assert exported.nodes[2].data.credential is None
    text = exported.to_json_text()
    for leaked in (slack.id, TOKEN, PASSWORD, "integrationId"):
        assert leaked not in text
    assert stored.nodes[0].data.credential["integrationId"] == slack.id  # input unchanged


def test_strip_names_a_bare_id_through_the_repository(repo_factory, creds) -> None:
    slack, _ = creds
    with repo_factory(keys=None) as repo:
        exported = strip_credentials(document({"integrationId": slack.id}), repo)
        unknown = strip_credentials(document({"integrationId": "not-a-real-id"}), repo)
    assert exported.nodes[0].data.credential == {"integration": {"type": "slack", "name": "Team"}}
    assert unknown.nodes[0].data.credential is None


def test_bind_binds_known_references_and_lists_every_unresolved_one(repo_factory, creds) -> None:
    slack, _ = creds
    imported = document(
        {"integration": {"type": "slack", "name": "Team"}},
        {"integration": {"type": "smtp", "name": "Mail"}},
        {"integration": {"type": "slack", "name": "Elsewhere"}},
        {"integrationId": "0b6f2d6e-0000-4000-8000-00000000dead"},
    )
    with repo_factory(keys=None) as repo:
        result = bind_credentials(imported, repo)
    assert result.bound == 1 and not result.ok
    assert result.document.nodes[0].data.credential == {
        "integrationId": slack.id,
        "integration": {"type": "slack", "name": "Team"},
    }
    assert result.document.nodes[1].data.credential == {
        "integration": {"type": "smtp", "name": "Mail"}
    }
    assert result.document.nodes[3].data.credential is None
    assert result.message() == (
        "3 credentials are not bound: node 'Node 2' (2) needs the smtp credential 'Mail'; "
        "node 'Node 3' (3) needs the slack credential 'Elsewhere'; "
        "node 'Node 4' (4) needs a credential without a type and name "
        "(add them with 'glyphic credentials add TYPE NAME', then bind them in the editor)"
    )
    assert imported.nodes[0].data.credential == {"integration": {"type": "slack", "name": "Team"}}


def test_bind_is_scoped_to_the_user(repo_factory, creds, other_user_id) -> None:
    with repo_factory(keys=None, owner=other_user_id) as other:
        result = bind_credentials(
            document({"integration": {"type": "slack", "name": "Team"}}), other
        )
    assert result.unresolved and result.bound == 0


def test_resolve_node_credential_registers_secrets_first(repo_factory, creds) -> None:
    slack, basic = creds
    doc = document(make_binding(slack), make_binding(basic), None)
    masker = SecretMasker()
    with repo_factory() as repo:
        values = resolve_node_credential(doc.nodes[0], repo, masker=masker)
        assert values == {"bot_token": TOKEN, "base_url": "https://slack.com/api", "type": "slack"}
        basic_values = resolve_node_credential(doc.nodes[1], repo, masker=masker)
        assert basic_values["password"] == PASSWORD
        assert resolve_node_credential(doc.nodes[2], repo) is None
    import base64

    header = base64.b64encode(f"bob:{PASSWORD}".encode()).decode()
    assert masker.mask(f"{TOKEN} {PASSWORD} Basic {header}") == f"{MASK} {MASK} Basic {MASK}"


def test_resolve_prefers_the_id_and_falls_back_to_type_and_name(repo_factory, creds) -> None:
    slack, _ = creds
    stale = {
        "integrationId": "0b6f2d6e-0000-4000-8000-00000000dead",
        "integration": slack.reference(),
    }
    with repo_factory() as repo:
        assert resolve_node_credential(document(stale).nodes[0], repo)["bot_token"] == TOKEN


@pytest.mark.parametrize(
    ("binding", "accepted", "message"),
    [
        (
            {"integration": {"type": "smtp", "name": "Mail"}},
            None,
            "node 'Node 1' (1): the smtp credential 'Mail' does not exist",
        ),
        ({"integrationId": "x"}, None, "node 'Node 1' (1): credential x does not exist"),
        (
            "SLACK",
            "smtp",
            "node 'Node 1' (1): slack credential 'Team' is not of the type this node needs (smtp)",
        ),
    ],
)
def test_resolve_errors_name_the_node(repo_factory, creds, binding, accepted, message) -> None:
    slack, _ = creds
    if binding == "SLACK":
        binding = make_binding(slack)
    with repo_factory() as repo, pytest.raises(UnresolvedCredentialError) as info:
        resolve_node_credential(document(binding).nodes[0], repo, accepted_types=accepted)
    assert info.value.message == message


def test_resolve_refuses_a_deactivated_credential(repo_factory, creds) -> None:
    slack, _ = creds
    with repo_factory() as repo:
        repo.deactivate("Team")
        with pytest.raises(
            UnresolvedCredentialError, match="slack credential 'Team' is deactivated"
        ):
            resolve_node_credential(document(make_binding(slack)).nodes[0], repo)


def test_resolve_with_a_wrong_key_is_one_line_naming_node_and_credential(
    repo_factory, creds
) -> None:
    slack, _ = creds
    wrong = Keyset.from_keys(generate_key())
    with repo_factory(keys=wrong) as repo, pytest.raises(UnresolvedCredentialError) as info:
        resolve_node_credential(document(make_binding(slack)).nodes[0], repo)
    assert info.value.message == (
        "node 'Node 1' (1): the secret key does not match the data of credential 'Team'"
    )


def test_engine_resolvers(db, user_id, keyset, repo_factory, creds) -> None:
    slack, _ = creds
    masker = SecretMasker()
    with repo_factory() as repo:
        resolver = RepositoryCredentialResolver(repo, masker)
        assert resolver.problem(make_binding(slack), "slack") is None
        assert "is not of the type" in resolver.problem(make_binding(slack), "smtp")
        assert resolver.load(make_binding(slack), "slack")["bot_token"] == TOKEN
    assert masker.mask(TOKEN) == MASK
    on_db = DatabaseCredentialResolver(db, user_id, keyset, SecretMasker())
    assert on_db(make_binding(slack), "slack") is None
    assert on_db.load(make_binding(slack), "slack")["bot_token"] == TOKEN
    assert on_db.masker.mask(TOKEN) == MASK
    with pytest.raises(UnresolvedCredentialError, match="does not exist"):
        on_db.load({"integration": {"type": "slack", "name": "Nope"}}, "slack")


def test_export_and_import_call_points(db, user_id, creds) -> None:
    slack, _ = creds
    stored = document(make_binding(slack), {"integration": {"type": "smtp", "name": "Mail"}})
    with db.session() as session:
        data = export_document_data(stored, session, user_id)
    text = json.dumps(data)
    assert slack.id not in text and TOKEN not in text
    assert data["nodes"][0]["data"]["credential"] == {
        "integration": {"type": "slack", "name": "Team"}
    }
    with db.session() as session:
        bound, notes = prepare_imported_document(
            WorkflowDocument.model_validate(data), session, user_id
        )
    assert bound.nodes[0].data.credential["integrationId"] == slack.id
    assert notes == [
        "1 credential is not bound: node 'Node 2' (2) needs the smtp credential 'Mail' "
        "(add them with 'glyphic credentials add TYPE NAME', then bind them in the editor)"
    ]
