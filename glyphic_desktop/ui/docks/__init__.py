"""The editor window's docks."""
