"""One document, every format: a report is built once as blocks, then rendered as Markdown or HTML.

Each report (a machine's runs, machines side by side, an A/B run, sweep tables) builds a `Document` from
its model; `markdown` and `html` walk any document the same way. A new section is one block in the
document a report builds, and every format shows it. Every text is escaped by the renderer, never by
the report: a name with `|`, `<` or a backtick is shown as written. Markdown holds the plain characters
(`'`, `>=`, `&`), a backslash before only what it would read as syntax; HTML escapes them all.

Markdown renders as a GitHub job summary: with `images` empty it references no image (a job summary
cannot show files), with them it links the PNGs written beside it. HTML is one self-contained page
(plots inlined as data URIs), its tables wrapping long text so that nothing is cut off at 1,400 px.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Span = str | tuple[str, str]  # plain text, or (text, "b" | "code")


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    """Spans on one line; `cls` "note" makes it a call-out."""

    spans: Sequence[Span]
    cls: str = ""


@dataclass
class Items:
    """A bulleted list: (class, text) each; `marks` puts a sign before an item of that class in Markdown."""

    items: Sequence[tuple[str, str]]
    marks: Mapping[str, str] = field(default_factory=dict)
    strong: bool = False


@dataclass
class CellLines:
    """A table cell of several lines: the first is the value, the rest small print."""

    lines: Sequence[str]
    strong: bool = False
    classes: Sequence[str] = ()


@dataclass
class Table:
    head: Sequence[str]
    rows: Sequence[Sequence[str | CellLines]]
    row_header: bool = False  # the first column names the row (<th>)
    row_class: int | None = None  # the column whose first word is the row's class (verdict colours)
    cls: str = ""


@dataclass
class Image:
    name: str  # the PNG's file name (key of `images`)
    alt: str = ""


@dataclass
class Gallery:
    """Every image whose name starts with `prefix` (plots whose number depends on the data), in name order."""

    prefix: str


Block = Heading | Paragraph | Items | Table | Image | Gallery


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Document:
        self.blocks.extend(blocks)
        return self


# What Markdown would read as syntax, not text: a table cell's end, a code span, an HTML tag's start (`<b`,
# `</`, `<!`, `<?`; GitHub would drop `<cpu>` as a tag), an entity (`&amp;`) and a backslash that would escape.
MD_SYNTAX = re.compile(r"[|`]|<(?=[A-Za-z/!?])|&(?=#?\w+;)|\\(?=[!-/:-@\[-`{-~])")
MD_BLOCK_START = re.compile(r"^(?=[#>+=-])")  # a paragraph's first character that would start a heading, a list...


def md_escape(text: object) -> str:
    """`text` as Markdown shows it, in one line: the plain characters (`'`, `>=`, `&`, `"` as written), with a
    backslash before only what Markdown would read as syntax (MD_SYNTAX: a pipe, a backtick, a tag's `<`)."""
    return MD_SYNTAX.sub(lambda m: "\\" + m.group(), str(text)).replace("\r", " ").replace("\n", " ")


def _md_spans(spans: Sequence[Span]) -> str:
    out = []
    for s in spans:
        text, style = (s, "") if isinstance(s, str) else s
        if style == "code":
            out.append("`" + str(text).replace("`", "'").replace("\n", " ") + "`")
        elif style == "b":
            out.append(f"**{md_escape(text)}**")
        else:
            out.append(md_escape(text))
    return "".join(out)


def _md_cell(c: str | CellLines) -> str:
    if isinstance(c, str):
        return md_escape(c)
    lines = [md_escape(x) for x in c.lines]
    if lines and c.strong:
        lines[0] = f"**{lines[0]}**"
    return "<br>".join(lines)


def markdown(doc: Document, images: Sequence[str] = ()) -> str:
    """The document in Markdown; `images`: plot files written beside it ([] for a job summary)."""
    out = [f"# {md_escape(doc.title)}"]
    for b in doc.blocks:
        if isinstance(b, Heading):
            out += ["", f"{'#' * b.level} {md_escape(b.text)}"]
        elif isinstance(b, Paragraph):
            out += ["", ("> " if b.cls == "note" else "") + MD_BLOCK_START.sub("\\\\", _md_spans(b.spans))]
        elif isinstance(b, Items):
            out.append("")
            for cls, text in b.items:
                mark = f"{b.marks[cls]} " if cls in b.marks else ""
                out.append(f"- {mark}**{md_escape(text)}**" if b.strong else f"- {mark}{md_escape(text)}")
        elif isinstance(b, Table):
            out += ["", "| " + " | ".join(md_escape(h) for h in b.head) + " |", "|" + "---|" * len(b.head)]
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
        elif isinstance(b, Image) and b.name in images:
            out += ["", f"![{md_escape(b.alt or b.name)}]({b.name})"]
        elif isinstance(b, Gallery):
            out += [f"![{md_escape(n)}]({n})" for n in sorted(images) if n.startswith(b.prefix)]
    return "\n".join(out) + "\n"


CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1rem 0;max-width:100%}
td,th{border:1px solid #ccc;padding:.35rem .6rem;vertical-align:top;overflow-wrap:anywhere;max-width:36rem}
th{background:#f3f3f3;text-align:left}.note{background:#fff4d6;padding:.6rem;border-left:4px solid #e0a800}
.regressed{background:#fde2e2}.improved{background:#e0f5e0}.inconclusive{background:#f5f5f5}
.fail{color:#b00020;font-weight:600}img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
td small{color:#555}td.fastest{background:#eef6ff;font-weight:600}td.fastest small{font-weight:400}
li.regressed{color:#b00020;background:none}li.improved{color:#1b6e1b;background:none}
code{background:#f3f3f3;padding:0 .2rem;overflow-wrap:anywhere}
"""


def _html_spans(spans: Sequence[Span]) -> str:
    out = []
    for s in spans:
        text, style = (s, "") if isinstance(s, str) else s
        e = _html.escape(str(text))
        out.append(f"<{style}>{e}</{style}>" if style in ("b", "code") else e)
    return "".join(out)


def _html_cell(c: str | CellLines, tag: str = "td") -> str:
    if isinstance(c, str):
        return f"<{tag}>{_html.escape(c)}</{tag}>"
    cls = f" class='{_html.escape(' '.join(c.classes))}'" if c.classes else ""
    first, rest = (c.lines[0], c.lines[1:]) if c.lines else ("", [])
    small = "".join(f"<br><small>{_html.escape(x)}</small>" for x in rest)
    return f"<{tag}{cls}>{_html.escape(first)}{small}</{tag}>"


def html(doc: Document, images: Mapping[str, str] | None = None) -> str:
    """The document as one HTML page; `images`: {file name: data URI} of the plots."""
    e, images = _html.escape, images or {}
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(doc.title)}</title>"
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(doc.title)}</h1>",
    ]
    for b in doc.blocks:
        if isinstance(b, Heading):
            parts.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            cls = f" class='{e(b.cls)}'" if b.cls else ""
            parts.append(f"<p{cls}>{_html_spans(b.spans)}</p>")
        elif isinstance(b, Items):
            item = "<li class='{}'><b>{}</b></li>" if b.strong else "<li class='{}'>{}</li>"
            parts.append("<ul>" + "".join(item.format(e(c), e(t)) for c, t in b.items) + "</ul>")
        elif isinstance(b, Table):
            cls = f" class='{e(b.cls)}'" if b.cls else ""
            rows = ["<tr>" + "".join(f"<th>{e(h)}</th>" for h in b.head) + "</tr>"]
            for row in b.rows:
                rc = row[b.row_class] if b.row_class is not None else None
                rcls = f" class='{e(str(rc).split(' ')[0])}'" if isinstance(rc, str) else ""
                cells = [_html_cell(c, "th" if b.row_header and i == 0 else "td") for i, c in enumerate(row)]
                rows.append(f"<tr{rcls}>" + "".join(cells) + "</tr>")
            parts.append(f"<table{cls}>" + "\n".join(rows) + "</table>")
        elif isinstance(b, Image) and b.name in images:
            parts.append(f"<img alt='{e(b.alt or b.name)}' src='{images[b.name]}'>")
        elif isinstance(b, Gallery):
            parts += [f"<img alt='{e(n)}' src='{images[n]}'>" for n in sorted(images) if n.startswith(b.prefix)]
    parts.append("</body></html>")
    return "\n".join(parts)
