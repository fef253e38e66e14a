"""The charts of `report quality --html`, drawn by matplotlib's SVG backend (imported here only,
by that one command) as inline SVG: text stays text (searchable, printable, read by tests),
nothing refers outside the page, and the same document draws the same bytes."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

ACCENT = "#1f6f9f"
MUTED = "#9fb7c8"
WIDTH, HEIGHT = 3.6, 2.3  # inches: two charts side by side on a printed page


@dataclass(frozen=True)
class Chart:
    """One chart: its title, its labels and values (what the page says it shows), its SVG."""

    name: str
    title: str
    labels: list[str]
    values: list[float]
    shown: list[str]  # each value as written on the chart
    svg: str


def _setup():
    import matplotlib

    matplotlib.use("svg", force=True)
    matplotlib.rcParams.update({
        "svg.fonttype": "none",  # <text>, not paths: titles and numbers stay text
        "text.parse_math": False,  # a model named $5 is text, never math
        "font.family": "sans-serif", "font.size": 8, "axes.titlesize": 9, "axes.titleweight": "bold",
        "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#888888",
        "xtick.color": "#444444", "ytick.color": "#444444",
    })
    from matplotlib.figure import Figure

    return matplotlib, Figure


def _svg(figure, name: str) -> str:
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = f"speco-{name}"  # ids unique per chart on one page, stable per run
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = out.getvalue()
    text = text[text.index("<svg"):]  # no XML declaration or DOCTYPE inside the HTML
    # Each chart's ids carry its name: the page holds several SVGs, and an id is the page's.
    text = re.sub(r'id="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{name}-{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{name}-{m.group(1)})", text)
    return text


def bars(name: str, title: str, labels: list[str], values: list[float], shown: list[str], *,
         horizontal: bool = True, color: str = ACCENT) -> Chart:
    _, Figure = _setup()
    height = HEIGHT if not horizontal else max(1.4, 0.32 + 0.22 * max(1, len(labels)))
    figure = Figure(figsize=(WIDTH, height))
    ax = figure.add_subplot()
    ax.set_title(title, loc="left")
    if not labels:
        ax.text(0.5, 0.5, "nothing in the period", ha="center", va="center", transform=ax.transAxes, color="#666666")
        ax.set_axis_off()
    elif horizontal:
        positions = list(range(len(labels)))[::-1]  # the first label on top
        drawn = ax.barh(positions, values, color=color, height=0.7)
        ax.set_yticks(positions, labels)
        ax.bar_label(drawn, labels=shown, padding=2, fontsize=7)
        ax.set_xlim(0, (max(values) or 1) * 1.25)
        ax.xaxis.set_visible(False)
        ax.spines["bottom"].set_visible(False)
    else:
        drawn = ax.bar(range(len(labels)), values, color=color, width=0.7)
        ax.set_xticks(range(len(labels)), labels)
        ax.bar_label(drawn, labels=shown, padding=2, fontsize=7)
        ax.set_ylim(0, (max(values) or 1) * 1.2)
        ax.yaxis.set_visible(False)
        ax.spines["left"].set_visible(False)
    return Chart(name, title, labels, values, shown, _svg(figure, name))


def trend(name: str, title: str, labels: list[str], values: list[int]) -> Chart:
    """Returns per week: a line with its points, each week's count written above it."""
    _, Figure = _setup()
    figure = Figure(figsize=(WIDTH * 2 + 0.3, HEIGHT))
    ax = figure.add_subplot()
    ax.set_title(title, loc="left")
    shown = [f"{v:,}" for v in values]
    if labels:
        xs = list(range(len(labels)))
        ax.plot(xs, values, color=ACCENT, marker="o", markersize=3, linewidth=1.5)
        ax.fill_between(xs, values, color=MUTED, alpha=0.35, linewidth=0)
        step = -(-len(labels) // 14)  # at most 14 dates under the axis
        ax.set_xticks(xs[::step], [label[5:] for label in labels[::step]])
        if len(labels) <= 16:  # each week's count on its point (longer periods: the table below the chart)
            for x, v, s in zip(xs, values, shown, strict=True):
                ax.annotate(s, (x, v), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=6.5)
        ax.set_ylim(0, (max(values) or 1) * 1.25)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return Chart(name, title, labels, list(values), shown, _svg(figure, name))
