"""HTML mail bodies as plain text, with the structure the text extractor relies on.

Block elements become line breaks, paragraphs a blank line, list items "- "
bullets, table rows one line each with cells separated by a tab, and
``<blockquote>`` content is prefixed with "> " so quoted history is recognised
like in a plain-text reply. Scripts, styles, the head and hidden elements are
dropped. Only the standard library's ``HTMLParser`` is used.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = frozenset(
    {
        "address", "article", "aside", "center", "dd", "details", "dialog", "dir", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hgroup", "hr", "legend", "main", "menu", "nav", "ol", "p",
        "pre", "section", "summary", "ul", "caption", "tbody", "thead", "tfoot",
    }
)  # fmt: skip
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl", "pre"})
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "object", "svg", "xml"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all", re.I)

CELL_SEPARATOR = "\t"


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []  # finished lines
        self.current: list[str] = []  # fragments of the line being built
        self.skip_depth = 0
        self.skip_stack: list[str] = []
        self.pre_depth = 0
        self.quote_depth = 0
        self.list_stack: list[list[int | str]] = []  # [kind, counter]
        self.row_cells: list[str] | None = None
        self.cell: list[str] | None = None
        self.cell_depth = 0

    # -- line handling ------------------------------------------------------

    def _line_text(self) -> str:
        text = "".join(self.current)
        if not self.pre_depth:
            text = re.sub(r"[ \t\r\n\f\u00a0]+", " ", text).strip()
        return text

    def newline(self, force: bool = False) -> None:
        if self.cell is not None:
            self.cell.append(" ")
            return
        text = self._line_text()
        if text or force:
            prefix = "> " * self.quote_depth
            self.lines.append(prefix + text if text else prefix.rstrip())
        self.current = []

    def blank_line(self) -> None:
        if self.cell is not None:
            self.cell.append(" ")
            return
        self.newline()
        if self.lines and self.lines[-1].strip("> ") != "":
            self.lines.append(("> " * self.quote_depth).rstrip())

    def write(self, text: str) -> None:
        if self.cell is not None:
            self.cell.append(text)
        else:
            self.current.append(text)

    # -- parser callbacks ---------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if self.skip_depth:
            if tag not in _VOID:
                self.skip_stack.append(tag)
                self.skip_depth += 1
            return
        attr = {k.lower(): (v or "") for k, v in attrs}
        if tag in _SKIP or "hidden" in attr or _HIDDEN_STYLE.search(attr.get("style", "")):
            if tag not in _VOID:
                self.skip_stack.append(tag)
                self.skip_depth = 1
            return
        if tag == "br":
            self.newline(force=True) if self.cell is None else self.cell.append(" ")
        elif tag == "blockquote":
            self.blank_line() if self.current else self.newline()
            self.quote_depth += 1
        elif tag == "pre":
            self.newline()
            self.pre_depth += 1
        elif tag in ("ul", "ol"):
            self.newline()
            self.list_stack.append([tag, 0])
        elif tag == "li":
            self.newline()
            bullet = "- "
            if self.list_stack and self.list_stack[-1][0] == "ol":
                self.list_stack[-1][1] = int(self.list_stack[-1][1]) + 1
                bullet = f"{self.list_stack[-1][1]}. "
            self.write(bullet)
        elif tag == "tr":
            self.newline()
            self.row_cells = []
        elif tag in ("td", "th"):
            if self.row_cells is None:
                self.row_cells = []
            self.cell = []
            self.cell_depth += 1
        elif tag == "table":
            self.blank_line()
        elif tag in _PARAGRAPH:
            self.blank_line() if (self.current or (self.lines and self.lines[-1])) else None
        elif tag in _BLOCK:
            self.newline()
        elif tag == "img":
            return

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if self.skip_depth:
            # Close up to the matching tag (tolerates unclosed children).
            if tag in self.skip_stack:
                while self.skip_stack:
                    top = self.skip_stack.pop()
                    self.skip_depth -= 1
                    if top == tag:
                        break
                self.skip_depth = len(self.skip_stack)
            return
        if tag == "blockquote":
            self.newline()
            self.quote_depth = max(0, self.quote_depth - 1)
            self.blank_line()
        elif tag == "pre":
            self.newline()
            self.pre_depth = max(0, self.pre_depth - 1)
        elif tag in ("ul", "ol"):
            self.newline()
            if self.list_stack:
                self.list_stack.pop()
        elif tag in ("td", "th"):
            self._close_cell()
        elif tag == "tr":
            self._close_row()
        elif tag == "table":
            self._close_row()
            self.blank_line()
        elif tag in _PARAGRAPH:
            self.blank_line()
        elif tag in _BLOCK or tag == "li":
            self.newline()

    def _close_cell(self) -> None:
        if self.cell is None:
            return
        text = re.sub(r"[\s\u00a0]+", " ", "".join(self.cell)).strip()
        text = text.replace(CELL_SEPARATOR, " ")
        if self.row_cells is not None:
            self.row_cells.append(text)
        self.cell = None
        self.cell_depth = max(0, self.cell_depth - 1)

    def _close_row(self) -> None:
        self._close_cell()
        if self.row_cells is None:
            return
        cells = self.row_cells
        self.row_cells = None
        if any(cells):
            self.newline()
            prefix = "> " * self.quote_depth
            self.lines.append(prefix + CELL_SEPARATOR.join(cells))

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth and self.cell is None:
            parts = data.split("\n")
            for i, part in enumerate(parts):
                if i:
                    self.newline(force=True)
                self.write(part)
            return
        self.write(data)

    def finish(self) -> str:
        self._close_row()
        self.newline()
        text = "\n".join(line.rstrip() for line in self.lines)
        text = re.sub(r"\n(?:>? *\n){2,}", "\n\n", text)
        return text.strip("\n") + "\n" if text.strip() else ""


def html_to_text(html: str) -> str:
    """Plain text of an HTML document or fragment (never raises on bad markup)."""
    builder = _TextBuilder()
    try:
        builder.feed(html)
        builder.close()
    except (AssertionError, ValueError):  # HTMLParser gives up on some broken markup
        pass
    return builder.finish()
