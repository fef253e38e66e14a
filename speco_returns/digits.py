"""How text is read for digits (SPEC §6): the one reading that the card-number check
(domain.cards.contains_card_number), the long-number checks and the message guard
(errors.hide_long_numbers) share.

Each character is NFKC-normalised (full-width and mathematical digits become ASCII) and
then is one of:
  DIGIT    any digit of any script, by its value (unicodedata.digit: Arabic-Indic,
           Devanagari, circled ...);
  LETTER   a letter of a word: Lu, Ll, Lt, Lo. A modifier letter (Lm) is not one: the
           long-vowel mark ー that a Japanese keyboard types for a dash, the tatweel, the
           modifier apostrophe and macron are marks;
  SPACE    whitespace (Zs, tabs, line breaks, U+2028/U+2029);
  NOTHING  what draws nothing: format characters (Cf: zero-width spaces and joiners, bidi
           marks, the soft hyphen), combining marks (Mn, Me), other controls, and the
           letters Unicode names FILLER (the Hangul fillers);
  MARK     anything else (punctuation, symbols, modifier letters).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator

DIGIT, LETTER, SPACE, MARK, NOTHING = "digit", "letter", "space", "mark", "nothing"
_WORD_LETTERS = frozenset(("Lu", "Ll", "Lt", "Lo"))
_INVISIBLE = frozenset(("Cf", "Mn", "Me", "Cc"))


def read(text: str) -> Iterator[tuple[int, str, int]]:
    """(index in `text`, kind, digit value or 0): one kind for each character of `text`, read
    in its NFKC form; a character whose form holds digits gives each of them (`⑩` is two
    digits, `⒈` a digit and a mark)."""
    for i, ch in enumerate(text):
        if ch.isascii():
            if "0" <= ch <= "9":
                yield i, DIGIT, ord(ch) - 48
            else:
                yield i, (LETTER if ch.isalpha() else SPACE if ch.isspace()
                          else MARK if ch.isprintable() else NOTHING), 0
            continue
        for kind, value in _read_one(ch):
            yield i, kind, value


@functools.lru_cache(maxsize=4096)  # text repeats its characters: each is looked up once
def _read_one(ch: str) -> tuple[tuple[str, int], ...]:
    form = unicodedata.normalize("NFKC", ch)
    values = [unicodedata.digit(c, None) for c in form]
    if any(v is not None for v in values):
        return tuple((DIGIT, value) if value is not None else (_kind(c, False), 0)
                     for c, value in zip(form, values, strict=True))
    return ((_kind(form, unicodedata.category(ch) == "Lm"), 0),)


def _kind(form: str, modifier: bool) -> str:
    """The kind of a character that is no digit, from its NFKC form (one character or more)."""
    categories = [unicodedata.category(c) for c in form]
    if not modifier and any(c in _WORD_LETTERS and "FILLER" not in unicodedata.name(f, "")
                            for c, f in zip(categories, form, strict=True)):
        return LETTER
    if form.isspace():
        return SPACE
    if all(c in _INVISIBLE or "FILLER" in unicodedata.name(f, "")
           for c, f in zip(categories, form, strict=True)):
        return NOTHING
    return MARK


def long_numbers(text: str, length: int) -> list[tuple[int, int]]:
    """(start, end) in `text` of each stretch from a digit to a digit holding `length` or
    more digits and no letter of a word, whatever else lies between them."""
    found: list[tuple[int, int]] = []
    if text.isascii() and sum(map(text.count, "0123456789")) < length:  # most messages: at C speed
        return found
    first = last = count = 0
    for i, kind, _ in read(text):
        if kind == DIGIT:
            if count == 0:
                first = i
            count, last = count + 1, i
        elif kind == LETTER:
            if count >= length:
                found.append((first, last + 1))
            count = 0
    if count >= length:
        found.append((first, last + 1))
    return found
