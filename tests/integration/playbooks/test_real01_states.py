"""The playbooks on a database in the states real pg_tviews 0.1 databases are in (issue 20;
tests/fixtures/schemas/real01_states.sql): a TVIEW without triggers (it reads only a helper
view), orphaned metadata after a DROP TABLE in a session without the library's hook, a TVIEW
made by CREATE TABLE tv_x AS in a hooked session, a plain tv_ table made in a session without
it, stale tv_ rows left by deletes, and jsonb_delta installed. Preflight reports each; migrate (which removes the orphaned
metadata only when asked), rollback immediate, migrate and rollback complete succeed, and each
leaves the database no less consistent than it found it."""

import json
import os

import pytest

from tests.harness.fleet import Fleet
from tests.harness.pg import make_base_dir
from tests.integration.playbooks import real01_states

REGISTERED_SQL = {
    "0.1.0": "SELECT m.entity, m.table_oid, m.view_oid, cardinality(m.dependencies) FROM pg_tview_meta m",
    "0.2.0": "SELECT m.entity, m.table_oid, m.view_oid, cardinality(m.dependencies) FROM tviews.tview_meta m",
}


def version(c):
    return c.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_tviews'", "app")[0][0]


def state_of(c):
    """What consistency means here, per registered TVIEW: table and view present, tv_ equal to
    v_, triggers; plus orphaned entries, plain tv_ tables and jsonb_delta."""
    v = version(c)
    out = {"version": v, "tviews": {}, "orphans": [], "plain": [], "jsonb_delta": False, "stale": {}}
    for entity, table_oid, view_oid, ndeps in c.execute(REGISTERED_SQL[v], "app"):
        table = c.execute("SELECT to_regclass(%s::oid::regclass::text)::text", "app", (table_oid,))[0][0] \
            if c.execute("SELECT count(*) FROM pg_class WHERE oid = %s", "app", (table_oid,))[0][0] else None
        if table is None:
            out["orphans"].append(entity)
            continue
        view = c.execute("SELECT %s::oid::regclass::text", "app", (view_oid,))[0][0]
        cols = [r[0] for r in c.execute(
            "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped"
            " ORDER BY attnum", "app", (view_oid,))]
        collist = ", ".join(cols)
        diff = c.execute("SELECT count(*) FROM ((SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s) UNION ALL"
                         " (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s)) d"
                         % (collist, table, collist, view, collist, view, collist, table), "app")[0][0]
        trig = c.execute("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE %s", "app",
                         ("trg\\_tview\\_" + entity.replace("_", "\\_") + "\\_on\\_%",))[0][0]
        out["tviews"][entity] = {"equal": diff == 0, "triggers": trig, "dependencies": ndeps}
        pk = '"%s"' % ("pk_" + entity).replace('"', '""')
        stale = [r[0] for r in c.execute("SELECT t.%s FROM %s t WHERE NOT EXISTS (SELECT 1 FROM %s v WHERE v.%s = t.%s)"
                                         " ORDER BY 1" % (pk, table, view, pk, pk), "app")]
        if stale:
            out["stale"][entity] = stale
    known = "'" + "', '".join(out["tviews"]) + "'"
    out["plain"] = [r[0] for r in c.execute(
        "SELECT relname::text FROM pg_class WHERE relname LIKE 'tv\\_%%' AND relkind = 'r'"
        " AND substr(relname, 4) NOT IN (%s) ORDER BY 1" % known, "app")]
    out["jsonb_delta"] = bool(c.execute("SELECT count(*) FROM pg_extension WHERE extname = 'jsonb_delta'", "app")[0][0])
    return out


def assert_no_less_consistent(before, after):
    for entity, b in before["tviews"].items():
        a = after["tviews"].get(entity)
        assert a is not None, "TVIEW %s lost" % entity
        assert a["equal"] or not b["equal"], "%s: tv_ no longer equals v_" % entity
        assert a["triggers"] >= 1 or b["triggers"] == 0, "%s lost its triggers" % entity
    assert set(after["tviews"]) >= set(before["tviews"])
    assert len(after["orphans"]) <= len(before["orphans"])
    assert after["plain"] == before["plain"]
    assert after["jsonb_delta"] == before["jsonb_delta"]


def recorded(fleet, phase):
    with open(os.path.join(fleet.root, "db1", "state", "state.json")) as fh:
        return json.load(fh)["databases"]["app"][phase]


def checks(fleet, phase):
    return dict((c["name"], c) for c in recorded(fleet, phase)["checks"])


@pytest.fixture
def fleet(standin_build):
    root = make_base_dir("fleet-real01-")
    f = Fleet(root, os.path.dirname(standin_build["0.2.0"]["artifact"]), names=("db1",)).up()
    real01_states.load(f.cluster("db1"), "app")
    yield f
    f.down()


