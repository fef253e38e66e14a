"""Fill a speco-returns database with a realistic, deterministic mix of returns.

    python benchmarks/generate.py --returns 1000000 --db benchmarks/data/returns-1000000.db [--overdue 12]

The database is opened with `speco_returns.db.database.open_database`, so the project's own migrations
create the schema; the rows then go straight into the tables (catalog, returns, items,
serials, events, ledger) with executemany in large transactions, shaped like the rows
the tool's own use cases (services/returns.py) write. Everything is derived from
a seeded random generator and a fixed as-of date, so the same arguments give the same
database.

The mix (as of --as-of, default 2026-11-26):
- types: about 40% advanced replacements, 35% standard, 15% counter, 10% virtual;
- about 1.2 items, 1.5 serials and 5 history entries per return, 200 catalog models;
- most returns long closed (opened over the six years before as-of, at least 100 days ago);
- an open set around as-of: K overdue advanced replacements (`--overdue K`, default 3% of
  the advanced ones), and in proportion to K: due soon, delivery unknown, return stalled,
  in progress, late returns, and open returns of the other types. Giving the same K to a
  1k and a 1M database gives both the same open set: they differ only in closed history,
  which is what the overdue scale benchmark compares.

The file is written beside the target and renamed into place when complete; a JSON
sidecar (`PATH.meta.json`) records the arguments and counts, so run.py can reuse it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

GENERATOR_VERSION = 9  # 2: the signed ledger, refunds and reviews of migration m008; 3: --open-share; 4: hash chains and digests (m010);
# 5: serials.held (m012) and returns.customer_key (m013); 6: the notices already sent before as-of (notices table and
# `notice` events), so notify finds only what falls due on as-of, as on a live database; 7: the catalog's digest (m014);
# 8: list --search's trigram index (m019_search_anywhere), filled by its triggers as the rows load
# 9: fault and finding codes (m020_fault_finding_codes; the columns only: their events' details are left as before)
AS_OF = date(2026, 11, 26)
# The columns each row tuple below fills, by name: a column a later migration adds never shifts them.
RETURN_COLUMNS = ("id", "type", "status", "customer", "email", "phone", "ticket", "distributor", "approved_by", "reason",
                  "hold_amount_cents", "hold_ref", "hold_expires", "hold_active", "opened_on", "opened_at", "opened_by",
                  "last_event_on", "shipped_on", "delivered_on", "due_on", "unit_shipped_on", "received_on", "charged_on",
                  "closed_on", "ra_no", "customer_key", "fault", "finding", "finding_on")
# Fault and finding codes (m020) with the shares a support team might see; drawn from a random
# stream of their own, so every other column is what version 8 generated.
FAULT_SHARES = (("no-video", 0.24), ("no-power", 0.16), ("ir-night", 0.12), ("network", 0.18), ("ptz-motion", 0.05),
                ("recording", 0.10), ("physical-damage", 0.06), ("other", 0.09))
FINDING_SHARES = (("hardware-fault", 0.52), ("no-fault-found", 0.22), ("configuration", 0.14),
                  ("physical-damage", 0.07), ("missing-parts", 0.05))
ITEM_COLUMNS = ("id", "return_id", "model", "description", "category", "qty", "list_price_cents")
SERIAL_COLUMNS = ("id", "return_id", "item_id", "serial", "held")
NOTICE_COLUMNS = ("return_id", "kind", "days", "about_on", "state", "message_id", "claimed_by", "claimed_at", "attempts",
                  "sent_at")
EVENT_COLUMNS = ("return_id", "event", "happened_on", "recorded_at", "agent", "status", "detail")
NOTIFY_AGENT = "notify"  # who the nightly job's `notice` events name
NOTICE_DOMAIN = "speco.example"  # the Message-IDs' domain (run.py sends from returns@speco.example)
HISTORY_DAYS = 6 * 365  # closed returns were opened over the six years before as-of
CLOSED_BEFORE = 100  # closed returns were opened at least this many days before as-of
BATCH = 25_000  # returns per transaction

# The open set, per overdue return (K). The shares below give about 10% of all returns
# open when K is the default 3% of the advanced returns.
OPEN_PER_K = {
    "due_soon": 1.0,
    "delivery_unknown": 0.3,
    "stalled": 0.2,
    "adv_in_progress": 2.0,
    "late_return": 0.1,
    "other_open": 4.0,
}
TYPE_SHARES = (("advanced", 0.40), ("standard", 0.35), ("counter", 0.15), ("virtual", 0.10))

FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
         "Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra "
         "Mark Ashley Donald Kimberly Steven Emily Andrew Donna Paul Michelle Joshua Carol Kenneth Amanda Kevin "
         "Melissa Brian Deborah George Stephanie Timothy Rebecca Ronald Sharon Jason Laura Edward Cynthia Jeffrey "
         "Amy Ryan Kathleen Jacob Angela Gary Shirley Nicholas Brenda Eric Emma Jonathan Anna Stephen Pamela "
         "Larry Nicole Justin Samantha Scott Katherine Brandon Christine Benjamin Helen Samuel Debra Gregory "
         "Rachel Alexander Carolyn Patrick Janet Frank Maria Raymond Olivia Jack Heather Dennis Diane Jerry Julie "
         "Tyler Joyce Aaron Victoria Jose Ruth Adam Virginia Nathan Lauren Henry Kelly Zachary Christina Douglas "
         "Joan Peter Evelyn Kyle Judith Noah Andrea Ethan Hannah Jeremy Megan Walter Cheryl Christian Jacqueline "
         "Keith Martha Roger Madison Terry Teresa Austin Gloria Sean Sara Gerald Janice Carl Ann Harold Kathryn "
         "Dylan Abigail Arthur Sophia Lawrence Frances Jordan Jean Jesse Alice Bryan Judy Billy Isabella Bruce "
         "Julia Gabriel Grace Joe Amber Logan Denise Alan Danielle Juan Marilyn Albert Beverly Willie Charlotte "
         "Elijah Natalie Wayne Theresa Randy Diana Vincent Brittany Mason Doris Roy Kayla Ralph Alexis Bobby Lori").split()
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
        "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
        "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
        "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz "
        "Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson "
        "Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
        "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins "
        "Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero "
        "Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant "
        "Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez "
        "McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford "
        "Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer "
        "Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels").split()
COMPANY = ("Security Systems", "Integrators", "Alarm Co.", "Surveillance LLC", "Electric", "Low Voltage Inc.",
           "Video Solutions", "Protection Services", "Technologies", "Communications")
# A few real-world names a spreadsheet would run as a formula (the exports defuse them).
ODD_CUSTOMERS = ("@Home Security", "-Dash Integrators", "+1 Alarm", "=Equal Access Video")
DISTRIBUTORS = ("ADI Global", "Anixter", "Wesco", "SS&D", "Tri-Ed", "Northern Video", "Wholesale Security",
                "Jenne", "ScanSource", "Capitol Sales")
SUPERVISORS = ("K. Alvarez", "M. Chen", "D. Okafor", "S. Patel", "R. Lindqvist")
VIRTUAL_REASONS = ("long-time dealer; unit failed in the field", "site is remote, shipping back costs more than the camera",
                   "unit destroyed in install (lightning)", "repeat failure on the same model", "goodwill for a large project")
CANCEL_REASONS = ("customer fixed it with a firmware update", "duplicate RA", "customer bought a new unit",
                  "wrong model, reopened under a new RA", "customer never sent the unit")
NOTES = ("customer called for status", "left voicemail", "emailed the shipping label", "customer asked about the hold amount",
         "tech confirmed the unit is defective (no video)", "firmware 5.1 did not help", "customer will ship Monday",
         "spoke to the installer on site", "address confirmed", "RMA label re-sent")

# name prefix, category, count, list price range in dollars
CATALOG = (
    ("O", "camera", 100, (89, 899)),
    ("ZIP", "ptz", 30, (800, 3500)),
    ("SP", "specialty", 20, (400, 2400)),
    ("N", "recorder", 30, (300, 5000)),
    ("ACC", "other", 20, (19, 299)),
)


def build_catalog(rng: random.Random) -> list[tuple]:
    rows = []
    for prefix, category, count, (low, high) in CATALOG:
        for n in range(count):
            model = f"{prefix}{n + 1:02d}{'PTVWE'[n % 5]}{(n * 7) % 10}"
            dollars = rng.randint(low, high)
            cents = dollars * 100 + rng.choice((0, 0, 0, 99, 95, 50))
            rows.append((model, f"{category} model {model}", category, cents))
    return rows


class Days:
    """ISO strings for day offsets from as-of (0 = as-of, -1 = the day before), looked up, not formatted."""

    def __init__(self, as_of: date, back: int, forward: int):
        self.back = back
        self.iso = [(as_of + timedelta(days=d)).isoformat() for d in range(-back, forward + 1)]
        self.stamp = [f"{s}T{15 + (i % 7):02d}:{(i * 13) % 60:02d}:{(i * 29) % 60:02d}+00:00" for i, s in enumerate(self.iso)]

    def __getitem__(self, offset: int) -> str:
        return self.iso[offset + self.back]

    def stamp_of(self, offset: int) -> str:
        return self.stamp[offset + self.back]


class Generator:
    def __init__(self, n: int, overdue: int | None, seed: int, as_of: date, open_share: float | None = None):
        self.open_share = open_share
        self.n = n
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.days = Days(as_of, HISTORY_DAYS + 400, 400)
        rng = self.rng
        self.catalog = build_catalog(rng)
        self.models = [(m, d, c, p) for m, d, c, p in self.catalog]
        self.cameras = [p for p in self.models if p[2] == "camera"]
        self.agents = [f"{first.lower()}.{last.lower()}" for first, last in zip(FIRST[:40], LAST[::-1][:40], strict=True)]
        self.plan = self._plan(n, overdue)
        size = max(50, min(n // 3, 300_000))
        self.customers = [self._customer(i) for i in range(size)]
        self.serial_no = 0

    # --- the plan: how many returns in each (type, fate) ---------------------------------

    def _plan(self, n: int, overdue: int | None) -> list[tuple[str, str, int]]:
        n_adv = round(n * 0.40)
        k = round(n_adv * 0.03) if overdue is None else overdue
        if k < 0 or k > n:
            raise SystemExit(f"--overdue {k} must be between 0 and --returns {n}")
        opened = {name: round(k * share) for name, share in OPEN_PER_K.items()}
        if k:
            opened["delivery_unknown"] = max(1, opened["delivery_unknown"])
            opened["stalled"] = max(1, opened["stalled"])
        room = n - k
        if self.open_share is not None:
            # A realistic open share (issue 16: about 10%): the rest of the open set is returns of
            # the other types in progress. The advanced open set still follows K alone, so the
            # overdue scale ratio compares the same advanced open set at both sizes.
            opened["other_open"] = max(opened["other_open"], round(n * self.open_share) - k - sum(opened.values()))
        total = sum(opened.values())
        if total > room:  # a small database with a large K: shrink the rest of the open set
            scale = room / total
            opened = {name: int(c * scale) for name, c in opened.items()}
        self.k = k
        self.open_counts = {"overdue": k, **opened}
        open_adv = k + opened["due_soon"] + opened["delivery_unknown"] + opened["stalled"] \
            + opened["adv_in_progress"] + opened["late_return"]
        closed = n - open_adv - opened["other_open"]
        closed_adv = max(0, min(closed, n_adv - open_adv))
        rest = closed - closed_adv
        others = (("standard", 0.35), ("counter", 0.15), ("virtual", 0.10))
        weight = sum(w for _, w in others)
        closed_by_type = {t: int(rest * w / weight) for t, w in others}
        closed_by_type["standard"] += rest - sum(closed_by_type.values())
        plan = [("advanced", "closed", closed_adv)]
        plan += [(t, "closed", c) for t, c in closed_by_type.items()]
        plan += [("advanced", "overdue", k), ("advanced", "due_soon", opened["due_soon"]),
                 ("advanced", "delivery_unknown", opened["delivery_unknown"]), ("advanced", "stalled", opened["stalled"]),
                 ("advanced", "in_progress", opened["adv_in_progress"]), ("advanced", "late_return", opened["late_return"]),
                 ("other", "open", opened["other_open"])]
        return plan

    def fates(self):
        """(type, fate) for every return in id order: closed ones oldest first, the open set last."""
        rng = self.rng
        closed = [(t, c) for t, fate, c in self.plan if fate == "closed"]
        bag = [t for t, c in closed for _ in range(c)]
        rng.shuffle(bag)
        # closed returns are opened in id order over the history window
        span = HISTORY_DAYS - CLOSED_BEFORE
        for i, t in enumerate(bag):
            yield t, "closed", -HISTORY_DAYS + (i * span) // max(1, len(bag))
        open_set = [(t, fate) for t, fate, c in self.plan if fate != "closed" for _ in range(c)]
        rng.shuffle(open_set)
        for t, fate in open_set:
            yield t, fate, None

    # --- people ----------------------------------------------------------------------------

    def _customer(self, i: int) -> tuple[str, str | None, str | None]:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if i % 997 == 13:
            name = ODD_CUSTOMERS[i % len(ODD_CUSTOMERS)]
        elif rng.random() < 0.55:
            name = f"{last} {rng.choice(COMPANY)}"
        else:
            name = f"{first} {last}"
        email = f"{first.lower()}.{last.lower()}{i}@example.com" if rng.random() < 0.8 else None
        phone = f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}" if rng.random() < 0.7 else None
        return name, email, phone

    def serial(self, model: str) -> str:
        self.serial_no += 1
        # unique (7919 is prime to 10**9), in no particular order, prefixed like the model
        return f"{model[:2]}{(self.serial_no * 7919) % 1_000_000_000:09d}"

    # --- one return -----------------------------------------------------------------------

    def items_for(self, type_: str) -> list[tuple]:
        """[(model, description, category, qty, list_price_cents)]"""
        rng = self.rng
        r = rng.random()
        count = 1 if r < 0.83 else 2 if r < 0.98 else 3
        out, seen = [], set()
        units_left = 3
        for _ in range(count):
            if type_ == "virtual":
                m, d, c, p = rng.choice(self.cameras)
            elif type_ in ("standard", "counter") and rng.random() < 0.02:
                m, d, c, p = f"LEGACY-{rng.randint(100, 999)}", None, None, None  # not in the catalog
            else:
                m, d, c, p = rng.choice(self.models)
            if m in seen:
                continue
            seen.add(m)
            q = rng.random()
            qty = 1 if q < 0.73 else 2 if q < 0.93 else 3
            if type_ == "virtual":
                qty = min(qty, units_left)
                units_left -= qty
                if qty <= 0:
                    break
            out.append((m, d, c, qty, p))
        return out


def _choice_w(rng: random.Random, pairs):
    r, acc = rng.random(), 0.0
    for value, w in pairs:
        acc += w
        if r < acc:
            return value
    return pairs[-1][0]


def sent_notices(type_: str, status_of, clock_of, opened: int, as_of: date, key: str) -> list[tuple[int, object]]:
    """[(day offset, Notice)]: the notices a nightly `notify` sent this open return before as-of,
    each on the first day it fell due, found by asking the product's own `notices.due` for
    every past day (each identity is sent once). `status_of(d)` and `clock_of(d)` give the
    return's status and clock as of day offset d. Returns other than advanced replacements
    only ever get `opened`, due within EVENT_NOTICE_DAYS of the opening: only those days
    are asked. Those due on as-of itself are left for the benchmark's notify run."""
    from speco_returns.domain import notices

    last = -1 if type_ == "advanced" else min(-1, opened + notices.EVENT_NOTICE_DAYS)
    sent: dict = {}
    for d in range(opened, last + 1):
        facts = notices.ReturnFacts(key=key, type=type_, status=status_of(d), customer="", email=None, phone=None,
                                    opened_on=as_of + timedelta(days=opened), items=(), clock=clock_of(d))
        for n in notices.due(facts, as_of + timedelta(days=d)):
            sent.setdefault(n, d)
    return sorted(((d, n) for n, d in sent.items()), key=lambda dn: dn[0])


