"""Splitting long replies for platforms with a message-length limit."""

from __future__ import annotations

import re
from collections.abc import Iterator

_BREAKS = ("\n\n", "\n", ". ", " ")


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into chunks of at most `limit` characters, at paragraph, line, sentence or word breaks."""
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = 0
        for mark in _BREAKS:
            at = window.rfind(mark)
            if at > limit // 4:
                cut = at + len(mark)
                break
        if cut == 0:
            cut = limit
        chunk = rest[:cut].rstrip()
        if chunk:
            chunks.append(chunk)
        rest = rest[cut:].lstrip("\n") if rest[cut : cut + 1] == "\n" else rest[cut:]
    if rest.strip() or not chunks:
        chunks.append(rest)
    return chunks


FENCE = "```"
_CLOSE = "\n" + FENCE
_LANGUAGE = re.compile(r"[A-Za-z0-9_+\-.#]{1,16}(?=\n)")
_SEPARATOR = re.compile(r"[ \t]*\n+")
_MIN_LIMIT = 32


def _language_after(text: str, at: int) -> str:
    found = _LANGUAGE.match(text, at)
    return found.group(0) if found else ""


def _fence_state(text: str, open_language: str | None) -> str | None:
    """The language of the code block still open after `text` (`""` for none named), or None when closed."""
    at = text.find(FENCE)
    while at != -1:
        open_language = _language_after(text, at + len(FENCE)) if open_language is None else None
        at = text.find(FENCE, at + len(FENCE))
    return open_language


def _first_piece(rest: str, budget: int) -> str:
    """The first chunk `split_text` would cut from `rest`: a prefix of it, never splitting a fence marker."""
    if len(rest) <= budget:
        return rest
    piece = split_text(rest[: budget + 1], budget)[0]
    if not piece or not rest.startswith(piece):
        piece = rest[:budget]
    if piece.endswith("`") and rest[len(piece) : len(piece) + 1] == "`":
        trimmed = piece.rstrip("`")
        if trimmed:
            piece = trimmed
    return piece


def split_fenced_pieces(text: str, limit: int) -> Iterator[tuple[str, str, str]]:
    """(added opening fence, slice of `text`, added closing fence) for each chunk `split_fenced` makes."""
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT}")
    rest = text.strip("\n")
    language: str | None = None
    while rest:
        opening = "" if language is None else f"{FENCE}{language}\n"
        budget = limit - len(opening)
        piece = _first_piece(rest, budget)
        if _fence_state(piece, language) is not None and rest[len(piece) :].strip():
            piece = _first_piece(rest, budget - len(_CLOSE))
        rest = rest[len(piece) :]
        language = _fence_state(piece, language)
        piece = piece.rstrip()
        if language is None:
            rest = rest.lstrip()
        else:
            separator = _SEPARATOR.match(rest)
            rest = rest[separator.end() :] if separator else rest
        if piece.strip():
            yield opening, piece, _CLOSE if language is not None and rest.strip() else ""


def split_fenced(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` characters; a code block cut in two is closed and reopened (same language)."""
    return ["".join(parts) for parts in split_fenced_pieces(text, limit)]
