"""The agent's Markdown as Slack ``mrkdwn`` (pure)."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[^\n]*\n([\s\S]*?)(?:^\1?\2[ \t]*$|\Z)", re.MULTILINE)
_CODE_SPAN = re.compile(r"(`+)([\s\S]+?)\1")
_LINK = re.compile(r"!?\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>")
_BOLD = re.compile(r"(\*\*|__)(?=\S)([\s\S]+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![\*\w])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\*\w])")
_STRIKE = re.compile(r"~~(?=\S)([\s\S]+?)(?<=\S)~~")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*$", re.MULTILINE)
_QUOTE = re.compile(r"^([ \t]*)&gt;", re.MULTILINE)
_TOKEN = "\x00{}\x00"
_TOKEN_BACK = re.compile(r"\x00(\d+)\x00")


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_to_mrkdwn(text: str) -> str:
    """Convert common Markdown (bold, italics, strike, links, headings, lists, code) to Slack mrkdwn.

    Code blocks and code spans keep their content as written (escaped only);
    everything Slack would read as a control sequence is escaped.
    """
    held: list[str] = []

    def hold(value: str) -> str:
        held.append(value)
        return _TOKEN.format(len(held) - 1)

    def fence(match: re.Match[str]) -> str:
        body = match.group(3).rstrip("\n")
        return hold(f"```\n{escape(body)}\n```" if body else "```\n```")

    def span(match: re.Match[str]) -> str:
        return hold(f"`{escape(match.group(2).strip(' ') if match.group(2).strip() else match.group(2))}`")

    def link(match: re.Match[str]) -> str:
        label, url = match.group(1).strip(), match.group(2)
        if not re.match(r"^(https?://|mailto:)", url):
            return hold(escape(match.group(0)))
        safe_url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
        return hold(f"<{safe_url}|{escape(label)}>" if label and label != url else f"<{safe_url}>")

    out = _FENCE.sub(fence, text.replace("\x00", ""))
    out = _CODE_SPAN.sub(span, out)
    out = _LINK.sub(link, out)
    out = _AUTOLINK.sub(lambda m: hold(f"<{m.group(1)}>"), out)
    out = escape(out)
    out = _QUOTE.sub(lambda m: m.group(1) + ">", out)
    out = _RULE.sub("──────────", out)
    out = _HEADING.sub(lambda m: hold("*" + m.group(1).strip("*_ ") + "*"), out)
    out = _BULLET.sub(lambda m: m.group(1) + "• ", out)
    out = _BOLD.sub(lambda m: hold("*" + m.group(2) + "*"), out)
    out = _ITALIC_STAR.sub(lambda m: "_" + m.group(1) + "_", out)
    out = _STRIKE.sub(lambda m: "~" + m.group(1) + "~", out)
    while _TOKEN_BACK.search(out):
        out = _TOKEN_BACK.sub(lambda m: held[int(m.group(1))], out)
    return out
