"""Email (SMTP via aiosmtpd), Slack and GitHub nodes against real local servers."""

from __future__ import annotations

import pytest
from node_helpers import GITHUB_TOKEN, SLACK_TOKEN, run_node
from pydantic import ValidationError
from support.servers import GITHUB_ISSUES, SLACK_POSTED, AppServer, SmtpServer

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.integrations import EmailNode, GitHubNode, SlackNode

MAIL = {
    "to": "ann@example.com, Bob <bob@example.com>",
    "subject": "Daily report",
    "messageBody": "All good.\nTotal: 3",
}


def test_email_is_delivered(smtp_server: SmtpServer) -> None:
    out = run_node(
        EmailNode, {**MAIL, "bcc": "audit@example.com"}, credential=smtp_server.credential()
    ).output
    assert out["sent"] is True and out["to"] == ["ann@example.com", "bob@example.com"]
    [mail] = smtp_server.received
    assert mail.mail_from == "reports@glyphic.test"
    assert mail.rcpt_tos == ["ann@example.com", "bob@example.com", "audit@example.com"]
    message = mail.message
    assert message["Subject"] == "Daily report"
    assert message["To"] == "ann@example.com, bob@example.com"
    assert message["Bcc"] is None
    assert message["Message-ID"] == out["message_id"]
    assert (
        message.get_payload(decode=True).decode().replace("\r\n", "\n") == "All good.\nTotal: 3\n"
    )


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_with_login() -> None:
    with SmtpServer(login=("mailer", "s3cret")) as server:
        run_node(EmailNode, MAIL, credential=server.credential())
        assert len(server.received) == 1
        with pytest.raises(NodeError) as caught:
            run_node(EmailNode, MAIL, credential=server.credential(password="wrong"))
    assert "rejected the login of 'mailer': 535" in str(caught.value)
    assert caught.value.field == "credential"


def test_refused_recipients_give_a_clear_message() -> None:
    with SmtpServer(refuse_recipients=True) as server:
        with pytest.raises(NodeError) as caught:
            run_node(EmailNode, {**MAIL, "to": "ghost@example.com"}, credential=server.credential())
        assert server.received == []
    message = str(caught.value)
    assert message == (
        f"SMTP server 127.0.0.1:{server.port} refused the recipients: "
        "ghost@example.com: 550 5.1.1 mailbox unavailable"
    )
    assert caught.value.field == "to"


def test_unreachable_smtp_and_starttls_unsupported(
    unused_port: int, smtp_server: SmtpServer
) -> None:
    credential = {
        "host": "127.0.0.1",
        "port": unused_port,
        "security": "none",
        "from_address": "a@b.c",
    }
    with pytest.raises(
        NodeError, match=f"cannot reach SMTP server 127.0.0.1:{unused_port}: connection refused"
    ):
        run_node(EmailNode, MAIL, credential=credential)
    with pytest.raises(NodeError, match="STARTTLS"):
        run_node(EmailNode, MAIL, credential=smtp_server.credential(security="starttls"))


def test_email_bad_fields_and_credential() -> None:
    with pytest.raises(ValidationError, match="at least one recipient") as caught:
        EmailNode.Fields.model_validate({"to": ""})
    assert caught.value.errors()[0]["loc"] == ("to",)
    with pytest.raises(ValidationError, match="not an email address"):
        EmailNode.Fields.model_validate({"to": "nobody"})
    with pytest.raises(NodeError, match="no smtp credential"):
        run_node(EmailNode, MAIL)
    with pytest.raises(NodeError, match="smtp credential is incomplete"):
        run_node(EmailNode, MAIL, credential={"host": "x", "from_address": ""})


def test_slack_posts_with_the_bot_token(slack_server: AppServer) -> None:
    credential = {"bot_token": SLACK_TOKEN, "base_url": slack_server.url("/api")}
    out = run_node(
        SlackNode, {"channel": "#ops", "text": "Deploy done"}, credential=credential
    ).output
    assert out["ok"] is True and out["channel"] == "C0123456"
    [request] = slack_server.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {SLACK_TOKEN}"
    assert request.json() == {"channel": "#ops", "text": "Deploy done"}
    assert slack_server.app[SLACK_POSTED][0]["text"] == "Deploy done"


