"""Markdown -> Telegram HTML, and HTML-aware splitting. Pure functions, no server."""

from __future__ import annotations

import os
import sys

import pytest
from agent_framework_hosting_telegram import html_to_text, markdown_to_html, split_html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import telegram_parse_html, utf16_len  # noqa: E402

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def render(text: str) -> str:
    html = markdown_to_html(text)
    telegram_parse_html(html)  # raises when Telegram would reject it
    return html


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("**bold** and __also__", "<b>bold</b> and <b>also</b>"),
        ("*it* and _it_", "<i>it</i> and <i>it</i>"),
        ("***both***", "<b><i>both</i></b>"),
        ("~~gone~~", "<s>gone</s>"),
        ("use `x < y` here", "use <code>x &lt; y</code> here"),
        ("``a`b``", "<code>a`b</code>"),
        ("[docs](https://example.com/a?b=1&c=2)", '<a href="https://example.com/a?b=1&amp;c=2">docs</a>'),
        ("<https://example.com>", '<a href="https://example.com">https://example.com</a>'),
        ("# Title", "<b>Title</b>"),
        ("### Sub *x*", "<b>Sub <i>x</i></b>"),
        ("- one\n* two\n  + nested", "• one\n• two\n  • nested"),
        ("1. first\n2) second", "1. first\n2) second"),
        ("> quoted *a*\n> more", "<blockquote>quoted <i>a</i>\nmore</blockquote>"),
        ("\\*literal\\* stars", "*literal* stars"),
        ("snake_case_name stays", "snake_case_name stays"),
    ],
)
def test_markdown_constructs_render_as_telegram_html(markdown: str, html: str) -> None:
    assert render(markdown) == html


def test_fenced_code_block_keeps_language_and_escapes_its_body() -> None:
    html = render("Run:\n```python\nif a < b and c > d:\n    print('&')\n```\ndone")
    assert html == (
        "Run:\n<pre><code class=\"language-python\">if a &lt; b and c &gt; d:\n    print('&amp;')</code></pre>\ndone"
    )


def test_nested_code_fences_close_only_on_a_long_enough_fence() -> None:
    html = render("````markdown\n```py\nx = 1\n```\n````\n**after**")
    assert html == '<pre><code class="language-markdown">```py\nx = 1\n```</code></pre>\n<b>after</b>'


def test_unclosed_fence_runs_to_the_end_and_stays_well_formed() -> None:
    html = render("text\n```js\nlet a = b < c && d;")
    assert html.endswith('<pre><code class="language-js">let a = b &lt; c &amp;&amp; d;</code></pre>')


