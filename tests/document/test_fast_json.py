"""The sliced document serialiser writes exactly what pydantic's ``model_dump_json`` writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from glyphic_desktop.document.fast_json import document_json_bytes
from glyphic_desktop.document.io import read_workflow_file
from glyphic_desktop.document.model import WorkflowDocument

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [
        *(ROOT / "resources" / "examples").glob("*.json"),
        *(ROOT / "tests/document/samples").glob("*.json"),
    ]
)


def _odd_document() -> WorkflowDocument:
    """Unknown keys at every level, non-ASCII text, groups, empty optional parts."""
    return WorkflowDocument.model_validate(
        {
            "nodes": [
                {
                    "id": str(i),
                    "type": "log",
                    "data": {"label": f"Schritt {i} ✓", "fields": {"m": "日本語"}, "x": i},
                    "nodeExtra": [i],
                }
                for i in range(7)
            ],
            "edges": [{"id": i, "source": str(i), "target": str(i + 1)} for i in range(6)],
            "groups": [{"title": "G", "groupExtra": 1}, {}],
            "config": {"x": "ÿ"},
            "topExtra": {"deep": [{"a": 1}]},
        }
    )


@pytest.mark.parametrize("slice_items", [1, 2, 3, 250])
def test_same_bytes_as_pydantic(slice_items):
    documents = [_odd_document(), WorkflowDocument()]
    documents += [read_workflow_file(path).document for path in FILES]
    for document in documents:
        expected = document.model_dump_json().encode()
        assert document_json_bytes(document, slice_items=slice_items) == expected


def test_nodes_can_be_replaced_in_the_output():
    document = _odd_document()
    other = [node.model_copy(update={"type": "other"}) for node in document.nodes[:2]]
    expected = document.model_copy(update={"nodes": other}).model_dump_json().encode()
    assert document_json_bytes(document, nodes=other, slice_items=1) == expected
    assert document.nodes[0].type == "log"
