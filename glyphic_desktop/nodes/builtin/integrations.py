"""Integration nodes: Email over SMTP (the seed's ``gmail`` type; HTML body, attachments),
Slack (post, update, delete, upload a file), GitHub (issues and pull requests).

Servers come from the credential (``smtp``: host, port, security, user, password,
from_address; ``slack``: bot_token, base_url; ``github``: token, base_url), so every node
is tested against local stand-ins.
"""

from __future__ import annotations

import asyncio
import mimetypes
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

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
    text_body: str = Field(
        default="",
        description="Plain-text version of an HTML body (for mail clients without HTML).",
        json_schema_extra={"widget": "multiline"},
    )
    attachments: Any = Field(
        default_factory=list,
        description=(
            "Files to attach: the output of Write file, HTTP download or Convert "
            "(e.g. {{ input }}), a list of them, or paths."
        ),
    )
    timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds to wait for the server."
    )

    @field_validator("attachments", mode="before")
    @classmethod
    def _attachments(cls, value: Any) -> list[Any]:
        if value is None or value == "":
            return []
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not (
                (isinstance(item, str) and item.strip())
                or (isinstance(item, Mapping) and isinstance(item.get("path"), str))
            ):
                raise ValueError(f"an attachment must be a file (with a path) or a path: {item!r}")
        return items

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


#: Largest attachment total (bytes): most mail servers refuse more than 25 MB.
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024


def _attachment_file(ctx: NodeContext, item: Any) -> tuple[Path, str, str]:
    """(path, file name, mime type) of one attachment (file info or path)."""
    from glyphic_desktop.nodes.builtin._common import resolve_path

    if isinstance(item, Mapping):
        path = Path(str(item["path"]))
        name = str(item.get("name") or path.name)
        mime = str(item.get("mime_type") or "")
    else:
        path = resolve_path(ctx, str(item), "attachments")
        name, mime = path.name, ""
    if not mime or "/" not in mime:
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return path, name, mime


def _attach_all(ctx: NodeContext, message: EmailMessage, items: list[Any]) -> list[dict[str, Any]]:
    """Attach every file (read here, in a worker thread); their names, types and sizes."""
    attached: list[dict[str, Any]] = []
    total = 0
    for item in items:
        path, name, mime = _attachment_file(ctx, item)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NodeError(f"attachment not found: {str(path)!r}", field="attachments") from None
        except IsADirectoryError:
            raise NodeError(f"attachment {str(path)!r} is a folder", field="attachments") from None
        except OSError as exc:
            raise NodeError(
                f"cannot read attachment {str(path)!r}: {exc.strerror or exc}",
                field="attachments",
            ) from None
        total += len(data)
        if total > MAX_ATTACHMENT_BYTES:
            raise NodeError(
                f"attachments are over {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB in all "
                f"(at {name!r})",
                field="attachments",
            )
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        attached.append({"name": name, "mime_type": mime, "size": len(data)})
    return attached


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
            message.set_content(
                fields.text_body
                or "This message is HTML; open it in a mail client that shows HTML."
            )
            message.add_alternative(fields.messageBody, subtype="html")
        else:
            message.set_content(fields.messageBody)
        attached = await asyncio.to_thread(_attach_all, ctx, message, fields.attachments)
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
                "attachments": attached,
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
    """Fields of the Slack node."""

    model_config = ConfigDict(extra="forbid")

    operation: Literal["post", "update", "delete", "upload"] = Field(
        default="post",
        description="post a message, update or delete one (by ts), or upload a file.",
    )
    channel: str = Field(
        min_length=1,
        description="Channel id or name, e.g. #general or C0123 (update, delete, upload: the id).",
    )
    text: str = Field(
        default="",
        validate_default=True,
        description="The message text (upload: the comment posted with the file).",
        json_schema_extra={"widget": "multiline"},
    )
    ts: str = Field(
        default="", validate_default=True, description="The message to update or delete (its ts)."
    )
    thread_ts: str | None = Field(default=None, description="Reply in this thread (its ts).")
    file: Any = Field(
        default=None,
        description="upload: the file (output of Write file, HTTP download, Convert) or a path.",
    )
    title: str = Field(default="", description="upload: the file's title (default: its name).")
    timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds to wait for Slack.")

    # Field validators (not a model validator) so an error names its field, and preflight
    # skips it when that field holds an expression.
    @field_validator("text")
    @classmethod
    def _text_needed(cls, value: str, info: ValidationInfo) -> str:
        operation = info.data.get("operation", "post")
        if operation in ("post", "update") and not value.strip():
            raise ValueError(f"text is required to {operation} a message")
        return value

    @field_validator("ts")
    @classmethod
    def _ts_needed(cls, value: str, info: ValidationInfo) -> str:
        operation = info.data.get("operation", "post")
        if operation in ("update", "delete") and not value.strip():
            raise ValueError(f"ts is required to {operation} a message")
        return value