@pytest.mark.parametrize(
    ("markdown", "visible"),
    [
        ("a < b && c > d", "a < b && c > d"),
        ("<script>alert('x')</script>", "<script>alert('x')</script>"),
        ("**unbalanced bold", "**unbalanced bold"),
        ("lonely * star and _under", "lonely * star and _under"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("<b>model html</b> &amp; entities", "<b>model html</b> &amp; entities"),
        ("[click](javascript:alert(1))", "click"),
        ('[q](https://x.org/"onmouseover=")', "q"),
        ("`unclosed code", "`unclosed code"),
    ],
)
def test_tricky_model_output_is_shown_literally_and_safely(markdown: str, visible: str) -> None:
    html = render(markdown)
    assert telegram_parse_html(html) == visible
    assert "<script" not in html


def test_link_href_quotes_are_escaped() -> None:
    html = render('[q](https://x.org/a"b)')
    assert html == '<a href="https://x.org/a&quot;b">q</a>'


def test_tables_become_preformatted_blocks() -> None:
    html = render("| a | b |\n|---|---|\n| 1 | <2> |\n\nafter")
    assert html == "<pre>| a | b |\n|---|---|\n| 1 | &lt;2&gt; |</pre>\n\nafter"


@FAST
@given(st.text(alphabet=st.sampled_from(list("ab *_~`#>-[]()<>&|\\\n!:/.hts1")), max_size=200))
def test_any_markdown_renders_to_html_telegram_accepts(text: str) -> None:
    html = markdown_to_html(text)
    visible = telegram_parse_html(html)
    letters = [c for c in visible if c in "ab1"]
    source = iter(c for c in text if c in "ab1")
    assert all(c in source for c in letters)  # every letter shown comes from the input, in order


@FAST
@given(st.text(max_size=300))
def test_arbitrary_unicode_renders_without_error(text: str) -> None:
    telegram_parse_html(markdown_to_html(text))


def test_rendering_a_pathological_line_does_not_backtrack_for_ever() -> None:
    import time

    started = time.perf_counter()
    markdown_to_html("_a " * 8000 + "*b " * 8000 + "`" * 2000 + " ``a `b" * 2000)
    # A guard against superlinear matching (a trailing run of backticks once took hours at this size),
    # not a benchmark: about 0.05 s on a quiet machine.
    assert time.perf_counter() - started < 5.0


def test_code_spans_open_and_close_with_whole_backtick_runs() -> None:
    assert markdown_to_html("``a ` b``") == "<code>a ` b</code>"
    assert markdown_to_html("```x``") == "```x``"


# splitting


def test_short_html_is_one_chunk() -> None:
    assert split_html("<b>hi</b>") == ["<b>hi</b>"]


def test_split_prefers_paragraph_breaks() -> None:
    first, second = "a" * 60, "b" * 60
    chunks = split_html(f"{first}\n\n{second}", limit=100)
    assert [html_to_text(c).strip() for c in chunks] == [first, second]


def test_split_falls_back_to_word_breaks_and_never_cuts_words() -> None:
    words = [f"w{i:03d}" for i in range(200)]
    chunks = split_html(" ".join(words), limit=50)
    assert all(utf16_len(html_to_text(c)) <= 50 for c in chunks)
    assert " ".join(html_to_text(c).strip() for c in chunks).split() == words


def test_split_closes_and_reopens_tags_across_chunks() -> None:
    html = "<b>" + " ".join(["bold"] * 40) + "</b> tail"
    chunks = split_html(html, limit=60)
    assert len(chunks) > 2
    for chunk in chunks:
        telegram_parse_html(chunk)
    assert chunks[0].startswith("<b>") and chunks[0].endswith("</b>")
    assert chunks[1].startswith("<b>")
    assert "".join(html_to_text(c) for c in chunks).split() == (["bold"] * 40) + ["tail"]


def test_split_reopens_code_blocks_with_their_language() -> None:
    code = "\n".join(f"line_{i} = {i} < {i + 1}" for i in range(100))
    html = markdown_to_html(f"```python\n{code}\n```")
    chunks = split_html(html, limit=300)
    assert len(chunks) > 3
    for chunk in chunks:
        telegram_parse_html(chunk)
        assert chunk.startswith('<pre><code class="language-python">') and chunk.endswith("</code></pre>")
    assert "".join(html_to_text(c) for c in chunks) == html_to_text(html)


def test_split_never_cuts_an_entity() -> None:
    chunks = split_html("&amp;" * 30, limit=7)
    assert all(telegram_parse_html(c) == "&" * len(html_to_text(c)) for c in chunks)
    assert sum(len(html_to_text(c)) for c in chunks) == 30


def test_split_counts_utf16_units() -> None:
    emoji = "😀" * 100  # 2 UTF-16 units each
    chunks = split_html(emoji, limit=50)
    assert [utf16_len(html_to_text(c)) for c in chunks] == [50, 50, 50, 50]


def test_long_answer_splits_at_4096_visible_characters() -> None:
    paragraph = "**Bold** text with a <tag> & an ampersand. " * 30
    html = markdown_to_html("\n\n".join([paragraph] * 8))
    chunks = split_html(html)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert utf16_len(telegram_parse_html(chunk)) <= 4096
    assert "".join(html_to_text(c) for c in chunks).replace("\n", "") == html_to_text(html).replace("\n", "")


@FAST
@given(
    st.text(alphabet=st.sampled_from(list("ab *_`#\n-<&😀")), max_size=400),
    st.integers(min_value=8, max_value=80),
)
def test_any_rendered_text_splits_into_valid_chunks_losing_nothing(text: str, limit: int) -> None:
    html = markdown_to_html(text)
    chunks = split_html(html, limit=limit)
    for chunk in chunks:
        assert utf16_len(telegram_parse_html(chunk)) <= limit
        assert html_to_text(chunk).strip()
    whole = html_to_text(html)
    assert "".join(html_to_text(c) for c in chunks).split() == whole.split()


def test_formatter_modes_plain_markdownv2_and_custom_render() -> None:
    from agent_framework_hosting_telegram._reply import Formatter

    [plain] = Formatter(None).chunks("**a** < b")
    assert (plain.text, plain.parse_mode, plain.plain) == ("**a** < b", None, "**a** < b")
    [raw] = Formatter("MarkdownV2").chunks("*bold* \\<")
    assert (raw.text, raw.parse_mode) == ("*bold* \\<", "MarkdownV2")
    [custom] = Formatter("HTML", render=lambda text: f"<u>{text}</u>").chunks("x")
    assert (custom.text, custom.plain) == ("<u>x</u>", "x")
    long_plain = Formatter(None, limit=10).chunks("one two three four & five")
    assert [c.text for c in long_plain] == ["one two ", "three four", " & five"]
