import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.host import state_file
from ansible_collections.pgtviews.ops.plugins.module_utils.swap.transaction import SwapError, choose_strategy, is_done, lock_targets


def _rec(entity, deps, table=True):
    return {"entity": entity, "qualified_table": "public.tv_" + entity if table else None,
            "qualified_view": "public.v_" + entity, "dependencies": deps}


FACTS = {"installed": True, "extversion": "0.1.0", "update_paths": {"0.1.1": "0.1.0--0.1.1"}}


def test_auto_uses_update_path_when_there_is_one():
    assert choose_strategy("auto", FACTS, "0.1.1") == "update"
    assert choose_strategy("auto", FACTS, "0.2.0") == "swap"
    assert choose_strategy("swap", FACTS, "0.1.1") == "swap"


def test_update_without_path_is_refused():
    with pytest.raises(SwapError, match="no update path from 0.1.0 to 0.2.0"):
        choose_strategy("update", FACTS, "0.2.0")


def test_done_needs_version_tables_and_triggers():
    recs = [_rec("user", ["public.tb_user"]), _rec("post", ["public.tb_post"])]
    trig = [{"table": "public.tb_user"}, {"table": "public.tb_post"}]
    on02 = dict(FACTS, extversion="0.2.0")
    assert is_done(on02, "0.2.0", recs, trig)
    assert not is_done(FACTS, "0.2.0", recs, trig)
    assert not is_done(on02, "0.2.0", recs, trig[:1])               # post lost its trigger
    assert not is_done(on02, "0.2.0", recs + [_rec("x", [], table=False)], trig)


def test_lock_targets_are_sorted_and_split():
    recs = [_rec("post", ["public.tb_post", "public.tv_user"]), _rec("user", ["public.tb_user"])]
    base, tv = lock_targets(recs, [{"table": "public.tb_zeta"}])
    assert base == ["public.tb_post", "public.tb_user", "public.tb_zeta"]
    assert tv == ["public.tv_post", "public.tv_user"]


def test_state_file_refuses_secrets_and_merges(tmp_path):
    path = str(tmp_path / "s" / "state.json")
    doc = state_file.read(path)
    doc = state_file.merged(doc, "app", "swap", {"window_ms": 3.5})
    state_file.write(path, doc)
    recorded = state_file.read(path)["databases"]["app"]["swap"]
    assert recorded["window_ms"] == 3.5 and recorded["recorded_at"].endswith("Z")
    with pytest.raises(state_file.StateError, match="looks like a secret"):
        state_file.merged(doc, "app", "backup", {"conn": {"login_password": "x"}})


def _unstamped(data):
    return dict((k, v) for k, v in data.items() if k != "recorded_at")


def test_a_swap_or_rollback_supersedes_the_backups_taken_before_it():
    doc = {"format": state_file.FORMAT, "databases": {}}
    doc = state_file.merged(doc, "app", "backup", {"path": "/b/1", "created": "t1"})
    doc = state_file.merged(doc, "app", "backup_after", {"path": "/b/after"})
    doc = state_file.merged(doc, "app", "rehearsal", {"passed": True})
    assert "superseded_by" not in doc["databases"]["app"]["backup"]      # a rehearsal changes nothing
    doc = state_file.merged(doc, "app", "swap", {"window_ms": 3.5})
    assert _unstamped(doc["databases"]["app"]["backup"]) == {"path": "/b/1", "created": "t1", "superseded_by": "swap"}
    assert doc["databases"]["app"]["backup_after"]["superseded_by"] == "swap"
    # The first change is kept (recording again changes nothing), and a new backup stands again.
    again = state_file.merged(doc, "app", "rollback", {"mode": "immediate"})
    assert again["databases"]["app"]["backup"]["superseded_by"] == "swap"
    assert state_file.merged(again, "app", "rollback", {"mode": "immediate"}) == again
    fresh = state_file.merged(again, "app", "backup", {"path": "/b/2"})
    assert _unstamped(fresh["databases"]["app"]["backup"]) == {"path": "/b/2"}
    # Another database is not touched.
    other = state_file.merged(state_file.merged(doc, "other", "backup", {"path": "/o"}), "app", "rollback", {})
    assert "superseded_by" not in other["databases"]["other"]["backup"]


def test_the_last_change_and_whether_it_was_validated_are_read_from_the_stamps():
    now = iter("2026-01-01T00:00:0%dZ" % i for i in range(10)).__next__
    doc = {"format": state_file.FORMAT, "databases": {}}
    doc = state_file.merged(doc, "app", "swap", {"to_version": "0.2.0"}, now=now)
    assert state_file.summary(doc)["app"] == {"last_change": "swap", "validated_after_swap": False}
    doc = state_file.merged(doc, "app", "validate", {"status": "pass", "extversion": "0.2.0"}, now=now)
    assert state_file.summary(doc)["app"] == {"last_change": "swap", "validated_after_swap": True}
    doc = state_file.merged(doc, "app", "rollback", {"mode": "immediate"}, now=now)
    assert state_file.summary(doc)["app"]["last_change"] == "rollback"
    # Migrated again: a swap recorded after the rollback, not yet validated (the old validate is older).
    doc = state_file.merged(doc, "app", "swap", {"to_version": "0.2.0", "window_ms": 5}, now=now)
    assert state_file.summary(doc)["app"] == {"last_change": "swap", "validated_after_swap": False}
    # Recording the same data again keeps its stamp.
    assert state_file.merged(doc, "app", "swap", {"to_version": "0.2.0", "window_ms": 5}, now=now) == doc


def test_an_unreadable_state_file_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "state.json"
    for text, words in (('{"format": 1, "databa', "is not valid JSON"), ("[1, 2]", "is not a pgtviews.ops state file"),
                        ('{"format": 9, "databases": {}}', "has format 9, this version reads format 1")):
        path.write_text(text)
        with pytest.raises(state_file.StateError) as e:
            state_file.read(str(path))
        assert words in str(e.value) and "tviews_state_recover" in str(e.value) and "{'" not in str(e.value)


def test_another_hosts_state_file_is_refused(tmp_path):
    path = str(tmp_path / "state.json")
    doc = dict(state_file.merged(state_file.read(path), "app", "backup", {"path": "/b/db9/app/1"}), host="db9")
    state_file.write(path, doc)
    assert state_file.read(path, "db9")["host"] == "db9"
    assert state_file.read(path)["host"] == "db9"          # no host asked: read as it is
    with pytest.raises(state_file.WrongHostError, match="was written by host db9, not db1: point tviews_state_file at "
                                                        "this host's own state file"):
        state_file.read(path, "db1")
