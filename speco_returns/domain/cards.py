"""Payment card numbers, found by their digits (SPEC §6): the one detector every text field
and the shell's history use."""

from __future__ import annotations

from .. import digits

# --- payment card numbers (SPEC §6) ----------------------------------------------------
#
# Read by the digits (digits.py: every digit of any script; invisible characters separate
# nothing; a modifier letter such as ー is a mark, not a letter of a word):
#  - What lies between two digits joins them into one run when it is short (at most
#    MAX_JOIN characters once invisible ones are dropped and a run of spaces counts as one),
#    holds no letter of a word, and has either no space (`-`, `.`, `/`, `ー`, `ʼ`) or a space
#    at both ends (` `, ` - `).
#  - Punctuation written against one number (`, `, `; `, `) `, ` (`, ` $`: how lists and
#    sentences are typed) joins two runs only when both are groups of four digits (the last
#    may be shorter), the way a card is read out (`4111 1111 1111, 1111`, `3782 8224 6310,
#    005`; an invisible character between two digits
#    ends a group as a space would: `4111 1111<ZWSP>1111, 1111` is one run); a word or a
#    longer gap always ends a run. So
#    "call 555-0100 on 2026-11-26 re RA-000123" and "555-0100, 2026-11-26, $499.98" hold runs
#    of at most 8 digits.
#  - Any window of 13 to 19 consecutive digits of a run that passes the Luhn check is a card
#    number: whole groups or not (a card typed together with its CVV or expiry, a stray
#    digit before it). A bare run (nothing visible between its digits) of more than 19
#    digits may hide one: free text refuses that too (a tracking number goes in --tracking).
# Numbers joined only by a space, a dash, a slash or a dot read as one run, as a card's
# groups do, and so do lists of four-digit numbers: two that together hold a Luhn-valid
# window are refused (separate them with a word). Serials and tracking numbers are exempt:
# they never come here.

MAX_BARE_DIGITS = 19
MAX_JOIN = 3
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit's Luhn weight when it is doubled


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = ord(ch) - 48
        total += _DOUBLED[d] if i % 2 else d
    return total % 10 == 0


def _joins(gap: list[str]) -> bool:
    """Whether what lies between two digits joins them into one run (the rule above)."""
    return len(gap) <= MAX_JOIN and (digits.SPACE not in gap
                                     or (gap[0] == digits.SPACE and gap[-1] == digits.SPACE))


def _read_in_fours(before: list[int], after: list[int]) -> bool:
    """Groups a card read out in fours: every one of four digits, but the card's last, which
    is shorter when its length is no multiple of four (`3782 8224 6310, 005`)."""
    return all(size == 4 for size in (*before, *after[:-1])) and 1 <= after[-1] <= 4


def digit_runs(text: str) -> tuple[list[list[int]], int]:
    """The runs of digits in `text` (the rule above), and the length of its longest bare run."""
    # First the runs joined by short gaps, each with its groups' sizes and whether what ends
    # it is short punctuation (it may join the next), then those joined in fours.
    parts: list[tuple[list[int], list[int], bool]] = []
    gap: list[str] = []  # what lies since the last digit: SPACE and MARK, invisibles dropped
    broken = True  # a letter since the last digit
    unseen = False  # an invisible character since the last digit: it ends a group, joins the run
    bare = longest = 0
    for _, kind, value in digits.read(text):
        if kind == digits.DIGIT:
            if not broken and not gap and not unseen:
                parts[-1][1][-1] += 1
            elif not broken and _joins(gap):
                parts[-1][1].append(1)
            else:
                if parts and not broken:
                    parts[-1] = (parts[-1][0], parts[-1][1], len(gap) <= MAX_JOIN)
                parts.append(([], [1], False))
            parts[-1][0].append(value)
            bare = 1 if gap else bare + 1
            longest = max(longest, bare)
            gap, broken, unseen = [], False, False
        elif kind == digits.LETTER:
            gap, broken, bare = [], True, 0
        elif kind == digits.NOTHING:
            unseen = True
        elif kind == digits.MARK or (kind == digits.SPACE and gap[-1:] != [digits.SPACE]):
            gap.append(kind)
    runs: list[list[int]] = []
    for i, (run, groups, _) in enumerate(parts):
        before = parts[i - 1] if i else None
        if before is not None and before[2] and _read_in_fours(before[1], groups):
            runs[-1].extend(run)
        else:
            runs.append(list(run))
    return runs, longest


def _luhn_window(run: list[int]) -> bool:
    """Any window of 13-19 consecutive digits of `run` passing the Luhn check. Prefix sums
    weigh each digit as it counts in a window whose last digit has even (or odd) index."""
    n = len(run)
    if n < 13:
        return False
    even, odd = [0] * (n + 1), [0] * (n + 1)
    for k, d in enumerate(run):
        plain, doubled = (d, _DOUBLED[d]) if k % 2 == 0 else (_DOUBLED[d], d)
        even[k + 1], odd[k + 1] = even[k] + plain, odd[k] + doubled
    for end in range(13, n + 1):  # the window run[start:end]
        sums = even if (end - 1) % 2 == 0 else odd
        if any((sums[end] - sums[start]) % 10 == 0 for start in range(max(0, end - 19), end - 12)):
            return True
    return False


def contains_card_number(text: str) -> bool:
    """A window of 13-19 consecutive digits of one run (the rule above) passing the Luhn check."""
    return any(_luhn_window(run) for run in digit_runs(text)[0])


def has_long_number(text: str) -> bool:
    """13 or more digits with no letter of a word between them, whatever else separates
    them: never echoed in a message."""
    return bool(digits.long_numbers(text, 13))


def card_problem(label: str, text: str) -> str | None:
    """Why free text may not be stored (a bare run that may hide a card number, or a card
    number), or None."""
    if digit_runs(text)[1] > MAX_BARE_DIGITS:
        return (f"{label} holds a number of more than {MAX_BARE_DIGITS} digits, "
                "which may hide a card number: a tracking number goes in --tracking")
    if contains_card_number(text):
        return (f"{label} looks like it holds a payment card number; "
                "card numbers are never stored: remove it "
                "(other numbers that happen to pass the card check: separate them with words)")
    return None
