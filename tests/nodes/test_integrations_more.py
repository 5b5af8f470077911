"""Email attachments and HTML bodies (aiosmtpd, the message parsed), Slack update / delete /
upload, GitHub issues (get, update, comment, list filters) and pull requests, all against
real local servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from node_helpers import GITHUB_TOKEN, SLACK_TOKEN, run_node
from pydantic import ValidationError
from support.servers import (
    GITHUB_COMMENTS,
    GITHUB_ISSUES,
    GITHUB_PULLS,
    SLACK_POSTED,
    SLACK_UPLOADS,
    AppServer,
    SmtpServer,
)

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.convert import ConvertNode
from glyphic_desktop.nodes.builtin.files import WriteFileNode
from glyphic_desktop.nodes.builtin.integrations import EmailNode, GitHubNode, SlackNode

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

# -- Email -------------------------------------------------------------------------------


def test_email_html_body_with_attachments_from_earlier_nodes(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    csv_file = run_node(
        ConvertNode, {"format": "csv", "file_name": "report"}, inputs={"input": [{"a": 1}]}
    ).output
    image = tmp_path / "chart.png"
    image.write_bytes(PNG)
    written = run_node(WriteFileNode, {"path": str(tmp_path / "notes.txt"), "content": "hé"}).output
    out = run_node(
        EmailNode,
        {
            "to": "ann@example.com",
            "subject": "Report",
            "messageBody": "<h1>Report</h1><p>See <b>attached</b>.</p>",
            "html": True,
            "text_body": "Report: see attached.",
            "attachments": [csv_file, str(image), written],
        },
        credential=smtp_server.credential(),
    ).output
    assert out["attachments"] == [
        {"name": "report.csv", "mime_type": "text/csv", "size": csv_file["size"]},
        {"name": "chart.png", "mime_type": "image/png", "size": len(PNG)},
        {"name": "notes.txt", "mime_type": "text/plain", "size": 3},
    ]
    [mail] = smtp_server.received
    message = mail.message
    assert message.get_content_type() == "multipart/mixed"
    body, *files = message.get_payload()
    assert body.get_content_type() == "multipart/alternative"
    plain, html = body.get_payload()
    assert plain.get_payload(decode=True).decode().strip() == "Report: see attached."
    assert html.get_content_type() == "text/html"
    assert "<b>attached</b>" in html.get_payload(decode=True).decode()
    assert [(f.get_filename(), f.get_content_type()) for f in files] == [
        ("report.csv", "text/csv"),
        ("chart.png", "image/png"),
        ("notes.txt", "text/plain"),
    ]
    assert files[0].get_payload(decode=True) == b"a\n1\n"
    assert files[1].get_payload(decode=True) == PNG
    assert files[2].get_payload(decode=True) == "hé".encode()


def test_email_one_attachment_object_and_bad_attachments(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    doc = tmp_path / "a.pdf"
    doc.write_bytes(b"%PDF-1.4 test")
    run_node(
        EmailNode,
        {"to": "a@b.c", "attachments": {"path": str(doc), "name": "Invoice.pdf"}},
        credential=smtp_server.credential(),
    )
    [mail] = smtp_server.received
    [_, attached] = mail.message.get_payload()
    assert attached.get_filename() == "Invoice.pdf"
    assert attached.get_content_type() == "application/pdf"
    with pytest.raises(NodeError, match=r"attachment not found: .*gone\.txt") as caught:
        run_node(
            EmailNode,
            {"to": "a@b.c", "attachments": [str(tmp_path / "gone.txt")]},
            credential=smtp_server.credential(),
        )
    assert caught.value.field == "attachments"
    assert len(smtp_server.received) == 1  # nothing sent
    with pytest.raises(ValidationError, match="an attachment must be a file"):
        EmailNode.Fields.model_validate({"to": "a@b.c", "attachments": [{"name": "x"}]})


# -- Slack -------------------------------------------------------------------------------


def slack_cred(server: AppServer) -> dict:
    return {"bot_token": SLACK_TOKEN, "base_url": server.url("/api")}


def test_slack_post_update_delete(slack_server: AppServer) -> None:
    cred = slack_cred(slack_server)
    posted = run_node(SlackNode, {"channel": "C01", "text": "v1"}, credential=cred).output
    ts = posted["ts"]
    updated = run_node(
        SlackNode,
        {"operation": "update", "channel": "C01", "ts": ts, "text": "v2"},
        credential=cred,
    ).output
    assert updated["ts"] == ts and updated["text"] == "v2"
    assert slack_server.app[SLACK_POSTED][0]["text"] == "v2"
    run_node(SlackNode, {"operation": "delete", "channel": "C01", "ts": ts}, credential=cred)
    assert slack_server.app[SLACK_POSTED][0]["deleted"] is True
    assert [r.path for r in slack_server.requests] == [
        "/api/chat.postMessage",
        "/api/chat.update",
        "/api/chat.delete",
    ]
    assert slack_server.requests[2].json() == {"channel": "C01", "ts": ts}
    with pytest.raises(
        NodeError, match=r"Slack refused the deletion of .*: message_not_found"
    ) as e:
        run_node(SlackNode, {"operation": "delete", "channel": "C01", "ts": ts}, credential=cred)
    assert e.value.field == "ts"
    with pytest.raises(ValidationError, match="ts is required to update"):
        SlackNode.Fields.model_validate({"operation": "update", "channel": "C01", "text": "x"})


def test_slack_upload_file(slack_server: AppServer, tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    path.write_bytes(PNG)
    out = run_node(
        SlackNode,
        {
            "operation": "upload",
            "channel": "C01",
            "file": {"path": str(path), "name": "weekly.png"},
            "text": "This week",
            "title": "Weekly chart",
        },
        credential=slack_cred(slack_server),
    ).output
    assert out["ok"] is True and out["files"][0]["title"] == "Weekly chart"
    [entry] = slack_server.app[SLACK_UPLOADS].values()
    assert entry["data"] == PNG and entry["filename"] == "weekly.png"
    assert entry["channel_id"] == "C01" and entry["initial_comment"] == "This week"
    ticket = slack_server.requests[0]
    assert ticket.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert ticket.text == f"filename=weekly.png&length={len(PNG)}"
    with pytest.raises(NodeError, match="file is required to upload"):
        run_node(
            SlackNode,
            {"operation": "upload", "channel": "C01"},
            credential=slack_cred(slack_server),
        )
    with pytest.raises(NodeError, match="cannot read"):
        run_node(
            SlackNode,
            {"operation": "upload", "channel": "C01", "file": str(tmp_path / "none.png")},
            credential=slack_cred(slack_server),
        )


# -- GitHub ------------------------------------------------------------------------------


def gh(server: AppServer, **fields) -> object:
    cred = {"token": GITHUB_TOKEN, "base_url": server.base_url}
    return run_node(GitHubNode, {"owner": "octo", "repo": "demo", **fields}, credential=cred)


def test_github_issue_get_update_comment(github_server: AppServer) -> None:
    gh(github_server, title="First", labels=["bug"])
    gh(github_server, title="Second", assignees=["ann"])
    got = gh(github_server, operation="get_issue", number=2).output
    assert got["title"] == "Second" and got["assignees"] == [{"login": "ann"}]
    updated = gh(
        github_server,
        operation="update_issue",
        number=1,
        title="First (fixed)",
        labels=["bug", "done"],
        issue_state="closed",
    ).output
    assert updated["state"] == "closed" and updated["title"] == "First (fixed)"
    assert github_server.requests[-1].method == "PATCH"
    assert github_server.requests[-1].json() == {
        "title": "First (fixed)",
        "labels": ["bug", "done"],
        "state": "closed",
    }
    comment = gh(github_server, operation="comment_issue", number=2, body="On it").output
    assert comment["body"] == "On it"
    assert github_server.app[GITHUB_COMMENTS] == {"octo/demo#2": [comment]}
    with pytest.raises(NodeError, match="GitHub get_issue on octo/demo#9 failed: 404") as caught:
        gh(github_server, operation="get_issue", number=9)
    assert caught.value.field == "number"
    with pytest.raises(NodeError, match="number is required for comment_issue"):
        gh(github_server, operation="comment_issue", body="x")
    with pytest.raises(NodeError, match="update_issue changes nothing"):
        gh(github_server, operation="update_issue", number=1)
    with pytest.raises(NodeError, match=r"body \(the comment\) is required"):
        gh(github_server, operation="comment_issue", number=1)


def test_github_list_issue_filters(github_server: AppServer) -> None:
    gh(github_server, title="a", assignees=["ann"], labels=["bug"])
    gh(github_server, title="b", assignees=["bob"])
    gh(github_server, title="c", assignees=["ann"])
    github_server.app[GITHUB_ISSUES]["octo/demo"][1]["user"] = {"login": "eve"}
    mine = gh(github_server, operation="list_issues", assignee="ann").output
    assert [i["title"] for i in mine] == ["c", "a"]
    asc = gh(
        github_server, operation="list_issues", assignee="ann", direction="asc", sort="created"
    ).output
    assert [i["title"] for i in asc] == ["a", "c"]
    assert github_server.requests[-1].query == {
        "state": "open",
        "per_page": "30",
        "direction": "asc",
        "sort": "created",
        "assignee": "ann",
    }
    by_eve = gh(github_server, operation="list_issues", creator="eve").output
    assert [i["title"] for i in by_eve] == ["b"]
    recent = gh(github_server, operation="list_issues", since="2024-01-02T00:00:00Z").output
    assert [i["title"] for i in recent] == ["c", "b"]
    bugs = gh(github_server, operation="list_issues", labels=["bug"], limit=1).output
    assert [i["title"] for i in bugs] == ["a"]


def test_github_pull_requests(github_server: AppServer) -> None:
    github_server.app[GITHUB_PULLS]["octo/demo"].extend(
        [
            {
                "number": 7,
                "state": "open",
                "title": "Feature",
                "base": {"ref": "main"},
                "head": {"label": "ann:feature"},
            },
            {
                "number": 8,
                "state": "closed",
                "title": "Old",
                "base": {"ref": "main"},
                "head": {"label": "bob:old"},
            },
            {
                "number": 9,
                "state": "open",
                "title": "Docs",
                "base": {"ref": "docs"},
                "head": {"label": "ann:docs"},
            },
        ]
    )
    opened = gh(github_server, operation="list_pulls").output
    assert [p["number"] for p in opened] == [7, 9]
    on_main = gh(github_server, operation="list_pulls", state="all", base="main").output
    assert [p["number"] for p in on_main] == [7, 8]
    head = gh(github_server, operation="list_pulls", head="ann:docs").output
    assert [p["number"] for p in head] == [9]
    assert github_server.requests[-1].query == {
        "state": "open",
        "per_page": "30",
        "head": "ann:docs",
    }
    assert gh(github_server, operation="get_pull", number=8).output["title"] == "Old"
    assert github_server.requests[-1].path == "/repos/octo/demo/pulls/8"
    with pytest.raises(NodeError, match="get_pull on octo/demo#1 failed: 404 Not Found"):
        gh(github_server, operation="get_pull", number=1)
    with pytest.raises(NodeError, match="401 Bad credentials") as caught:
        run_node(
            GitHubNode,
            {"owner": "octo", "repo": "demo", "operation": "list_pulls"},
            credential={"token": "wrong", "base_url": github_server.base_url},
        )
    assert caught.value.field == "credential"


def test_preflight_accepts_expressions_in_the_fields_an_operation_needs() -> None:
    from node_helpers import workflow

    from glyphic_desktop.engine.preflight import preflight
    from glyphic_desktop.nodes.registry import default_registry

    doc = workflow(
        [
            {"id": "start", "type": "manual"},
            {
                "id": "s",
                "type": "slack",
                "fields": {
                    "operation": "update",
                    "channel": "C1",
                    "ts": "{{ input.ts }}",
                    "text": "{{ input.text }}",
                },
            },
            {
                "id": "l",
                "type": "llm_chat",
                "fields": {
                    "model": "m",
                    "user": "u",
                    "output": "json_schema",
                    "json_schema": "{{ input.schema }}",
                },
            },
        ],
        ["start -> s", "start -> l"],
    )
    problems = preflight(doc, default_registry())
    assert [p for p in problems if p.kind == "field"] == []
    doc.nodes[1].data.fields["ts"] = ""
    messages = [p.message for p in preflight(doc, default_registry()) if p.kind == "field"]
    assert messages == ["field 'ts': Value error, ts is required to update a message (got '')"]
