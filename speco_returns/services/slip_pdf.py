"""The RA slip (letter or A4) and the 4x6 in box label as PDF: a `domain.slip.Slip` drawn.

fpdf2 draws the page, python-barcode gives the Code128 modules and segno the QR matrix: each
bar and each QR module is a filled rectangle (vector, sharp at any printer's resolution).
These libraries are imported here only, and this module only by `slip` and a notice that
carries the slip: no other command pays for them (tests/test_startup.py).

Text is set in Helvetica (a PDF core font: nothing embedded, a slip is a few KB) unless a
field holds a character Latin-1 lacks: then in a TrueType font with those characters, the
one SPECO_RETURNS_SLIP_FONT names or the first of the usual system fonts found (FONTS), so
`Müller & Söhne` and a name in any script print as typed.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ..domain import slip as layout
from ..domain.slip import Slip
from ..errors import ReturnsError

FONTS = (  # regular, bold: the first pair whose regular file exists
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
     "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
     "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
    ("/System/Library/Fonts/Supplemental/Arial Unicode.ttf", ""),
    ("/Library/Fonts/Arial Unicode.ttf", ""),
    ("C:/Windows/Fonts/arial.ttf", "C:/Windows/Fonts/arialbd.ttf"),
)
INK = (0, 0, 0)
GREY = (90, 90, 90)


def font_files(configured: str | None) -> tuple[str, str] | None:
    """(regular, bold) TrueType files: the configured one (its own bold when it has none), or
    the first system font found; None when there is none."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ReturnsError(f"SPECO_RETURNS_SLIP_FONT {configured}: no such font file (a .ttf)")
        return str(path), str(path)
    for regular, bold in FONTS:
        if os.path.isfile(regular):
            return regular, bold if bold and os.path.isfile(bold) else regular
    return None


class _Pdf(FPDF):
    def __init__(self, size: tuple[float, float], texts: list[str], font: str | None,
                 made: datetime | None):
        super().__init__(unit="mm", format=size)
        self.set_margins(0, 0, 0)
        self.c_margin = 0
        self.footer_text = ""
        self.family = "helvetica"
        self.lossy = False
        if made is not None:
            self.set_creation_date(made)
        if not all(_latin1(t) for t in texts):
            files = font_files(font)
            if files is None:
                self.lossy = True  # drawn with a `?` for what Latin-1 lacks (text())
            else:
                self.add_font("slip", "", files[0])
                self.add_font("slip", "B", files[1])
                self.family = "slip"

    def use(self, size: float, bold: bool = False, colour=INK) -> None:
        self.set_font(self.family, "B" if bold else "", size)
        self.set_text_color(*colour)

    def text_of(self, text: str) -> str:
        return text.encode("latin-1", "replace").decode("latin-1") if self.lossy else text

    def footer(self) -> None:
        if self.footer_text:
            self.set_xy(0, self.h - 10)
            self.use(8, colour=GREY)
            self.cell(self.w, 4,
                      self.text_of(f"{self.footer_text}  ·  page {self.page_no()} of {{nb}}"),
                      align="C")


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _texts(s: Slip) -> list[str]:
    return [s.key, s.customer, s.distributor or "", *s.steps, *s.address, *s.contact,
            *(x for i in s.items for x in (i.model, i.serials))]


# --- the codes ------------------------------------------------------------------------------------


def code128_modules(text: str) -> str:
    """The symbol's modules, '1' a bar and '0' a space, start to stop (no quiet zones)."""
    from barcode.codex import Code128

    return Code128(text).build()[0]


def draw_code128(pdf: FPDF, text: str, x: float, y: float, height: float, module: float) -> float:
    """Bars from (x, y), left of them a quiet zone already allowed for; returns the width drawn."""
    modules = code128_modules(text)
    start = None
    for i, bit in enumerate(modules + "0"):
        if bit == "1" and start is None:
            start = i
        elif bit == "0" and start is not None:
            pdf.rect(x + start * module, y, (i - start) * module, height, style="F")
            start = None
    return len(modules) * module


