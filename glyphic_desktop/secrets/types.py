"""Credential types, declared like node types: key, title, a pydantic model of the fields
(secret ones marked with ``secret_field()``), and an optional connection check.

Built-ins: ``smtp``, ``slack``, ``github``, ``http_header``, ``http_basic``, ``bearer``,
``openai_compatible``.
Look one up with ``credential_types.get(key)``; an unknown key raises one line listing
the known ones. ``validate_fields`` names every field that fails the model.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import re
import smtplib
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from glyphic_desktop.errors import GlyphicError, UsageError
from glyphic_desktop.net.http_json import json_or_none
from glyphic_desktop.net.smtp import smtp_session
from glyphic_desktop.secrets.masking import SecretMasker

CHECK_TIMEOUT_SECONDS = 10.0


def secret_field(default: Any = ..., **kwargs: Any) -> Any:
    """A pydantic ``Field`` marked secret (encrypted, prompted without echo, masked)."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["secret"] = True
    kwargs.setdefault("repr", False)
    return Field(default, json_schema_extra=extra, **kwargs)


def is_secret(model: type[BaseModel], name: str) -> bool:
    """Whether the field ``name`` of ``model`` is marked secret."""
    info = model.model_fields.get(name)
    extra = info.json_schema_extra if info is not None else None
    return isinstance(extra, dict) and bool(extra.get("secret"))


class UnknownCredentialType(UsageError):
    """A credential type key that is not registered."""


class CredentialFieldsError(UsageError):
    """Fields that fail a credential type's model (every bad field is named)."""


class CredentialCheckError(GlyphicError):
    """A connection test that failed (the message says what the server said)."""


class CredentialFields(BaseModel):
    """Base of credential field models: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


def _check_url(value: str) -> str:
    value = value.strip()
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class CredentialType:
    """Base class of credential types; subclasses declare the class attributes below.

    ``check(fields)`` (optional, sync or async) tests the credential against its
    service and returns a one-line success message or raises CredentialCheckError.
    """

    key: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    Fields: ClassVar[type[BaseModel]]

    check: ClassVar[Callable[[Any], str | Awaitable[str]] | None] = None

    @classmethod
    def has_check(cls) -> bool:
        """Whether this type has a connection test."""
        return cls.check is not None

    @classmethod
    def field_names(cls) -> list[str]:
        """Every field, in declaration order."""
        return list(cls.Fields.model_fields)

    @classmethod
    def secret_fields(cls) -> list[str]:
        """The fields marked secret."""
        return [name for name in cls.Fields.model_fields if is_secret(cls.Fields, name)]

    @classmethod
    def validate(cls, data: Mapping[str, Any], *, name: str | None = None) -> BaseModel:
        """The fields, validated; failures raise one line naming every bad field."""
        return validate_fields(cls, data, name=name)

    @classmethod
    def register_secrets(cls, masker: SecretMasker, fields: Mapping[str, Any]) -> None:
        """Tell ``masker`` every value (and derived value) of this credential to hide."""
        masker.add_credential(fields, cls.secret_fields())


def validate_fields(
    ctype: type[CredentialType], data: Mapping[str, Any], *, name: str | None = None
) -> BaseModel:
    """Validate ``data`` against the type's model, naming each failing field (never its value)."""
    if not isinstance(data, Mapping):
        raise CredentialFieldsError(
            f"{_what(ctype, name)}: the fields must be a JSON object, not {type(data).__name__}"
        )
    try:
        return ctype.Fields.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "(fields)"
            if error["type"] == "extra_forbidden":
                known = ", ".join(ctype.field_names())
                problems.append(f"{where}: not a field of {ctype.key} (fields: {known})")
            else:
                message = error["msg"].removeprefix("Value error, ")
                problems.append(f"{where}: {message}")
        raise CredentialFieldsError(f"{_what(ctype, name)}: {'; '.join(problems)}") from None


def _what(ctype: type[CredentialType], name: str | None) -> str:
    return f"{ctype.key} credential {name!r}" if name else f"{ctype.key} credential"


def run_check(ctype: type[CredentialType], fields: BaseModel) -> str:
    """Run the type's connection test (sync or async) and return its success message."""
    if ctype.check is None:
        raise UsageError(f"credential type {ctype.key!r} has no connection test")
    result = ctype.check(fields)
    if inspect.isawaitable(result):
        return asyncio.run(_await(result))
    return result


async def _await(result: Awaitable[str]) -> str:
    return await result


