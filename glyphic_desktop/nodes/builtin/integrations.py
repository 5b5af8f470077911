"""Integration nodes: Email over SMTP (the seed's ``gmail`` type), Slack message, GitHub issues.

Servers come from the credential (``smtp``: host, port, security, user, password,
from_address; ``slack``: bot_token, base_url; ``github``: token, base_url), so every node
is tested against local stand-ins.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any, ClassVar, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from glyphic_desktop.net.http_json import json_or_none
from glyphic_desktop.net.smtp import smtp_session
from glyphic_desktop.nodes.base import NodeContext, NodeError, NodeType, PortSpec
from glyphic_desktop.nodes.builtin._common import connect_problem, masked_clip
from glyphic_desktop.nodes.registry import register_node

SLACK_DEFAULT_BASE_URL = "https://slack.com/api"
GITHUB_DEFAULT_BASE_URL = "https://api.github.com"


def _need_credential(ctx: NodeContext, kind: str) -> Mapping[str, Any]:
    if not ctx.credential:
        raise NodeError(f"no {kind} credential is bound to this node", field="credential")
    return ctx.credential


def _addresses(value: str | list[str]) -> list[str]:
    raw = value if isinstance(value, list) else [value]
    found = [addr for _, addr in getaddresses([str(item) for item in raw]) if addr]
    return found


# -- Email over SMTP -------------------------------------------------------------------


class EmailFields(BaseModel):
    """Fields of the Email (SMTP) node; names follow the seed's ``gmail`` node."""

    model_config = ConfigDict(extra="forbid")

    to: str | list[str] = Field(description="Recipients, separated by commas.")
    subject: str = Field(default="", description="Subject line.")
    messageBody: str = Field(
        default="", description="The message text.", json_schema_extra={"widget": "multiline"}
    )
    cc: str | list[str] = Field(default="", description="Copy recipients.")
    bcc: str | list[str] = Field(default="", description="Hidden recipients.")
    html: bool = Field(default=False, description="The body is HTML.")
    timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds to wait for the server."
    )

    @field_validator("to")
    @classmethod
    def _to(cls, value: str | list[str]) -> str | list[str]:
        addresses = _addresses(value)
        if not addresses:
            raise ValueError("give at least one recipient address")
        bad = [addr for addr in addresses if "@" not in addr]
        if bad:
            raise ValueError(f"not an email address: {bad[0]!r}")
        return value


