"""Issue 10 §2: mask first, then cut; a secret's encodings are masked in every sink.

A real local server receives an ``http_header`` credential and sends it back:
base64'd at each of the three byte alignments (standard and URL-safe), URL-encoded
(``quote`` and ``quote_plus``), hex in both cases, as raw bytes after ``k=``, and in an
error body padded so that a 300-character cut falls inside the secret. ``glyphic run``
(text and ``--json``) runs the workflow; then the secret, its head and each encoding are
looked for in ``executions``, ``execution_logs``, the terminal, the ``--json`` lines and
the events a listener (the editor's log dock) receives. The cut points of stored and
printed previews and a crash log are checked directly.
"""

from __future__ import annotations

import base64
import json
import random
import secrets as random_secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from aiohttp import web
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "nodes"))

from node_helpers import run_node, workflow
from support.servers import AppServer

from glyphic_desktop.cli import run as run_cli
from glyphic_desktop.cli.main import main
from glyphic_desktop.engine.events import LogLine, NodeOutput
from glyphic_desktop.engine.records import OutputRecorder, cap_value
from glyphic_desktop.engine.runner import run_workflow
from glyphic_desktop.engine.sinks import TerminalSink
from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.command import RunCommandNode
from glyphic_desktop.paths import log_dir
from glyphic_desktop.secrets.keys import load_keyset
from glyphic_desktop.secrets.masking import MASK, SecretMasker
from glyphic_desktop.secrets.references import make_binding
from glyphic_desktop.store.repositories.integrations import IntegrationRepository
from glyphic_desktop.store.repositories.workflows import WorkflowRepository

#: Characters that quote / quote_plus change, then random hex (ASCII: it is a header; no
#: characters JSON escapes, so a head of it reads the same through nested JSON layers).
SECRET = "Pq7+/ z&" + random_secrets.token_hex(16)
RAW = SECRET.encode()
PAD = 280  # the error body's secret starts at 280: a 300-char cut would keep 20 of it


