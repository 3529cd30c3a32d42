"""Maintainer tools for the book (notebook discovery and re-execution)."""
