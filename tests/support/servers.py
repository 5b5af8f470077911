"""Real local servers for network tests, all on 127.0.0.1 with a free port.

- :class:`AppServer` runs an aiohttp web app in a background thread (its own event loop),
  so tests that drive their own loop (``asyncio.run``) or none at all can use it, and
  records every request it received (:class:`Recorded`).
- :func:`http_test_app`: JSON, text, echo, status codes, a flaky route (5xx first), items.
- :func:`slack_app` and :func:`github_app`: small stand-ins of the Slack Web API
  (``chat.postMessage`` / ``update`` / ``delete``, the two-step external file upload,
  ``auth.test``) and the GitHub REST API (issues: list with filters, get, create, update,
  comment; pull requests: list, get; ``/user``) that check the bearer token like the
  real services.
- :class:`SmtpServer`: aiosmtpd, keeping every message; it can refuse recipients (550)
  or demand a login.
- :func:`closed_port`: a port on 127.0.0.1 that nothing listens on.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiohttp import web

#: What the Slack stand-in accepted (``app[SLACK_POSTED]``).
SLACK_POSTED: web.AppKey[list[dict[str, Any]]] = web.AppKey("slack_posted", list)
#: The GitHub stand-in's issues by "owner/repo" (``app[GITHUB_ISSUES]``).
GITHUB_ISSUES: web.AppKey[dict[str, list[dict[str, Any]]]] = web.AppKey("github_issues", dict)
#: Files uploaded to the Slack stand-in by file id (``app[SLACK_UPLOADS]``).
SLACK_UPLOADS: web.AppKey[dict[str, dict[str, Any]]] = web.AppKey("slack_uploads", dict)
#: The GitHub stand-in's comments by "owner/repo#number" (``app[GITHUB_COMMENTS]``).
GITHUB_COMMENTS: web.AppKey[dict[str, list[dict[str, Any]]]] = web.AppKey("github_comments", dict)
#: The GitHub stand-in's pull requests by "owner/repo" (``app[GITHUB_PULLS]``).
GITHUB_PULLS: web.AppKey[dict[str, list[dict[str, Any]]]] = web.AppKey("github_pulls", dict)

# -- the threaded aiohttp runner -------------------------------------------------------


@dataclass
class Recorded:
    """One request a test server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class AppServer:
    """An aiohttp app served on 127.0.0.1:<free port> from a background thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.requests: list[Recorded] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        app.middlewares.append(self._record)

    @web.middleware
    async def _record(
        self, request: web.Request, handler: Callable[..., Any]
    ) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                body=body,
            )
        )
        return await handler(request)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path``."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> AppServer:
        """Start serving; returns once the port is bound."""
        self._thread = threading.Thread(target=self._serve, name="test-http-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start within 10 s")
        if self._error:
            raise RuntimeError(f"test server failed to start: {self._error}")
        return self

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
        loop.close()

    async def _setup(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a general HTTP server -------------------------------------------------------------

ITEMS = [
    {"id": 1, "name": "alpha", "price": 3.5, "category": "tools"},
    {"id": 2, "name": "beta", "price": 12.0, "category": "books"},
    {"id": 3, "name": "gamma", "price": 7.25, "category": "tools"},
]


async def _echo(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        parsed: Any = json.loads(body) if body else None
    except ValueError:
        parsed = None
    form = dict(await request.post()) if request.content_type.endswith("urlencoded") else None
    return web.json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "headers": dict(request.headers),
            "text": body.decode("utf-8", errors="replace"),
            "json": parsed,
            "form": {k: str(v) for k, v in form.items()} if form else None,
        }
    )


def http_test_app() -> web.Application:
    """Routes: /json, /text, /items, /echo (any method), /status/{code}, /flaky/{n}, /slow,
    /repos/{owner}/{repo} (a GitHub-like repository object)."""
    app = web.Application()
    counters: dict[str, itertools.count] = {}

    async def json_route(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world", "n": 42})

    async def text_route(request: web.Request) -> web.Response:
        return web.Response(text="plain text body")

    async def items_route(request: web.Request) -> web.Response:
        return web.json_response({"items": ITEMS, "count": len(ITEMS)})

    async def status_route(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.Response(status=code, text=f"status {code} from the test server")

    async def flaky_route(request: web.Request) -> web.Response:
        failures = int(request.match_info["n"])
        key = request.path
        count = next(counters.setdefault(key, itertools.count()))
        if count < failures:
            return web.Response(status=503, text="try again")
        return web.json_response({"attempt": count + 1})

    async def repo_route(request: web.Request) -> web.Response:
        owner, repo = request.match_info["owner"], request.match_info["repo"]
        return web.json_response(
            {
                "full_name": f"{owner}/{repo}",
                "description": "A repository served by the test server",
                "stargazers_count": 1234,
                "open_issues_count": 56,
            }
        )

    async def slow_route(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("seconds", "5")))
        return web.json_response({"slow": True})

    app.router.add_get("/json", json_route)
    app.router.add_get("/text", text_route)
    app.router.add_get("/items", items_route)
    app.router.add_route("*", "/echo", _echo)
    app.router.add_route("*", "/status/{code}", status_route)
    app.router.add_route("*", "/flaky/{n}", flaky_route)
    app.router.add_get("/slow", slow_route)
    app.router.add_get("/repos/{owner}/{repo}", repo_route)
    return app


# -- Slack stand-in --------------------------------------------------------------------


def slack_app(token: str) -> web.Application:
    """Slack Web API stand-in under /api: chat.postMessage / update / delete, the external
    file upload (getUploadURLExternal, the upload URL, completeUploadExternal) and
    auth.test, checking ``token``."""
    app = web.Application()
    posted: list[dict[str, Any]] = []
    app[SLACK_POSTED] = posted

    def authorised(request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {token}"

    async def post_message(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_json"})
        channel = body.get("channel")
        if not channel:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if channel in ("#missing", "C_MISSING"):
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if not body.get("text"):
            return web.json_response({"ok": False, "error": "no_text"})
        ts = f"1700000000.{len(posted) + 1:06d}"
        posted.append({**body, "ts": ts})
        return web.json_response(
            {
                "ok": True,
                "channel": "C0123456" if channel.startswith("#") else channel,
                "ts": ts,
                "message": {"type": "message", "text": body["text"], "ts": ts},
            }
        )

    async def auth_test(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response({"ok": True, "team": "Test Team", "user": "glyphic-bot"})

    async def update_message(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        body = await request.json()
        found = next((m for m in posted if m["ts"] == body.get("ts")), None)
        if found is None or found.get("deleted"):
            return web.json_response({"ok": False, "error": "message_not_found"})
        found["text"] = body.get("text", "")
        return web.json_response(
            {"ok": True, "channel": body.get("channel"), "ts": found["ts"], "text": found["text"]}
        )

    async def delete_message(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        body = await request.json()
        found = next((m for m in posted if m["ts"] == body.get("ts")), None)
        if found is None or found.get("deleted"):
            return web.json_response({"ok": False, "error": "message_not_found"})
        found["deleted"] = True
        return web.json_response({"ok": True, "channel": body.get("channel"), "ts": found["ts"]})

    async def upload_url(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        form = await request.post()
        file_id = f"F{len(uploads) + 1:04d}"
        uploads[file_id] = {
            "filename": form.get("filename"),
            "length": int(str(form.get("length", "0"))),
            "data": None,
        }
        url = f"{request.scheme}://{request.host}/upload/{file_id}"
        return web.json_response({"ok": True, "upload_url": url, "file_id": file_id})

    async def upload(request: web.Request) -> web.Response:
        entry = uploads.get(request.match_info["file_id"])
        if entry is None:
            return web.Response(status=404)
        entry["data"] = await request.read()
        return web.Response(text=f"OK - {len(entry['data'])}")

    async def complete_upload(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        body = await request.json()
        done = []
        for item in body.get("files") or []:
            entry = uploads.get(item.get("id"))
            if entry is None or entry["data"] is None:
                return web.json_response({"ok": False, "error": "file_not_found"})
            if len(entry["data"]) != entry["length"]:
                return web.json_response({"ok": False, "error": "file_size_mismatch"})
            entry.update(
                channel_id=body.get("channel_id"),
                initial_comment=body.get("initial_comment"),
                title=item.get("title"),
            )
            done.append({"id": item["id"], "title": item.get("title"), "name": entry["filename"]})
        return web.json_response({"ok": True, "files": done})

    uploads: dict[str, dict[str, Any]] = {}
    app[SLACK_UPLOADS] = uploads
    app.router.add_post("/api/chat.postMessage", post_message)
    app.router.add_post("/api/chat.update", update_message)
    app.router.add_post("/api/chat.delete", delete_message)
    app.router.add_post("/api/files.getUploadURLExternal", upload_url)
    app.router.add_post("/upload/{file_id}", upload)
    app.router.add_post("/api/files.completeUploadExternal", complete_upload)
    app.router.add_route("*", "/api/auth.test", auth_test)
    return app


# -- GitHub stand-in -------------------------------------------------------------------


def github_app(token: str, repos: tuple[str, ...] = ("octo/demo",)) -> web.Application:
    """GitHub REST stand-in: issues (list, create, get, update, comment), pulls (list, get
    from ``app[GITHUB_PULLS]``, which tests fill), /user."""
    app = web.Application()
    issues: dict[str, list[dict[str, Any]]] = {repo: [] for repo in repos}
    app[GITHUB_ISSUES] = issues
    comments: dict[str, list[dict[str, Any]]] = {}
    app[GITHUB_COMMENTS] = comments
    pulls: dict[str, list[dict[str, Any]]] = {repo: [] for repo in repos}
    app[GITHUB_PULLS] = pulls

    def check(request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") not in (f"Bearer {token}", f"token {token}"):
            return web.json_response(
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
                status=401,
            )
        return None

    def repo_of(request: web.Request) -> str:
        return f"{request.match_info['owner']}/{request.match_info['repo']}"

    async def list_issues(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        repo = repo_of(request)
        if repo not in issues:
            return web.json_response({"message": "Not Found"}, status=404)
        query = request.query
        state = query.get("state", "open")
        per_page = int(query.get("per_page", "30"))
        wanted = [i for i in issues[repo] if state == "all" or i["state"] == state]
        labels = [x for x in query.get("labels", "").split(",") if x]
        if labels:
            wanted = [
                i for i in wanted if all(lb in [x["name"] for x in i["labels"]] for lb in labels)
            ]
        if "assignee" in query:
            wanted = [
                i for i in wanted if query["assignee"] in [a["login"] for a in i["assignees"]]
            ]
        if "creator" in query:
            wanted = [i for i in wanted if i["user"]["login"] == query["creator"]]
        if "since" in query:
            wanted = [i for i in wanted if i["updated_at"] >= query["since"]]
        key = "comments" if query.get("sort") == "comments" else "number"
        wanted.sort(key=lambda i: i[key], reverse=query.get("direction", "desc") == "desc")
        return web.json_response(wanted[:per_page])

    def find(request: web.Request) -> dict[str, Any] | None:
        repo = repo_of(request)
        number = int(request.match_info["number"])
        return next((i for i in issues.get(repo, []) if i["number"] == number), None)

    async def get_issue(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        issue = find(request)
        if issue is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(issue)

    async def update_issue(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        issue = find(request)
        if issue is None:
            return web.json_response({"message": "Not Found"}, status=404)
        body = await request.json()
        if body.get("state") not in (None, "open", "closed"):
            return web.json_response({"message": "Validation Failed"}, status=422)
        for name in ("title", "body", "state"):
            if name in body:
                issue[name] = body[name]
        if "labels" in body:
            issue["labels"] = [{"name": name} for name in body["labels"]]
        if "assignees" in body:
            issue["assignees"] = [{"login": name} for name in body["assignees"]]
        issue["updated_at"] = "2024-06-01T00:00:00Z"
        return web.json_response(issue)

    async def comment(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        issue = find(request)
        if issue is None:
            return web.json_response({"message": "Not Found"}, status=404)
        body = await request.json()
        if not body.get("body"):
            return web.json_response({"message": "Validation Failed"}, status=422)
        key = f"{repo_of(request)}#{issue['number']}"
        made = {"id": 1000 + sum(map(len, comments.values())), "body": body["body"]}
        comments.setdefault(key, []).append(made)
        issue["comments"] += 1
        return web.json_response(made, status=201)

    async def list_pulls(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        repo = repo_of(request)
        if repo not in pulls:
            return web.json_response({"message": "Not Found"}, status=404)
        query = request.query
        state = query.get("state", "open")
        wanted = [p for p in pulls[repo] if state == "all" or p["state"] == state]
        if "base" in query:
            wanted = [p for p in wanted if p["base"]["ref"] == query["base"]]
        if "head" in query:
            wanted = [p for p in wanted if p["head"]["label"] == query["head"]]
        return web.json_response(wanted[: int(query.get("per_page", "30"))])

    async def get_pull(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        number = int(request.match_info["number"])
        found = next((p for p in pulls.get(repo_of(request), []) if p["number"] == number), None)
        if found is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(found)

    async def create_issue(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        repo = repo_of(request)
        if repo not in issues:
            return web.json_response({"message": "Not Found"}, status=404)
        body = await request.json()
        if not body.get("title"):
            return web.json_response(
                {
                    "message": "Validation Failed",
                    "errors": [{"field": "title", "code": "missing_field"}],
                },
                status=422,
            )
        number = len(issues[repo]) + 1
        issue = {
            "number": number,
            "title": body["title"],
            "body": body.get("body") or "",
            "state": "open",
            "labels": [{"name": name} for name in body.get("labels", [])],
            "assignees": [{"login": name} for name in body.get("assignees", [])],
            "user": {"login": "glyphic-test"},
            "comments": 0,
            "updated_at": f"2024-01-{number:02d}T00:00:00Z",
            "html_url": f"https://github.com/{repo}/issues/{number}",
        }
        issues[repo].append(issue)
        return web.json_response(issue, status=201)

    async def user(request: web.Request) -> web.Response:
        if (denied := check(request)) is not None:
            return denied
        return web.json_response({"login": "glyphic-test"})

    app.router.add_get("/repos/{owner}/{repo}/issues", list_issues)
    app.router.add_post("/repos/{owner}/{repo}/issues", create_issue)
    app.router.add_get("/repos/{owner}/{repo}/issues/{number}", get_issue)
    app.router.add_patch("/repos/{owner}/{repo}/issues/{number}", update_issue)
    app.router.add_post("/repos/{owner}/{repo}/issues/{number}/comments", comment)
    app.router.add_get("/repos/{owner}/{repo}/pulls", list_pulls)
    app.router.add_get("/repos/{owner}/{repo}/pulls/{number}", get_pull)
    app.router.add_get("/user", user)
    return app


# -- SMTP ------------------------------------------------------------------------------


@dataclass
class ReceivedMail:
    """One message an :class:`SmtpServer` accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        """The parsed message."""
        return message_from_bytes(self.data)