def encodings(secret: str) -> dict[str, str]:
    """Every form the server echoes (the part that is the secret's own)."""
    raw = secret.encode()
    forms = {
        "plain": secret,
        "head": secret[:14],
        "json": json.dumps(secret)[1:-1],
        "quote": quote(secret, safe=""),
        "quote_plus": quote_plus(secret),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
    }
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0\0").decode()
        core = encoded[-(-8 * offset // 6) : 8 * (offset + len(raw)) // 6]
        forms[f"b64@{offset}"] = core
        forms[f"b64url@{offset}"] = core.translate(str.maketrans("+/", "-_"))
    return forms


def echo_app() -> web.Application:
    """Sends back the X-Api-Key it received, in every encoding."""

    async def echo(request: web.Request) -> web.Response:
        key = request.headers["X-Api-Key"]
        raw = key.encode()
        return web.json_response(
            {
                "b64_0": base64.b64encode(b"abc" + raw + b"!").decode(),
                "b64_1": base64.b64encode(b"k" + raw + b"!!").decode(),
                "b64_2": base64.b64encode(b"k=" + raw).decode(),
                "b64url_1": base64.urlsafe_b64encode(b"x" + raw).decode(),
                "url": "https://elsewhere.test/?k=" + quote(key, safe=""),
                "form": "k=" + quote_plus(key),
                "hex": "0x" + raw.hex(),
                "HEX": raw.hex().upper() + "00",
            }
        )

    async def raw_bytes(request: web.Request) -> web.Response:
        key = request.headers["X-Api-Key"].encode()
        return web.Response(body=b"k=" + key + b"&more", content_type="application/x-custom")

    async def padded(request: web.Request) -> web.Response:
        key = request.headers["X-Api-Key"]
        return web.Response(status=401, text="x" * PAD + key + "y" * 400)

    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/bytes", raw_bytes)
    app.router.add_get("/padded", padded)
    return app


@pytest.fixture(scope="module")
def echo_server() -> Iterator[AppServer]:
    with AppServer(echo_app()) as server:
        yield server


@pytest.fixture
def stored(db, user_id, no_os_keyring, echo_server: AppServer) -> Any:
    """The credential and the workflow, stored; returns the workflow record."""
    with db.session() as session:
        info = IntegrationRepository(session, user_id, load_keyset()).create(
            "http_header", "Echoed key", {"name": "X-Api-Key", "value": SECRET}
        )
    binding = {"credential": make_binding(info)}
    document = workflow(
        [
            {"id": "start", "type": "manual"},
            {
                "id": "echo",
                "type": "http_request",
                "fields": {"url": echo_server.url("/echo")},
                "data": binding,
            },
            {
                "id": "bytes",
                "type": "http_request",
                "fields": {"url": echo_server.url("/bytes"), "response_format": "bytes"},
                "data": binding,
            },
            {
                "id": "padded",
                "type": "http_request",
                "fields": {"url": echo_server.url("/padded"), "retries": 0},
                "data": binding,
            },
        ],
        ["start -> echo", "echo -> bytes", "bytes -> padded"],
    )
    with db.session() as session:
        return WorkflowRepository(session, user_id).create("Echo the key", document)


def _rows(db, sql: str, **params: Any) -> str:
    with db.session() as session:
        return "\n".join(session.execute(text(sql), params).scalars().all())


def assert_nowhere(haystacks: dict[str, str]) -> None:
    for where, haystack in haystacks.items():
        for name, form in encodings(SECRET).items():
            assert form not in haystack, f"{name} of the secret found in {where}"


def test_the_secret_is_in_no_sink(db, user_id, stored, capsys) -> None:
    capsys.readouterr()
    plain_code = main(["run", "Echo the key"])
    plain = capsys.readouterr()
    json_code = main(["run", "Echo the key", "--json"])
    as_json = capsys.readouterr()
    assert plain_code == 1 and json_code == 1  # the padded error fails the run

    events: list[Any] = []
    result = run_workflow(db, user_id, stored, listeners=[events.append])
    assert result.status == "failed"

    executions = _rows(
        db, "SELECT row_to_json(e)::text FROM executions e WHERE workflow_id = :id", id=stored.id
    )
    logs = _rows(db, "SELECT row_to_json(l)::text FROM execution_logs l")
    haystacks = {
        "executions": executions,
        "execution_logs": logs,
        "terminal": plain.out + plain.err,
        "terminal --json": as_json.out + as_json.err,
        "listener events": repr(events),
        "run result": repr(result.error) + repr(result.outputs),
    }
    assert_nowhere(haystacks)
    # the secret did flow through: each echo is there, masked
    outputs = result.outputs["echo"]["output"]["body"]
    for key in ("b64_0", "b64_1", "b64_2", "b64url_1", "url", "form", "hex", "HEX"):
        assert MASK in outputs[key], key
    assert MASK in result.outputs["bytes"]["output"]["body"]["base64"]
    assert "returned 401" in result.error and "x" * 20 + MASK in result.error
    assert MASK in haystacks["execution_logs"] and MASK in haystacks["terminal"]
    for line in as_json.out.splitlines():
        json.loads(line)


# -- the cut points, directly ---------------------------------------------------------------


def _cut_inside(width: int) -> str:
    """A text whose cut at ``width`` falls inside the secret."""
    return "x" * (width - 20) + SECRET + "tail" * 10


def test_previews_are_masked_before_they_are_cut() -> None:
    masker = SecretMasker([SECRET])
    for value in (
        _cut_inside(1000) + "x" * 5000,  # the stored truncation marker's preview
        {"nested": [_cut_inside(990) + "x" * 5000]},
        b"y" * 40 + RAW + b"z" * 10,  # the base64 preview of the first 48 bytes
    ):
        capped, _ = cap_value(value, 2048 if not isinstance(value, bytes) else 10_000, masker)
        shown = json.dumps(masker.mask(capped), ensure_ascii=False)
        assert_nowhere({"capped": shown})
        raw = capped["preview"] if isinstance(capped, dict) and "preview" in capped else ""
        if isinstance(value, bytes):
            raw = base64.b64decode(capped["preview"]).decode("utf-8", "replace")
        assert SECRET[:6] not in raw


def test_stored_outputs_terminal_lines_and_json_lines_cut_after_masking() -> None:
    masker = SecretMasker([SECRET])
    recorder = OutputRecorder(node_cap=1024, masker=masker)
    recorder(NodeOutput("x", "n", "t", "N", outputs={"output": _cut_inside(1000) * 3}))
    printed = []
    text_sink = TerminalSink(_Lines(printed), masker=masker)
    json_sink = TerminalSink(_Lines(printed), json_lines=True, masker=masker)
    big = {"blob": _cut_inside(1000 - len('{"blob": "')) * 80}
    for sink in (text_sink, json_sink):
        sink(LogLine("x", "n", "t", "N", message="data", data=big))
        sink(NodeOutput("x", "n", "t", "N", outputs={"output": _cut_inside(1000) * 10}))
    assert_nowhere({"output_data": json.dumps(recorder.outputs), "terminal": "".join(printed)})


class _Lines:
    def __init__(self, into: list[str]) -> None:
        self.into = into

    def write(self, text: str) -> None:
        self.into.append(text)

    def flush(self) -> None:
        pass


def test_a_crash_log_is_masked(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def explode(args: Any) -> int:
        masker = SecretMasker([SECRET])  # the run's masker, alive while the error is
        raise RuntimeError(f"engine bug while sending {SECRET} ({masker!r})")

    monkeypatch.setattr(run_cli, "run_command", explode)
    assert main(["run", "anything"]) == 1
    err = capsys.readouterr().err
    (crash,) = sorted(log_dir().glob("crash-*.log"))
    written = crash.read_text(encoding="utf-8")
    assert "RuntimeError" in written and MASK in written and MASK in err
    assert_nowhere({"stderr": err, "crash log": written})


def test_a_command_error_is_masked_before_it_is_cut() -> None:
    """Run command's stderr in the failure message: the run's masker first, then 300 chars."""
    script = f"import sys; sys.stderr.write('x' * {PAD} + {SECRET!r} + 'y' * 400); sys.exit(3)"
    with pytest.raises(NodeError, match="exited with code 3") as caught:
        run_node(
            RunCommandNode,
            {"command": [sys.executable, "-c", script], "fail_on_nonzero": True},
            services={"masker": SecretMasker([SECRET])},
        )
    assert "x" * 20 + MASK in str(caught.value)
    assert_nowhere({"error": str(caught.value)})


def test_mask_head_is_masking_everything_then_cutting() -> None:
    """Many secrets of many lengths (shorter and longer than the mask), every cut."""
    rng = random.Random(10)
    values = ["ab", "abc", "abcdef", "tok-" + "9" * 40, SECRET, "zz" * 30]
    masker = SecretMasker(values)
    for _ in range(300):
        parts = [rng.choice([*values, "x" * rng.randint(0, 9), "a", "b", " "]) for _ in range(60)]
        text = "".join(parts)
        full = masker.mask(text)
        for limit in (0, 1, 7, 50, 100, 301):
            head, more = masker.mask_head(text, limit)
            assert head == full[:limit] and more == (len(full) > limit)
    data = SECRET.encode() * 5
    assert masker.mask_bytes_head(data, 100) == masker.mask_bytes(data)[:100]


@pytest.mark.parametrize("offset", range(6))
def test_base64_at_every_offset_and_hex_are_masked(offset: int) -> None:
    masker = SecretMasker([SECRET])
    blob = b"p" * offset + RAW + b"-tail" * offset
    for shown in (
        base64.b64encode(blob).decode(),
        base64.urlsafe_b64encode(blob).decode().rstrip("="),
        blob.hex(),
        blob.hex().upper(),
        quote(blob.decode(), safe=""),
        quote_plus(blob.decode()),
    ):
        masked = masker.mask(shown)
        assert MASK in masked
        assert_nowhere({"masked": masked})
