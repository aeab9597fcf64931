"""gates.py (check records, overrides, summary) and gates_window.py (maintenance windows)."""

import datetime

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.gates import core as gates
from ansible_collections.pgtviews.ops.plugins.module_utils.gates.window import WindowError, check_windows, contains

UTC = datetime.timezone.utc


def test_check_record_is_one_line_and_validated():
    c = gates.check("drift", "fail", "tv_post\n  differs", "app", tviews=["post"])
    assert c == {"name": "drift", "status": "fail", "reason": "tv_post differs", "database": "app",
                 "details": {"tviews": ["post"]}}
    with pytest.raises(gates.GateError):
        gates.check("drift", "bad", "x")


def test_worst_and_summary():
    assert gates.worst([]) == "pass" and gates.worst(["skip"]) == "pass"
    assert gates.worst(["pass", "warn", "skip"]) == "warn" and gates.worst(["warn", "fail"]) == "fail"
    checks = [gates.check("a", "pass", "ok"), gates.check("b", "fail", "broken", "db1"), gates.check("c", "warn", "hm"),
              gates.check("d", "skip", "off")]
    s = gates.summarize(checks)
    assert s["status"] == "fail"
    assert s["counts"] == {"pass": 1, "warn": 1, "fail": 1, "skip": 1}
    assert s["failures"] == ["b[db1]: broken"] and s["warnings"] == ["c: hm"]
    assert [c["name"] for c in gates.by_database(checks, "db2")] == ["a", "c", "d"]


def test_overrides_need_known_check_status_and_reason():
    known = ("drift", "sessions")
    assert gates.normalize_overrides({"drift:app": {"status": "warn", "reason": " CHG-1\n ok "}}, known) == {
        "drift:app": {"status": "warn", "reason": "CHG-1 ok"}}
    for bad, msg in (({"drfit": {"status": "warn", "reason": "x"}}, "names no check"),
                     ({"drift": {"status": "pass", "reason": "x"}}, "status must be warn or skip"),
                     ({"drift": {"status": "skip"}}, "needs a reason"),
                     ({"drift": "skip"}, "must be a dict"),
                     ({"drift": {"status": "skip", "reason": "x", "until": "monday"}}, "unknown keys")):
        with pytest.raises(gates.GateError, match=msg):
            gates.normalize_overrides(bad, known)


def test_overrides_only_downgrade_problems_and_keep_the_original():
    checks = [gates.check("drift", "fail", "tv_post differs", "app"), gates.check("drift", "fail", "tv_x differs", "other"),
              gates.check("sessions", "warn", "2 hold locks", "app"), gates.check("sessions", "pass", "none", "other")]
    ov = gates.normalize_overrides({"drift:app": {"status": "warn", "reason": "CHG-7"},
                                    "sessions": {"status": "skip", "reason": "known batch job"}}, ("drift", "sessions"))
    out = gates.apply_overrides(checks, ov)
    assert [c["status"] for c in out] == ["warn", "fail", "skip", "pass"]
    assert out[0]["overridden"] == {"from": "fail", "reason": "CHG-7"}
    assert out[0]["reason"] == "overridden (CHG-7): tv_post differs"
    assert "overridden" not in out[1] and "overridden" not in out[3]
    assert checks[0]["status"] == "fail"  # input untouched


def test_window_same_day_and_days():
    w = {"start": "22:00", "end": "23:30", "days": ["sat", "Sunday"]}
    sat = datetime.datetime(2026, 11, 28, 22, 15, tzinfo=UTC)  # a Saturday
    assert contains(w, sat)
    assert not contains(w, sat.replace(hour=23, minute=30))  # end is exclusive
    assert not contains(w, sat - datetime.timedelta(days=1))  # Friday


def test_window_past_midnight_belongs_to_the_day_it_starts():
    w = {"start": "22:00", "end": "04:00", "days": ["sat"]}
    assert contains(w, datetime.datetime(2026, 11, 28, 23, 0, tzinfo=UTC))  # Saturday night
    assert contains(w, datetime.datetime(2026, 11, 29, 3, 59, tzinfo=UTC))  # Sunday early: started Saturday
    assert not contains(w, datetime.datetime(2026, 11, 28, 3, 0, tzinfo=UTC))  # Saturday early: started Friday


def test_window_time_zones():
    w = {"start": "02:00", "end": "03:00", "timezone": "+02:00"}
    assert contains(w, datetime.datetime(2026, 11, 28, 0, 30, tzinfo=UTC))
    berlin = {"start": "02:00", "end": "03:00", "timezone": "Europe/Berlin"}  # CET in November: UTC+1
    assert contains(berlin, datetime.datetime(2026, 11, 28, 1, 30, tzinfo=UTC))
    inside, text = check_windows([w, berlin], datetime.datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    assert not inside and "02:00-03:00 +02:00" in text


@pytest.mark.parametrize("bad,msg", [({"start": "2200", "end": "04:00"}, "not HH:MM"), ({"start": "22:00"}, "needs start and end"),
                                     ({"start": "01:00", "end": "01:00"}, "both"), ({"start": "01:00", "end": "02:00",
                                                                                     "days": ["funday"]}, "unknown days"),
                                     ({"start": "01:00", "end": "02:00", "timezone": "Mars/Olympus"}, "unknown time zone"),
                                     ("22:00-04:00", "must be a dict")])
def test_window_errors(bad, msg):
    with pytest.raises(WindowError, match=msg):
        contains(bad, datetime.datetime(2026, 11, 28, tzinfo=UTC))
