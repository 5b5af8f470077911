"""Fixtures of the node tests: real local servers (support.servers) on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node_helpers import GITHUB_TOKEN, SLACK_TOKEN
from support.servers import (
    AppServer,
    SmtpServer,
    closed_port,
    github_app,
    http_test_app,
    slack_app,
)


@pytest.fixture(scope="module")
def http_server() -> Iterator[AppServer]:
    """The general test HTTP server (see support.servers.http_test_app)."""
    with AppServer(http_test_app()) as server:
        yield server


@pytest.fixture
def slack_server() -> Iterator[AppServer]:
    """A Slack API stand-in accepting SLACK_TOKEN."""
    with AppServer(slack_app(SLACK_TOKEN)) as server:
        yield server


@pytest.fixture
def github_server() -> Iterator[AppServer]:
    """A GitHub API stand-in accepting GITHUB_TOKEN, with the repository octo/demo."""
    with AppServer(github_app(GITHUB_TOKEN)) as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An accepting SMTP server."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def unused_port() -> int:
    """A closed port on 127.0.0.1."""
    return closed_port()