class SmtpSettings(BaseModel):
    """The fields of an ``smtp`` credential the node uses."""

    model_config = ConfigDict(extra="ignore")

    host: str
    port: int = 587
    security: Literal["none", "starttls", "tls"] = "starttls"
    user: str | None = None
    password: str | None = None
    from_address: str = ""

    @model_validator(mode="after")
    def _sender(self) -> SmtpSettings:
        if not self.from_address:
            if not self.user or "@" not in self.user:
                raise ValueError("from_address is empty and the user is not an e-mail address")
            self.from_address = self.user
        return self

    @field_validator("security", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


def _send_mail(
    settings: SmtpSettings, message: EmailMessage, recipients: list[str], timeout: float
) -> dict[str, Any]:
    where = f"{settings.host}:{settings.port}"
    try:
        with smtp_session(settings, timeout) as client:
            refused = client.send_message(message, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError as exc:
        raise NodeError(
            f"SMTP server {where} rejected the login of {settings.user!r}: {_smtp_reply(exc)}",
            field="credential",
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        details = "; ".join(
            f"{addr}: {_reply_text(code, msg)}" for addr, (code, msg) in exc.recipients.items()
        )
        raise NodeError(
            f"SMTP server {where} refused the recipients: {details}", field="to"
        ) from None
    except smtplib.SMTPSenderRefused as exc:
        raise NodeError(
            f"SMTP server {where} refused the sender {settings.from_address!r}: {_smtp_reply(exc)}",
            field="credential",
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise NodeError(
            f"SMTP server {where} does not support what the credential asks: {exc}",
            field="credential",
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise NodeError(f"SMTP server {where} refused the message: {_smtp_reply(exc)}") from None
    except smtplib.SMTPException as exc:
        raise NodeError(f"SMTP server {where} failed: {exc}") from None
    except ssl.SSLError as exc:
        raise NodeError(
            f"TLS with SMTP server {where} failed: {exc.reason or exc}", field="credential"
        ) from None
    except ConnectionRefusedError:
        raise NodeError(
            f"cannot reach SMTP server {where}: connection refused", field="credential"
        ) from None
    except TimeoutError:
        raise NodeError(
            f"SMTP server {where} did not answer within {timeout:g} s", field="credential"
        ) from None
    except OSError as exc:
        raise NodeError(
            f"cannot reach SMTP server {where}: {exc.strerror or exc}", field="credential"
        ) from None
    return {"refused": {addr: _reply_text(*reply) for addr, reply in refused.items()}}


def _reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    return _reply_text(exc.smtp_code, exc.smtp_error)


@register_node
class EmailNode(NodeType):
    """Sends an email through the SMTP server of an ``smtp`` credential."""

    key: ClassVar[str] = "gmail"
    title: ClassVar[str] = "Send email (SMTP)"
    category: ClassVar[str] = "Integrations"
    icon: ClassVar[str] = "mail"
    summary_field: ClassVar[str] = "subject"
    description: ClassVar[str] = "Sends an email through an SMTP server (Gmail or any other)."
    # One item (its fields fill the templates): a list must go through a Loop first.
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "object", "Item"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "object", "Sent"),)
    Fields: ClassVar[type[BaseModel]] = EmailFields
    credential_type: ClassVar[str | None] = "smtp"

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Build the message and send it from a worker thread (smtplib blocks)."""
        fields: EmailFields = ctx.fields  # type: ignore[assignment]
        try:
            settings = SmtpSettings.model_validate(dict(_need_credential(ctx, "smtp")))
        except ValueError as exc:
            raise NodeError(
                f"the smtp credential is incomplete: {exc}", field="credential"
            ) from None
        to, cc, bcc = _addresses(fields.to), _addresses(fields.cc), _addresses(fields.bcc)
        message = EmailMessage()
        message["From"] = settings.from_address
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        message["Subject"] = fields.subject
        message["Date"] = formatdate(localtime=True)
        domain = settings.from_address.rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(domain=domain)
        if fields.html:
            message.set_content("This message is HTML; open it in a mail client that shows HTML.")
            message.add_alternative(fields.messageBody, subtype="html")
        else:
            message.set_content(fields.messageBody)
        recipients = to + cc + bcc
        sent = await asyncio.to_thread(_send_mail, settings, message, recipients, fields.timeout)
        ctx.log("info", f"sent email {fields.subject!r} to {len(recipients)} recipient(s)")
        return {
            "output": {
                "sent": True,
                "message_id": message["Message-ID"],
                "to": to,
                "cc": cc,
                "subject": fields.subject,
                "refused": sent["refused"],
            }
        }


# -- shared JSON API call --------------------------------------------------------------


async def _api_call(
    service_name: str,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    timeout: float,
    json_body: Any = None,
    params: dict[str, Any] | None = None,
) -> httpx.Response:
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await client.request(method, url, headers=headers, json=json_body, params=params)
    except httpx.TimeoutException:
        raise NodeError(
            f"{service_name} at {url} did not answer within {timeout:g} s", field="credential"
        ) from None
    except httpx.TransportError as exc:
        problem = connect_problem(exc)
        raise NodeError(
            f"cannot reach {service_name} at {url}: {problem}", field="credential"
        ) from None


def _need_token(ctx: NodeContext, kind: str, *names: str) -> tuple[Mapping[str, Any], Any]:
    """The bound credential and its token: the first of ``names`` that is set."""
    credential = _need_credential(ctx, kind)
    token = next((credential[name] for name in names if credential.get(name)), None)
    if not token:
        raise NodeError(f"the {kind} credential has no {names[0]}", field="credential")
    return credential, token


def _base_url(credential: Mapping[str, Any], default: str) -> str:
    return str(credential.get("base_url") or default).rstrip("/")


# -- Slack -----------------------------------------------------------------------------


class SlackFields(BaseModel):
    """Fields of the Slack message node."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, description="Channel id or name, e.g. #general or C0123.")
    text: str = Field(
        min_length=1, description="The message text.", json_schema_extra={"widget": "multiline"}
    )
    thread_ts: str | None = Field(default=None, description="Reply in this thread (its ts).")
    timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds to wait for Slack.")


@register_node
class SlackNode(NodeType):
    """Posts a message to a Slack channel (``chat.postMessage``)."""

    key: ClassVar[str] = "slack"
    title: ClassVar[str] = "Slack message"
    category: ClassVar[str] = "Integrations"
    icon: ClassVar[str] = "slack"
    description: ClassVar[str] = "Posts a message to a Slack channel with a bot token."
    # One item (its fields fill the templates): a list must go through a Loop first.
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "object", "Item"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "object", "Posted message"),)
    Fields: ClassVar[type[BaseModel]] = SlackFields
    credential_type: ClassVar[str | None] = "slack"

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Call chat.postMessage; Slack's ``ok: false`` fails the node with Slack's error."""
        fields: SlackFields = ctx.fields  # type: ignore[assignment]
        credential, token = _need_token(ctx, "slack", "bot_token", "token")
        url = _base_url(credential, SLACK_DEFAULT_BASE_URL) + "/chat.postMessage"
        body: dict[str, Any] = {"channel": fields.channel, "text": fields.text}
        if fields.thread_ts:
            body["thread_ts"] = fields.thread_ts
        response = await _api_call(
            "Slack",
            "POST",
            url,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
            },
            timeout=fields.timeout,
            json_body=body,
        )
        data = json_or_none(response)
        if not isinstance(data, dict):
            raise NodeError(
                f"Slack at {url} answered {response.status_code} with no JSON: "
                f"{masked_clip(ctx, response.text, 200)!r}"
            )
        if not data.get("ok"):
            error = data.get("error") or f"HTTP {response.status_code}"
            field = (
                "channel"
                if "channel" in str(error)
                else ("credential" if "auth" in str(error) or "token" in str(error) else None)
            )
            raise NodeError(
                f"Slack refused the message to {fields.channel!r}: {error}", field=field
            )
        return {"output": data}


# -- GitHub ----------------------------------------------------------------------------


class GitHubFields(BaseModel):
    """Fields of the GitHub node."""

    model_config = ConfigDict(extra="forbid")

    operation: Literal["create_issue", "list_issues"] = Field(
        default="create_issue", description="What to do."
    )
    owner: str = Field(min_length=1, description="Repository owner (user or organisation).")
    repo: str = Field(min_length=1, description="Repository name.")
    title: str = Field(default="", validate_default=True, description="Issue title (create_issue).")
    body: str = Field(
        default="",
        description="Issue text (create_issue).",
        json_schema_extra={"widget": "multiline"},
    )
    labels: list[str] = Field(
        default_factory=list, description="Labels (create_issue: set; list_issues: filter)."
    )
    state: Literal["open", "closed", "all"] = Field(
        default="open", description="Which issues (list_issues)."
    )
    limit: int = Field(
        default=30, ge=1, le=100, description="How many issues to list (list_issues)."
    )
    timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds to wait for GitHub.")

    @field_validator("title")
    @classmethod
    def _title_for_create(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("operation", "create_issue") == "create_issue" and not value.strip():
            raise ValueError("title is required to create an issue")
        return value


@register_node
class GitHubNode(NodeType):
    """Creates an issue in, or lists the issues of, a GitHub repository."""

    key: ClassVar[str] = "github"
    title: ClassVar[str] = "GitHub"
    category: ClassVar[str] = "Integrations"
    icon: ClassVar[str] = "github"
    summary_field: ClassVar[str] = "repo"
    description: ClassVar[str] = "Creates an issue or lists issues of a GitHub repository."
    # One item (its fields fill the templates): a list must go through a Loop first.
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "object", "Item"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "any", "Issue(s)"),)
    Fields: ClassVar[type[BaseModel]] = GitHubFields
    credential_type: ClassVar[str | None] = "github"

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Call the REST API; a non-2xx answer fails with GitHub's message."""
        fields: GitHubFields = ctx.fields  # type: ignore[assignment]
        if fields.operation == "create_issue" and not fields.title.strip():
            raise NodeError("title is required to create an issue", field="title")
        credential, token = _need_token(ctx, "github", "token")
        base = _base_url(credential, GITHUB_DEFAULT_BASE_URL)
        repo_url = f"{base}/repos/{fields.owner}/{fields.repo}/issues"
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "glyphic-desktop",
        }
        if fields.operation == "create_issue":
            payload: dict[str, Any] = {"title": fields.title, "body": fields.body}
            if fields.labels:
                payload["labels"] = fields.labels
            response = await _api_call(
                "GitHub",
                "POST",
                repo_url,
                headers=headers,
                timeout=fields.timeout,
                json_body=payload,
            )
        else:
            params: dict[str, Any] = {"state": fields.state, "per_page": fields.limit}
            if fields.labels:
                params["labels"] = ",".join(fields.labels)
            response = await _api_call(
                "GitHub", "GET", repo_url, headers=headers, timeout=fields.timeout, params=params
            )
        data = json_or_none(response)
        if not response.is_success:
            message = (
                data.get("message")
                if isinstance(data, dict)
                else masked_clip(ctx, response.text, 200)
            )
            where = f"{fields.owner}/{fields.repo}"
            field = (
                "credential"
                if response.status_code == 401
                else ("repo" if response.status_code == 404 else None)
            )
            raise NodeError(
                f"GitHub {fields.operation} on {where} failed: {response.status_code} {message}",
                field=field,
            )
        if fields.operation == "list_issues" and isinstance(data, list):
            data = data[: fields.limit]
        return {"output": data}
