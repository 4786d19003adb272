"""Typed AT response parsers, against captured modem answers."""
