"""Fixtures of the document tests: the sample files of foreign formats."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
def samples() -> Path:
    """The directory of sample workflow files (ComfyUI, React Flow, n8n, Glyphic)."""
    return SAMPLES
