"""Calendar descriptions as plain text: HTML read with the standard library, never rendered.

Calendar keeps what its web editor writes as HTML (`<br>`, `<ul><li>`,
`<ol><li>`, `<a href>`, `<b>`), so a description that looks like HTML is
turned into plain text with the standard library's tokenizer: list items
become "- " or "1. " lines, links become "text (address)" with only http(s)
and mailto addresses kept (a javascript: or data: link is dropped with its
text), script and style bodies are dropped, entities are decoded. The result
is ordinary untrusted text and is escaped wherever it is written.

One reader for everything that reads a description: classification matches
keywords on what the user sees (without link addresses, so a link to
".../qbr-template" does not make a meeting a QBR), the materials read the
invitation's agenda and links from the same text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Linear on any text: no two "\s*" meet around an optional character (that backtracks
# quadratically over a long run of spaces), and a tag never spans another "<".
_HTML_HINT = re.compile(
    r"(?i)<\s*(?:/\s*)?(?:br|p|div|ul|ol|li|a|b|i|u|span|strong|em|h[1-6]|html|body|font)\b[^<>]*>"
)
_BLOCK = frozenset({"p", "div", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr"})
_DROP = frozenset({"script", "style", "head", "title", "template", "noscript"})
_SAFE_HREF = re.compile(r"(?i)^(?:https?://|mailto:)\S+$")


def looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text))


class _TextOf(HTMLParser):
    """HTML to lines of text: lists as "- " / "1. ", links as "text (address)"."""

    def __init__(self, *, links: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        #: Whether a link's address follows its text (not for keyword matching).
        self._with_addresses = links
        self.out: list[str] = []
        self._lists: list[list[int]] = []  # per open list: [ordered?, counter]
        self._dropping = 0
        #: Per open link: its safe address, None without one, "" when unsafe (dropped).
        self._href: list[str | None] = []
        self._link_text: list[str] = []

    def _newline(self) -> None:
        if self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            # A line break, always: `<br><br>` is the blank line that ends a list
            # (Calendar's editor writes `<br>`, other clients `<br/>`: the same).
            self.out.append("\n")
        elif tag in _DROP:
            self._dropping += 1
        elif tag in ("ul", "ol"):
            self._newline()
            self._lists.append([tag == "ol", 0])
        elif tag == "li":
            self._newline()
            if self._lists and self._lists[-1][0]:
                self._lists[-1][1] += 1
                self.out.append(f"{self._lists[-1][1]}. ")
            else:
                self.out.append("- ")
        elif tag in _BLOCK:
            self._newline()
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            if href and not _SAFE_HREF.match(href):
                # A javascript:/data: link's text is bait ("click me"), not content.
                self._href.append("")
                self._dropping += 1
            else:
                self._href.append(href or None)
            self._link_text.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append("\n")
        else:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self._dropping = max(0, self._dropping - 1)
        elif tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self._newline()
        elif tag in ("li", "p", "div", "tr") or tag.startswith("h"):
            self._newline()
        elif tag == "a" and self._href:
            href = self._href.pop()
            text = self._link_text.pop().strip()
            if href == "":
                self._dropping = max(0, self._dropping - 1)
            elif href and self._with_addresses and href.removeprefix("mailto:") not in text:
                self.out.append(f" ({href})" if text else href)

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        if self._link_text:
            self._link_text[-1] += data
        self.out.append(data)

    def text(self) -> str:
        return "".join(self.out)


def description_text(raw: str, *, links: bool = True) -> str:
    """The description as plain text; HTML (as Calendar's editor writes it) is converted.

    With `links=False` a link keeps only its text, not its address.
    """
    if not looks_like_html(raw):
        return raw
    parser = _TextOf(links=links)
    parser.feed(raw)
    parser.close()
    return parser.text()
