"""Reading `report quality --html` as a person's browser shows it: each chart's caption, the
texts drawn in its SVG, and the rows of its table; and every address the page refers to."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.charts: dict[str, dict] = {}
        self.addresses: list[str] = []  # src, href, url(...) and action values
        self.tags: set[str] = set()
        self.csp: str | None = None
        self._chart: dict | None = None
        self._depth = 0
        self._in: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        for name in ("src", "href", "xlink:href", "action", "srcset", "data"):
            if attrs.get(name):
                self.addresses.append(attrs[name])
        if "url(" in (attrs.get("style") or ""):
            self.addresses.append(attrs["style"])
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy":
            self.csp = attrs.get("content")
        if tag == "figure" and attrs.get("data-chart"):
            self._chart = {"caption": "", "svg_text": [], "rows": [], "svg": False}
            self.charts[attrs["data-chart"]] = self._chart
            self._depth = 0
        if self._chart is not None:
            if tag == "figure":
                self._depth += 1
            if tag == "svg":
                self._chart["svg"] = True
            if tag == "tr":
                self._row = []
            if tag in ("td", "th"):
                self._cell = []
        self._in.append(tag)

    def handle_endtag(self, tag):
        while self._in and self._in.pop() != tag:
            pass
        if self._chart is None:
            return
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self._chart["rows"].append(self._row)
            self._row = None
        if tag == "figure":
            self._depth -= 1
            if self._depth == 0:
                self._chart = None

    def handle_data(self, data):
        if self._chart is None:
            return
        where = self._in[-1] if self._in else ""
        if where == "figcaption":
            self._chart["caption"] += data
        elif "svg" in self._in and where == "text":
            self._chart["svg_text"].append(data.strip())
        elif self._cell is not None:
            self._cell.append(data)
