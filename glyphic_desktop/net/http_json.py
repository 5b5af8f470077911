"""Reading the JSON body of an HTTP answer that may not be JSON."""

from __future__ import annotations

from typing import Any

import httpx


def json_or_none(response: httpx.Response) -> Any:
    """The decoded JSON body of ``response``, or None when the body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
