"""Credential types: registry, validation naming each bad field, checks against real servers."""

from __future__ import annotations

import pytest
from support.servers import AppServer, SmtpServer, closed_port, github_app, slack_app

from glyphic_desktop.secrets.masking import MASK, SecretMasker
from glyphic_desktop.secrets.types import (
    CredentialCheckError,
    CredentialFieldsError,
    CredentialType,
    CredentialTypeRegistry,
    UnknownCredentialType,
    credential_types,
    get_credential_type,
    run_check,
    secret_field,
)

BUILTINS = [
    "bearer",
    "github",
    "http_basic",
    "http_header",
    "openai_compatible",
    "slack",
    "smtp",
]


def test_builtins_are_registered_with_their_secret_fields() -> None:
    assert credential_types.keys() == BUILTINS
    secrets = {ctype.key: ctype.secret_fields() for ctype in credential_types.all()}
    assert secrets == {
        "bearer": ["token"],
        "github": ["token"],
        "http_basic": ["password"],
        "http_header": ["value"],
        "openai_compatible": ["api_key"],
        "slack": ["bot_token"],
        "smtp": ["password"],
    }
    assert credential_types.get("smtp").field_names() == [
        "host",
        "port",
        "security",
        "user",
        "password",
        "from_address",
    ]


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownCredentialType) as info:
        get_credential_type("gmail")
    assert info.value.message == (
        "unknown credential type 'gmail' (known types: bearer, github, http_basic, "
        "http_header, openai_compatible, slack, smtp)"
    )
    assert info.value.exit_code == 2


def test_defaults_apply() -> None:
    slack = credential_types.get("slack").validate({"bot_token": "xoxb-1"})
    assert slack.base_url == "https://slack.com/api"
    github = credential_types.get("github").validate({"token": "ghp"})
    assert github.base_url == "https://api.github.com"
    smtp = credential_types.get("smtp").validate({"host": "mail.test", "security": "STARTTLS"})
    assert (smtp.port, smtp.security) == (587, "starttls")


def test_every_failing_field_is_named_without_its_value() -> None:
    with pytest.raises(CredentialFieldsError) as info:
        credential_types.get("smtp").validate(
            {"port": "seventy", "security": "ssl", "password": "sekrit-value", "extra": 1},
            name="Work",
        )
    message = info.value.message
    assert message.startswith("smtp credential 'Work': ")
    for part in (
        "host: Field required",
        "port: Input should be a valid integer",
        "security: Input should be 'none', 'starttls' or 'tls'",
        "extra: not a field of smtp (fields: host, port, security, user, password, from_address)",
    ):
        assert part in message
    assert "sekrit-value" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("key", "fields", "expected"),
    [
        ("slack", {"bot_token": ""}, "bot_token: String should have at least 1 character"),
        ("slack", {"bot_token": "x", "base_url": "ftp://x"}, "base_url: must be an http:// or"),
        ("github", {}, "token: Field required"),
        ("http_header", {"name": "X Bad", "value": "v"}, "name: must be an HTTP header name"),
        ("http_basic", {"password": "p"}, "username: Field required"),
        ("bearer", {"token": 5}, "token: Input should be a valid string"),
        ("smtp", {"host": "h", "port": 70000}, "port: Input should be less than or equal to 65535"),
        ("smtp", {"host": "h", "from_address": "nobody"}, "from_address: must be an e-mail"),
    ],
)
def test_bad_fields_per_type(key: str, fields: dict, expected: str) -> None:
    with pytest.raises(CredentialFieldsError, match="^" + key) as info:
        credential_types.get(key).validate(fields)
    assert expected in info.value.message


def test_fields_that_are_not_an_object() -> None:
    with pytest.raises(CredentialFieldsError, match="must be a JSON object, not list"):
        credential_types.get("bearer").validate(["token"])  # type: ignore[arg-type]


def test_secret_values_are_hidden_from_model_repr() -> None:
    model = credential_types.get("bearer").validate({"token": "very-secret-token"})
    assert "very-secret-token" not in repr(model)


def test_registry_refuses_bad_declarations() -> None:
    registry = CredentialTypeRegistry()
    from pydantic import BaseModel

    class Fields(BaseModel):
        key: str = secret_field()

    class Good(CredentialType):
        key = "good"
        title = "Good"

    Good.Fields = Fields
    registry.register(Good)
    assert registry.get("good") is Good

    class Duplicate(Good):
        pass

    with pytest.raises(Exception, match="registered twice"):
        registry.register(Duplicate)

    class BadKey(Good):
        key = "Bad Key"

    with pytest.raises(Exception, match="snake_case"):
        registry.register(BadKey)


