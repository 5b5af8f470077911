"""Glyphic Desktop: native desktop workflow automation."""

__version__ = "0.1.0"