def _slack_field(error: str) -> str | None:
    if "channel" in error:
        return "channel"
    if "message_not_found" in error or "cant_update" in error or "cant_delete" in error:
        return "ts"
    if "auth" in error or "token" in error:
        return "credential"
    return None


async def _slack_call(
    ctx: NodeContext,
    base: str,
    method: str,
    token: str,
    timeout: float,
    *,
    json_body: Any = None,
    form: dict[str, Any] | None = None,
    what: str,
) -> dict[str, Any]:
    url = f"{base}/{method}"
    headers = {"Authorization": f"Bearer {token}"}
    if form is None:
        headers["Content-Type"] = "application/json; charset=utf-8"
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(url, headers=headers, json=json_body, data=form)
    except httpx.TimeoutException:
        raise NodeError(
            f"Slack at {url} did not answer within {timeout:g} s", field="credential"
        ) from None
    except httpx.TransportError as exc:
        raise NodeError(
            f"cannot reach Slack at {url}: {connect_problem(exc)}", field="credential"
        ) from None
    data = json_or_none(response)
    if not isinstance(data, dict):
        raise NodeError(
            f"Slack at {url} answered {response.status_code} with no JSON: "
            f"{masked_clip(ctx, response.text, 200)!r}"
        )
    if not data.get("ok"):
        error = str(data.get("error") or f"HTTP {response.status_code}")
        raise NodeError(f"Slack refused {what}: {error}", field=_slack_field(error))
    return data


@register_node
class SlackNode(NodeType):
    """Posts, updates or deletes a Slack message, or uploads a file to a channel.

    post: ``chat.postMessage``; update / delete: ``chat.update`` / ``chat.delete`` of the
    message ``ts``; upload: ``files.getUploadURLExternal``, the bytes to the upload URL,
    then ``files.completeUploadExternal`` sharing it in ``channel``. Slack's
    ``ok: false`` fails the node with Slack's error. Output: Slack's answer.
    """

    key: ClassVar[str] = "slack"
    title: ClassVar[str] = "Slack"
    category: ClassVar[str] = "Integrations"
    icon: ClassVar[str] = "slack"
    summary_field: ClassVar[str] = "channel"
    description: ClassVar[str] = "Posts, updates or deletes a Slack message, or uploads a file."
    # One item (its fields fill the templates): a list must go through a Loop first.
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "object", "Item"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "object", "Slack's answer"),)
    Fields: ClassVar[type[BaseModel]] = SlackFields
    credential_type: ClassVar[str | None] = "slack"

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Do the operation against the credential's Slack API."""
        fields: SlackFields = ctx.fields  # type: ignore[assignment]
        credential, token = _need_token(ctx, "slack", "bot_token", "token")
        base = _base_url(credential, SLACK_DEFAULT_BASE_URL)
        op = fields.operation
        if op in ("post", "update") and not fields.text.strip():
            raise NodeError(f"text is required to {op} a message", field="text")
        if op in ("update", "delete") and not fields.ts.strip():
            raise NodeError(f"ts is required to {op} a message (the message's ts)", field="ts")
        call = {"ctx": ctx, "base": base, "token": token, "timeout": fields.timeout}
        where = f"the message to {fields.channel!r}"
        if op == "upload":
            return {"output": await self._upload(fields, call)}
        body: dict[str, Any] = {"channel": fields.channel}
        if op == "post":
            body["text"] = fields.text
            if fields.thread_ts:
                body["thread_ts"] = fields.thread_ts
            data = await _slack_call(method="chat.postMessage", json_body=body, what=where, **call)
        elif op == "update":
            body.update(ts=fields.ts, text=fields.text)
            data = await _slack_call(
                method="chat.update", json_body=body, what=f"the update of {fields.ts}", **call
            )
        else:
            body["ts"] = fields.ts
            data = await _slack_call(
                method="chat.delete", json_body=body, what=f"the deletion of {fields.ts}", **call
            )
        return {"output": data}

    @staticmethod
    async def _upload(fields: SlackFields, call: dict[str, Any]) -> dict[str, Any]:
        ctx: NodeContext = call["ctx"]
        if fields.file in (None, "", {}):
            raise NodeError("file is required to upload", field="file")
        if not (
            isinstance(fields.file, str)
            or (isinstance(fields.file, Mapping) and isinstance(fields.file.get("path"), str))
        ):
            raise NodeError("file must be a file (with a path) or a path", field="file")
        path, name, _ = _attachment_file(ctx, fields.file)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise NodeError(
                f"cannot read {str(path)!r}: {exc.strerror or exc}", field="file"
            ) from None
        what = f"the upload of {name!r}"
        ticket = await _slack_call(
            method="files.getUploadURLExternal",
            form={"filename": name, "length": str(len(data))},
            what=what,
            **call,
        )
        upload_url, file_id = ticket.get("upload_url"), ticket.get("file_id")
        if not upload_url or not file_id:
            raise NodeError("Slack gave no upload URL for the file")
        try:
            async with httpx.AsyncClient(timeout=call["timeout"]) as client:
                sent = await client.post(str(upload_url), content=data)
        except httpx.HTTPError as exc:
            raise NodeError(f"uploading {name!r} to Slack failed: {connect_problem(exc)}") from None
        if not sent.is_success:
            raise NodeError(f"Slack's upload URL answered {sent.status_code} for {name!r}")
        body: dict[str, Any] = {
            "files": [{"id": file_id, "title": fields.title or name}],
            "channel_id": fields.channel,
        }
        if fields.text:
            body["initial_comment"] = fields.text
        if fields.thread_ts:
            body["thread_ts"] = fields.thread_ts
        done = await _slack_call(
            method="files.completeUploadExternal", json_body=body, what=what, **call
        )
        ctx.log("info", f"uploaded {name!r} ({len(data)} bytes) to {fields.channel}")
        return done


