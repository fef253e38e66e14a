"""Pure tests of Speco's return policy (SPEC §2-§3, the article in shared/source).

One test (or a small parametrized group) per rule ID, named after it. Nothing here touches
a database or the clock: policy.py is a pure core and is tested as one.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from speco_returns.domain import clock as domain_clock
from speco_returns.domain import inputs, lifecycle, types, wording
from speco_returns.domain import rules as rules_rules
from speco_returns.domain.rules import Facts, Product, Request
from speco_returns.errors import ReturnsError, Violation

# --- a small catalog ------------------------------------------------------------------

CATALOG = {
    "CAM-1": Product("CAM-1", "camera", 12_900),
    "CAM-2": Product("CAM-2", "camera", 9_900),
    "PTZ-1": Product("PTZ-1", "ptz", 89_900),
    "SPC-1": Product("SPC-1", "specialty", 49_900),
    "NVR-1": Product("NVR-1", "recorder", 129_900),
    "ACC-1": Product("ACC-1", "other", 1_500),
    "CAM-NOPRICE": Product("CAM-NOPRICE", "camera", None),
    "CAM-NOCAT": Product("CAM-NOCAT", None, 10_000),
}


def facts(**kw) -> Facts:
    return Facts(catalog=kw.pop("catalog", CATALOG), **kw)


def serials_for(items, prefix="SN") -> tuple:
    """One MODEL=SERIAL per unit, unique across the request."""
    out = []
    for model, qty in items:
        for n in range(qty):
            out.append((model, f"{prefix}-{model}-{n:04d}"))
    return tuple(out)


def virtual(items, *, serials=None, approved_by="Dana Supervisor", reason="customer cannot ship",
            customer=None) -> Request:
    items = tuple(items)
    return Request(
        type="virtual", items=items,
        serials=serials_for(items) if serials is None else tuple(serials),
        approved_by=approved_by, reason=reason, customer=customer,
    )


def advanced(items, *, serials=None, customer="Acme Security") -> Request:
    items = tuple(items)
    return Request(type="advanced", items=items,
                   serials=serials_for(items) if serials is None else tuple(serials),
                   customer=customer)


def counter(items=(("CAM-1", 1),), *, ticket="TT-1001", distributor="ADI Global",
            customer="Acme Security") -> Request:
    return Request(type="counter", items=tuple(items), ticket=ticket, distributor=distributor,
                   customer=customer)


def rules(result) -> list[str | None]:
    return sorted((v.rule or "") for v in result.violations)


def only(result, rule: str) -> list[Violation]:
    return [v for v in result.violations if v.rule == rule]


# --- STD-1 ------------------------------------------------------------------------------


def test_STD_1_standard_return_accepts_any_model_without_serials():
    req = Request(type="standard", items=(("UNKNOWN-MODEL-9", 5),), customer="Acme")
    result = rules_rules.check(req, facts())
    assert result.eligible, result.violations
    assert result.violations == [] and result.warnings == []
    assert rules_rules.missing_fields(req) == []


@pytest.mark.parametrize("status", ["authorized", "unit-in-transit"])
def test_STD_1_ship_before_unit_received_is_refused(status):
    with pytest.raises(ReturnsError) as err:
        lifecycle.transition("standard", status, "ship")
    assert [p.rule for p in err.value.problems] == ["STD-1"]


def test_STD_1_ship_after_unit_received_completes():
    assert lifecycle.transition("standard", "unit-received", "ship") == "completed"


def test_STD_1_next_steps_ship_only_after_the_unit_arrives():
    steps = " ".join(wording.NEXT_STEPS["standard"]).lower()
    assert "ships the product to speco" in steps
    assert "not before the unit is received" in steps


# --- OTC-1 / OTC-2 ----------------------------------------------------------------------


def test_OTC_1_ticket_and_distributor_given_is_eligible():
    result = rules_rules.check(counter(), facts())
    assert result.eligible, result.violations


@pytest.mark.parametrize(
    "ticket, distributor, expected",
    [
        (None, "ADI Global", 1),
        ("TT-1001", None, 1),
        (None, None, 2),
        ("", "", 2),
    ],
)
def test_OTC_1_ticket_and_distributor_required(ticket, distributor, expected):
    result = rules_rules.check(counter(ticket=ticket, distributor=distributor), facts())
    assert not result.eligible
    assert rules(result) == ["OTC-1"] * expected
    text = " ".join(v.message for v in result.violations)
    if not ticket:
        assert "--ticket" in text
    if not distributor:
        assert "--distributor" in text


def test_OTC_1_ticket_already_used_by_another_return_is_refused():
    result = rules_rules.check(counter(ticket="TT-1001"), facts(ticket_owner="TT-1001"))
    assert rules(result) == ["OTC-1"]
    assert "TT-1001" in result.violations[0].message
    assert "already used" in result.violations[0].message


def test_OTC_1_ticket_owner_without_ticket_reports_the_missing_ticket_once():
    result = rules_rules.check(counter(ticket=None), facts(ticket_owner="TT-9"))
    assert rules(result) == ["OTC-1"]
    assert "--ticket" in result.violations[0].message


def test_OTC_1_missing_fields_names_the_rule():
    missing = rules_rules.missing_fields(counter(ticket=None, distributor=None))
    assert [v.rule for v in missing] == ["OTC-1", "OTC-1"]
    assert "--ticket" in missing[0].message and "--distributor" in missing[1].message
    assert rules_rules.missing_fields(counter()) == []


@pytest.mark.parametrize("text", ["TT-1", "  tt-42  ", "Ticket 77"])
def test_OTC_1_parse_ticket_accepts_and_trims(text):
    assert inputs.parse_ticket(text) == text.strip()


@pytest.mark.parametrize("text", ["", "   ", "RA-000042", "ra-12", "T" * 65])
def test_OTC_1_parse_ticket_refuses_empty_ra_numbers_and_too_long(text):
    with pytest.raises(ReturnsError) as err:
        inputs.parse_ticket(text)
    assert [p.rule for p in err.value.problems] == ["OTC-1"]


def test_OTC_1_parse_ticket_refuses_a_card_number_without_echoing_it():
    with pytest.raises(ReturnsError) as err:
        inputs.parse_ticket("4111 1111 1111 1111")
    assert "4111" not in str(err.value)


def test_OTC_2_next_steps_say_distributor_policy_governs_and_may_take_time():
    steps = " ".join(wording.NEXT_STEPS["counter"]).lower()
    assert "tech ticket id" in steps
    assert "distributor's own return policy" in steps
    assert "may take time" in steps


@pytest.mark.parametrize("event", ["link", "hold", "ship", "deliver", "unit-shipped", "receive",
                                   "charge"])
def test_OTC_2_counter_return_events_other_than_complete_or_cancel_are_refused(event):
    with pytest.raises(ReturnsError):
        lifecycle.transition("counter", "ticket-issued", event)


# --- AR-1 -------------------------------------------------------------------------------


def test_AR_1_one_serial_per_unit_is_eligible():
    items = (("CAM-1", 2),)
    result = rules_rules.check(advanced(items), facts())
    assert result.eligible, result.violations
    assert result.serials == {"CAM-1": ["SN-CAM-1-0000", "SN-CAM-1-0001"]}


@pytest.mark.parametrize("given", [0, 1])
def test_AR_1_fewer_serials_than_units_is_refused(given):
    items = (("CAM-1", 2),)
    req = advanced(items, serials=serials_for(items)[:given])
    result = rules_rules.check(req, facts())
    assert rules(result) == ["AR-1"]
    assert ("2 unit(s)" in result.violations[0].message
            and f"{given} serial(s)" in result.violations[0].message)
    missing = rules_rules.missing_fields(req)
    assert [v.rule for v in missing] == ["AR-1"]
    assert "2 needed" in missing[0].message and f"{given} given" in missing[0].message


def test_AR_1_plain_serial_on_a_single_model_return():
    req = advanced((("CAM-1", 1),), serials=((None, "ABC-123"),))
    result = rules_rules.check(req, facts())
    assert result.eligible, result.violations
    assert result.serials == {"CAM-1": ["ABC-123"]}


def test_AR_1_model_equals_serial_mapping_with_several_models():
    items = (("CAM-1", 1), ("NVR-1", 2))
    req = advanced(items, serials=(("NVR-1", "N-0001"), ("CAM-1", "C-0001"), ("NVR-1", "N-0002")))
    result = rules_rules.check(req, facts())
    assert result.eligible, result.violations
    assert result.serials == {"CAM-1": ["C-0001"], "NVR-1": ["N-0001", "N-0002"]}


def test_AR_1_one_model_short_of_serials_names_that_model():
    items = (("CAM-1", 1), ("NVR-1", 2))
    req = advanced(items, serials=(("CAM-1", "C-0001"), ("NVR-1", "N-0001")))
    result = rules_rules.check(req, facts())
    assert rules(result) == ["AR-1"]
    assert "NVR-1" in result.violations[0].message
    assert "CAM-1" not in result.violations[0].message


def serial_violations(result, rule):
    """check() reports a bad serial list as violations of the type's serial rule, with the
    others."""
    assert not result.eligible
    found = [v for v in result.violations if v.rule == rule]
    assert found, result.violations
    return " ".join(v.message for v in found)


def test_standard_serial_problems_are_violations_without_a_rule():
    req = Request(type="standard", items=(("CAM-1", 1),),
                  serials=(("CAM-1", "S-0001"), ("CAM-1", "S-0002")))
    result = rules_rules.check(req, facts())
    assert [v.rule for v in result.violations] == [None]


def test_AR_1_plain_serial_on_a_several_model_return_is_refused():
    req = advanced((("CAM-1", 1), ("NVR-1", 1)), serials=((None, "ABC-123"), ("NVR-1", "N-0001")))
    text = serial_violations(rules_rules.check(req, facts()), "AR-1")
    assert "ABC-123" in text and "MODEL=ABC-123" in text


def test_AR_1_serial_naming_a_model_not_on_the_return_is_refused():
    req = advanced((("CAM-1", 1),), serials=(("PTZ-1", "P-0001"),))
    text = serial_violations(rules_rules.check(req, facts()), "AR-1")
    assert "P-0001" in text and "PTZ-1" in text


def test_AR_1_duplicate_serial_is_refused():
    req = advanced((("CAM-1", 2),), serials=(("CAM-1", "DUP-0001"), ("CAM-1", "DUP-0001")))
    text = serial_violations(rules_rules.check(req, facts()), "AR-1")
    assert "DUP-0001" in text and "twice" in text


def test_AR_1_more_serials_than_units_is_refused():
    req = advanced((("CAM-1", 1),), serials=(("CAM-1", "S-0001"), ("CAM-1", "S-0002")))
    text = serial_violations(rules_rules.check(req, facts()), "AR-1")
    assert "2 serials" in text and "CAM-1" in text


def test_AR_1_assign_serials_reports_every_serial_problem_at_once():
    with pytest.raises(ReturnsError) as err:
        rules_rules.assign_serials(
            [("CAM-1", 1), ("NVR-1", 1)],
            [(None, "PLAIN-1"), ("PTZ-1", "P-0001"), ("CAM-1", "C-0001"), ("CAM-1", "C-0001")],
        )
    assert len(err.value.problems) == 3


# --- AR-2 -------------------------------------------------------------------------------


@pytest.mark.parametrize("status, event", [("authorized", "ship"), ("link-sent", "ship"),
                                           ("authorized", "hold")])
def test_AR_2_ship_or_hold_before_link_and_hold_is_refused(status, event):
    with pytest.raises(ReturnsError) as err:
        lifecycle.transition("advanced", status, event)
    assert [p.rule for p in err.value.problems] == ["AR-2"]


def test_AR_2_link_then_hold_then_ship():
    state = "authorized"
    for event, expected in [("link", "link-sent"), ("hold", "hold-authorized"),
                            ("ship", "replacement-shipped")]:
        state = lifecycle.transition("advanced", state, event)
        assert state == expected


# --- AR-3 -------------------------------------------------------------------------------


def test_AR_3_models_with_list_price_are_eligible():
    result = rules_rules.check(advanced((("CAM-1", 1), ("NVR-1", 1))), facts())
    assert result.eligible, result.violations


@pytest.mark.parametrize("model", ["CAM-NOPRICE", "NOT-IN-CATALOG"])
def test_AR_3_model_without_list_price_cannot_be_opened_as_advanced(model):
    result = rules_rules.check(advanced(((model, 1), ("CAM-1", 1))), facts())
    assert rules(result) == ["AR-3"]
    assert model in result.violations[0].message


def test_AR_3_a_zero_list_price_cannot_be_opened_as_advanced_naming_the_model():
    catalog = {**CATALOG, "FREE-1": Product("FREE-1", "other", 0)}
    result = rules_rules.check(advanced((("FREE-1", 1), ("CAM-1", 1))), facts(catalog=catalog))
    assert (rules(result) == ["AR-3"] and "FREE-1" in result.violations[0].message
            and result.hold_amount is None)
    assert rules_rules.check(Request(type="standard", items=(("FREE-1", 1),)),
                             facts(catalog=catalog)).eligible


def test_AR_3_hold_amount_is_list_price_times_quantity_summed_in_cents():
    amount = rules_rules.hold_amount([(12_900, 2), (129_900, 1), (1, 3)])
    assert amount == 12_900 * 2 + 129_900 + 3 == 155_703
    assert isinstance(amount, int)


def test_AR_3_hold_amount_of_nothing_is_zero():
    assert rules_rules.hold_amount([]) == 0


def test_AR_3_next_steps_warn_the_hold_may_exceed_what_was_paid():
    steps = " ".join(wording.NEXT_STEPS["advanced"]).lower()
    assert "non-discounted list price" in steps
    assert "more than the customer paid" in steps
    assert "e-biz link" in steps


# --- AR-4 -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["authorized", "link-sent", "hold-authorized",
                                    "replacement-shipped", "charged", "late-return", "completed",
                                    "cancelled"])
def test_AR_4_charge_refused_before_the_clock_can_run(status):
    with pytest.raises(ReturnsError) as err:
        lifecycle.transition("advanced", status, "charge")
    assert [p.rule for p in err.value.problems] == ["AR-4"]


@pytest.mark.parametrize("status", ["replacement-delivered", "unit-in-transit"])
def test_AR_4_charge_passes_the_state_machine_once_delivered(status):
    assert lifecycle.transition("advanced", status, "charge") == "charged"


def test_AR_4_charge_refusal_on_the_due_date_and_allowed_after():
    clock = domain_clock.Clock(shipped_on=date(2026, 10, 28), delivered_on=date(2026, 11, 1),
                               hold_active=True)
    refusal = domain_clock.charge_refusal(clock, date(2026, 12, 1))
    assert refusal is not None and refusal.rule == "AR-4"
    assert domain_clock.charge_refusal(clock, date(2026, 12, 2)) is None


# delivered 2026-11-01, due 2026-12-01; shipped back 2026-11-20, stalled from 2026-12-04
IN_TRANSIT = domain_clock.Clock(shipped_on=date(2026, 10, 28), delivered_on=date(2026, 11, 1),
                          unit_shipped_on=date(2026, 11, 20), hold_active=True)


@pytest.mark.parametrize("day", [date(2026, 11, 25), date(2026, 12, 2), date(2026, 12, 3)])
def test_AR_4_a_parcel_in_transit_is_not_charged_before_it_is_stalled_and_past_due(day):
    refusal = domain_clock.charge_refusal(IN_TRANSIT, day, reason="supervisor: lost")
    assert refusal.rule == "AR-4" and "stalled from 2026-12-04" in refusal.message


def test_AR_4_a_stalled_parcel_past_due_is_charged_only_with_a_reason():
    refusal = domain_clock.charge_refusal(IN_TRANSIT, date(2026, 12, 4))
    assert (refusal.rule == "AR-4" and "--reason" in refusal.message
            and "stalled from 2026-12-04" in refusal.message)
    assert domain_clock.charge_refusal(IN_TRANSIT, date(2026, 12, 4),
                                       reason="Dana: parcel lost") is None
    assert domain_clock.stalled_from(IN_TRANSIT) == date(2026, 12, 4)


def test_AR_4_a_stalled_parcel_waits_for_the_due_date():
    # stalled from 11-16
    early = domain_clock.Clock(delivered_on=date(2026, 11, 1), unit_shipped_on=date(2026, 11, 2))
    assert "2026-12-02" in domain_clock.charge_refusal(early, date(2026, 11, 20),
                                                       reason="lost").message
    assert domain_clock.charge_refusal(early, date(2026, 12, 2), reason="lost") is None


def test_AR_4_a_unit_received_is_never_charged_even_with_a_reason():
    back = domain_clock.Clock(delivered_on=date(2026, 11, 1), unit_shipped_on=date(2026, 11, 20),
                              received_on=date(2026, 11, 24))
    assert domain_clock.charge_refusal(back, date(2027, 1, 1), reason="lost").rule == "AR-4"


def test_AR_2_ship_needs_a_hold_in_force_on_its_date():
    assert domain_clock.ship_refusal(domain_clock.Clock(), date(2026, 11, 2)).rule == "AR-2"
    held = domain_clock.Clock(hold_active=True, hold_expires=date(2026, 11, 5))
    assert domain_clock.ship_refusal(held, date(2026, 11, 5)) is None
    refusal = domain_clock.ship_refusal(held, date(2026, 11, 6))
    assert refusal.rule == "AR-2" and "2026-11-05" in refusal.message
    assert domain_clock.ship_refusal(domain_clock.Clock(hold_active=True), date(2027, 1, 1)) is None


def test_AR_4_late_return_after_charge():
    assert lifecycle.transition("advanced", "charged", "receive") == "late-return"
    assert lifecycle.transition("advanced", "late-return", "complete") == "completed"


# --- VR-1 -------------------------------------------------------------------------------


def test_VR_1_approver_and_reason_given_is_eligible():
    result = rules_rules.check(virtual((("CAM-1", 1),)), facts())
    assert result.eligible, result.violations


@pytest.mark.parametrize(
    "approved_by, reason, flags",
    [
        (None, "customer cannot ship", ["--approved-by"]),
        ("Dana Supervisor", None, ["--reason"]),
        (None, None, ["--approved-by", "--reason"]),
        ("", "", ["--approved-by", "--reason"]),
    ],
)
def test_VR_1_approver_and_reason_required(approved_by, reason, flags):
    req = virtual((("CAM-1", 1),), approved_by=approved_by, reason=reason)
    result = rules_rules.check(req, facts())
    assert rules(result) == ["VR-1"] * len(flags)
    for flag, violation in zip(flags, result.violations, strict=True):
        assert flag in violation.message
    missing = rules_rules.missing_fields(Request(**{**req.__dict__, "customer": "Acme"}))
    assert [v.rule for v in missing] == ["VR-1"] * len(flags)


# --- VR-2 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "items",
    [
        (("CAM-1", 1),),
        (("CAM-1", 3),),
        (("CAM-1", 2), ("CAM-2", 1)),
        (("CAM-1", 1), ("CAM-2", 1), ("CAM-NOPRICE", 1)),
    ],
)
def test_VR_2_three_cameras_or_fewer_is_eligible(items):
    result = rules_rules.check(virtual(items), facts())
    assert result.eligible, result.violations


@pytest.mark.parametrize(
    "items",
    [
        (("CAM-1", 4),),
        (("CAM-1", 2), ("CAM-2", 2)),
        (("CAM-1", 3), ("CAM-2", 1)),
        (("CAM-1", 9),),
    ],
)
def test_VR_2_more_than_three_units_is_refused(items):
    total = sum(q for _, q in items)
    result = rules_rules.check(virtual(items), facts())
    assert rules(result) == ["VR-2"], result.violations
    assert f"{total} units" in result.violations[0].message


@pytest.mark.parametrize("model, category", [("NVR-1", "recorder"), ("ACC-1", "other")])
def test_VR_2_cameras_only(model, category):
    result = rules_rules.check(virtual(((model, 1),)), facts())
    assert rules(result) == ["VR-2"]
    assert model in result.violations[0].message and category in result.violations[0].message


@pytest.mark.parametrize("model", ["NOT-IN-CATALOG", "CAM-NOCAT"])
def test_VR_2_model_of_unknown_category_cannot_be_confirmed_as_a_camera(model):
    result = rules_rules.check(virtual(((model, 1),)), facts())
    assert rules(result) == ["VR-2"]
    assert model in result.violations[0].message


def test_VR_2_camera_next_to_a_recorder_names_only_the_recorder():
    result = rules_rules.check(virtual((("CAM-1", 1), ("NVR-1", 1))), facts())
    assert rules(result) == ["VR-2"]
    assert "NVR-1" in result.violations[0].message


@pytest.mark.parametrize("recent, units", [(2, 2), (3, 1), (1, 3)])
def test_VR_2_split_across_recent_virtual_returns_warns_never_refuses(recent, units):
    req = virtual((("CAM-1", units),), customer="Acme Security")
    result = rules_rules.check(req, facts(recent_virtual_units=recent))
    assert result.eligible, result.violations
    assert [w.rule for w in result.warnings] == ["VR-2"]
    message = result.warnings[0].message
    assert "Acme Security" in message and str(recent + units) in message and "supervisor" in message


@pytest.mark.parametrize("recent, units", [(0, 3), (1, 2), (2, 1)])
def test_VR_2_recent_virtual_returns_within_three_units_do_not_warn(recent, units):
    req = virtual((("CAM-1", units),), customer="Acme Security")
    result = rules_rules.check(req, facts(recent_virtual_units=recent))
    assert result.eligible and result.warnings == []


def test_VR_2_split_warning_needs_the_customer():
    req = virtual((("CAM-1", 2),), customer=None)
    result = rules_rules.check(req, facts(recent_virtual_units=3))
    assert result.eligible and result.warnings == []


@pytest.mark.parametrize("type_", ["standard", "advanced"])
def test_VR_2_split_warning_is_for_virtual_returns_only(type_):
    items = (("CAM-1", 3),)
    req = Request(type=type_, items=items, serials=serials_for(items), customer="Acme Security")
    result = rules_rules.check(req, facts(recent_virtual_units=3))
    assert result.eligible and result.warnings == []


# --- VR-3 -------------------------------------------------------------------------------


@pytest.mark.parametrize("model, word", [("PTZ-1", "PTZ"), ("SPC-1", "specialty")])
def test_VR_3_never_for_ptz_or_specialty(model, word):
    result = rules_rules.check(virtual(((model, 1),)), facts())
    assert rules(result) == ["VR-3"]
    assert model in result.violations[0].message and word in result.violations[0].message


@pytest.mark.parametrize("type_", ["standard", "advanced"])
def test_VR_3_ptz_is_fine_on_other_return_types(type_):
    items = (("PTZ-1", 1),)
    req = Request(type=type_, items=items, serials=serials_for(items), customer="Acme")
    assert rules_rules.check(req, facts()).eligible


# --- VR-4 -------------------------------------------------------------------------------


@pytest.mark.parametrize("given, eligible", [(0, False), (1, False), (2, True)])
def test_VR_4_one_serial_per_unit(given, eligible):
    items = (("CAM-1", 2),)
    req = virtual(items, serials=serials_for(items)[:given])
    result = rules_rules.check(req, facts())
    assert result.eligible is eligible
    assert rules(result) == ([] if eligible else ["VR-4"])
    missing = rules_rules.missing_fields(Request(**{**req.__dict__, "customer": "Acme"}))
    assert [v.rule for v in missing] == ([] if eligible else ["VR-4"])


def test_VR_4_model_equals_serial_with_several_models():
    items = (("CAM-1", 1), ("CAM-2", 2))
    req = virtual(items, serials=(("CAM-2", "B-0001"), ("CAM-1", "A-0001"), ("CAM-2", "B-0002")))
    result = rules_rules.check(req, facts())
    assert result.eligible, result.violations
    assert result.serials == {"CAM-1": ["A-0001"], "CAM-2": ["B-0001", "B-0002"]}


@pytest.mark.parametrize(
    "items, serials",
    [
        # plain serial, several models
        ((("CAM-1", 1), ("CAM-2", 1)), ((None, "A-0001"), ("CAM-2", "B-0001"))),
        ((("CAM-1", 1),), (("CAM-2", "B-0001"),)),  # names a model not on the RA
        ((("CAM-1", 2),), (("CAM-1", "A-0001"), ("CAM-1", "A-0001"))),  # duplicate
        ((("CAM-1", 1),), (("CAM-1", "A-0001"), ("CAM-1", "A-0002"))),  # more serials than units
    ],
)
def test_VR_4_bad_serial_lists_are_refused(items, serials):
    assert serial_violations(rules_rules.check(virtual(items, serials=serials), facts()), "VR-4")


def test_VR_4_serials_are_not_required_for_standard_or_counter():
    assert rules_rules.missing_fields(Request(type="standard", items=(("CAM-1", 3),),
                                              customer="Acme")) == []
    assert rules_rules.check(Request(type="standard", items=(("CAM-1", 3),)), facts()).eligible
    assert rules_rules.check(counter((("CAM-1", 3),)), facts()).eligible


# --- VR-5 -------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["receive", "unit-shipped"])
@pytest.mark.parametrize("status", ["authorized", "completed", "cancelled"])
def test_VR_5_nothing_comes_back(status, event):
    with pytest.raises(ReturnsError) as err:
        lifecycle.transition("virtual", status, event)
    assert [p.rule for p in err.value.problems] == ["VR-5"]


def test_VR_5_the_return_completes_when_the_replacement_ships():
    assert lifecycle.transition("virtual", "authorized", "ship") == "completed"


# --- SER-1 ------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", types.TYPES)
def test_SER_1_serial_on_another_open_return_is_refused_naming_it(type_):
    items = (("CAM-1", 2),)
    base = {"standard": Request(type="standard", items=items, serials=serials_for(items)),
            "counter": Request(type="counter", items=items, serials=serials_for(items),
                               ticket="TT-1", distributor="ADI"),
            "advanced": advanced(items),
            "virtual": virtual(items)}[type_]
    owned = serials_for(items)[1][1]
    result = rules_rules.check(base, facts(serial_owners={owned: "RA-000042"}))
    assert rules(result) == ["SER-1"]
    assert owned in result.violations[0].message and "RA-000042" in result.violations[0].message


def test_SER_1_serials_owned_by_no_open_return_pass():
    items = (("CAM-1", 2),)
    result = rules_rules.check(advanced(items), facts(serial_owners={"OTHER-SERIAL": "RA-000001"}))
    assert result.eligible


def test_SER_1_every_owned_serial_is_named():
    items = (("CAM-1", 2),)
    owners = {s: f"RA-00000{n}" for n, (_, s) in enumerate(serials_for(items), start=1)}
    result = rules_rules.check(advanced(items), facts(serial_owners=owners))
    assert rules(result) == ["SER-1", "SER-1"]
    assert {"RA-000001", "RA-000002"} == {re.search(r"RA-\d+", v.message).group()
                                          for v in result.violations}


# --- check returns every violation, not just the first ------------------------------------


def test_check_returns_every_violation_of_a_virtual_return():
    items = (("PTZ-1", 1), ("NVR-1", 1), ("CAM-1", 2))  # 4 units, a PTZ, a recorder
    req = virtual(items, serials=(("CAM-1", "C-0001"),), approved_by=None, reason=None,
                  customer="Acme")
    result = rules_rules.check(req, facts(serial_owners={"C-0001": "RA-000007"},
                                          recent_virtual_units=2))
    assert not result.eligible
    assert sorted(set(rules(result))) == ["SER-1", "VR-1", "VR-2", "VR-3", "VR-4"]
    assert len(only(result, "VR-1")) == 2  # approver and reason
    assert len(only(result, "VR-2")) == 2  # 4 units, and the recorder
    assert len(only(result, "VR-3")) == 1  # the PTZ
    assert len(only(result, "VR-4")) == 3  # PTZ 0/1, NVR 0/1, CAM 1/2
    assert len(only(result, "SER-1")) == 1
    assert [w.rule for w in result.warnings] == ["VR-2"]


def test_check_returns_every_violation_of_an_advanced_replacement():
    items = (("CAM-NOPRICE", 1), ("NOT-IN-CATALOG", 1), ("CAM-1", 1))
    req = advanced(items, serials=(("CAM-1", "C-0001"),))
    result = rules_rules.check(req, facts(serial_owners={"C-0001": "RA-000003"}))
    assert rules(result) == ["AR-1", "AR-1", "AR-3", "AR-3", "SER-1"]


def test_check_result_eligible_follows_violations_not_warnings():
    result = rules_rules.CheckResult(violations=[], warnings=[Violation("VR-2", "w")], serials={})
    assert result.eligible
    assert not rules_rules.CheckResult(violations=[Violation("VR-1", "v")], warnings=[],
                                       serials={}).eligible


# --- missing_fields ------------------------------------------------------------------------


def test_missing_fields_lists_every_missing_field_at_once():
    missing = rules_rules.missing_fields(Request(type="virtual", items=()))
    text = [v.message for v in missing]
    assert any("--customer" in m for m in text)
    assert any("--item" in m for m in text)
    assert [v.rule for v in missing if v.rule] == ["VR-1", "VR-1"]
    # no items: the serial count cannot be known yet, so no VR-4 line
    assert not any(v.rule == "VR-4" for v in missing)


@pytest.mark.parametrize(
    "req",
    [
        Request(type="standard", items=(("CAM-1", 1),), customer="Acme"),
        counter(),
        advanced((("CAM-1", 2),)),
        virtual((("CAM-1", 2),), customer="Acme"),
    ],
    ids=["standard", "counter", "advanced", "virtual"],
)
def test_missing_fields_complete_request_misses_nothing(req):
    assert rules_rules.missing_fields(req) == []


def test_missing_fields_serials_counted_over_all_units():
    items = (("CAM-1", 2), ("NVR-1", 1))
    missing = rules_rules.missing_fields(advanced(items, serials=serials_for(items)[:2]))
    assert [v.rule for v in missing] == ["AR-1"]
    assert "3 needed, 2 given" in missing[0].message


# --- the life of a return (SPEC §3), table-driven --------------------------------------------

# Written out from SPEC §3, independently of lifecycle.MACHINE: (state, event) -> state after.
HOLDING = ("hold-authorized", "replacement-shipped", "replacement-delivered", "unit-in-transit")
ALLOWED = {
    "standard": {
        ("authorized", "unit-shipped"): "unit-in-transit",
        ("authorized", "receive"): "unit-received",
        ("unit-in-transit", "receive"): "unit-received",
        ("unit-received", "ship"): "completed",
        ("authorized", "cancel"): "cancelled",
    },
    "counter": {
        ("ticket-issued", "complete"): "completed",
        ("ticket-issued", "cancel"): "cancelled",
    },
    "advanced": {
        ("authorized", "link"): "link-sent",
        ("link-sent", "hold"): "hold-authorized",
        # `hold` again re-authorizes (new reference, new expiry) while the unit is out
        **{(s, "hold"): s for s in HOLDING},
        ("hold-authorized", "ship"): "replacement-shipped",
        ("replacement-shipped", "deliver"): "replacement-delivered",
        ("replacement-delivered", "unit-shipped"): "unit-in-transit",
        ("replacement-shipped", "receive"): "completed",
        ("replacement-delivered", "receive"): "completed",
        ("unit-in-transit", "receive"): "completed",
        ("charged", "receive"): "late-return",
        ("replacement-delivered", "charge"): "charged",
        ("unit-in-transit", "charge"): "charged",
        ("late-return", "complete"): "completed",
        ("late-return", "refund"): "completed",
        ("authorized", "cancel"): "cancelled",
        ("link-sent", "cancel"): "cancelled",
        ("hold-authorized", "cancel"): "cancelled",
    },
    "virtual": {
        ("authorized", "ship"): "completed",
        ("authorized", "cancel"): "cancelled",
    },
}
STATES = {
    "standard": {"authorized", "unit-in-transit", "unit-received", "completed", "cancelled"},
    "counter": {"ticket-issued", "completed", "cancelled"},
    "advanced": {"authorized", "link-sent", "hold-authorized", "replacement-shipped",
                 "replacement-delivered", "unit-in-transit", "completed", "charged", "late-return",
                 "cancelled"},
    "virtual": {"authorized", "completed", "cancelled"},
}
INITIAL = {"standard": "authorized", "counter": "ticket-issued", "advanced": "authorized",
           "virtual": "authorized"}
EVENTS = {"link", "hold", "ship", "deliver", "unit-shipped", "receive", "charge", "refund",
          "complete", "cancel"}


def expected_rule(type_: str, status: str, event: str) -> str | None:
    """The rule a refusal must name, where SPEC §2 gives one."""
    if type_ == "standard" and event == "ship" and status in ("authorized", "unit-in-transit"):
        return "STD-1"
    if type_ == "advanced" and ((event == "ship" and status in ("authorized", "link-sent"))
                                or (event == "hold" and status == "authorized")):
        return "AR-2"
    if type_ == "advanced" and event == "charge":
        return "AR-4"
    if type_ == "virtual" and event in ("receive", "unit-shipped"):
        return "VR-5"
    return None


def test_machine_states_events_and_initial_states():
    assert set(types.TYPES) == set(STATES)
    assert set(lifecycle.EVENTS) == EVENTS
    for type_ in types.TYPES:
        assert set(lifecycle.states(type_)) == STATES[type_]
        assert lifecycle.states(type_)[0] == INITIAL[type_] == lifecycle.INITIAL[type_]
        # every state in the expected table is one of the type's states
        for (state, _), after in ALLOWED[type_].items():
            assert {state, after} <= STATES[type_]


@pytest.mark.parametrize("type_", sorted(STATES))
def test_transition_table_is_exactly_spec_section_3(type_):
    for status in sorted(STATES[type_]):
        for event in sorted(EVENTS):
            expected = ALLOWED[type_].get((status, event))
            if expected is not None:
                assert (lifecycle.transition(type_, status, event)
                        == expected), (type_, status, event)
                continue
            with pytest.raises(ReturnsError) as err:
                lifecycle.transition(type_, status, event)
            problems = err.value.problems
            assert len(problems) == 1 and problems[0].message, (type_, status, event)
            rule = expected_rule(type_, status, event)
            if rule is not None:
                assert problems[0].rule == rule, (type_, status, event, problems[0])


@pytest.mark.parametrize("status", ["completed", "cancelled"])
@pytest.mark.parametrize("type_", sorted(STATES))
def test_closed_returns_accept_no_event(type_, status):
    for event in sorted(EVENTS):
        with pytest.raises(ReturnsError):
            lifecycle.transition(type_, status, event)


def test_every_type_can_reach_completed_from_its_initial_state():
    paths = {
        "standard": ["unit-shipped", "receive", "ship"],
        "counter": ["complete"],
        "advanced": ["link", "hold", "ship", "deliver", "unit-shipped", "receive"],
        "virtual": ["ship"],
    }
    for type_, events in paths.items():
        state = INITIAL[type_]
        for event in events:
            state = lifecycle.transition(type_, state, event)
        assert state == "completed", type_


@pytest.mark.parametrize(
    "status, is_open",
    [("completed", False), ("cancelled", False), ("charged", False), ("late-return", True),
     ("authorized", True), ("ticket-issued", True), ("unit-in-transit", True),
     ("replacement-delivered", True)],
)
def test_open_means_any_state_but_completed_cancelled_and_charged(status, is_open):
    assert lifecycle.is_open(status) is is_open


# --- next_step for every (type, state) -----------------------------------------------------

# Commands the next step must mention for each open state (SPEC §3).
NEXT_COMMANDS = {
    ("standard", "authorized"): {"unit-shipped", "receive"},
    ("standard", "unit-in-transit"): {"receive"},
    ("standard", "unit-received"): {"ship"},
    ("counter", "ticket-issued"): {"complete"},
    ("advanced", "authorized"): {"link"},
    ("advanced", "link-sent"): {"hold"},
    ("advanced", "hold-authorized"): {"ship"},
    ("advanced", "replacement-shipped"): {"deliver"},
    ("advanced", "replacement-delivered"): {"unit-shipped", "receive"},
    ("advanced", "unit-in-transit"): {"receive"},
    ("advanced", "charged"): {"receive"},
    ("advanced", "late-return"): {"refund", "complete"},
    ("virtual", "authorized"): {"ship"},
}


@pytest.mark.parametrize("type_, status", [(t, s) for t in sorted(STATES)
                                           for s in sorted(STATES[t])])
def test_next_step_for_every_type_and_state(type_, status):
    text = wording.next_step(type_, status)
    assert text.strip(), (type_, status)
    assert "{" not in text and "}" not in text
    if status in ("completed", "cancelled"):
        assert status in text
        return
    named = {m.split()[0] for m in re.findall(r"`([^`]+)`", text)}
    assert named == NEXT_COMMANDS[(type_, status)], text
    for event in named:  # every command it tells the agent to run is allowed now
        assert (status, event) in ALLOWED[type_], (type_, status, event)


def test_next_step_shows_the_due_date_once_delivered():
    assert "2026-12-01" in wording.next_step("advanced", "replacement-delivered", date(2026, 12, 1))
    assert "30 days" in wording.next_step("advanced", "replacement-delivered")


# --- event dates (SPEC §3) -------------------------------------------------------------------

TODAY = date(2026, 11, 26)


def test_check_event_date_same_day_as_last_event_and_today_is_allowed():
    assert lifecycle.check_event_date(TODAY, TODAY, TODAY) is None
    assert lifecycle.check_event_date(TODAY - timedelta(days=3), TODAY,
                                      TODAY - timedelta(days=3)) is None
    assert lifecycle.check_event_date(TODAY - timedelta(days=1), TODAY,
                                      TODAY - timedelta(days=5)) is None


def test_check_event_date_in_the_future_is_refused():
    with pytest.raises(ReturnsError, match="future"):
        lifecycle.check_event_date(TODAY + timedelta(days=1), TODAY, TODAY - timedelta(days=5))


def test_check_event_date_before_the_last_event_is_refused():
    with pytest.raises(ReturnsError) as err:
        lifecycle.check_event_date(TODAY - timedelta(days=2), TODAY, TODAY - timedelta(days=1))
    assert str(TODAY - timedelta(days=1)) in str(err.value)


# --- types and categories ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("standard", "standard"), ("counter", "counter"), ("otc", "counter"), (" OTC ", "counter"),
     ("advanced", "advanced"), ("AR", "advanced"), ("virtual", "virtual")],
)
def test_parse_type_names_and_aliases(text, expected):
    assert inputs.parse_type(text) == expected


@pytest.mark.parametrize("text", ["", "rma", "std", "advance"])
def test_parse_type_refuses_unknown(text):
    with pytest.raises(ReturnsError):
        inputs.parse_type(text)


def test_parse_category():
    assert [inputs.parse_category(c.upper())
            for c in ("camera", "ptz", "specialty", "recorder", "other")] == [
        "camera", "ptz", "specialty", "recorder", "other"]
    with pytest.raises(ReturnsError):
        inputs.parse_category("dome")


def test_rules_and_rule_text_cover_every_rule_id_of_spec_section_2():
    ids = {"STD-1", "OTC-1", "OTC-2", "AR-1", "AR-2", "AR-3", "AR-4", "VR-1", "VR-2", "VR-3",
           "VR-4", "VR-5", "SER-1"}
    assert set(wording.RULE_TEXT) == ids
    assert {r for rs in wording.RULES.values() for r in rs} == ids
    assert all("SER-1" in wording.RULES[t] for t in types.TYPES)