def test_slack_errors(slack_server: AppServer, unused_port: int) -> None:
    base = slack_server.url("/api")
    with pytest.raises(
        NodeError, match="Slack refused the message to '#missing': channel_not_found"
    ) as caught:
        run_node(
            SlackNode,
            {"channel": "#missing", "text": "x"},
            credential={"bot_token": SLACK_TOKEN, "base_url": base},
        )
    assert caught.value.field == "channel"
    with pytest.raises(NodeError, match="invalid_auth") as caught:
        run_node(
            SlackNode,
            {"channel": "#ops", "text": "x"},
            credential={"bot_token": "wrong", "base_url": base},
        )
    assert caught.value.field == "credential"
    with pytest.raises(NodeError, match=r"cannot reach Slack at .*: connection refused"):
        run_node(
            SlackNode,
            {"channel": "#ops", "text": "x"},
            credential={"bot_token": "t", "base_url": f"http://127.0.0.1:{unused_port}/api"},
        )
    with pytest.raises(ValidationError):
        SlackNode.Fields.model_validate({"channel": "#ops", "text": ""})


def test_github_create_and_list_issues(github_server: AppServer) -> None:
    credential = {"token": GITHUB_TOKEN, "base_url": github_server.base_url}
    created = run_node(
        GitHubNode,
        {
            "owner": "octo",
            "repo": "demo",
            "title": "Nightly failed",
            "body": "See log",
            "labels": ["bug"],
        },
        credential=credential,
    ).output
    assert created["number"] == 1 and created["title"] == "Nightly failed"
    run_node(
        GitHubNode, {"owner": "octo", "repo": "demo", "title": "Second"}, credential=credential
    )
    listed = run_node(
        GitHubNode,
        {"operation": "list_issues", "owner": "octo", "repo": "demo"},
        credential=credential,
    ).output
    assert [i["title"] for i in listed] == ["Second", "Nightly failed"]
    bugs = run_node(
        GitHubNode,
        {
            "operation": "list_issues",
            "owner": "octo",
            "repo": "demo",
            "labels": ["bug"],
            "limit": 5,
        },
        credential=credential,
    ).output
    assert [i["number"] for i in bugs] == [1]
    post = github_server.requests[0]
    assert post.method == "POST" and post.path == "/repos/octo/demo/issues"
    assert post.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert post.headers["Accept"] == "application/vnd.github+json"
    assert post.json() == {"title": "Nightly failed", "body": "See log", "labels": ["bug"]}
    assert github_server.requests[2].query == {"state": "open", "per_page": "30"}
    assert len(github_server.app[GITHUB_ISSUES]["octo/demo"]) == 2


def test_github_errors(github_server: AppServer) -> None:
    good = {"token": GITHUB_TOKEN, "base_url": github_server.base_url}
    with pytest.raises(
        NodeError, match="GitHub create_issue on octo/demo failed: 401 Bad credentials"
    ) as caught:
        run_node(
            GitHubNode,
            {"owner": "octo", "repo": "demo", "title": "x"},
            credential={**good, "token": "bad"},
        )
    assert caught.value.field == "credential"
    with pytest.raises(NodeError, match="on octo/nope failed: 404 Not Found") as caught:
        run_node(
            GitHubNode,
            {"operation": "list_issues", "owner": "octo", "repo": "nope"},
            credential=good,
        )
    assert caught.value.field == "repo"
    with pytest.raises(ValidationError, match="title is required"):
        GitHubNode.Fields.model_validate({"owner": "o", "repo": "r"})
    with pytest.raises(ValidationError) as wrong:
        GitHubNode.Fields.model_validate(
            {"owner": "o", "repo": "r", "operation": "list_issues", "limit": "all"}
        )
    assert wrong.value.errors()[0]["loc"] == ("limit",)
