"""Grab an X display's root window with Qt's xcb platform and describe what is on it.

Run as a separate process (``python -m tests.support.screen OUT.png``) with ``DISPLAY``
set: it prints one JSON line with the image size and how many distinct colours it holds,
which tells a drawn window from a blank screen.
"""

from __future__ import annotations

import json
import os
import sys


def main(path: str) -> int:
    """Save the whole screen of ``$DISPLAY`` to ``path`` and print its size and colours."""
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication([sys.argv[0]])
    screen = app.primaryScreen()
    image = screen.grabWindow(0).toImage()
    image.save(path)
    width, height = image.width(), image.height()
    colours: set[int] = set()
    for y in range(0, height, 4):
        for x in range(0, width, 4):
            colours.add(image.pixel(x, y))
    print(json.dumps({"width": width, "height": height, "colours": len(colours)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