def test_smtp_and_basic_auth_register_derived_secrets() -> None:
    import base64

    masker = SecretMasker()
    credential_types.get("smtp").register_secrets(masker, {"user": "bob", "password": "pw-9999"})
    plain = base64.b64encode(b"\x00bob\x00pw-9999").decode()
    assert masker.mask(f"AUTH PLAIN {plain}") == f"AUTH PLAIN {MASK}"
    masker = SecretMasker()
    credential_types.get("http_basic").register_secrets(
        masker, {"username": "bob", "password": "pw-9999"}
    )
    assert masker.mask("Basic " + base64.b64encode(b"bob:pw-9999").decode()) == f"Basic {MASK}"


# -- connection tests against real local servers -------------------------------------------


def test_smtp_check_logs_in() -> None:
    with SmtpServer(login=("mailer", "right-pass")) as server:
        ctype = credential_types.get("smtp")
        fields = ctype.validate(server.credential())
        assert run_check(ctype, fields) == (
            f"connected to SMTP server 127.0.0.1:{server.port} and logged in as 'mailer'"
        )
        bad = ctype.validate(server.credential(password="wrong-pass"))
        with pytest.raises(CredentialCheckError) as info:
            run_check(ctype, bad)
    assert info.value.message == (
        f"SMTP server 127.0.0.1:{server.port} rejected the login of 'mailer' (535)"
    )


def test_smtp_check_without_login() -> None:
    with SmtpServer() as server:
        ctype = credential_types.get("smtp")
        message = run_check(ctype, ctype.validate(server.credential()))
    assert message.endswith("(no login configured)")


def test_smtp_check_reports_a_refused_connection() -> None:
    port = closed_port()
    ctype = credential_types.get("smtp")
    fields = ctype.validate({"host": "127.0.0.1", "port": port, "security": "none"})
    with pytest.raises(
        CredentialCheckError, match=f"cannot connect to SMTP server 127.0.0.1:{port}"
    ):
        run_check(ctype, fields)


def test_smtp_starttls_against_a_server_without_it() -> None:
    with SmtpServer() as server:
        ctype = credential_types.get("smtp")
        fields = ctype.validate(server.credential(security="starttls"))
        with pytest.raises(CredentialCheckError, match="STARTTLS"):
            run_check(ctype, fields)


def test_slack_check() -> None:
    with AppServer(slack_app("xoxb-good")) as server:
        ctype = credential_types.get("slack")
        base = server.url("/api")
        ok = run_check(ctype, ctype.validate({"bot_token": "xoxb-good", "base_url": base}))
        assert ok.startswith("Slack accepted the token")
        with pytest.raises(CredentialCheckError, match="Slack rejected the token: invalid_auth"):
            run_check(ctype, ctype.validate({"bot_token": "xoxb-bad", "base_url": base}))
        assert server.requests[0].path == "/api/auth.test"


def test_github_check() -> None:
    with AppServer(github_app("ghp_good")) as server:
        ctype = credential_types.get("github")
        ok = run_check(ctype, ctype.validate({"token": "ghp_good", "base_url": server.base_url}))
        assert ok == "GitHub accepted the token (login glyphic-test)"
        with pytest.raises(CredentialCheckError, match=r"GitHub rejected the token \(HTTP 401\)"):
            run_check(ctype, ctype.validate({"token": "ghp_bad", "base_url": server.base_url}))


def test_http_check_reports_an_unreachable_server() -> None:
    ctype = credential_types.get("github")
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(CredentialCheckError, match=f"cannot reach GitHub at {url}/user"):
        run_check(ctype, ctype.validate({"token": "t", "base_url": url}))


def test_types_without_a_check() -> None:
    ctype = credential_types.get("bearer")
    assert not ctype.has_check()
    with pytest.raises(Exception, match="has no connection test"):
        run_check(ctype, ctype.validate({"token": "t"}))


def test_async_checks_are_awaited() -> None:
    from pydantic import BaseModel

    class Fields(BaseModel):
        token: str = secret_field()

    async def check(fields: Fields) -> str:
        return f"async ok {len(fields.token)}"

    class AsyncType(CredentialType):
        key = "async_type"
        title = "Async"

    AsyncType.Fields = Fields
    AsyncType.check = staticmethod(check)
    assert run_check(AsyncType, Fields(token="abc")) == "async ok 3"