class CredentialTypeRegistry:
    """Credential types by key."""

    def __init__(self) -> None:
        self._types: dict[str, type[CredentialType]] = {}

    def register(self, ctype: type[CredentialType]) -> type[CredentialType]:
        """Add a type (usable as a class decorator); a bad or duplicate declaration raises."""
        key = getattr(ctype, "key", None)
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            raise GlyphicError(f"credential type {ctype.__name__}: key must be snake_case")
        if not getattr(ctype, "title", None):
            raise GlyphicError(f"credential type {key!r}: title is missing")
        fields = getattr(ctype, "Fields", None)
        if not (isinstance(fields, type) and issubclass(fields, BaseModel)):
            raise GlyphicError(f"credential type {key!r}: Fields must be a pydantic model")
        if key in self._types and self._types[key] is not ctype:
            raise GlyphicError(f"credential type {key!r} is registered twice")
        self._types[key] = ctype
        return ctype

    def get(self, key: str) -> type[CredentialType]:
        """The type with ``key``; unknown → one line listing the known types."""
        try:
            return self._types[key]
        except KeyError:
            known = ", ".join(sorted(self._types))
            raise UnknownCredentialType(
                f"unknown credential type {key!r} (known types: {known})"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self._types

    def keys(self) -> list[str]:
        """Every registered key, sorted."""
        return sorted(self._types)

    def all(self) -> list[type[CredentialType]]:
        """Every registered type, sorted by key."""
        return [self._types[key] for key in self.keys()]


credential_types = CredentialTypeRegistry()
register_credential_type = credential_types.register


def get_credential_type(key: str) -> type[CredentialType]:
    """``credential_types.get(key)``."""
    return credential_types.get(key)


# -- built-in types ----------------------------------------------------------------------


class SmtpFields(CredentialFields):
    """An SMTP server account."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    user: str = ""
    password: str = secret_field("")
    from_address: str = ""

    @field_validator("security", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("must be a host name or address without spaces")
        return value

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        value = value.strip()
        if value and "@" not in value:
            raise ValueError("must be an e-mail address (name@domain)")
        return value


def _smtp_check(fields: SmtpFields) -> str:
    where = f"{fields.host}:{fields.port}"
    try:
        with smtp_session(fields, CHECK_TIMEOUT_SECONDS) as client:
            if fields.user:
                return f"connected to SMTP server {where} and logged in as {fields.user!r}"
            client.noop()
            return f"connected to SMTP server {where} (no login configured)"
    except smtplib.SMTPAuthenticationError as exc:
        raise CredentialCheckError(
            f"SMTP server {where} rejected the login of {fields.user!r} ({exc.smtp_code})"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise CredentialCheckError(f"SMTP server {where}: {exc}") from None
    except smtplib.SMTPException as exc:
        raise CredentialCheckError(f"SMTP server {where} failed: {_first_line(exc)}") from None
    except ssl.SSLError as exc:
        raise CredentialCheckError(f"TLS with SMTP server {where} failed: {exc.reason}") from None
    except TimeoutError:
        raise CredentialCheckError(f"SMTP server {where} did not answer in time") from None
    except OSError as exc:
        raise CredentialCheckError(
            f"cannot connect to SMTP server {where}: {exc.strerror or exc}"
        ) from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@register_credential_type
class SmtpCredential(CredentialType):
    """SMTP: host, port, security (none / starttls / tls), user, password, from address."""

    key = "smtp"
    title = "SMTP server"
    description = "Send e-mail through an SMTP server."
    Fields = SmtpFields
    check = staticmethod(_smtp_check)

    @classmethod
    def register_secrets(cls, masker: SecretMasker, fields: Mapping[str, Any]) -> None:
        """The password, plus the AUTH PLAIN / LOGIN encodings that carry it."""
        password = str(fields.get("password") or "")
        user = str(fields.get("user") or "")
        masker.add_basic_auth(user, password)
        if password:
            plain = b"\x00" + user.encode() + b"\x00" + password.encode()
            masker.add(base64.b64encode(plain).decode("ascii"))


def _http_get(url: str, headers: dict[str, str], service: str) -> httpx.Response:
    try:
        with httpx.Client(timeout=CHECK_TIMEOUT_SECONDS, follow_redirects=True) as client:
            return client.get(url, headers=headers)
    except httpx.TimeoutException:
        raise CredentialCheckError(f"{service} at {url} did not answer in time") from None
    except httpx.HTTPError as exc:
        raise CredentialCheckError(f"cannot reach {service} at {url}: {_first_line(exc)}") from None


class SlackFields(CredentialFields):
    """A Slack bot token."""

    bot_token: str = secret_field(min_length=1)
    base_url: str = "https://slack.com/api"

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _check_url(value)


def _slack_check(fields: SlackFields) -> str:
    url = f"{fields.base_url}/auth.test"
    response = _http_get(url, {"Authorization": f"Bearer {fields.bot_token}"}, "Slack")
    body = json_or_none(response)
    if response.status_code != 200 or not isinstance(body, dict):
        raise CredentialCheckError(f"Slack at {url} answered HTTP {response.status_code}")
    if not body.get("ok"):
        raise CredentialCheckError(f"Slack rejected the token: {body.get('error', 'not ok')}")
    who = ", ".join(f"{k} {body[k]}" for k in ("team", "user") if body.get(k))
    return f"Slack accepted the token ({who})" if who else "Slack accepted the token"


@register_credential_type
class SlackCredential(CredentialType):
    """Slack: bot token and API base URL."""

    key = "slack"
    title = "Slack bot"
    description = "Post messages with a Slack bot token."
    Fields = SlackFields
    check = staticmethod(_slack_check)


class GithubFields(CredentialFields):
    """A GitHub token."""

    token: str = secret_field(min_length=1)
    base_url: str = "https://api.github.com"

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _check_url(value)


def _github_check(fields: GithubFields) -> str:
    url = f"{fields.base_url}/user"
    headers = {"Authorization": f"Bearer {fields.token}", "Accept": "application/vnd.github+json"}
    response = _http_get(url, headers, "GitHub")
    if response.status_code in (401, 403):
        raise CredentialCheckError(f"GitHub rejected the token (HTTP {response.status_code})")
    if response.status_code != 200:
        raise CredentialCheckError(f"GitHub at {url} answered HTTP {response.status_code}")
    body = json_or_none(response)
    login = body.get("login") if isinstance(body, dict) else None
    return f"GitHub accepted the token (login {login})" if login else "GitHub accepted the token"


@register_credential_type
class GithubCredential(CredentialType):
    """GitHub: token and API base URL."""

    key = "github"
    title = "GitHub token"
    description = "Call the GitHub API with a personal access token."
    Fields = GithubFields
    check = staticmethod(_github_check)


_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class HttpHeaderFields(CredentialFields):
    """One HTTP header carrying a secret (e.g. ``X-API-Key``)."""

    name: str = Field(min_length=1)
    value: str = secret_field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not _HEADER_NAME.match(value):
            raise ValueError("must be an HTTP header name (letters, digits, '-', no spaces)")
        return value


@register_credential_type
class HttpHeaderCredential(CredentialType):
    """HTTP header auth: a header name and its secret value."""

    key = "http_header"
    title = "HTTP header auth"
    description = "Send a secret in an HTTP header."
    Fields = HttpHeaderFields


class HttpBasicFields(CredentialFields):
    """HTTP basic auth."""

    username: str = Field(min_length=1)
    password: str = secret_field("")


@register_credential_type
class HttpBasicCredential(CredentialType):
    """HTTP basic auth: username and password."""

    key = "http_basic"
    title = "HTTP basic auth"
    description = "Authenticate HTTP requests with a username and password."
    Fields = HttpBasicFields

    @classmethod
    def register_secrets(cls, masker: SecretMasker, fields: Mapping[str, Any]) -> None:
        """The password and the ``Authorization: Basic`` value."""
        masker.add_basic_auth(str(fields.get("username") or ""), str(fields.get("password") or ""))


class BearerFields(CredentialFields):
    """A bearer token."""

    token: str = secret_field(min_length=1)


@register_credential_type
class BearerCredential(CredentialType):
    """Bearer token auth."""

    key = "bearer"
    title = "Bearer token"
    description = "Send 'Authorization: Bearer TOKEN'."
    Fields = BearerFields


class LlmFields(CredentialFields):
    """An OpenAI-compatible endpoint (OpenAI, Ollama, llama.cpp, vLLM): base URL and key."""

    base_url: str = "https://api.openai.com/v1"
    api_key: str = secret_field("")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _check_url(value)


def _llm_check(fields: LlmFields) -> str:
    url = f"{fields.base_url}/models"
    headers = {"Authorization": f"Bearer {fields.api_key}"} if fields.api_key else {}
    response = _http_get(url, headers, "the LLM endpoint")
    if response.status_code in (401, 403):
        raise CredentialCheckError(
            f"the LLM endpoint rejected the key (HTTP {response.status_code})"
        )
    if response.status_code != 200:
        raise CredentialCheckError(
            f"the LLM endpoint at {url} answered HTTP {response.status_code}"
        )
    body = json_or_none(response)
    models = body.get("data") if isinstance(body, dict) else None
    count = len(models) if isinstance(models, list) else 0
    return f"the LLM endpoint answered ({count} model(s))"


@register_credential_type
class LlmCredential(CredentialType):
    """An OpenAI-compatible chat endpoint: base URL and API key (empty for a local server)."""

    key = "openai_compatible"
    title = "OpenAI-compatible LLM"
    description = "Chat with OpenAI or a local Ollama / llama.cpp / vLLM server."
    Fields = LlmFields
    check = staticmethod(_llm_check)


def secret_values(ctype: type[CredentialType], fields: Mapping[str, Any]) -> Iterable[Any]:
    """The raw values of the secret fields (for callers that mask by hand)."""
    return [fields.get(name) for name in ctype.secret_fields()]
