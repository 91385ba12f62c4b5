"""PHP's `trim(strip_tags($value))`, which the host applies to every form field."""

from __future__ import annotations

# PHP trim() strips exactly these characters, not every Unicode space.
PHP_TRIM_CHARS = " \t\n\r\0\x0b"
_SPACE = frozenset(" \t\n\r\x0b\x0c")


def php_strip_tags(value: str) -> str:
    """Approximates PHP's strip_tags state machine.

    A `<` not followed by whitespace opens a tag that runs to the matching `>` (nested `<` and
    quoted `>` included); an unclosed tag swallows the rest of the string; `<!-- ... -->` and
    `<? ... ?>` are removed too. A `>` outside a tag is kept.
    """
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        c = value[i]
        if c != "<" or (i + 1 < n and value[i + 1] in _SPACE):
            out.append(c)
            i += 1
            continue
        if value.startswith("<!--", i):
            end = value.find("-->", i + 4)
            i = n if end < 0 else end + 3
            continue
        # Inside a tag: skip to the closing '>' honouring quotes and nesting.
        depth, quote = 0, ""
        i += 1
        while i < n:
            c = value[i]
            if quote:
                if c == quote:
                    quote = ""
            elif c in "\"'":
                quote = c
            elif c == "<":
                depth += 1
            elif c == ">":
                if depth == 0:
                    break
                depth -= 1
            i += 1
        i += 1
    return "".join(out)


def clean_field(value: str) -> str:
    """What the host's `_cleanInputs` does to every request parameter."""
    return php_strip_tags(value).strip(PHP_TRIM_CHARS)
