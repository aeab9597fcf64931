"""tviews_preflight on the states real 0.1 databases are in (issue 20; fixture
tests/fixtures/schemas/real01_states.sql): each is reported with what it means and what to
do; orphaned metadata fails until it is cleaned, which happens only when asked."""

import pytest

from tests.harness.modules import conn_args, run_module
from tests.integration.conftest import load_app
from tests.integration.gates.helpers import by_name, fingerprint
from tests.integration.playbooks import real01_states


@pytest.fixture(scope="module")
def cluster(make_pg_install, standin_build, make_cluster):
    inst = make_pg_install(("0.1.0",))
    inst.install_side_by_side(standin_build["0.2.0"]["artifact"], "0.2.0")
    c = make_cluster(inst, name="gates-real01")
    yield c
    c.destroy()


@pytest.fixture
def backup_root(tmp_path):
    return str(tmp_path / "backups" / "not-yet")


@pytest.fixture
def real01(cluster):
    name = "pre_real01"
    load_app(cluster, name)
    real01_states.load(cluster, name)
    yield name
    cluster.dropdb(name)


def preflight(cluster, db, backup_root, **kw):
    args = conn_args(cluster, "postgres", version="0.2.0", databases=[db], backup_root=backup_root)
    args.update(kw)
    return run_module("tviews_preflight", args)


def reason(res, name, db):
    return by_name(res, name, db)[0]["reason"]


def test_real01_states_are_reported(cluster, real01, backup_root):
    before = fingerprint(cluster, real01)
    res = preflight(cluster, real01, backup_root)
    assert not res.get("changed")
    failing = sorted(set(c["name"] for c in res["checks"] if c["status"] == "fail"))
    assert failing == ["orphaned_metadata"], res["summary"]["failures"]
    text = reason(res, "orphaned_metadata", real01)
    assert "'gone'" in text and "public.v_gone" in text and "trg_tview_gone_on_tb_gone" in text
    assert "pg_tviews_drop" in text and "tviews_preflight_clean_orphaned_metadata" in text
    frozen = by_name(res, "frozen_tviews", real01)[0]
    assert frozen["status"] == "warn" and frozen["details"]["tviews"] == ["note"]
    assert "public.tv_note has no triggers under 0.1" in frozen["reason"]
    assert "it will be" in frozen["reason"] and "public.tb_note" in frozen["reason"]
    plain = by_name(res, "unregistered_tables", real01)[0]
    assert plain["status"] == "warn" and plain["details"]["tables"] == ["public.tv_legacy"]
    jd = by_name(res, "jsonb_delta", real01)[0]
    assert jd["status"] == "warn" and "post" in jd["details"]["tviews"]
    assert "does not use jsonb_delta" in jd["reason"]
    # the orphan is judged by orphaned_metadata only; the TVIEW made by CREATE TABLE AS is a TVIEW
    for name in ("consistency", "definitions"):
        assert by_name(res, name, real01)[0]["status"] == "pass", by_name(res, name, real01)
    # the three comments deleted under 0.1 left their tv_comment rows: a warning that says so
    drift = by_name(res, "drift", real01)[0]
    assert drift["status"] == "warn" and drift["details"]["stale"] == {"comment": 3}, drift
    assert "pg_tviews 0.1 never deletes a TVIEW row" in drift["reason"]
    assert fingerprint(cluster, real01) == before


def test_orphans_cleaned_only_when_asked(cluster, real01, backup_root):
    dry = run_module("tviews_preflight", conn_args(cluster, "postgres", version="0.2.0", databases=[real01],
                                                   backup_root=backup_root, clean_orphaned_metadata=True),
                     check_mode=True)
    assert by_name(dry, "orphaned_metadata", real01)[0]["status"] == "warn"
    assert cluster.execute("SELECT count(*) FROM pg_tview_meta WHERE entity = 'gone'", real01) == [(1,)]
    res = preflight(cluster, real01, backup_root, clean_orphaned_metadata=True)
    assert res["changed"] is True
    assert by_name(res, "orphaned_metadata", real01)[0]["status"] == "pass"
    assert res["summary"]["failures"] == [], res["summary"]
    assert cluster.execute("SELECT count(*) FROM pg_tview_meta WHERE entity = 'gone'", real01) == [(0,)]
    assert cluster.execute("SELECT to_regclass('v_gone') IS NULL, count(*) FROM pg_trigger"
                           " WHERE tgname = 'trg_tview_gone_on_tb_gone'", real01) == [(True, 0)]
    again = preflight(cluster, real01, backup_root, clean_orphaned_metadata=True)
    assert not again["changed"] and by_name(again, "orphaned_metadata", real01)[0]["status"] == "pass"