def test_real01_states_migrate_and_roll_back(fleet):
    c = fleet.cluster("db1")
    start = state_of(c)
    assert start["orphans"] == ["gone"] and start["plain"] == ["tv_legacy"] and start["jsonb_delta"]
    assert start["tviews"]["note"] == {"equal": True, "triggers": 0, "dependencies": 0}   # frozen under 0.1
    assert start["tviews"]["tag"]["triggers"] == 1                                       # CTAS in a hooked session
    assert start["stale"] == {"comment": [1, 2, 3]} and not start["tviews"]["comment"]["equal"]   # left by deletes

    # Preflight reports every state; the orphaned metadata fails it until asked to clean.
    pre = fleet.playbook("preflight", "-e", "tviews_preflight_target_installed=false")
    assert pre.returncode != 0, pre.stdout[-3000:]
    out = pre.stdout + pre.stderr
    for needle in ("orphaned_metadata", "tv_note has no triggers under 0.1", "tv_legacy", "jsonb_delta",
                   "tviews_preflight_clean_orphaned_metadata",
                   "public.tv_comment has 3 row(s) whose key public.v_comment no longer has",
                   "tviews_swap_repair_stale_rows: true"):
        assert needle in out, needle
    assert state_of(c) == start                                       # preflight changed nothing

    run = fleet.playbook("migrate", "-e", "tviews_preflight_clean_orphaned_metadata=true")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    found = checks(fleet, "preflight")
    assert found["orphaned_metadata"]["status"] == "pass" and "removed the leftovers" in found["orphaned_metadata"]["reason"]
    assert found["frozen_tviews"]["status"] == "warn" and "it will be" in found["frozen_tviews"]["reason"]
    assert found["unregistered_tables"]["status"] == "warn" and found["jsonb_delta"]["status"] == "warn"
    # stale rows: a warning before, kept by the adopting swap (not a difference), and told apart after
    assert found["drift"]["status"] == "warn", found["drift"]
    assert "public.tv_comment has 3 row(s) whose key public.v_comment no longer has" in found["drift"]["reason"]
    assert recorded(fleet, "swap")["stale_rows_kept"] == {"comment": 3}
    assert recorded(fleet, "swap")["stale_rows_repaired"] == {}
    validated = checks(fleet, "validate")["drift"]
    assert validated["status"] == "warn" and "not drift the migration made" in validated["reason"], validated
    migrated = state_of(c)
    assert migrated["version"] == "0.2.0" and migrated["stale"] == start["stale"]
    assert_no_less_consistent(start, migrated)
    assert migrated["orphans"] == [] and migrated["tviews"]["note"]["triggers"] == 1   # 0.2 follows the helper view
    c.execute("UPDATE tb_note SET body = 'changed' WHERE pk_note = 1", "app")
    assert c.execute("SELECT data ->> 'body' FROM tv_note WHERE pk_note = 1", "app") == [("changed",)]
    c.execute("UPDATE tb_note SET body = 'note 1' WHERE pk_note = 1", "app")

    back = fleet.playbook("rollback", "-e", "tviews_target_hosts=db1")
    assert back.returncode == 0, back.stdout[-4000:] + back.stderr[-2000:]
    rolled = state_of(c)
    assert rolled["version"] == "0.1.0"
    # under 0.1 note has no triggers again, as before the migration (not a loss)
    expected = dict(migrated, tviews=dict((e, dict(t, triggers=0) if e == "note" else t)
                                          for e, t in migrated["tviews"].items()))
    assert_no_less_consistent(expected, rolled)
    assert rolled["tviews"]["note"]["triggers"] == 0                   # frozen again under 0.1, as before
    assert rolled["stale"] == {}                                       # rebuilt (registering would have kept them)

    # the application goes on deleting under 0.1; this time the swap deletes the stale rows first
    c.execute("DELETE FROM tb_comment WHERE pk_comment IN (4, 5)", "app")
    assert state_of(c)["stale"] == {"comment": [4, 5]}
    again = fleet.playbook("migrate", "-e", "tviews_swap_repair_stale_rows=true", "-e", "tviews_report_run_id=repair")
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert "first deleted 2 row(s) pg_tviews 0.1 had left behind deleted base rows" in again.stdout
    assert recorded(fleet, "swap")["stale_rows_repaired"] == {"comment": 2}
    with open(os.path.join(fleet.root, "reports", "repair", "hosts", "db1.json")) as fh:
        report = json.load(fh)                                         # counted in the host's report too
    assert report["databases"]["app"]["swap"]["stale_rows_repaired"] == {"comment": 2}, report["databases"]["app"]["swap"]
    assert recorded(fleet, "swap")["stale_rows_kept"] == {}
    assert checks(fleet, "validate")["drift"]["status"] == "pass"
    assert_no_less_consistent(rolled, dict(state_of(c)))
    assert state_of(c)["version"] == "0.2.0" and state_of(c)["tviews"]["comment"]["equal"]

    full = fleet.playbook("rollback", "-e", "tviews_target_hosts=db1", "-e", "tviews_rollback_mode=complete", "-e", "tviews_rollback_confirm=true")
    assert full.returncode == 0, full.stdout[-4000:] + full.stderr[-2000:]
    final = state_of(c)
    assert final["version"] == "0.1.0"
    assert_no_less_consistent(rolled, final)
    assert final["orphans"] == [] and final["plain"] == ["tv_legacy"] and final["jsonb_delta"]
