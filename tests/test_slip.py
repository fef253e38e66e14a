"""`slip`: the RA slip and the box label read as a person (and a scanner) reads them.

Each PDF is rendered to an image (pypdfium2) and its barcodes decoded (zxing-cpp): the Code128
holds the RA, the QR the RA and the type. The text layer holds the return's facts."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
import zxingcpp
from clihelpers import ok, refused

from speco_returns.domain import slip as layout

TODAY = "2026-11-26"
ADDRESS = "Speco Technologies\nAttn: Returns\n200 New Highway\nAmityville, NY 11701"
FROM = "returns@speco.example"
LONG_NAME = "Northeastern Regional Security Integrato"  # 40 characters
HOSTILE = '<b>=SUM(A1)</b> \\n {ra} %s $(rm -rf) +1 @x "q" \\x1b[31m'


@pytest.fixture(autouse=True)
def mail_settings(monkeypatch):
    monkeypatch.setenv("SPECO_RETURNS_RETURN_ADDRESS", ADDRESS)
    monkeypatch.setenv("SPECO_RETURNS_MAIL_FROM", FROM)
    for name in ("SPECO_RETURNS_SLIP_PAPER", "SPECO_RETURNS_SLIP_FONT", "SPECO_RETURNS_MAIL_ATTACHMENTS", "SPECO_RETURNS_SMTP"):
        monkeypatch.delenv(name, raising=False)


def seed(cli, customer: str = "Müller & Söhne") -> dict[str, str]:
    """One return of each type as of TODAY; the advanced one delivered (its due date known)."""
    steps = [
        ("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99"),
        ("catalog", "add", "VIP-4MP", "--category", "camera", "--list-price", "399.00"),
        ("open", "-t", "standard", "-c", customer, "-i", "O4B3:2", "-s", "SN-1001", "-s", "SN-1002", "--on", "2026-11-20", "-y"),
        ("open", "-t", "advanced", "-c", customer, "-i", "VIP-4MP", "-s", "SN-2001", "--on", "2026-11-01", "-y"),
        ("link", "RA-000002", "--on", "2026-11-01"),
        ("hold", "RA-000002", "--ref", "AUTH-2", "--on", "2026-11-02", "--expires", "2027-12-31"),
        ("ship", "RA-000002", "--on", "2026-11-03"), ("deliver", "RA-000002", "--on", "2026-11-05"),
        ("open", "-t", "counter", "-c", customer, "-i", "O4B3", "--ticket", "TT-55012", "--distributor", "ADI Global",
         "--on", "2026-11-21", "-y"),
        ("open", "-t", "virtual", "-c", customer, "-i", "O4B3", "-s", "SN-4001", "--approved-by", "Dana Lee",
         "--reason", "install deadline", "--on", "2026-11-22", "-y"),
    ]
    for step in steps:
        ok(cli(*step, today=TODAY))
    return {"standard": "RA-000001", "advanced": "RA-000002", "counter": "TT-55012", "virtual": "RA-000003"}


def read_pdf(data: bytes, dpi: int = 150) -> tuple[list[str], list[tuple[str, str]], list[tuple[float, float]]]:
    """(each page's text, the codes decoded from the rendered pages as (format, text), each page's size in pt)."""
    doc = pdfium.PdfDocument(data)
    texts, codes, sizes = [], [], []
    for page in doc:
        sizes.append(page.get_size())
        texts.append(page.get_textpage().get_text_range())
        image = page.render(scale=dpi / 72).to_pil()
        codes += [(r.format.name, r.text) for r in zxingcpp.read_barcodes(image)]
    return texts, codes, sizes


def one_line(text: str) -> str:
    return " ".join(text.split())


def slip(cli, tmp_path, key: str, *args: str) -> bytes:
    path = tmp_path / f"{key.replace('/', '_')}-{'-'.join(a.strip('-') for a in args) or 'slip'}.pdf"
    result = ok(cli("slip", key, "--output", str(path), *args, today=TODAY))
    assert key in result.stderr and str(path) in result.stderr
    return path.read_bytes()


PAGE_PT = {"letter": (612.0, 792.0), "a4": (595.3, 841.9)}


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_every_type_prints_a_slip_whose_codes_decode_to_the_ra(cli, tmp_path, paper):
    keys = seed(cli)
    for type_, key in keys.items():
        texts, codes, sizes = read_pdf(slip(cli, tmp_path, key, "--paper", paper))
        assert len(texts) == 1
        assert sizes[0] == pytest.approx(PAGE_PT[paper], abs=0.5)
        assert ("Code128", key) in codes
        assert ("QRCode", f"{key} {type_}") in codes  # the RA and the type: no personal data
        text = one_line(texts[0])
        assert "Müller & Söhne" in text and key in text
        assert "Speco Technologies" in text if type_ in ("standard", "advanced") else True
        assert FROM in text  # the support contact


def test_each_type_says_what_the_policy_says(cli, tmp_path):
    keys = seed(cli)
    page = {t: one_line(read_pdf(slip(cli, tmp_path, k))[0][0]) for t, k in keys.items()}
    standard = page["standard"]
    assert "Return Authorization" in standard and "November 20, 2026" in standard
    assert "O4B3 2 SN-1001, SN-1002" in standard
    assert "Write the RA number RA-000001 on the outside of the box" in standard
    assert "the replacement ships after your unit is received" in standard
    assert "Amityville, NY 11701" in standard
    advanced = page["advanced"]
    assert "$399.00" in advanced and "non-discounted list price" in advanced and "more than you initially spent" in advanced
    assert "charged only if the defective unit is not returned within 30 days of receiving the replacement" in advanced
    assert "due back by Saturday, December 5, 2026" in advanced  # delivered November 5
    counter = page["counter"]
    assert "Tech Ticket" in counter and "TT-55012" in counter and "(ADI Global)" in counter
    assert "the distributor's policy governs" in counter and "RA-" not in counter
    virtual = page["virtual"]
    assert "No unit comes back" in virtual and "Return address" not in virtual


def test_the_words_are_the_policys_own(cli, tmp_path):
    """One place: what `policy TYPE` shows the agent for the slip is what the slip prints."""
    import json

    keys = seed(cli)
    for type_, key in keys.items():
        [doc] = json.loads(ok(cli("policy", type_, "--json")).stdout)
        text = one_line(read_pdf(slip(cli, tmp_path, key))[0][0])
        for step in doc["slip_steps"]:
            for fixed in step.split("["):  # the words around each [placeholder]
                words = fixed.split("]")[-1].strip(" .:()")
                if len(words) > 12:
                    assert one_line(words) in text, (type_, words)


def test_advanced_before_delivery_says_when_the_due_date_comes(cli, tmp_path):
    ok(cli("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99", today=TODAY))
    ok(cli("open", "-t", "advanced", "-c", "Carol", "-i", "O4B3", "-s", "SN-1", "-y", today=TODAY))
    text = one_line(read_pdf(slip(cli, tmp_path, "RA-000001"))[0][0])
    assert "the due date is 30 days after the day you receive it" in text and "$249.99" in text


def test_a_long_name_ten_items_and_hostile_text_print_as_typed(cli, tmp_path):
    items = [f"MODEL-{n:02d}" for n in range(10)]
    args = [a for m in items for a in ("-i", f"{m}:2")]
    serials = [a for n, m in enumerate(items) for a in ("-s", f"{m}=SN-{n}A", "-s", f"{m}=SN-{n}B")]
    ok(cli("open", "-t", "standard", "-c", LONG_NAME, *args, *serials, "--on", "2026-11-20", "-y", today=TODAY))
    ok(cli("open", "-t", "standard", "-c", HOSTILE, "-i", "O4B3", "-y", today=TODAY))
    for paper in ("letter", "a4"):
        texts, codes, _ = read_pdf(slip(cli, tmp_path, "RA-000001", "--paper", paper))
        assert len(texts) == 1, "ten items fit one page"
        text = one_line(texts[0])
        assert LONG_NAME in text
        for n, model in enumerate(items):
            assert f"{model} 2" in text and f"SN-{n}B" in text
        assert ("Code128", "RA-000001") in codes and ("QRCode", "RA-000001 standard") in codes
        hostile, codes, _ = read_pdf(slip(cli, tmp_path, "RA-000002", "--paper", paper))
        assert one_line(HOSTILE) in one_line(hostile[0])  # markup, escapes and formulas: as typed
        assert ("Code128", "RA-000002") in codes


@pytest.mark.parametrize("name", ["Ελληνικά Κάμερες", "Łódź Sp. z o.o. — “Zamek”", "Müller & Söhne"])
def test_names_beyond_latin1_print_as_typed(cli, tmp_path, name):
    ok(cli("open", "-t", "standard", "-c", name, "-i", "O4B3", "-y", today=TODAY))
    texts, codes, _ = read_pdf(slip(cli, tmp_path, "RA-000001"))
    assert name in one_line(texts[0])
    assert ("Code128", "RA-000001") in codes


def test_the_label_is_4x6_and_decodes_from_a_200_dpi_scan(cli, tmp_path):
    keys = seed(cli)
    for type_, key in keys.items():
        data = slip(cli, tmp_path, key, "--label")
        texts, codes, sizes = read_pdf(data, dpi=200)
        assert sizes == [pytest.approx((288.0, 432.0), abs=0.1)]
        assert ("Code128", key) in codes
        text = one_line(texts[0])
        assert key in text and "Müller & Söhne" in text
        assert ("Amityville, NY 11701" in text) == (type_ != "virtual")


def test_every_character_on_a_label_lies_inside_its_margins(cli, tmp_path):
    keys = seed(cli, customer=LONG_NAME)
    for key in keys.values():
        page = pdfium.PdfDocument(slip(cli, tmp_path, key, "--label"))[0]
        width, height = page.get_size()
        text = page.get_textpage()
        boxes = [text.get_charbox(n) for n in range(text.count_chars())]
        margin = 3.0 / 25.4 * 72  # 3 mm: what a thermal printer cannot reach
        assert boxes and all(margin <= left and right <= width - margin and margin <= bottom and top <= height - margin
                             for left, bottom, right, top in boxes if right > left), key


def test_the_labels_bars_are_whole_dots_of_at_least_033_mm_with_quiet_zones(cli, tmp_path):
    seed(cli)
    page = pdfium.PdfDocument(slip(cli, tmp_path, "RA-000001", "--label"))[0]
    image = page.render(scale=layout.LABEL_DPI / 72).to_pil().convert("L")
    width, height = image.size
    dot_mm = 25.4 / layout.LABEL_DPI
    pixels = image.tobytes()

    def row(y: int) -> list[bool]:
        return [p < 128 for p in pixels[y * width:(y + 1) * width]]

    def bar_count(r: list[bool]) -> int:
        return sum(a and not b for a, b in zip(r, [False, *r][:-1], strict=True))

    # the bars' row: 20 dark runs or more, the same 8 dots further down (text never is)
    through = next(row(y) for y in range(0, height - 8, 2) if bar_count(row(y)) >= 20 and row(y) == row(y + 8))
    runs, x = [], 0
    while x < width:
        start = x
        while x < width and through[x] == through[start]:
            x += 1
        runs.append((through[start], start, x - start))
    bars = [r for r in runs if r[0]]
    narrowest = min(length for _, _, length in bars[1:-1])
    assert narrowest * dot_mm >= layout.LABEL_MIN_MODULE_MM
    module = narrowest  # the narrowest bar is one module
    first, last = bars[0], bars[-1]
    assert first[1] >= layout.QUIET_MODULES * module and width - (last[1] + last[2]) >= layout.QUIET_MODULES * module


def test_module_width_is_whole_dots_and_refuses_what_cannot_fit():
    dot = 25.4 / 203
    m = layout.module_mm(120, 97.6, dpi=203, minimum=0.33, largest=4 * dot)
    assert m == pytest.approx(4 * dot) and m >= 0.33
    m = layout.module_mm(250, 97.6, dpi=203, minimum=0.33, largest=4 * dot)
    assert m == pytest.approx(3 * dot)
    with pytest.raises(Exception, match="too long for its barcode"):
        layout.module_mm(400, 97.6, dpi=203, minimum=0.33, largest=4 * dot)


def test_stdout_when_not_a_terminal(cli):
    seed(cli)
    result = ok(cli("slip", "RA-000001", "--output", "-", today=TODAY))
    data = result.stdout_bytes
    assert data.startswith(b"%PDF-") and ("Code128", "RA-000001") in read_pdf(data)[1]


def test_refusals(cli, tmp_path):
    seed(cli)
    out = tmp_path / "x.pdf"
    assert "RA-000099" in refused(cli("slip", "RA-000099", "--output", str(out)))[0]
    assert not out.exists()
    assert cli("slip", "RA-000001", "--output", str(out), "--paper", "legal").exit_code == 2
    assert cli("slip", "RA-000001", "--output", str(out), "--label", "--paper", "a4").exit_code == 2
    assert cli("slip", "RA-000001").exit_code == 2  # --output is required
    ok(cli("slip", "RA-000001", "--output", str(out)))
    assert "already exists" in refused(cli("slip", "RA-000001", "--output", str(out)))[0]
    ok(cli("slip", "RA-000001", "--output", str(out), "--force"))


def test_a_label_needs_the_return_address(cli, tmp_path, monkeypatch):
    seed(cli)
    monkeypatch.delenv("SPECO_RETURNS_RETURN_ADDRESS")
    out = tmp_path / "label.pdf"
    assert "SPECO_RETURNS_RETURN_ADDRESS" in refused(cli("slip", "RA-000001", "--label", "--output", str(out)))[0]
    assert not out.exists()
    # the slip prints without it, and says where the address comes from
    text = one_line(read_pdf(slip(cli, tmp_path, "RA-000001"))[0][0])
    assert "the address Speco Technical Support gives you" in text


def test_the_paper_setting(cli, tmp_path, monkeypatch):
    seed(cli)
    monkeypatch.setenv("SPECO_RETURNS_SLIP_PAPER", "a4")
    assert read_pdf(slip(cli, tmp_path, "RA-000001"))[2] == [pytest.approx(PAGE_PT["a4"], abs=0.5)]
    monkeypatch.setenv("SPECO_RETURNS_SLIP_PAPER", "legal")
    assert "SPECO_RETURNS_SLIP_PAPER" in refused(cli("slip", "RA-000001", "--output", str(tmp_path / "y.pdf")))[0]


# --- the slip on the `opened` notice ----------------------------------------------------------------


def outbox_messages(folder) -> dict[str, object]:
    import email
    from email.policy import default

    return {path.name.split("-opened-")[0]: email.message_from_bytes(path.read_bytes(), policy=default)
            for path in sorted(folder.glob("*-opened-*.eml"))}


def opened_everywhere(cli, customer: str = "Müller & Söhne") -> None:
    ok(cli("catalog", "add", "O4B3", "--category", "camera", "--list-price", "249.99", today=TODAY))
    for args in (("-t", "standard", "-s", "SN-1"), ("-t", "advanced", "-s", "SN-2"),
                 ("-t", "counter", "--ticket", "TT-9", "--distributor", "ADI Global"),
                 ("-t", "virtual", "-s", "SN-4", "--approved-by", "Dana Lee", "--reason", "install deadline")):
        ok(cli("open", *args, "-c", customer, "--email", "ops@example.com", "-i", "O4B3", "-y", today=TODAY))


def test_the_opened_notice_of_a_type_that_ships_to_speco_carries_the_slip(cli, tmp_path):
    opened_everywhere(cli)
    folder = tmp_path / "outbox"
    folder.mkdir()
    ok(cli("notify", "--outbox", str(folder), today=TODAY))
    messages = outbox_messages(folder)
    assert set(messages) == {"RA-000001", "RA-000002", "TT-9", "RA-000003"}
    for key, type_ in (("RA-000001", "standard"), ("RA-000002", "advanced")):
        [part] = messages[key].iter_attachments()
        assert part.get_content_type() == "application/pdf" and part.get_filename() == f"{key}-slip.pdf"
        texts, codes, _ = read_pdf(part.get_payload(decode=True))
        assert ("Code128", key) in codes and ("QRCode", f"{key} {type_}") in codes
        assert "Müller & Söhne" in texts[0] and "Amityville, NY 11701" in texts[0]
        body = one_line(messages[key].get_body(("plain",)).get_content())
        assert f"slip is attached ({key}-slip.pdf): please print it and put it in the box" in body
    for key in ("TT-9", "RA-000003"):  # the distributor ships a counter return; nothing comes back from a virtual one
        assert list(messages[key].iter_attachments()) == []


@pytest.mark.parametrize("off", [("--no-attachments",), ()])
def test_no_attachments_by_flag_or_setting(cli, tmp_path, monkeypatch, off):
    opened_everywhere(cli)
    if not off:
        monkeypatch.setenv("SPECO_RETURNS_MAIL_ATTACHMENTS", "off")
    folder = tmp_path / "outbox"
    folder.mkdir()
    ok(cli("notify", "--outbox", str(folder), *off, today=TODAY))
    messages = outbox_messages(folder)
    assert len(messages) == 4 and all(not list(m.iter_attachments()) for m in messages.values())
    assert all(not m.is_multipart() for m in messages.values())
    assert all("attached" not in m.get_content() for m in messages.values())


def test_show_notice_says_what_is_attached(cli, monkeypatch):
    import json

    opened_everywhere(cli)
    shown = ok(cli("show", "RA-000001", "--notice", "opened", today=TODAY)).stdout
    assert "Attachment: RA-000001-slip.pdf (application/pdf, " in shown and "Return Authorization RA-000001" in shown
    doc = json.loads(ok(cli("show", "RA-000002", "--notice", "opened", "--json", today=TODAY)).stdout)
    [attached] = doc["attachments"]
    assert attached["filename"] == "RA-000002-slip.pdf" and attached["content_type"] == "application/pdf"
    assert attached["size"] > 1000
    assert json.loads(ok(cli("show", "TT-9", "--notice", "opened", "--json", today=TODAY)).stdout)["attachments"] == []
    monkeypatch.setenv("SPECO_RETURNS_MAIL_ATTACHMENTS", "off")
    assert "Attachment:" not in ok(cli("show", "RA-000001", "--notice", "opened", today=TODAY)).stdout
    monkeypatch.setenv("SPECO_RETURNS_MAIL_ATTACHMENTS", "maybe")
    assert "SPECO_RETURNS_MAIL_ATTACHMENTS" in refused(cli("show", "RA-000001", "--notice", "opened", today=TODAY))[0]


def test_the_slip_goes_by_smtp_too(cli, monkeypatch):
    import smtpserver

    box = smtpserver.Inbox()
    controller = smtpserver.start(box)
    try:
        monkeypatch.setenv("SPECO_RETURNS_SMTP", f"smtp://127.0.0.1:{controller.port}?tls=off")
        opened_everywhere(cli)
        ok(cli("notify", today=TODAY))
    finally:
        controller.stop()
    by_ra = {r.msg["X-Speco-Return"]: r.msg for r in box.received}
    [part] = by_ra["RA-000001"].iter_attachments()
    assert ("Code128", "RA-000001") in read_pdf(part.get_payload(decode=True))[1]


def test_the_longest_ticket_prints_on_the_slip_and_is_refused_on_a_label(cli, tmp_path):
    ticket = "TT-" + "Xy" * 29 + "a/b"  # 64 characters, the most a ticket holds
    ok(cli("open", "-t", "counter", "-c", "Frank", "-i", "O4B3", "--ticket", ticket, "--distributor", "ADI", "-y", today=TODAY))
    for paper in ("letter", "a4"):
        texts, codes, _ = read_pdf(slip(cli, tmp_path, ticket, "--paper", paper), dpi=300)
        assert ("Code128", ticket) in codes and ("QRCode", f"{ticket} counter") in codes
    out = tmp_path / "label.pdf"
    [line] = refused(cli("slip", ticket, "--label", "--output", str(out), today=TODAY))
    assert "too long for a box label" in line and "print the slip" in line and not out.exists()


def test_text_stored_before_input_refused_control_characters_prints_them_as_escapes(cli, tmp_path, db_path):
    from clihelpers import raw

    ok(cli("open", "-t", "standard", "-c", "Plain Name", "-i", "O4B3", "-y", today=TODAY))
    with raw(db_path) as conn:
        conn.execute("UPDATE returns SET customer = ? WHERE ra_no = 1", ["Evil\x1b[31m Co\u202eX"])
    texts, codes, _ = read_pdf(slip(cli, tmp_path, "RA-000001"))
    assert "Evil\\x1b[31m Co\\u202eX" in one_line(texts[0]) and "\x1b" not in texts[0]
    assert ("Code128", "RA-000001") in codes


def test_the_font_setting_and_a_machine_without_a_unicode_font(cli, tmp_path, monkeypatch):
    from speco_returns.services import slip_pdf

    ok(cli("open", "-t", "standard", "-c", "Ελληνικά", "-i", "O4B3", "-y", today=TODAY))
    monkeypatch.setenv("SPECO_RETURNS_SLIP_FONT", str(tmp_path / "missing.ttf"))
    assert "SPECO_RETURNS_SLIP_FONT" in refused(cli("slip", "RA-000001", "--output", str(tmp_path / "a.pdf")))[0]
    monkeypatch.delenv("SPECO_RETURNS_SLIP_FONT")
    monkeypatch.setattr(slip_pdf, "FONTS", ())  # none installed: Latin-1 still prints, the rest as `?`, the codes decode
    texts, codes, _ = read_pdf(slip(cli, tmp_path, "RA-000001"))
    assert "????????" in texts[0] and ("Code128", "RA-000001") in codes
