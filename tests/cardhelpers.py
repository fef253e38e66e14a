"""Card numbers as people type them, and the numbers in an agent's ordinary notes (SPEC §6).

Written here from the rule as docs/data-safety.md states it, independently of
speco_returns.digits and policy: the separators are drawn from whole Unicode categories, the
digits from every script."""

from __future__ import annotations

import random
import string
import unicodedata

from hypothesis import strategies as st


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def any_luhn_window(digits: str) -> bool:
    """Some 13 to 19 consecutive digits pass the Luhn check (plainly, window by window)."""
    return any(luhn_ok(digits[i:i + n]) for n in range(13, 20) for i in range(len(digits) - n + 1))


@st.composite
def card_numbers(draw) -> str:
    """A Luhn-valid number of 13 to 19 ASCII digits."""
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.text(alphabet=string.digits, min_size=length - 1, max_size=length - 1))
    return next(body + c for c in string.digits if luhn_ok(body + c))


# --- what may lie between a card's digits ---------------------------------------------------------

_WORD_LETTERS = ("Lu", "Ll", "Lt", "Lo")


def _draws_nothing(ch: str) -> bool:
    return "FILLER" in unicodedata.name(ch, "")


# The letters that draw nothing: the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), found in
# the Unicode database by what they are, not listed.
FILLERS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Lo"
           and _draws_nothing(chr(c))]
assert len(FILLERS) >= 4


def _is_mark(ch: str) -> bool:
    """A character that is neither a digit, a letter of a word, a space nor invisible, however
    NFKC writes it (a modifier letter, Lm, is a mark: ー, ـ, ʼ, ˉ)."""
    form = unicodedata.normalize("NFKC", ch)
    if any(unicodedata.digit(c, None) is not None for c in form) or form.isspace():
        return False
    if unicodedata.category(ch) != "Lm" and any(unicodedata.category(c) in _WORD_LETTERS
                                                for c in form):
        return False
    return not all(unicodedata.category(c) in ("Cf", "Mn", "Me") or _draws_nothing(c) for c in form)


# Invisible: format characters (zero-width spaces and joiners, bidi marks), combining marks,
# fillers.
invisible = st.one_of(st.characters(categories=["Cf", "Mn", "Me"]), st.sampled_from(FILLERS))
# Marks: dashes, punctuation, modifier letters, symbols.
mark = st.characters(categories=["Pd", "Po", "Pc", "Ps", "Pe", "Pi", "Pf", "Lm", "Sm", "Sc", "Sk",
                                 "So"]).filter(_is_mark)
space = st.characters(categories=["Zs"])


@st.composite
def separators(draw, soft: bool = False) -> str:
    """What joins two digits of one run: nothing, up to three marks, spaces, or a mark with
    spaces at both ends; invisible characters anywhere in it. `soft`: punctuation written
    against one number (one or two marks, a space on one side), which joins groups of four."""
    if soft:
        marks = draw(st.text(mark, min_size=1, max_size=2))
        core = marks + draw(space) if draw(st.booleans()) else draw(space) + marks
    else:
        core = draw(st.one_of(
            st.just(""),
            st.text(mark, min_size=1, max_size=3),
            st.text(space, min_size=1, max_size=4),
            st.tuples(st.text(space, min_size=1, max_size=2), mark,
                      st.text(space, min_size=1, max_size=2)).map("".join),
        ))
    chars = list(core)
    for ch in draw(st.lists(invisible, max_size=2)):
        chars.insert(draw(st.integers(0, len(chars))), ch)
    return "".join(chars)


# A decimal digit of any script: its zero, by category Nd (every Nd script has its 0-9 in a row).
script_zero = st.characters(categories=["Nd"]).map(lambda d: ord(d) - unicodedata.digit(d))


@st.composite
def in_scripts(draw, digits: str) -> str:
    """The digits, each written in a script drawn for it (ASCII, full-width, Arabic-Indic, ...)."""
    return "".join(chr(draw(script_zero) + int(d)) for d in digits)


@st.composite
def typed(draw, digits: str) -> str:
    """The digits cut into groups joined by drawn separators, each digit in a drawn script."""
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=len(digits) - 1), max_size=6)))
    parts = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    return draw(in_scripts(parts[0])) + "".join(draw(separators()) + draw(in_scripts(p))
                                                for p in parts[1:])


# --- an agent's ordinary notes --------------------------------------------------------------------


def realistic_notes(count: int, seed: int = 20261126) -> list[str]:
    """Notes as agents write them: phones, dates, RA numbers, amounts, order and model numbers
    side by side, between words or after a comma, a semicolon or a full stop."""
    rng = random.Random(seed)

    def d(n: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(n))

    def phone() -> str:
        return rng.choice([f"{d(3)}-{d(4)}", f"({d(3)}) {d(3)}-{d(4)}", f"+1 {d(3)} {d(3)} {d(4)}",
                           f"1-800-{d(3)}-{d(4)}", f"{d(3)}.{d(3)}.{d(4)}",
                           f"+1 ({d(3)}) {d(3)}-{d(4)}", f"{d(3)}-{d(3)}-{d(4)} ext {d(3)}"])

    def day() -> str:
        y, m, dd = rng.randint(2020, 2030), rng.randint(1, 12), rng.randint(1, 28)
        return rng.choice([f"{y}-{m:02d}-{dd:02d}", f"{m}/{dd}/{y}", f"{m:02d}/{dd:02d}/{y}",
                           f"Nov {dd} {y}", f"{m}/{dd}"])

    def amount() -> str:
        whole = rng.randint(0, 250_000)
        return rng.choice([f"${whole:,}.{d(2)}", f"${whole}", f"{whole}.{d(2)}",
                           f"USD {whole:,}.{d(2)}"])

    def other() -> str:
        return rng.choice([f"RA-{d(6)}", f"SO-{d(6)}", f"PO {d(10)}",
                           f"invoice {rng.randint(2020, 2030)}-{d(6)}", f"TT-{d(8)}-{d(4)}",
                           f"CAM-{d(1)}K{d(1)}", f"O{d(1)}B{d(1)}", f"NVR-{d(2)}CH-{d(1)}TB",
                           f"{d(1)} units", f"{rng.randint(1, 12)}:{d(1)}0", f"SN-{d(8)}",
                           f"case {d(7)}", f"{d(2)}%"])

    words = ["call", "called", "on", "re", "paid", "for", "and", "then", "left voicemail at",
             "customer says", "ordered", "model", "per", "ref", "see", "shipped", "refund of",
             "back on", "by", "cust reached at", "ok"]
    joins = [", ", "; ", ". ", " - then ", ": see "]
    notes = []
    for _ in range(count):
        items = [rng.choice([phone, day, amount, other, other])() for _ in range(rng.randint(2, 6))]
        text = rng.choice(words) + " " + items[0]
        for item in items[1:]:
            text += rng.choice([f" {rng.choice(words)} ", rng.choice(joins),
                                f"{rng.choice(joins)}{rng.choice(words)} "]) + item
        notes.append(text)
    return notes
