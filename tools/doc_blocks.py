"""Generated blocks inside hand-written docs: the text between two marker lines, read back and replaced.

docs/accuracy.md carries blocks that tools write (``tools.accuracy.paper_cv``, ``tools.table1_gpu``) and that
``python -m tools.accuracy`` keeps when it rewrites the page from its template.
"""

from __future__ import annotations


def block(text: str, begin: str, end: str) -> str | None:
    """The text between the first ``begin`` and the next ``end`` in ``text``; None when either is missing."""
    start = text.find(begin)
    stop = text.find(end, start + len(begin)) if start >= 0 else -1
    return None if stop < 0 else text[start + len(begin) : stop]


def replace_block(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with the text between ``begin`` and ``end`` replaced by ``body`` (the markers kept)."""
    if block(text, begin, end) is None:
        raise ValueError(f"markers {begin!r} ... {end!r} not found")
    start = text.index(begin) + len(begin)
    stop = text.index(end, start)
    return text[:start] + body + text[stop:]