def generate(path: Path, n: int, overdue: int | None, seed: int, as_of: date, quiet: bool = False,
             open_share: float | None = None) -> dict:
    from speco_returns.db.database import open_database as Store
    from speco_returns.domain.keys import customer_key
    from speco_returns.domain.keys import ra_text as ra_number
    from speco_returns.domain.lifecycle import LEDGER_SIGNS, clock_from_events, holds_serials, is_open

    started = time.perf_counter()
    g = Generator(n, overdue, seed, as_of, open_share)
    rng, days = g.rng, g.days
    tmp = path.with_name(path.name + ".tmp")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    store = Store(tmp)  # the project's migrations make the schema
    conn = store.raw
    conn.execute("PRAGMA foreign_keys = OFF")  # ids are consistent by construction
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")  # 400 MB while loading

    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO catalog (model, description, category, list_price_cents, updated_at) VALUES (?, ?, ?, ?, ?)",
        [(m, d, c, p, days.stamp_of(-HISTORY_DAYS - 30)) for m, d, c, p in g.catalog],
    )
    from speco_returns.db.chain import record_catalog

    record_catalog(store)  # m014: the catalog's digest, as `catalog import` keeps it
    conn.execute("COMMIT")

    returns, items, serials, events, ledger, reviews, sent = [], [], [], [], [], [], []
    counts = {"returns": 0, "items": 0, "serials": 0, "events": 0, "ledger": 0, "reviews": 0, "notices": 0}
    by_status: dict[str, int] = {}
    agents, customers = g.agents, g.customers
    ids = {"item": 0, "serial": 0}
    keys: dict[str, str] = {}  # customer -> customer_key, computed once per name
    code_rng = random.Random(seed + 16)

    def flush():
        conn.execute("BEGIN")
        for table, columns, rows in (("returns", RETURN_COLUMNS, returns), ("items", ITEM_COLUMNS, items),
                                     ("serials", SERIAL_COLUMNS, serials)):
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
        for table, columns, rows in (("events", EVENT_COLUMNS, events), ("notices", NOTICE_COLUMNS, sent)):
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)
        conn.executemany("INSERT INTO ledger (return_id, happened_on, event, amount_cents, hold_ref, agent, recorded_at, "
                         "holds_change, charges_change, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ledger)
        conn.executemany("INSERT INTO reviews (return_id, happened_on, amount_cents, hold_ref, agent, recorded_at, "
                         "decided_on, decision) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", reviews)
        conn.execute("COMMIT")
        counts["returns"] += len(returns)
        counts["items"] += len(items)
        counts["serials"] += len(serials)
        counts["events"] += len(events)
        counts["ledger"] += len(ledger)
        counts["reviews"] += len(reviews)
        counts["notices"] += len(sent)
        for lst in (returns, items, serials, events, ledger, reviews, sent):
            lst.clear()

    def add_return(rid: int, type_: str, fate: str, opened: int | None) -> None:
        """One return: its row, items, serials, history and ledger, appended to the batch."""
        if type_ == "other":
            type_ = _choice_w(rng, (("standard", 0.55), ("counter", 0.30), ("virtual", 0.15)))
        customer, email, phone = customers[rng.randrange(len(customers))]
        agent = agents[rng.randrange(len(agents))]
        lines = g.items_for(type_)
        hold = sum(p * q for _, _, _, q, p in lines) if type_ == "advanced" else None
        # serials: one per unit for advanced, virtual and standard; most counter returns
        want_serials = type_ != "counter" or rng.random() < 0.8
        mine = len(serials)  # this return's serials start here; their SER-1 flag follows its final state
        for m, d, c, q, p in lines:
            ids["item"] += 1
            items.append((ids["item"], rid, m, d, c, q, p))
            if want_serials:
                for _ in range(q):
                    ids["serial"] += 1
                    serials.append((ids["serial"], rid, ids["item"], g.serial(m)))

        # the timeline: a list of (offset, event, status, detail)
        ev: list[tuple[int, str, str, str | None]] = []
        col = {"shipped_on": None, "delivered_on": None, "unit_shipped_on": None, "received_on": None,
               "charged_on": None, "closed_on": None}
        hold_ref = hold_expires = None
        hold_active = 0
        ledger_rows: list[tuple] = []  # (offset, event, ref[, amount, reason])
        review = None  # [offset, ref, decided offset, decision] for a late return

        def note_at(day):
            if rng.random() < 0.5:
                ev.append((day, "note", None, json.dumps({"note": NOTES[rng.randrange(len(NOTES))]})))

        def do_hold(day):
            nonlocal hold_ref, hold_expires, hold_active
            if hold_active:
                ledger_rows.append((day, "hold-released", hold_ref))
            hold_ref = f"AUTH-{rng.getrandbits(32):08X}"
            r = rng.random()
            hold_expires = days[day + 7] if r < 0.4 else days[day + 30] if r < 0.8 else None
            hold_active = 1
            ledger_rows.append((day, "hold-authorized", hold_ref))
            detail = {"ref": hold_ref}
            if hold_expires:
                detail["expires"] = hold_expires
            return json.dumps(detail, sort_keys=True)

        def tracking():
            return json.dumps({"tracking": f"1Z{rng.getrandbits(60):015X}"})

        if type_ == "advanced":
            if fate == "closed":
                o = opened
                end = _choice_w(rng, (("completed", 0.85), ("charged", 0.035), ("late", 0.015), ("cancelled", 0.10)))
            elif fate == "overdue":
                d_ = -33 - rng.randint(0, 45)  # due on or before as-of - 3
                o = d_ - rng.randint(5, 12)
                end = "overdue"
            elif fate == "due_soon":
                d_ = -30 + rng.randint(0, 7)
                o = d_ - rng.randint(5, 12)
                end = "delivered"
            elif fate == "delivery_unknown":
                s_ = -rng.randint(11, 30)
                o = s_ - rng.randint(3, 8)
                end = "shipped"
            elif fate == "stalled":
                u_ = -14 - rng.randint(0, 6)
                d_ = u_ - rng.randint(1, 10)
                o = d_ - rng.randint(5, 12)
                end = "stalled"
            elif fate == "late_return":
                o = -rng.randint(60, 120)
                end = "late-open"
            else:  # in progress
                end = _choice_w(rng, (("authorized", 0.15), ("link-sent", 0.15), ("hold-authorized", 0.15),
                                      ("shipped", 0.15), ("delivered", 0.25), ("in-transit", 0.15)))
                o = (-rng.randint(1, 4) if end in ("authorized", "link-sent", "hold-authorized")
                     else -rng.randint(4, 12) if end == "shipped" else -rng.randint(6, 25))
            ev.append((o, "open", "authorized", None))
            if end == "authorized":
                pass
            elif end == "cancelled" and rng.random() < 0.4:
                ev.append((o + rng.randint(0, 5), "cancel", "cancelled", json.dumps({"reason": rng.choice(CANCEL_REASONS)})))
            else:
                day = o + rng.randint(0, 1)
                ev.append((day, "link", "link-sent", None))
                if end != "link-sent":
                    if end == "cancelled" and rng.random() < 0.5:
                        ev.append((day + rng.randint(1, 9), "cancel", "cancelled", json.dumps({"reason": rng.choice(CANCEL_REASONS)})))
                    else:
                        day += rng.randint(0, 2)
                        if fate != "closed" and end == "hold-authorized":
                            day = min(day, 0)
                        ev.append((day, "hold", "hold-authorized", do_hold(day)))
                        if rng.random() < 0.04 and end not in ("hold-authorized",):  # re-authorized before shipping
                            day += 1
                            ev.append((day, "hold", "hold-authorized", do_hold(day)))
                        if end == "cancelled":
                            day += rng.randint(1, 4)
                            ev.append((day, "cancel", "cancelled", json.dumps({"reason": rng.choice(CANCEL_REASONS)})))
                            ledger_rows.append((day, "hold-released", hold_ref))
                            hold_active = 0
                        elif end != "hold-authorized":
                            # ship, then (maybe) deliver
                            if fate == "delivery_unknown":
                                ship = max(day, s_)
                            elif fate in ("overdue", "due_soon", "stalled"):
                                ship = max(day, d_ - rng.randint(2, 5))
                            elif fate == "in_progress" and end == "shipped":
                                ship = max(day, -rng.randint(1, 9))  # not yet 10 days: not delivery-unknown
                            else:
                                ship = day + rng.randint(0, 2)
                            ev.append((ship, "ship", "replacement-shipped", tracking()))
                            col["shipped_on"] = ship
                            if end != "shipped":
                                if fate in ("overdue", "due_soon", "stalled"):
                                    deliver = d_
                                elif fate == "in_progress":
                                    deliver = min(0, ship + rng.randint(2, 5))
                                else:
                                    deliver = ship + rng.randint(2, 6)
                                ev.append((deliver, "deliver", "replacement-delivered", None))
                                col["delivered_on"] = deliver
                                note_at(deliver + rng.randint(0, 3)) if end != "in-transit" else None
                                if end == "overdue":
                                    if rng.random() < 0.2:  # shipped back, but after the due date
                                        u = min(-1, deliver + 31 + rng.randint(0, 5))
                                        ev.append((u, "unit-shipped", "unit-in-transit", tracking()))
                                        col["unit_shipped_on"] = u
                                elif end == "stalled":
                                    ev.append((u_, "unit-shipped", "unit-in-transit", tracking()))
                                    col["unit_shipped_on"] = u_
                                elif end == "in-transit":
                                    u = min(0, max(deliver + 1, -rng.randint(0, 10)))  # not stalled
                                    ev.append((u, "unit-shipped", "unit-in-transit", tracking()))
                                    col["unit_shipped_on"] = u
                                elif end == "completed":
                                    day = deliver
                                    if rng.random() < 0.8:
                                        day += rng.randint(3, 25)
                                        ev.append((day, "unit-shipped", "unit-in-transit", tracking()))
                                        col["unit_shipped_on"] = day
                                        day += rng.randint(2, 7)
                                    else:
                                        day += rng.randint(5, 28)
                                    ev.append((day, "receive", "completed", None))
                                    col["received_on"] = day
                                    ledger_rows.append((day, "hold-released", hold_ref))
                                    hold_active = 0
                                elif end in ("charged", "late", "late-open"):
                                    day = deliver + 31 + rng.randint(0, 14)
                                    ev.append((day, "charge", "charged", None))
                                    col["charged_on"] = day
                                    ledger_rows.append((day, "charged", hold_ref))
                                    hold_active = 0
                                    if end in ("late", "late-open"):
                                        day = min(-1, day + rng.randint(1, 20))
                                        ev.append((day, "receive", "late-return", None))
                                        col["received_on"] = day
                                        review = [day, hold_ref, None, None]  # a charge in review, not a ledger row
                                        if end == "late":
                                            day += rng.randint(1, 10)
                                            if rng.random() < 0.5:  # refunded less a restocking fee
                                                ref, kept = f"RF-{rng.getrandbits(32):08X}", hold // 10
                                                reason = "supervisor: refund the charge less a restocking fee"
                                                ev.append((day, "refund", "completed", json.dumps(
                                                    {"ref": ref, "amount": f"{(hold - kept) // 100}.{(hold - kept) % 100:02d}",
                                                     "reason": reason}, sort_keys=True)))
                                                ledger_rows.append((day, "refunded", ref, hold - kept, reason))
                                                review[2:] = [day, "refunded"]
                                            else:
                                                ev.append((day, "complete", "completed",
                                                           json.dumps({"note": "supervisor: the charge stands"})))
                                                review[2:] = [day, "charge stands"]
        elif type_ == "standard":
            o = opened if fate == "closed" else -rng.randint(0, 20)
            end = (_choice_w(rng, (("completed", 0.9), ("cancelled", 0.1))) if fate == "closed"
                   else _choice_w(rng, (("authorized", 0.4), ("in-transit", 0.35), ("received", 0.25))))
            ev.append((o, "open", "authorized", None))
            day = o
            if end == "cancelled":
                ev.append((day + rng.randint(1, 20), "cancel", "cancelled", json.dumps({"reason": rng.choice(CANCEL_REASONS)})))
            elif end != "authorized":
                if rng.random() < 0.7 or end == "in-transit":
                    day = min(0, day + rng.randint(1, 10)) if fate != "closed" else day + rng.randint(1, 10)
                    ev.append((day, "unit-shipped", "unit-in-transit", tracking()))
                    col["unit_shipped_on"] = day
                if end != "in-transit":
                    day = min(0, day + rng.randint(2, 8)) if fate != "closed" else day + rng.randint(2, 8)
                    ev.append((day, "receive", "unit-received", None))
                    col["received_on"] = day
                    note_at(day + rng.randint(0, 3)) if fate == "closed" else None
                    if end == "completed":
                        day += rng.randint(3, 15)
                        ev.append((day, "ship", "completed", tracking()))
                        col["shipped_on"] = day
        elif type_ == "counter":
            o = opened if fate == "closed" else -rng.randint(0, 20)
            end = _choice_w(rng, (("completed", 0.92), ("cancelled", 0.08))) if fate == "closed" else "open"
            ev.append((o, "open", "ticket-issued", None))
            if end == "completed":
                note_at(o + rng.randint(1, 5))
                ev.append((o + rng.randint(5, 40), "complete", "completed", None))
            elif end == "cancelled":
                ev.append((o + rng.randint(1, 10), "cancel", "cancelled", json.dumps({"reason": rng.choice(CANCEL_REASONS)})))
        else:  # virtual
            o = opened if fate == "closed" else -rng.randint(0, 5)
            end = _choice_w(rng, (("completed", 0.95), ("cancelled", 0.05))) if fate == "closed" else "open"
            ev.append((o, "open", "authorized", None))
            if end == "completed":
                day = o + rng.randint(0, 3)
                ev.append((day, "ship", "completed", tracking()))
                col["shipped_on"] = day
            elif end == "cancelled":
                ev.append((o + rng.randint(0, 3), "cancel", "cancelled", json.dumps({"reason": rng.choice(CANCEL_REASONS)})))

        # notes agents add along the way (not state changes), and the odd serial fix
        extra = rng.random()
        last_state_day = max(e[0] for e in ev if e[1] != "note")
        if extra < 0.33:
            ev.append((min(0, last_state_day + rng.randint(0, 3)), "note", None, json.dumps({"note": rng.choice(NOTES)})))
        if extra < 0.08:
            ev.append((min(0, last_state_day + rng.randint(0, 6)), "note", None, json.dumps({"note": rng.choice(NOTES)})))
        # nothing has happened after as-of; a stable sort keeps same-day events in their order
        ev = [(min(0, e[0]), *e[1:]) for e in ev]
        ev.sort(key=lambda e: e[0])
        col = {c: None if v is None else min(0, v) for c, v in col.items()}

        status = None
        last_event = o
        mine_events = len(events)
        for day, name, new, detail in ev:
            if name == "note":
                new = status
            else:
                status = new
                last_event = day
            events.append((rid, name, days[day], days.stamp_of(day), agent, new, detail))
        if email and is_open(status):  # what the nightly notify sent it before as-of (it sends none without an address)
            add_notices(rid, type_, o, email, events[mine_events:], ev)
        if status in ("completed", "cancelled", "charged"):
            col["closed_on"] = last_event
        flag = int(holds_serials(status))  # as m012's triggers would set it (they check, and find it right)
        serials[mine:] = [(*row, flag) for row in serials[mine:]]
        delivered = col["delivered_on"]
        for day, name, ref, *more in ledger_rows:
            amount, reason = more or (hold or 0, None)
            holds_sign, charges_sign = LEDGER_SIGNS[name]
            ledger.append((rid, days[min(0, day)], name, amount, ref, agent, days.stamp_of(min(0, day)),
                           holds_sign * amount, charges_sign * amount, reason))
        if review is not None:
            day, ref, decided, decision = review
            reviews.append((rid, days[min(0, day)], hold, ref, agent, days.stamp_of(min(0, day)),
                            None if decided is None else days[min(0, decided)], decision))
        by_status[f"{type_}/{status}"] = by_status.get(f"{type_}/{status}", 0) + 1

        if type_ == "counter":
            ticket, distributor = f"TT{500000 + rid}", DISTRIBUTORS[rng.randrange(len(DISTRIBUTORS))]
        else:
            ticket = distributor = None
        approver = reason = None
        if type_ == "virtual":
            approver, reason = rng.choice(SUPERVISORS), rng.choice(VIRTUAL_REASONS)
        returns.append((
            rid, type_, status, customer, email, phone, ticket, distributor, approver, reason,
            hold, hold_ref, hold_expires, hold_active, days[o], days.stamp_of(o), agent, days[last_event],
            *(None if col[c] is None else days[col[c]] for c in ("shipped_on", "delivered_on")),
            None if delivered is None else days[delivered + 30],
            *(None if col[c] is None else days[col[c]] for c in ("unit_shipped_on", "received_on", "charged_on", "closed_on")),
            None if type_ == "counter" else rid,  # ra_no (m004): the id, as for returns opened before it
            keys.get(customer) or keys.setdefault(customer, customer_key(customer)),  # m013
            None if type_ == "counter" and code_rng.random() < 0.4 else _choice_w(code_rng, FAULT_SHARES),  # m020
            *((_choice_w(code_rng, FINDING_SHARES), days[col["received_on"]]) if col["received_on"] is not None
              else (None, None)),
        ))

    def add_notices(rid: int, type_: str, o: int, email: str, rows: list[tuple], ev: list[tuple]) -> None:
        """Record the notices sent before as-of as `notify` records them: a `sent` row in
        `notices` and a `notice` event on the day it went, after that day's other events."""
        as_dicts = [{"event": r[1], "happened_on": r[2], "detail": r[6]} for r in rows]
        upto = [sum(1 for e in ev if e[0] <= d) for d in range(o, 1)]  # events in force as of each day offset
        key = f"TT{500000 + rid}" if type_ == "counter" else ra_number(rid)
        clocks: dict[int, object] = {}  # by the number of events in force: the clock changes only with them

        def clock_of(d: int):
            k = upto[d - o]
            return clocks.get(k) or clocks.setdefault(k, clock_from_events(as_dicts[:k]))

        done = sent_notices(type_, lambda d: rows[upto[d - o] - 1][5], clock_of, o, g.as_of, key)
        if not done:
            return
        merged = [(e[0], 0, row) for e, row in zip(ev, rows, strict=True)]
        for i, (d, n) in enumerate(done):
            stamp = days.stamp_of(d)
            mid = f"<{stamp[:10].replace('-', '')}.{rid}.{i}.{key}@{NOTICE_DOMAIN}>"
            sent.append((rid, n.kind, n.days, n.about.isoformat(), "sent", mid, "notify:0", stamp, 1, stamp))
            detail = {"kind": n.kind, "about": n.about.isoformat(), "to": email, "message_id": mid, "via": "smtp"}
            if n.kind == "reminder":
                detail["days"] = n.days
            status = rows[upto[d - o] - 1][5]
            merged.append((d, 1, (rid, "notice", days[d], stamp, NOTIFY_AGENT, status, json.dumps(detail, sort_keys=True))))
        merged.sort(key=lambda m: m[:2])
        events[len(events) - len(rows):] = [m[2] for m in merged]

    for rid, (type_, fate, opened) in enumerate(g.fates(), 1):
        add_return(rid, type_, fate, opened)
        if len(returns) >= BATCH:
            flush()
            if not quiet and rid % 200_000 < BATCH:
                print(f"  {rid:,} returns ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    flush()
    from speco_returns.db import chain

    conn.execute("BEGIN")
    chain.rebuild(store)  # the rows went in straight: chain them as the tool's own writes are
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")  # what the tool uses
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    os.replace(tmp, path)
    seconds = time.perf_counter() - started
    meta = {
        "generator_version": GENERATOR_VERSION, "returns": n, "overdue": g.k, "seed": seed, "open_share": open_share,
        "open_returns": sum(g.open_counts.values()),
        "as_of": as_of.isoformat(), "seconds": round(seconds, 1), "counts": counts,
        "open_set": g.open_counts, "by_type_status": dict(sorted(by_status.items())),
        "per_return": {k: round(counts[k] / max(1, n), 2) for k in ("items", "serials", "events", "ledger", "reviews", "notices")},
        "bytes": path.stat().st_size,
    }
    Path(str(path) + ".meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--returns", type=int, required=True, help="how many returns")
    ap.add_argument("--db", type=Path, required=True, help="the database file to write (replaced if it exists)")
    ap.add_argument("--overdue", type=int, default=None,
                    help="overdue advanced replacements (default 3%% of the advanced ones); the rest of the open set follows it")
    ap.add_argument("--open-share", type=float, default=None,
                    help="fill the open set up to this share of all returns with open returns of the other types (e.g. 0.10)")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--as-of", default=AS_OF.isoformat(), help="the day the data is as of (default %(default)s)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.returns < 1:
        ap.error("--returns must be at least 1")
    args.db.parent.mkdir(parents=True, exist_ok=True)
    meta = generate(args.db, args.returns, args.overdue, args.seed, date.fromisoformat(args.as_of), args.quiet,
                    args.open_share)
    if not args.quiet:
        print(f"{args.db}: {meta['returns']:,} returns, {meta['overdue']} overdue, "
              f"per return {meta['per_return']}, {meta['bytes'] / 1e6:.0f} MB in {meta['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
