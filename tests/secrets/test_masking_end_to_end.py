"""Issue 4 §5 end to end: a planted secret, nodes that print, return and fail with it, and
zero hits in ``executions``, ``execution_logs``, the terminal (``glyphic run``) and the export.

Uses the engine's public entry points (``glyphic run`` and ``engine.runner``); test-only
node types are registered in the default catalog for the duration of the test.
"""

from __future__ import annotations

import base64
import json
import secrets as random_secrets
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import quote

import pytest
from sqlalchemy import text

from glyphic_desktop.cli.main import main
from glyphic_desktop.document.export import export_document_data
from glyphic_desktop.document.model import WorkflowDocument
from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.registry import default_registry
from glyphic_desktop.secrets.keys import load_keyset
from glyphic_desktop.secrets.masking import MASK
from glyphic_desktop.secrets.references import make_binding
from glyphic_desktop.store.repositories.integrations import IntegrationRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

TOKEN = "tok-E2E-" + random_secrets.token_hex(8)


def leak_forms(secret: str) -> list[str]:
    return [
        secret,
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode(),
    ]


class LeakStart(NodeType):
    key = "e2e.start"
    title = "Start"
    category = "Triggers"
    inputs = ()
    is_trigger = True

    async def run(self, ctx: NodeContext):
        return {"output": {"go": True}}


class LeakPrint(NodeType):
    key = "e2e.print"
    title = "Print the token"
    category = "Test"
    credential_type: ClassVar[str | None] = "bearer"

    async def run(self, ctx: NodeContext):
        token = ctx.credential["token"]
        ctx.log("info", f"the token is {token}")
        ctx.log("warn", "as data", {"Authorization": f"Bearer {token}", "list": [token]})
        return {"output": {"printed": True}}


class LeakReturn(NodeType):
    key = "e2e.return"
    title = "Return the token"
    category = "Test"
    credential_type: ClassVar[str | None] = "bearer"

    async def run(self, ctx: NodeContext):
        token = ctx.credential["token"]
        return {
            "output": {
                "header": f"Bearer {token}",
                "json": json.dumps({"token": token}),
                "url": "https://x.test/?t=" + quote(token, safe=""),
                "b64": base64.b64encode(token.encode()).decode(),
            }
        }


class LeakFailNodeError(NodeType):
    key = "e2e.fail_node_error"
    title = "Fail with the token"
    category = "Test"
    credential_type: ClassVar[str | None] = "bearer"

    async def run(self, ctx: NodeContext):
        raise NodeError(f"the server refused token {ctx.credential['token']}")


class LeakCrash(NodeType):
    key = "e2e.crash"
    title = "Crash with the token"
    category = "Test"
    credential_type: ClassVar[str | None] = "bearer"
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output"),)

    async def run(self, ctx: NodeContext):
        token = ctx.credential["token"]
        raise RuntimeError(f"unexpected failure while using {token}")


TYPES = (LeakStart, LeakPrint, LeakReturn, LeakFailNodeError, LeakCrash)


@pytest.fixture
def leaky_catalog() -> Iterator[None]:
    registry = default_registry()
    for cls in TYPES:
        registry.register(cls)
    try:
        yield
    finally:
        for cls in TYPES:
            registry.unregister(cls.key)


def leaky_document(binding: dict[str, Any]) -> WorkflowDocument:
    def node(node_id: str, kind: str, **data: Any) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": kind,
            "pos": [0, 0],
            "data": {"label": kind, "credential": binding, **data},
            "inputs": [] if kind == "e2e.start" else [{"name": "input"}],
            "outputs": [{"name": "output"}],
        }

    nodes = [
        node("1", "e2e.start"),
        node("2", "e2e.print"),
        node("3", "e2e.return"),
        node("4", "e2e.fail_node_error", onError="continue"),
        node("5", "e2e.crash"),
    ]
    nodes[0]["data"].pop("credential")
    edges = [
        {"id": 1, "source": "1", "target": "2"},
        {"id": 2, "source": "2", "target": "3"},
        {"id": 3, "source": "3", "target": "4"},
        {"id": 4, "source": "3", "target": "5"},
    ]
    return WorkflowDocument.model_validate(
        {"nodes": nodes, "edges": edges, "last_node_id": 5, "last_link_id": 4}
    )


def test_a_planted_secret_appears_nowhere(db, user_id, leaky_catalog, capsys) -> None:
    keyset = load_keyset()
    with db.session() as session:
        info = IntegrationRepository(session, user_id, keyset).create(
            "bearer", "Planted", {"token": TOKEN}
        )
        record = WorkflowRepository(session, user_id).create(
            "Leaky", leaky_document(make_binding(info))
        )
    capsys.readouterr()

    plain_code = main(["run", "Leaky"])
    plain = capsys.readouterr()
    json_code = main(["run", "Leaky", "--json"])
    as_json = capsys.readouterr()
    assert plain_code == 1 and json_code == 1  # the crash node fails the run

    with db.session() as session:
        executions = (
            session.execute(
                text("SELECT row_to_json(e)::text FROM executions e WHERE workflow_id = :id"),
                {"id": record.id},
            )
            .scalars()
            .all()
        )
        logs = (
            session.execute(text("SELECT row_to_json(l)::text FROM execution_logs l"))
            .scalars()
            .all()
        )
        document = WorkflowRepository(session, user_id).get(record.id).document
        exported = json.dumps(export_document_data(document, session, user_id))
    assert len(executions) == 2 and logs

    haystacks = {
        "executions": "\n".join(executions),
        "execution_logs": "\n".join(logs),
        "terminal": plain.out + plain.err,
        "terminal --json": as_json.out + as_json.err,
        "export": exported,
    }
    for where, haystack in haystacks.items():
        for form in leak_forms(TOKEN):
            assert form not in haystack, f"{form!r} found in {where}"
    # the secret did flow through every sink, masked
    assert MASK in haystacks["execution_logs"]
    assert MASK in haystacks["executions"]
    assert MASK in haystacks["terminal"]
    assert "Planted" in exported and info.id not in exported
