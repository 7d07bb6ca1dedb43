"""Splitting answers into Discord messages: natural breaks, <= 2000 characters, code blocks never broken."""

from __future__ import annotations

import re

import pytest
from agent_framework_hosting_discord import split_message
from agent_framework_hosting_discord._split import split_pieces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_short_text_is_one_message_unchanged() -> None:
    assert split_message("hello **world**") == ["hello **world**"]


def test_blank_text_gives_no_messages() -> None:
    assert split_message("") == []
    assert split_message("\n\n") == []


def test_long_prose_splits_between_paragraphs_within_the_limit() -> None:
    paragraphs = [f"Paragraph {i}. " + "lorem ipsum " * 60 for i in range(8)]
    chunks = split_message("\n\n".join(paragraphs))
    assert len(chunks) > 1
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert all(chunk.startswith("Paragraph ") for chunk in chunks)
    assert " ".join(chunks).split() == "\n\n".join(paragraphs).split()


def test_words_are_never_cut_in_half() -> None:
    text = " ".join(f"word{i}" for i in range(1500))
    chunks = split_message(text)
    assert all(re.fullmatch(r"(word\d+ ?)+", chunk) for chunk in chunks)
    assert " ".join(chunks).split() == text.split()


def test_a_code_block_cut_in_two_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"    value_{i} = compute({i})" for i in range(150))
    text = f"Here is the code:\n\n```python\n{code}\n```\n\nThat is all."
    chunks = split_message(text)
    assert len(chunks) >= 2
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert all(chunk.count("```") % 2 == 0 for chunk in chunks)
    assert chunks[0].endswith("\n```")
    assert chunks[1].startswith("```python\n    value_")
    assert chunks[-1].endswith("That is all.")
    rebuilt = [line for chunk in chunks for line in chunk.splitlines() if line.startswith("    value_")]
    assert rebuilt == code.splitlines()


def test_text_without_breaks_is_hard_cut_at_the_limit() -> None:
    chunks = split_message("x" * 4500)
    assert [len(c) for c in chunks] == [2000, 2000, 500]


def test_limit_below_fence_room_is_refused() -> None:
    with pytest.raises(ValueError):
        split_message("text", limit=10)


pieces = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
    st.sampled_from(["```", "```py\n", "\n```\n", "\n\n", "\n", " ", ". ", "`", "``"]),
    st.text(alphabet="ab `\n", max_size=80),
)


def _solid(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(pieces, max_size=60), limit=st.integers(min_value=32, max_value=120))
def test_chunks_fit_the_limit_and_keep_every_character(parts: list[str], limit: int) -> None:
    text = "".join(parts)
    pieces_made = list(split_pieces(text, limit))
    chunks = split_message(text, limit)
    assert chunks == ["".join(p) for p in pieces_made]
    assert all(0 < len(chunk) <= limit for chunk in chunks)
    assert all(chunk.strip() for chunk in chunks)
    assert all(re.fullmatch(r"(```[A-Za-z0-9_+\-.#]{0,16}\n)?", opening) for opening, _, _ in pieces_made)
    assert all(closing in ("", "\n```") for _, _, closing in pieces_made)
    assert _solid("".join(piece for _, piece, _ in pieces_made)) == _solid(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    blocks=st.lists(
        st.tuples(st.text(alphabet="ab \n.", max_size=120), st.text(alphabet="xy \n", max_size=200)), max_size=6
    )
)
def test_balanced_code_blocks_stay_balanced_in_every_chunk(blocks: list[tuple[str, str]]) -> None:
    text = "".join(f"{prose}\n```js\n{code}\n```\n" for prose, code in blocks)
    for chunk in split_message(text, 64):
        assert chunk.count("```") % 2 == 0, chunk
