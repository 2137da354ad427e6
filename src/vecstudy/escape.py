"""Text from files made safe: bounded in messages, escaped in Markdown, fenced in code blocks.

Results files travel between machines (``vecstudy compare`` reads someone else's), so
every value read from one is data, never markup: it may hold a newline that breaks a
table, ``<img onerror=...>``, a heading, a closing code fence.  Every Markdown writer
of vecstudy goes through these functions:

:func:`md_text`
    Inline text and table cells: line breaks and control characters become spaces;
    ``\\ ` * _ ~ [ ] | $`` are backslash-escaped (``_`` only where it could start or
    end emphasis), ``<`` and ``&`` become entities, a leading ``#``, ``>``, ``-``,
    ``+``, ``=`` or ``1.`` is escaped so that no block starts, and autolinks are broken;
    the text is cut to ``limit`` characters first.
:func:`md_code`
    An inline code span for identifier-like text (paths, ids, commands of plain
    words); anything else is shown as :func:`md_text`.
:func:`md_fence`
    A fenced code block whose fence is longer than any run of backticks in it, with
    control characters removed from every line, so its content cannot close it.
:class:`Markup`
    Text already safe (built from escaped parts and numbers): tables take it as is.
:func:`short`, :func:`plain`, :func:`error_line`, :func:`int_text`
    A bounded ``repr`` for error messages and warnings; bounded one-line text; an
    exception's type and message, bounded, on one line; an integer, huge ones by
    magnitude.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from typing import Final

#: Longest text of one table cell or inline value taken from a file.
TEXT_LIMIT: Final = 160
#: Longest value quoted in an error message.
MESSAGE_LIMIT: Final = 60
#: Integers longer than this many bits are given by magnitude (``about 10**k``).
HUGE_INT_BITS: Final = 64

_ESCAPE: Final = {
    "\\": "\\\\",
    "`": "\\`",
    "*": "\\*",
    "~": "\\~",
    "[": "\\[",
    "]": "\\]",
    "|": "\\|",
    "$": "\\$",
    "<": "&lt;",
    "&": "&amp;",
}
_SPECIAL: Final = re.compile(r"[\\`*~\[\]|$<&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_BLOCK_START: Final = re.compile(r"^(?:[#>+=\-]|\d{1,9}[.)])")
_AUTOLINK: Final = re.compile(r"(?i)(://|www\.)")
#: Text that may go into an inline code span as it is: no backtick (it would close the
#: span), no ``|`` (it splits a table cell even there), no ``< > & \\`` (kept out so that
#: markup-looking text is always shown escaped).
_CODE_SAFE: Final = re.compile(r"[^`|<>&\\]*")


class Markup(str):
    """Text that is already Markdown: escaped parts joined with our own markup."""

    __slots__ = ()


def one_line(text: str) -> str:
    """``text`` with line breaks, tabs and other control or format characters as spaces.

    >>> one_line("a\\nb\\r\\u2028c\\x00d")
    'a b  c d'
    """
    return "".join(
        " " if unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029" else ch for ch in text
    )


def bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to at most ``limit`` characters (``...`` marks a cut).

    >>> bounded("abcdefghij", 8)
    'abcde...'
    """
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def plain(value: object, limit: int = MESSAGE_LIMIT) -> str:
    """``str(value)`` on one line, cut to ``limit`` characters: for console lines.

    >>> plain("run\\nr1", 5)
    'ru...'
    """
    return bounded(one_line(str(value)), limit)


def short(value: object, limit: int = MESSAGE_LIMIT) -> str:
    """``repr(value)`` in at most ``limit`` characters, on one line, for messages.

    Huge integers are given by magnitude (their ``repr`` is long, or raises).

    >>> short("x" * 100, 12)
    "'xxxxxxx...'"
    >>> short(10**100)
    'about 10**100'
    """
    if isinstance(value, str) and len(value) > limit:
        value = value[: max(limit - 5, 0)] + "..."
    if isinstance(value, int) and value.bit_length() > HUGE_INT_BITS:
        return int_text(value)
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return bounded(text, limit)


