"""Telegram HTML: escaping, plain-text extraction, and splitting that never breaks a tag."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

MESSAGE_LIMIT = 4096
_TOKENS = re.compile(r"<[^<>]*>|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|[^<&]+|[<&]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)(?=[\s>/])")
_BREAKS = ("\n\n", "\n", ". ", " ")


def escape(text: str) -> str:
    """Escape the three characters Telegram's HTML parse mode reserves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(text: str) -> str:
    return escape(text).replace('"', "&quot;")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


@dataclass(frozen=True)
class _Tag:
    raw: str
    name: str
    closing: bool


@dataclass(frozen=True)
class _Text:
    """A run of visible text: plain characters (`raw == visible`) or one entity."""

    raw: str
    visible: str


_Token = _Tag | _Text


def _tokens(markup: str) -> list[_Token]:
    items: list[_Token] = []
    for match in _TOKENS.finditer(markup):
        raw = match.group()
        if raw[0] == "<" and len(raw) > 1:
            tag = _TAG.match(raw)
            if tag is not None:
                items.append(_Tag(raw, tag.group(2).lower(), bool(tag.group(1))))
                continue
        if raw[0] == "&" and len(raw) > 1:
            items.append(_Text(raw, html.unescape(raw)))
        else:
            items.append(_Text(raw, raw))
    return items


def html_to_text(markup: str) -> str:
    """The text a reader sees: tags dropped, entities decoded (for the plain-text fallback)."""
    return "".join(item.visible for item in _tokens(markup) if isinstance(item, _Text))


def _break_after(visible: str) -> int:
    """Where to cut `visible` (an index after a break), preferring paragraphs, lines, sentences, words."""
    for mark in _BREAKS:
        at = visible.rfind(mark)
        if at > len(visible) // 4:
            return at + len(mark)
    return len(visible)


def _fitting(text: str, room: int) -> int:
    """How many characters of `text` fit in `room` UTF-16 units."""
    if utf16_len(text) <= room:
        return len(text)
    used = count = 0
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > room:
            break
        count += 1
    return count


def _window(items: list[_Token], start: int, limit: int) -> tuple[int, list[tuple[int, int]]]:
    """Items from `start` that fit in `limit`: (end index, [(item index, visible chars used)]).

    A text run that only partly fits is split in `items`, so the window ends on an item boundary.
    """
    width, index, used = 0, start, []
    while index < len(items):
        item = items[index]
        if isinstance(item, _Text):
            size = utf16_len(item.visible)
            if width + size > limit:
                fits = _fitting(item.visible, limit - width) if item.raw == item.visible else 0
                if fits:
                    items[index : index + 1] = [
                        _Text(item.raw[:fits], item.raw[:fits]),
                        _Text(item.raw[fits:], item.raw[fits:]),
                    ]
                    used.append((index, fits))
                    index += 1
                break
            width += size
            used.append((index, len(item.visible)))
        index += 1
    return index, used


def split_html(markup: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split HTML into chunks of at most `limit` visible UTF-16 units each.

    Cuts fall on paragraph, line, sentence or word breaks when possible; tags
    open at a cut are closed at the end of the chunk and reopened at the start
    of the next. Chunks with no visible text are dropped.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    items = _tokens(markup)
    chunks: list[str] = []
    open_tags: list[_Tag] = []
    start = 0
    while start < len(items):
        end, used = _window(items, start, limit)
        if end < len(items) and used:
            end = _cut(items, used, end)
            while end < len(items) and isinstance(items[end], _Tag) and items[end].closing:  # type: ignore[union-attr]
                end += 1
        elif end == start:
            end = start + 1
        prefix = "".join(tag.raw for tag in open_tags)
        body = items[start:end]
        for item in body:
            if isinstance(item, _Tag):
                _track(open_tags, item)
        suffix = "".join(f"</{tag.name}>" for tag in reversed(open_tags))
        chunk = prefix + "".join(item.raw for item in body) + suffix
        if any(isinstance(item, _Text) and item.visible.strip() for item in body):
            chunks.append(chunk)
        start = end
    return chunks


def _next_char(items: list[_Token], index: int) -> str:
    for item in items[index:]:
        if isinstance(item, _Text) and item.visible:
            return item.visible[0]
    return ""


def _cut(items: list[_Token], used: list[tuple[int, int]], end: int) -> int:
    """Split the window at its best break; returns the index of the first item of the next chunk."""
    visible = "".join(items[index].visible for index, _ in used)  # type: ignore[union-attr]
    following = _next_char(items, end)
    cut = min(len(visible), _break_after(visible + following if following.isspace() else visible))
    offset = 0
    for index, count in used:
        if cut <= offset + count:
            inside = cut - offset
            item = items[index]
            assert isinstance(item, _Text)
            if inside == len(item.visible):
                return index + 1
            items[index : index + 1] = [
                _Text(item.raw[:inside], item.raw[:inside]),
                _Text(item.raw[inside:], item.raw[inside:]),
            ]
            return index + 1
        offset += count
    return used[-1][0] + 1


def _track(open_tags: list[_Tag], tag: _Tag) -> None:
    if tag.raw.rstrip(">").rstrip().endswith("/"):
        return
    if not tag.closing:
        open_tags.append(tag)
        return
    for index in range(len(open_tags) - 1, -1, -1):
        if open_tags[index].name == tag.name:
            del open_tags[index:]
            return
