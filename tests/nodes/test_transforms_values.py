"""Date & Time, Crypto, Convert (JSON / CSV / XLSX files) and HTML extract: golden tests
and edge cases."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from pathlib import Path

import pytest
from node_helpers import run_node

from glyphic_desktop.nodes.base import NodeError
from glyphic_desktop.nodes.builtin.convert import ConvertNode
from glyphic_desktop.nodes.builtin.crypto_node import CryptoNode
from glyphic_desktop.nodes.builtin.datetime_node import DateTimeNode
from glyphic_desktop.nodes.builtin.html_extract import HtmlExtractNode

# -- Date & Time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"operation": "parse", "value": "2024-03-01T10:00:00Z"}, "2024-03-01T10:00:00+00:00"),
        (
            {
                "operation": "parse",
                "value": "01/03/2024 10:00",
                "input_format": "%d/%m/%Y %H:%M",
                "timezone": "Europe/Paris",
            },
            "2024-03-01T10:00:00+01:00",
        ),
        ({"operation": "parse", "value": 0}, "1970-01-01T00:00:00+00:00"),
        (
            {
                "operation": "convert",
                "value": "2024-07-01T12:00:00Z",
                "to_timezone": "America/New_York",
            },
            "2024-07-01T08:00:00-04:00",
        ),
        (
            {
                "operation": "format",
                "value": "2024-07-01T12:00:00Z",
                "to_timezone": "Asia/Tokyo",
                "output_format": "%Y-%m-%d %H:%M %Z",
            },
            "2024-07-01 21:00 JST",
        ),
        (
            {
                "operation": "add",
                "value": "2024-01-31T09:00:00+00:00",
                "amount": 1,
                "unit": "months",
            },
            "2024-02-29T09:00:00+00:00",
        ),
        (
            {
                "operation": "subtract",
                "value": "2024-03-01T00:00:00+00:00",
                "amount": 90,
                "unit": "minutes",
            },
            "2024-02-29T22:30:00+00:00",
        ),
        (
            # a day across the spring DST change keeps the wall-clock time
            {
                "operation": "add",
                "value": "2024-03-30T12:00:00",
                "timezone": "Europe/Paris",
                "amount": 1,
                "unit": "days",
            },
            "2024-03-31T12:00:00+02:00",
        ),
        (
            {
                "operation": "difference",
                "value": "2024-01-01T00:00:00Z",
                "other": "2024-01-02T12:00:00Z",
                "unit": "hours",
            },
            36,
        ),
        (
            {
                "operation": "difference",
                "value": "2024-01-31",
                "other": "2024-03-30",
                "unit": "months",
            },
            1,
        ),
    ],
)
def test_datetime_golden(fields: dict, expected: object) -> None:
    out = run_node(DateTimeNode, fields).output
    assert out == {"date": expected}


def test_datetime_per_item_field_and_errors() -> None:
    items = [{"at": "2024-05-05T05:05:05+02:00", "n": 1}, {"at": "2024-05-06T00:00:00Z"}]
    out = run_node(
        DateTimeNode,
        {"operation": "convert", "field": "at", "output_field": "utc"},
        inputs={"input": items},
    ).output
    assert out == [
        {**items[0], "utc": "2024-05-05T03:05:05+00:00"},
        {**items[1], "utc": "2024-05-06T00:00:00+00:00"},
    ]
    with pytest.raises(NodeError, match="item 1: field 'at' holds no date"):
        run_node(DateTimeNode, {"field": "at"}, inputs={"input": [items[0], {"x": 1}]})
    with pytest.raises(NodeError, match="'tomorrow' is not a date"):
        run_node(DateTimeNode, {"value": "tomorrow"})
    with pytest.raises(NodeError, match="'Mars/Olympus' is not an IANA time zone"):
        run_node(DateTimeNode, {"value": "2024-01-01", "timezone": "Mars/Olympus"})
    with pytest.raises(NodeError, match="difference needs the other date"):
        run_node(DateTimeNode, {"operation": "difference", "value": "2024-01-01"})


# -- Crypto ------------------------------------------------------------------------------


def test_crypto_golden() -> None:
    sha = run_node(CryptoNode, {"value": "abc"}).output
    assert sha == {"result": hashlib.sha256(b"abc").hexdigest()}
    md5 = run_node(CryptoNode, {"value": "abc", "algorithm": "md5", "encoding": "base64"}).output
    assert md5 == {"result": "kAFQmDzST7DWlj99KOF/cg=="}
    # GitHub's webhook documentation example
    mac = run_node(
        CryptoNode,
        {"operation": "hmac", "value": "Hello, World!", "secret": "It's a Secret to Everybody"},
    ).output
    assert mac["result"] == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    b64 = run_node(CryptoNode, {"operation": "base64_encode", "value": "héllo"}).output
    assert b64 == {"result": "aMOpbGxv"}
    back = run_node(CryptoNode, {"operation": "base64_decode", "value": "aMOpbGxv"}).output
    assert back == {"result": "héllo"}
    assert run_node(CryptoNode, {"operation": "base64_decode", "value": "aMOpbGx"}).output == {
        "result": "héll"
    }
    assert run_node(CryptoNode, {"operation": "hex_encode", "value": "hi"}).output == {
        "result": "6869"
    }
    assert run_node(CryptoNode, {"operation": "hex_decode", "value": "ff00"}).output == {
        "result": "/wA="  # not UTF-8: base64
    }


def test_crypto_items_objects_random_and_errors() -> None:
    items = [{"email": "a@b.c"}, {"email": {"x": 1}}]
    out = run_node(
        CryptoNode,
        {"field": "email", "output_field": "h", "algorithm": "sha1"},
        inputs={"input": items},
    ).output
    assert out[0] == {"email": "a@b.c", "h": hashlib.sha1(b"a@b.c").hexdigest()}
    assert out[1]["h"] == hashlib.sha1(b'{"x":1}').hexdigest()
    key = hmac.new(b"k", b"a@b.c", "sha256").hexdigest()
    assert (
        run_node(
            CryptoNode,
            {"operation": "hmac", "field": "email", "secret": "k"},
            inputs={"input": items[0]},
        ).output["result"]
        == key
    )
    one = run_node(CryptoNode, {"operation": "random_bytes", "length": 16}).output["result"]
    two = run_node(CryptoNode, {"operation": "random_bytes", "length": 16}).output["result"]
    assert len(bytes.fromhex(one)) == 16 and one != two
    assert uuid.UUID(run_node(CryptoNode, {"operation": "uuid"}).output["result"]).version == 4
    with pytest.raises(NodeError, match="hmac needs a secret"):
        run_node(CryptoNode, {"operation": "hmac", "value": "x"})
    with pytest.raises(NodeError, match="'zz' is not valid hex"):
        run_node(CryptoNode, {"operation": "hex_decode", "value": "zz"})
    with pytest.raises(NodeError, match="item 0: field 'nope' is empty"):
        run_node(CryptoNode, {"field": "nope"}, inputs={"input": [{}]})


# -- Convert -----------------------------------------------------------------------------

ROWS = [
    {"id": 1, "name": "Ann", "tags": ["a", "b"], "price": 2.5},
    {"id": 2, "name": "Bob, Jr.", "note": "line\nbreak"},
]


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_convert_round_trip(fmt: str) -> None:
    info = run_node(ConvertNode, {"format": fmt, "file_name": "out"}, inputs={"input": ROWS}).output
    path = Path(info["path"])
    assert path.name == f"out.{fmt}" and path.stat().st_size == info["size"]
    back = run_node(ConvertNode, {"direction": "from_file", "format": fmt}, inputs={"input": info})
    if fmt == "json":
        assert back.output == ROWS
    elif fmt == "csv":
        assert path.read_text().splitlines()[0] == "id,name,tags,price,note"
        assert back.output == [
            {"id": "1", "name": "Ann", "tags": '["a", "b"]', "price": "2.5", "note": ""},
            {"id": "2", "name": "Bob, Jr.", "tags": "", "price": "", "note": "line\nbreak"},
        ]
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(path).worksheets[0]
        assert [c.value for c in sheet[1]] == ["id", "name", "tags", "price", "note"]
        assert back.output == [
            {"id": 1, "name": "Ann", "tags": '["a", "b"]', "price": 2.5, "note": None},
            {"id": 2, "name": "Bob, Jr.", "tags": None, "price": None, "note": "line\nbreak"},
        ]


def test_convert_edge_cases(tmp_path: Path) -> None:
    empty = run_node(ConvertNode, {"format": "csv"}, inputs={"input": []}).output
    assert Path(empty["path"]).read_text() == "\n"
    scalars = run_node(ConvertNode, {"format": "csv"}, inputs={"input": [1, "x"]}).output
    assert Path(scalars["path"]).read_text() == "value\n1\nx\n"
    semi = tmp_path / "in.csv"
    semi.write_text("\ufeffa;b\n1;2\n3\n")
    rows = run_node(
        ConvertNode,
        {"direction": "from_file", "format": "csv", "delimiter": ";", "path": str(semi)},
    ).output
    assert rows == [{"a": "1", "b": "2"}, {"a": "3", "b": None}]
    with pytest.raises(NodeError, match="not an XLSX workbook"):
        run_node(ConvertNode, {"direction": "from_file", "format": "xlsx", "path": str(semi)})
    with pytest.raises(NodeError, match="file not found"):
        run_node(ConvertNode, {"direction": "from_file", "path": str(tmp_path / "none.csv")})
    with pytest.raises(NodeError, match="no file to read"):
        run_node(ConvertNode, {"direction": "from_file"})
    xlsx = run_node(ConvertNode, {"format": "xlsx"}, inputs={"input": {"a": 1}}).output
    with pytest.raises(NodeError, match="no sheet 'Nope'; the workbook has Items"):
        run_node(
            ConvertNode,
            {"direction": "from_file", "format": "xlsx", "sheet": "Nope"},
            inputs={"input": xlsx},
        )
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{oops")
    with pytest.raises(NodeError, match="not valid JSON"):
        run_node(ConvertNode, {"direction": "from_file", "format": "json", "path": str(bad_json)})


# -- HTML extract ------------------------------------------------------------------------

PAGE = """<html><body><h1> Shop  <small>today</small></h1>
<ul><li class="p"><a href="/a">Alpha</a> <span class="price">3.50</span></li>
<li class="p"><a href="/b">Beta</a><span class="price">12</span></li>
<li><p>unclosed<li>tail</ul></body></html>"""


def test_html_extract_golden() -> None:
    fields = {
        "extractions": [
            {"name": "title", "selector": "h1"},
            {
                "name": "links",
                "selector": "li.p a",
                "returns": "attribute",
                "attribute": "href",
                "all": True,
            },
            {"name": "prices", "selector": "li.p .price", "all": True},
            {"name": "second", "selector": "li.p:nth-child(2) a"},
            {"name": "heading_html", "selector": "h1", "returns": "html"},
            {"name": "missing", "selector": "table td"},
            {"name": "none", "selector": "table td", "all": True},
        ]
    }
    out = run_node(HtmlExtractNode, fields, inputs={"input": PAGE}).output
    assert out == {
        "title": "Shop today",
        "links": ["/a", "/b"],
        "prices": ["3.50", "12"],
        "second": "Beta",
        "heading_html": " Shop  <small>today</small>",
        "missing": None,
        "none": [],
    }


def test_html_extract_items_and_errors() -> None:
    items = [{"url": "u1", "body": "<b>one</b>"}, {"url": "u2", "body": "<i>two</i>"}]
    fields = {"field": "body", "extractions": [{"name": "bold", "selector": "b"}]}
    out = run_node(HtmlExtractNode, fields, inputs={"input": items}).output
    assert out == [{**items[0], "bold": "one"}, {**items[1], "bold": None}]
    with pytest.raises(NodeError, match="item 0: field 'body' holds a int, not HTML text"):
        run_node(HtmlExtractNode, fields, inputs={"input": [{"body": 5}]})
    with pytest.raises(NodeError, match="'a\\[' is not a CSS selector"):
        run_node(
            HtmlExtractNode,
            {"extractions": [{"name": "x", "selector": "a["}]},
            inputs={"input": PAGE},
        )
    with pytest.raises(NodeError, match="no HTML text to read"):
        run_node(HtmlExtractNode, {"extractions": [{"name": "x", "selector": "a"}]})
