"""A griffe extension for the docs build: vecstudy's reStructuredText habits as Markdown.

vecstudy's docstrings follow numpydoc, whose free text is reStructuredText.
mkdocstrings renders docstrings as Markdown, where a few of its habits come out
wrong: roles (``:func:`use_backend```) show as literal text, a literal block
(``looks like::`` and an indented block) and a definition list (a term, its
description indented below) run into one paragraph, and ``>>>`` lines outside an
``Examples`` section read as block quotes.  Before griffe parses a docstring,
this extension rewrites them:

- each role becomes a code span of its target (only the last part when the
  target starts with ``~``, as Sphinx shows it), everywhere;
- in free text (the summary and description, and sections numpydoc does not
  define, such as ``Conventions``): ``::`` blocks become fenced code, definition
  lists and runs of ``name : description`` lines become bullet lists, and
  doctest lines become fenced ``pycon`` code.

The numpydoc sections griffe parses itself (``Parameters``, ``Returns``,
``Examples``, ...) are left as they are but for the roles.  Loaded by mkdocstrings
(``extensions`` in ``mkdocs.yml``); the docstrings in ``src/`` are not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):`(~?)([^`]+)`")
#: numpydoc sections that griffe parses into tables and code: left alone.
PARSED_SECTIONS = frozenset(
    {
        "parameters",
        "other parameters",
        "returns",
        "yields",
        "receives",
        "raises",
        "warns",
        "warnings",
        "attributes",
        "methods",
        "functions",
        "classes",
        "modules",
        "see also",
        "examples",
    }
)
#: ``name : description`` or ````code`` : description``, one line of a field list.
FIELD = re.compile(r"^(``[^`]+``|[\w<>\[\]().,*-]+)\s+:\s+\S")
LIST_MARKER = re.compile(r"^(\d+[.)]|[-*+])\s")
DOCTEST_DIRECTIVE = re.compile(r"\s*#\s*doctest:.*$")


def _span(match: re.Match[str]) -> str:
    tilde, target = match.group(1), match.group(2).strip()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def strip_roles(text: str) -> str:
    """``:func:`a.b``` -> ```a.b```; ``:class:`~a.B``` -> ```B```."""
    return ROLE.sub(_span, text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_header(lines: list[str], i: int) -> bool:
    """``lines[i]`` is a numpydoc section title: underlined by dashes at least as long."""
    if i + 1 >= len(lines) or not lines[i].strip():
        return False
    under = lines[i + 1].strip()
    return len(under) >= 3 and set(under) == {"-"} and len(under) >= len(lines[i].strip())


def _paragraph(para: list[str], in_item: bool) -> tuple[list[str], bool, bool]:
    """One paragraph of free text as Markdown.

    Returns the lines, whether its last line belongs to a list item (a literal
    block after it is indented into the item), and whether a list item is open
    at its end (an indented paragraph after it continues that item).
    """
    base = min(_indent(line) for line in para)
    lead = 0  # lines indented more than the rest, first: they continue the open item
    while lead < len(para) and _indent(para[lead]) > base:
        lead += 1
    if lead:
        pad = "    " if in_item else ""
        continued = [pad + line.strip() for line in para[:lead]]
        if lead == len(para):
            return continued, in_item, in_item
        rest, last_in_item, open_item = _paragraph(para[lead:], False)
        return [*continued, "", *rest], last_in_item, open_item
    first = para[0].strip()
    deeper = any(_indent(line) > base for line in para[1:])
    fields = sum(bool(FIELD.match(line.strip())) for line in para if _indent(line) == base)
    if LIST_MARKER.match(first) or not (deeper or fields >= 2):
        if base > 0 and in_item:  # the rest of a list item's description
            return ["    " + line.strip() for line in para], True, True
        return [line.strip() for line in para], False, False
    groups: list[list[str]] = []
    for line in para:
        if _indent(line) <= base or not groups:
            groups.append([line.strip()])
        else:
            groups[-1].append(line.strip())
    out: list[str] = []
    was_item = loose = False
    for group in groups:
        head, body = group[0], group[1:]
        while body and body[0].startswith("->"):  # a term wrapped before its result
            head = f"{head} {body.pop(0)}"
        if loose:  # after a description paragraph, "- " would continue that paragraph
            out.append("")
        if FIELD.match(head):  # a field: its indented lines continue the same text
            out.extend(["- " + head, *("  " + b for b in body)])
            was_item, loose = True, False
        elif body:  # a term and its description
            out.extend(["- " + head, "", *("    " + b for b in body)])
            was_item = loose = True
        else:  # plain text after the list
            if was_item:
                out.append("")
            out.append(head)
            was_item = loose = False
    return out, was_item, was_item


def _free(lines: list[str]) -> list[str]:
    """Free reStructuredText-ish text to Markdown (see the module docstring)."""
    out: list[str] = []
    in_item = False
    i, n = 0, len(lines)
    while i < n:
        if not lines[i].strip():
            out.append("")
            i += 1
            continue
        j = i
        while j < n and lines[j].strip():
            j += 1
        para = lines[i:j]
        if para[0].lstrip().startswith(">>>"):
            pad = "    " if in_item and _indent(para[0]) > 0 else ""
            code = [pad + DOCTEST_DIRECTIVE.sub("", line.strip()) for line in para]
            out.extend([pad + "```pycon", *code, pad + "```"])
            i = j
            continue
        last = para[-1].rstrip()
        literal = last.endswith("::")
        if literal:
            text = last[:-2]
            para[-1] = text.rstrip() if text.endswith(" ") or not text.strip() else text + ":"
            if not para[-1].strip():
                para = para[:-1]
        was_in_item = in_item
        converted, last_in_item, in_item = _paragraph(para, in_item) if para else ([], False, False)
        if was_in_item and converted[:1] and converted[0].startswith("- "):
            out.extend(["<!-- a new list -->", ""])  # else Markdown joins the two lists
        out.extend(converted)
        i = j
        if literal:
            level = _indent(last)
            k = i
            while k < n and (not lines[k].strip() or _indent(lines[k]) > level):
                k += 1
            block = lines[i:k]
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            body = [line for line in block if line.strip()]
            cut = min((_indent(line) for line in body), default=0)
            pad = "    " if last_in_item else ""
            out.extend(["", pad + "```text", *(pad + line[cut:] for line in block), pad + "```"])
            if k > i and k <= n:
                out.append("")
            i = k
    return out


def _parsed(title: str, lines: list[str]) -> list[str]:
    """A numpydoc section griffe parses, with the slips that would garble its table fixed.

    - ``name : type`` lines: double backquotes dropped from the type, which is shown
      as code already;
    - ``Returns``: an entry written as a sentence (``dict with keys ...``, maybe over
      several lines, without an indented description) becomes its first word as the
      type and the sentence as the description;
    - ``Raises`` / ``Warns``: a paragraph after the entries that is prose, not a list of
      exception names, becomes a ``Notes`` section instead of a bogus entry.
    """
    kind = title.strip().lower()
    if kind in ("examples", "see also"):
        return lines
    body = [line for line in lines if line.strip()]
    if not body:
        return lines
    base = min(_indent(line) for line in body)
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip() or _indent(line) > base:
            out.append(line)
            i += 1
            continue
        name, colon, kind_text = line.partition(" : ")
        if colon:
            out.append(name + colon + kind_text.replace("``", ""))
            i += 1
            continue
        j = i + 1  # the base-level lines that follow without a break: a wrapped sentence
        while j < n and lines[j].strip() and _indent(lines[j]) == base:
            j += 1
        described = j < n and lines[j].strip() and _indent(lines[j]) > base
        sentence = j - i > 1 or len(line.split()) >= 5
        if kind in ("returns", "yields") and sentence and not described:
            first = re.sub(r"\W+$", "", line.split()[0])
            pad = " " * base
            out.extend([pad + first, *(pad + "    " + x.strip() for x in lines[i:j])])
            i = j
            continue
        names = re.fullmatch(r"[\w.]+(\s*,\s*[\w.]+)*", line.strip())
        after_blank = i > 0 and not lines[i - 1].strip()
        if kind in ("raises", "warns", "warnings") and not names and after_blank:
            pad = " " * base
            out.extend([pad + "Notes", pad + "-----", *_free(lines[i:])])
            return out
        out.append(line)
        i += 1
    return out


def to_markdown(text: str) -> str:
    """A numpydoc docstring with its free text made Markdown; parsed sections untouched."""
    lines = strip_roles(text).split("\n")
    out: list[str] = []
    start, free, title = 0, True, ""
    i = 0
    while i <= len(lines):
        if i == len(lines) or _is_header(lines, i):
            chunk = lines[start:i]
            out.extend(_free(chunk) if free else _parsed(title, chunk))
            if i == len(lines):
                break
            out.extend(lines[i : i + 2])
            title = lines[i].strip()
            free = title.lower() not in PARSED_SECTIONS
            start = i = i + 2
            continue
        i += 1
    return "\n".join(out)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring once the object tree is built."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