@dataclass
class _Handler:
    received: list[ReceivedMail] = field(default_factory=list)
    refuse_recipients: bool = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted for delivery"


# The test server allows AUTH over plain TCP on 127.0.0.1 on purpose.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


class SmtpServer:
    """aiosmtpd on 127.0.0.1:<free port>; ``received`` holds the accepted messages.

    ``refuse_recipients`` answers every RCPT TO with 550; ``login`` = (user, password)
    demands AUTH (allowed without TLS, for the test) and refuses other logins with 535.
    """

    def __init__(
        self, *, refuse_recipients: bool = False, login: tuple[str, str] | None = None
    ) -> None:
        self.handler = _Handler(refuse_recipients=refuse_recipients)
        self.login = login
        self.controller: Any = None
        self.port = 0

    @property
    def received(self) -> list[ReceivedMail]:
        """Messages accepted so far."""
        return self.handler.received

    def credential(self, **overrides: Any) -> dict[str, Any]:
        """An ``smtp`` credential dict pointing at this server."""
        cred: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "user": self.login[0] if self.login else "",
            "password": self.login[1] if self.login else "",
            "from_address": "reports@glyphic.test",
        }
        cred.update(overrides)
        return cred

    def start(self) -> SmtpServer:
        """Start aiosmtpd in its own thread."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        kwargs: dict[str, Any] = {}
        if self.login:
            expected = self.login

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (
                    isinstance(auth_data, LoginPassword)
                    and (
                        auth_data.login.decode(),
                        auth_data.password.decode(),
                    )
                    == expected
                )
                return AuthResult(success=ok, handled=False)

            kwargs = {
                "authenticator": authenticator,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self.port = closed_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self.controller is not None:
            self.controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