def error_line(exc: BaseException, limit: int = 200) -> str:
    """``exc`` on one line, bounded: its type and the start of its message.

    Runs of whitespace (line breaks included) become one space; the message is cut
    to ``limit`` characters.

    >>> error_line(TimeoutError("no answer\\n  after 10 s"))
    'TimeoutError: no answer after 10 s'
    >>> error_line(ValueError("x" * 50), 10), error_line(KeyError())
    ('ValueError: xxxxxxx...', 'KeyError')
    """
    text = bounded(" ".join(str(exc).split()), limit)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def int_text(value: int) -> str:
    """``str(value)``, or ``about 10**k`` for a huge one (whose ``str`` is long, or raises).

    >>> int_text(-42), int_text(-(10**100))
    ('-42', 'about -10**100')
    """
    if value.bit_length() > HUGE_INT_BITS:
        return f"about {'-' if value < 0 else ''}10**{int(value.bit_length() * 0.30103)}"
    return str(value)


def _escape_one(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _ESCAPE.get(ch, "\\" + ch)


def md_text(value: object, limit: int = TEXT_LIMIT, *, block_start: bool = True) -> Markup:
    """``value`` as Markdown text that shows exactly its characters, on one line.

    ``block_start`` (default): also escape a first character that would start a
    heading, quote, list or setext underline where the text begins a line (not
    needed in table cells, which hold inline content only).

    >>> print(md_text("<img src=x onerror=alert(1)> | # [a](b) *c* exp_loop"))
    &lt;img src=x onerror=alert(1)> \\| # \\[a\\](b) \\*c\\* exp_loop
    >>> print(md_text("# Title\\nnext"))
    \\# Title next
    """
    text = one_line(bounded(str(value), limit)).strip()
    text = _SPECIAL.sub(_escape_one, text)
    text = _AUTOLINK.sub(lambda m: m.group(0).replace("/", "\\/").replace(".", "\\."), text)
    if block_start:
        text = _BLOCK_START.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], text)
    return Markup(text)


def md_unescape(text: str) -> str:
    """The characters :func:`md_text` shows for ``text`` (backslash escapes and entities).

    >>> md_unescape(md_text("<a> & [b] *c* 1. x"))
    '<a> & [b] *c* 1. x'
    """
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text))


def md_code(value: object, limit: int = TEXT_LIMIT) -> Markup:
    """``value`` in an inline code span, or as :func:`md_text` if it holds ``` ` | < > & \\```.

    Such a span can neither close early nor split a table cell.

    >>> print(md_code("reports/runs/a.json"), md_code("a`b|c"))
    `reports/runs/a.json` a\\`b\\|c
    """
    text = one_line(bounded(str(value), limit)).strip()
    if text and _CODE_SAFE.fullmatch(text):
        return Markup(f"`{text}`")
    return md_text(text, limit)


def fence_for(content: str, char: str = "`") -> str:
    """A code fence longer than any run of ``char`` in ``content`` (at least three).

    >>> fence_for("a ```` b")
    '`````'
    """
    runs = re.findall(re.escape(char) + "+", content)
    return char * max(3, 1 + max((len(r) for r in runs), default=0))


def md_fence(lines: Iterable[str], info: str = "") -> list[str]:
    """``lines`` as a fenced code block that nothing in them can close, as lines.

    Control characters (a line break inside a line included) become spaces; the
    fence is longer than any run of backticks in the content; ``info`` (the
    language) is kept only if it is a plain word.

    >>> md_fence(["echo ```", "done"], "sh")
    ['````sh', 'echo ```', 'done', '````']
    """
    body = [one_line(str(line)).rstrip() for line in lines]
    fence = fence_for("\n".join(body))
    word = info if re.fullmatch(r"[A-Za-z0-9_+-]*", info) else ""
    return [fence + word, *body, fence]