# -- GitHub ----------------------------------------------------------------------------

GitHubOperation = Literal[
    "get_issue",
    "create_issue",
    "update_issue",
    "comment_issue",
    "list_issues",
    "list_pulls",
    "get_pull",
]
_NEEDS_NUMBER = {"get_issue", "update_issue", "comment_issue", "get_pull"}
#: Operations whose answer is a list (the output port then carries an ``array``).
_LIST_OPERATIONS = frozenset({"list_issues", "list_pulls"})
_OPERATIONS = frozenset(get_args(GitHubOperation))


class GitHubFields(BaseModel):
    """Fields of the GitHub node."""

    model_config = ConfigDict(extra="forbid")

    operation: GitHubOperation = Field(default="create_issue", description="What to do.")
    owner: str = Field(min_length=1, description="Repository owner (user or organisation).")
    repo: str = Field(min_length=1, description="Repository name.")
    number: int | None = Field(
        default=None, ge=1, description="Issue or pull request number (get, update, comment)."
    )
    title: str = Field(
        default="", validate_default=True, description="Issue title (create; update: if set)."
    )
    body: str = Field(
        default="",
        description="Issue text (create, update: if set) or the comment (comment_issue).",
        json_schema_extra={"widget": "multiline"},
    )
    labels: list[str] = Field(
        default_factory=list, description="Labels (create / update: set; list_issues: filter)."
    )
    assignees: list[str] = Field(
        default_factory=list, description="Assignees' logins (create / update: set)."
    )
    issue_state: Literal["", "open", "closed"] = Field(
        default="", description="update_issue: open or close the issue (empty: unchanged)."
    )
    state: Literal["open", "closed", "all"] = Field(
        default="open", description="Which issues or pull requests to list."
    )
    assignee: str = Field(default="", description="list_issues: assigned to this login.")
    creator: str = Field(default="", description="list_issues: opened by this login.")
    since: str = Field(default="", description="list_issues: updated at or after (ISO 8601).")
    sort: Literal["", "created", "updated", "comments"] = Field(
        default="", description="List order (empty: GitHub's, created)."
    )
    direction: Literal["", "asc", "desc"] = Field(
        default="", description="List direction (empty: GitHub's, desc)."
    )
    base: str = Field(default="", description="list_pulls: the base branch.")
    head: str = Field(default="", description="list_pulls: the head, user:branch.")
    limit: int = Field(default=30, ge=1, le=100, description="How many to list.")
    timeout: float = Field(default=30.0, gt=0, le=600, description="Seconds to wait for GitHub.")

    @field_validator("title")
    @classmethod
    def _title_for_create(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("operation", "create_issue") == "create_issue" and not value.strip():
            raise ValueError("title is required to create an issue")
        return value


def _github_request(fields: GitHubFields, base: str) -> tuple[str, str, Any, dict[str, Any]]:
    """(method, url, JSON body, query) of the operation."""
    repo = f"{base}/repos/{fields.owner}/{fields.repo}"
    op, number = fields.operation, fields.number
    if op == "create_issue":
        payload: dict[str, Any] = {"title": fields.title, "body": fields.body}
        if fields.labels:
            payload["labels"] = fields.labels
        if fields.assignees:
            payload["assignees"] = fields.assignees
        return "POST", f"{repo}/issues", payload, {}
    if op == "get_issue":
        return "GET", f"{repo}/issues/{number}", None, {}
    if op == "update_issue":
        payload = {}
        if fields.title.strip():
            payload["title"] = fields.title
        if fields.body:
            payload["body"] = fields.body
        if fields.labels:
            payload["labels"] = fields.labels
        if fields.assignees:
            payload["assignees"] = fields.assignees
        if fields.issue_state:
            payload["state"] = fields.issue_state
        if not payload:
            raise NodeError(
                "update_issue changes nothing: set title, body, labels, assignees or issue_state",
                field="issue_state",
            )
        return "PATCH", f"{repo}/issues/{number}", payload, {}
    if op == "comment_issue":
        if not fields.body.strip():
            raise NodeError("body (the comment) is required to comment", field="body")
        return "POST", f"{repo}/issues/{number}/comments", {"body": fields.body}, {}
    if op == "get_pull":
        return "GET", f"{repo}/pulls/{number}", None, {}
    params: dict[str, Any] = {"state": fields.state, "per_page": fields.limit}
    if fields.direction:
        params["direction"] = fields.direction
    if op == "list_pulls":
        if fields.sort:
            params["sort"] = "popularity" if fields.sort == "comments" else fields.sort
        params.update({k: v for k, v in (("base", fields.base), ("head", fields.head)) if v})
        return "GET", f"{repo}/pulls", None, params
    if fields.sort:
        params["sort"] = fields.sort
    if fields.labels:
        params["labels"] = ",".join(fields.labels)
    for name in ("assignee", "creator", "since"):
        if getattr(fields, name):
            params[name] = getattr(fields, name)
    return "GET", f"{repo}/issues", None, params


@register_node
class GitHubNode(NodeType):
    """Issues (get, create, update, comment, list with filters) and pull requests (list,
    get) of a GitHub repository through the REST API. Output: GitHub's answer (a list for
    the list operations)."""

    key: ClassVar[str] = "github"
    title: ClassVar[str] = "GitHub"
    category: ClassVar[str] = "Integrations"
    icon: ClassVar[str] = "github"
    summary_field: ClassVar[str] = "repo"
    description: ClassVar[str] = (
        "Gets, creates, updates, comments on or lists issues; lists or gets pull requests."
    )
    # One item (its fields fill the templates): a list must go through a Loop first.
    inputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("input", "object", "Item"),)
    outputs: ClassVar[tuple[PortSpec, ...]] = (PortSpec("output", "any", "Result"),)
    Fields: ClassVar[type[BaseModel]] = GitHubFields
    credential_type: ClassVar[str | None] = "github"

    @classmethod
    def output_types(cls, fields: Mapping[str, Any]) -> dict[str, str]:
        """A list operation gives an ``array``, any other operation an ``object``; an
        operation written as an expression (or unknown) keeps the declared ``any``."""
        operation = fields.get("operation", "create_issue")
        if not isinstance(operation, str) or operation not in _OPERATIONS:
            return super().output_types(fields)
        return {"output": "array" if operation in _LIST_OPERATIONS else "object"}

    async def run(self, ctx: NodeContext) -> Mapping[str, Any]:
        """Call the REST API; a non-2xx answer fails with GitHub's message."""
        fields: GitHubFields = ctx.fields  # type: ignore[assignment]
        if fields.operation == "create_issue" and not fields.title.strip():
            raise NodeError("title is required to create an issue", field="title")
        if fields.operation in _NEEDS_NUMBER and fields.number is None:
            raise NodeError(f"number is required for {fields.operation}", field="number")
        credential, token = _need_token(ctx, "github", "token")
        method, url, payload, params = _github_request(
            fields, _base_url(credential, GITHUB_DEFAULT_BASE_URL)
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "glyphic-desktop",
        }
        response = await _api_call(
            "GitHub",
            method,
            url,
            headers=headers,
            timeout=fields.timeout,
            json_body=payload,
            params=params or None,
        )
        data = json_or_none(response)
        if not response.is_success:
            message = (
                data.get("message")
                if isinstance(data, dict)
                else masked_clip(ctx, response.text, 200)
            )
            where = f"{fields.owner}/{fields.repo}"
            if fields.number is not None and fields.operation in _NEEDS_NUMBER:
                where += f"#{fields.number}"
            field = (
                "credential"
                if response.status_code == 401
                else (
                    ("number" if fields.operation in _NEEDS_NUMBER else "repo")
                    if response.status_code == 404
                    else None
                )
            )
            raise NodeError(
                f"GitHub {fields.operation} on {where} failed: {response.status_code} {message}",
                field=field,
            )
        if fields.operation in _LIST_OPERATIONS and isinstance(data, list):
            data = data[: fields.limit]
        return {"output": data}
