"""Neutralising untrusted camera text (OCR, plates, captions, names) before it enters a prompt.

Anything a camera reads comes from the outside world: a sign or a T-shirt can say
``<|im_end|><|im_start|>system ...``. Such text is DATA. Two layers keep it so:

1. :func:`sanitize_untrusted` removes everything a model or our prompt layout treats as structure —
   ChatML/special tokens (``<|...|>``), markup-like tags (``<think>``, ``</s>``, ``</camera_data>``),
   control and invisible format characters — and collapses whitespace so the text cannot start new lines.
2. :func:`quote_untrusted` renders the result as a JSON string, so quotes and backslashes cannot end it.

Removal repeats until nothing changes, because deleting one token can join its neighbours into a new one
(``<|im_<|x|>start|>``).
"""

from __future__ import annotations

import json
import re
import unicodedata

ELLIPSIS = "…"

# Bounded, so a stray "<|" early and "|>" late cannot swallow the text between; fragments go separately.
_SPECIAL_TOKEN = re.compile(r"<\|[^<>|]{0,64}\|>")
# Markup-like tags: the prompt's data delimiters, <think>, <s>, </s>, Nemotron's <extra_id_N>, ...
_TAG = re.compile(r"<\s*/?\s*[A-Za-z][\w.:-]{0,40}\s*/?\s*>")
_TOKEN_FRAGMENT = re.compile(r"<\||\|>")
_WHITESPACE = re.compile(r"\s+")


def _drop_invisible(text: str) -> str:
    """Control (Cc), format (Cf: zero-width, bidi overrides), private-use and unassigned code points go;
    whitespace controls become spaces so words stay apart."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch.isspace():
            out.append(" ")
        elif category not in {"Cc", "Cf", "Co", "Cn", "Cs"}:
            out.append(ch)
    return "".join(out)


def sanitize_untrusted(text: str, max_len: int) -> str:
    """``text`` with control tokens, tags and control characters removed, whitespace collapsed, and at
    most ``max_len`` characters (a cut ends in ``…`` so the reader knows text is missing)."""
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    # NFKC folds look-alikes (fullwidth ＜｜) into the ASCII forms the patterns below catch.
    cleaned = _drop_invisible(unicodedata.normalize("NFKC", str(text)))
    previous = None
    while cleaned != previous:
        previous = cleaned
        cleaned = _SPECIAL_TOKEN.sub(" ", cleaned)
        cleaned = _TAG.sub(" ", cleaned)
        cleaned = _TOKEN_FRAGMENT.sub(" ", cleaned)
    cleaned = _WHITESPACE.sub(" ", cleaned).strip()
    if len(cleaned) > max_len:
        cleaned = cleaned[: max_len - 1].rstrip() + ELLIPSIS
    return cleaned


def quote_untrusted(text: str, max_len: int) -> str:
    """The sanitized text as a JSON string literal: how untrusted text appears in every prompt."""
    return json.dumps(sanitize_untrusted(text, max_len), ensure_ascii=False)
