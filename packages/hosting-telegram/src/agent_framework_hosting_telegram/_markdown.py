"""Render the Markdown language models write as the HTML subset Telegram accepts.

Everything that is not recognised Markdown is shown literally (escaped), so
unbalanced markers, stray ``<tags>`` and ``a < b && c`` are safe.
"""

from __future__ import annotations

import re

from ._html import escape, escape_attribute

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^(\s*)(\d{1,9}[.)])\s+(.*)$")
_QUOTE = re.compile(r"^ {0,3}>\s?(.*)$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:\s*\1){2,}\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LANGUAGE = re.compile(r"[^A-Za-z0-9_+#.-]")

_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_ESCAPABLE = re.compile(r"\\([!-/:-@\[-`{-~])")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")  # whole runs only: linear, as CommonMark says
_LINK = re.compile(r"(!?)\[([^\[\]\n]*)\]\(\s*<?([^\s()<>]+(?:\([^\s()<>]*\)[^\s()<>]*)*)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_AUTOLINK = re.compile(r"<((?:https?|tg|mailto):[^\s<>]+)>")
_SAFE_URL = re.compile(r"^(?:https?://[^\s/?#]+|tg://[a-z]+|mailto:[^\s@]+@[^\s@]+)", re.IGNORECASE)
_DELIMITERS = (("**", "b"), ("__", "b"), ("~~", "s"), ("*", "i"), ("_", "i"))


def markdown_to_html(text: str) -> str:
    """Markdown in, Telegram HTML out: always well-formed, only tags Telegram knows."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence:
            index = _code_block(lines, index, fence, out)
            continue
        if _is_table(lines, index):
            index = _table(lines, index, out)
            continue
        if _QUOTE.match(line):
            quoted: list[str] = []
            while index < len(lines) and (match := _QUOTE.match(lines[index])):
                quoted.append(_inline(match.group(1)))
                index += 1
            out.append("<blockquote>" + "\n".join(quoted) + "</blockquote>")
            continue
        out.append(_line(line))
        index += 1
    return "\n".join(out)


def _code_block(lines: list[str], index: int, fence: re.Match[str], out: list[str]) -> int:
    marker = fence.group(1)
    language = _LANGUAGE.sub("", fence.group(2))[:32]
    body: list[str] = []
    index += 1
    while index < len(lines):
        stripped = lines[index].strip()
        if stripped.startswith(marker[0] * len(marker)) and not stripped.strip(marker[0]):
            index += 1
            break
        body.append(lines[index])
        index += 1
    code = escape("\n".join(body))
    if not code.strip():
        return index
    if language:
        out.append(f'<pre><code class="language-{language}">{code}</code></pre>')
    else:
        out.append(f"<pre>{code}</pre>")
    return index


def _is_table(lines: list[str], index: int) -> bool:
    return (
        "|" in lines[index]
        and index + 1 < len(lines)
        and "|" in lines[index + 1]
        and bool(_TABLE_RULE.match(lines[index + 1]))
    )


def _table(lines: list[str], index: int, out: list[str]) -> int:
    rows: list[str] = []
    while index < len(lines) and "|" in lines[index] and lines[index].strip():
        rows.append(lines[index].strip())
        index += 1
    out.append("<pre>" + escape("\n".join(rows)) + "</pre>")
    return index


def _line(line: str) -> str:
    if heading := _HEADING.match(line):
        return f"<b>{_inline(heading.group(2))}</b>"
    if _RULE.match(line):
        return "──────────"
    if bullet := _BULLET.match(line):
        return f"{bullet.group(1)}• {_inline(bullet.group(2))}"
    if ordered := _ORDERED.match(line):
        return f"{ordered.group(1)}{ordered.group(2)} {_inline(ordered.group(3))}"
    return _inline(line)


def _inline(text: str) -> str:
    """Inline Markdown on one line: code spans, links, emphasis; the rest escaped."""
    stash: list[str] = []

    def keep(rendered: str) -> str:
        stash.append(rendered)
        return f"\x00{len(stash) - 1}\x00"

    text = _CODE_SPAN.sub(lambda m: keep(f"<code>{escape(_trim_code(m.group(2)))}</code>"), text)
    text = _ESCAPABLE.sub(lambda m: keep(escape(m.group(1))), text)
    text = _LINK.sub(lambda m: keep(_link(m)), text)
    text = _AUTOLINK.sub(lambda m: keep(_anchor(m.group(1), escape(m.group(1)))), text)
    rendered = _emphasis(text)
    while _PLACEHOLDER.search(rendered):
        rendered = _PLACEHOLDER.sub(lambda m: stash[int(m.group(1))], rendered)
    return rendered


def _trim_code(code: str) -> str:
    return code[1:-1] if len(code) > 2 and code[0] == code[-1] == " " and code.strip() else code


def _link(match: re.Match[str]) -> str:
    image, label, url = match.group(1), match.group(2), match.group(3)
    if "\x00" in url:
        return _emphasis(label)
    inner = _emphasis(label) if label.strip() else escape(url)
    if image and not label.strip():
        inner = "image"
    return _anchor(url, inner)


def _anchor(url: str, inner_html: str) -> str:
    if not _SAFE_URL.match(url):
        return inner_html
    return f'<a href="{escape_attribute(url)}">{inner_html}</a>'


def _opens(text: str, at: int, marker: str) -> bool:
    run_end = at
    while run_end < len(text) and text[run_end] == marker[0]:
        run_end += 1
    if run_end >= len(text) or text[run_end].isspace():
        return False
    return not (marker[0] == "_" and at > 0 and text[at - 1].isalnum())


def _closer(text: str, start: int, marker: str) -> int:
    """Index of the marker closing one opened just before `start`, or -1."""
    char = marker[0]
    search = start
    while True:
        found = text.find(marker, search)
        if found < 0:
            return -1
        run_end = found
        while run_end < len(text) and text[run_end] == char:
            run_end += 1
        close = run_end - len(marker)
        flanked = close > start and not text[close - 1].isspace()
        if flanked and not (char == "_" and run_end < len(text) and text[run_end].isalnum()):
            return close
        search = run_end


def _emphasis(text: str) -> str:
    out: list[str] = []
    unmatched: dict[str, int] = {}
    plain_from = 0
    index = 0
    while index < len(text):
        if text[index] not in "*_~":
            index += 1
            continue
        for marker, tag in _DELIMITERS:
            if not text.startswith(marker, index) or index >= unmatched.get(marker, len(text)):
                continue
            if not _opens(text, index, marker):
                continue
            close = _closer(text, index + len(marker), marker)
            if close < 0:
                unmatched[marker] = index
                continue
            out.append(escape(text[plain_from:index]))
            out.append(f"<{tag}>{_emphasis(text[index + len(marker) : close])}</{tag}>")
            index = close + len(marker)
            plain_from = index
            break
        else:
            run = index
            while run < len(text) and text[run] == text[index]:
                run += 1
            index = run
    out.append(escape(text[plain_from:]))
    return "".join(out)
