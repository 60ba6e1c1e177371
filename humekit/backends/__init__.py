"""Backends: how the pipeline's units of work reach one API (``v0`` batch today)."""