def code128_width(text: str) -> int:
    """Modules of the symbol with its two quiet zones."""
    return len(code128_modules(text)) + 2 * layout.QUIET_MODULES


def draw_qr(pdf: FPDF, payload: str, x: float, y: float, size: float) -> None:
    """The QR code (its 4-module quiet zone inside `size`), each dark run of a row one rectangle."""
    import segno

    qr = segno.make(payload, error="m", micro=False)
    rows = [list(row) for row in qr.matrix]
    count = len(rows) + 2 * qr.default_border_size
    m = size / count
    for r, row in enumerate(rows):
        start = None
        for c, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = c
            elif not dark and start is not None:
                pdf.rect(x + (qr.default_border_size + start) * m,
                         y + (qr.default_border_size + r) * m,
                         (c - start) * m, m, style="F")
                start = None


# --- the slip ------------------------------------------------------------------------------------

MARGIN = 14.0


def page(s: Slip, paper: str = "letter", *, font: str | None = None,
         made: datetime | None = None) -> bytes:
    """The one-page slip the customer prints and puts in the box (more pages only for a very
    long list of items: each page's foot names the RA)."""
    width, height = layout.PAPERS[paper]
    pdf = _Pdf((width, height), _texts(s), font, made)
    pdf.set_title(f"{s.heading} {s.key}")
    pdf.set_author("Speco Technical Support")
    pdf.set_auto_page_break(True, margin=MARGIN + 6)
    pdf.footer_text = f"Speco {s.heading} {s.key}"
    pdf.add_page()
    room = width - 2 * MARGIN
    qr_size = 34.0
    t = pdf.text_of

    # the heading, the key in large type, the QR code at the right
    pdf.set_xy(MARGIN, MARGIN)
    pdf.use(10, colour=GREY)
    pdf.cell(room - qr_size, 5, "SPECO TECHNICAL SUPPORT", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(MARGIN)
    pdf.use(18, bold=True)
    pdf.cell(room - qr_size, 9, t(s.heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(MARGIN)
    _fitting(pdf, t(s.key), room - qr_size - 4, 34, bold=True)
    pdf.cell(room - qr_size, 15, t(s.key), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(MARGIN)
    pdf.use(11)
    pdf.cell(room - qr_size, 6, t(s.type_title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_fill_color(*INK)
    draw_qr(pdf, s.qr, MARGIN + room - qr_size, MARGIN - 2, qr_size)

    # the barcode, its text under it
    y = MARGIN + 40
    module = layout.module_mm(code128_width(s.key), room, dpi=600,
                              minimum=layout.SLIP_MIN_MODULE_MM, largest=0.5, what=s.key)
    quiet = layout.QUIET_MODULES * module
    drawn = draw_code128(pdf, s.key, MARGIN + quiet, y, 18, module)
    pdf.set_xy(MARGIN + quiet, y + 19)
    pdf.use(10)
    pdf.cell(drawn, 5, t(s.key), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # the return's facts
    pdf.ln(4)
    facts = [("Customer", s.customer), ("Opened", f"{s.opened_on:%B %-d, %Y}")]
    if s.distributor:
        facts.append(("Distributor", s.distributor))
    for label, value in facts:
        pdf.set_x(MARGIN)
        pdf.use(10, bold=True)
        pdf.cell(28, 6, label)
        pdf.use(11)
        pdf.multi_cell(room - 28, 6, t(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    pdf.ln(3)
    _items(pdf, s, room)

    # what to do next, the return address, the contact
    pdf.ln(4)
    _heading(pdf, "What to do next", room)
    for n, step in enumerate(s.steps, 1):
        pdf.set_x(MARGIN)
        pdf.use(11)
        pdf.cell(7, 6, f"{n}.")
        pdf.multi_cell(room - 7, 5.5, t(step), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    pdf.ln(3)
    columns = [(heading, lines, size) for heading, lines, size in (
        ("Return address", s.address if s.ships_to_speco else (), 12),
        ("Questions", s.contact, 10)) if lines]
    if columns:
        _columns(pdf, columns, room)
    return bytes(pdf.output())


def _columns(pdf: _Pdf, columns: list[tuple[str, tuple[str, ...], float]], room: float) -> None:
    """Side by side, each a heading over its lines (the return address in bold); kept together
    on one page."""
    width = room / len(columns)
    lines_of = []
    for _, lines, size in columns:
        pdf.use(size, bold=size > 10)
        lines_of.append([part for line in lines for part in
                         pdf.multi_cell(width - 6, size / 2, pdf.text_of(line), dry_run=True,
                                        output="LINES")])
    tall = 9 + max(len(lines) * size / 2
                   for lines, (_, _, size) in zip(lines_of, columns, strict=True))
    if pdf.get_y() + tall > pdf.page_break_trigger:
        pdf.add_page()
        pdf.set_y(MARGIN)
    top = pdf.get_y()
    for n, ((heading, _, size), lines) in enumerate(zip(columns, lines_of, strict=True)):
        x = MARGIN + n * width
        pdf.set_xy(x, top)
        pdf.use(12, bold=True)
        pdf.cell(width - 6, 7, heading)
        pdf.set_draw_color(*GREY)
        pdf.line(x, top + 7, x + width - 6, top + 7)
        y = top + 9
        for line in lines:
            pdf.set_xy(x, y)
            pdf.use(size, bold=size > 10)
            pdf.cell(width - 6, size / 2, line)
            y += size / 2
    pdf.set_y(top + tall)


def _heading(pdf: _Pdf, text: str, room: float) -> None:
    pdf.set_x(MARGIN)
    pdf.use(12, bold=True)
    pdf.cell(room, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*GREY)
    pdf.line(MARGIN, pdf.get_y(), MARGIN + room, pdf.get_y())
    pdf.ln(2)


def _items(pdf: _Pdf, s: Slip, room: float) -> None:
    widths = (room * 0.30, room * 0.10, room * 0.60)
    pdf.set_x(MARGIN)
    pdf.use(10, bold=True)
    for w, label in zip(widths, ("Model", "Qty", "Serial numbers"), strict=True):
        pdf.cell(w, 6, label)
    pdf.ln(6)
    pdf.set_draw_color(*GREY)
    pdf.line(MARGIN, pdf.get_y(), MARGIN + room, pdf.get_y())
    pdf.ln(1)
    for item in s.items:
        pdf.use(11)
        model = pdf.multi_cell(widths[0] - 2, 5.5, pdf.text_of(item.model), dry_run=True,
                               output="LINES", align="L")
        serials = pdf.multi_cell(widths[2], 5.5, pdf.text_of(item.serials or "-"), dry_run=True,
                                 output="LINES", align="L")
        rows = max(len(model), len(serials))
        if pdf.get_y() + rows * 5.5 > pdf.page_break_trigger:
            pdf.add_page()
            pdf.set_y(MARGIN)
        top = pdf.get_y()
        pdf.set_xy(MARGIN, top)
        pdf.multi_cell(widths[0] - 2, 5.5, pdf.text_of(item.model), align="L")
        pdf.set_xy(MARGIN + widths[0], top)
        pdf.cell(widths[1], 5.5, str(item.qty))
        pdf.set_xy(MARGIN + widths[0] + widths[1], top)
        pdf.multi_cell(widths[2], 5.5, pdf.text_of(item.serials or "-"), align="L")
        pdf.set_y(top + rows * 5.5 + 1)


def _fitting(pdf: _Pdf, text: str, room: float, size: float, bold: bool,
             smallest: float = 8) -> None:
    """The largest type up to `size`, down to `smallest`, in which `text` fits `room` on one
    line."""
    pdf.use(size, bold=bold)
    while size > smallest and pdf.get_string_width(text) > room:
        size -= 1
        pdf.use(size, bold=bold)


# --- the box label --------------------------------------------------------------------------------

LABEL_MARGIN = 5.0


def label(s: Slip, *, font: str | None = None, made: datetime | None = None) -> bytes:
    """The 4x6 in label for the outside of the box: the key in large type and as Code128 (a
    whole number of 203 dpi dots per module, at least 0.33 mm, quiet zones kept), the return
    address, who sends it."""
    width, height = layout.LABEL_MM
    pdf = _Pdf((width, height), _texts(s), font, made)
    pdf.set_title(f"{s.heading} {s.key}: box label")
    pdf.set_author("Speco Technical Support")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    room = width - 2 * LABEL_MARGIN
    t = pdf.text_of
    pdf.set_xy(LABEL_MARGIN, LABEL_MARGIN)
    pdf.use(11, bold=True)
    pdf.cell(room, 6, "SPECO RETURN" if s.type != "counter" else "SPECO TECH TICKET", align="C",
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(LABEL_MARGIN)
    _fitting(pdf, t(s.key), room, 40, bold=True)
    pdf.cell(room, 16, t(s.key), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    dot = layout.MM_PER_INCH / layout.LABEL_DPI
    modules = code128_width(s.key)
    try:
        module = layout.module_mm(modules, width - 2 * 2.0, dpi=layout.LABEL_DPI,
                                  minimum=layout.LABEL_MIN_MODULE_MM, largest=4 * dot)
    except ReturnsError:
        raise ReturnsError(f"{s.key} is too long for a box label: {len(s.key)} characters "
                           f"do not fit 4 in as bars of {layout.LABEL_MIN_MODULE_MM} mm or more; "
                           "print the slip and write the code on the box") from None
    symbol = (modules - 2 * layout.QUIET_MODULES) * module
    x = round((width - symbol) / 2 / dot) * dot  # on the printer's dot grid: every bar whole dots
    pdf.set_fill_color(*INK)
    y = LABEL_MARGIN + 24
    draw_code128(pdf, s.key, x, y, 30, module)
    pdf.set_xy(LABEL_MARGIN, y + 31)
    pdf.use(12)
    pdf.cell(room, 6, t(s.key), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_draw_color(*INK)
    pdf.set_line_width(0.5)
    pdf.line(LABEL_MARGIN, pdf.get_y() + 2, width - LABEL_MARGIN, pdf.get_y() + 2)
    pdf.ln(5)
    if s.type == "virtual":
        pdf.set_x(LABEL_MARGIN)
        pdf.use(13, bold=True)
        pdf.multi_cell(room, 6.5, "Virtual return: no unit comes back to Speco.",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    else:
        pdf.set_x(LABEL_MARGIN)
        pdf.use(10, bold=True)
        pdf.cell(room, 5, "SHIP TO", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for line in s.address:
            pdf.set_x(LABEL_MARGIN + 3)
            pdf.use(14, bold=True)
            pdf.multi_cell(room - 3, 6.5, t(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    pdf.ln(3)
    pdf.set_x(LABEL_MARGIN)
    pdf.use(10, bold=True)
    pdf.cell(room, 5, "FROM", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(LABEL_MARGIN + 3)
    pdf.use(12)
    pdf.multi_cell(room - 3, 6, t(s.customer), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    units = sum(i.qty for i in s.items)
    pdf.set_xy(LABEL_MARGIN, height - LABEL_MARGIN - 5)
    foot = t(f"{s.type_title}; opened {s.opened_on:%B %-d, %Y}; "
             f"{units} unit{'s' if units != 1 else ''}")
    _fitting(pdf, foot, room, 9, bold=False, smallest=6)  # the counter type's title is long
    pdf.set_text_color(*GREY)
    pdf.cell(room, 5, foot, align="C")
    return bytes(pdf.output())
