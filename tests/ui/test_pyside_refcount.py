"""Guard against the PySide6 6.12.0 / Python 3.11 refcount bug.

PySide6 6.12.0 on Python 3.11 decrements the reference count of ``None`` on every call
of a Qt method returning ``void``. After enough calls (each ``setPos`` of a canvas drag)
``None``'s count reaches zero and the interpreter crashes with "deallocating None".
``pyproject.toml`` pins ``PySide6-Essentials<6.12`` on Python < 3.12 for this reason.
"""

from __future__ import annotations

import sys

import PySide6
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsScene


def test_void_qt_calls_keep_the_refcount_of_none(qtbot) -> None:
    scene = QGraphicsScene()
    item = QGraphicsRectItem(0, 0, 10, 10)
    scene.addItem(item)
    item.setPos(0.0, 0.0)  # warm up any lazy caches first
    before = sys.getrefcount(None)
    for i in range(1000):
        item.setPos(float(i), float(i))
    after = sys.getrefcount(None)
    assert after >= before, (
        f"sys.getrefcount(None) dropped from {before} to {after} after 1,000 "
        f"QGraphicsItem.setPos() calls on PySide6 {PySide6.__version__} / Python "
        f"{sys.version.split()[0]}: this PySide6 build decrements None's refcount on every "
        "void Qt call (the PySide6 6.12.0 / Python 3.11 bug), which crashes the editor "
        "('deallocating None') after enough drags. Install the version pinned in "
        "pyproject.toml (PySide6-Essentials>=6.9,<6.12 on Python < 3.12)."
    )
