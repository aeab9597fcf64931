import copy
import json

import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.manifest import document as mf
from ansible_collections.pgtviews.ops.plugins.module_utils.host import sealed


def _tview(entity, **kw):
    t = dict(entity=entity, schema="public", table="tv_" + entity, view="v_" + entity,
             qualified_table="public.tv_" + entity, qualified_view="public.v_" + entity,
             definition="SELECT 1", view_definition=" SELECT 1;", pk_column="pk_" + entity,
             fk_columns=[], uuid_fk_columns=[], dependencies=["public.tb_" + entity], dependency_types=[],
             dependency_paths=[], array_match_keys=[], depends_on=[], row_count=3, checksum="c-" + entity,
             id_checksum="i-" + entity,
             table_details={"owner": "postgres", "comment": None, "indexes": [{"name": "idx", "definition": "CREATE INDEX idx"}],
                            "grants": [{"grantee": "app", "privilege": "SELECT", "grantable": False}]},
             view_details={"owner": "postgres", "comment": "the view", "indexes": [], "grants": []})
    t.update(kw)
    return t


def _doc():
    return mf.seal({
        "kind": mf.KIND, "schema_version": mf.SCHEMA_VERSION, "captured_at": "2026-11-26T00:00:00Z",
        "database": "app", "server_version": "15", "order": ["user", "post"],
        "extension": {"extversion": "0.1.0", "library_version": "0.1.0-beta.8", "schema": "public", "api_generation": "0.1"},
        "tviews": [_tview("user"), _tview("post", depends_on=["user"])],
        "base_tables": {"public.tb_user": {"row_count": 3, "checksum": "x"}},
        "dependents": [{"type": "view", "name": "public.post_titles", "depth": 1, "kind": "view",
                        "ddl": "CREATE VIEW public.post_titles AS SELECT 1", "drop": "DROP VIEW public.post_titles",
                        "owner": "postgres", "comment": None, "grants": []}],
        "triggers": [],
    })


def test_digest_is_deterministic_and_order_independent():
    a = _doc()
    b = json.loads(json.dumps(a, sort_keys=False))
    assert sealed.digest_of(a) == sealed.digest_of(b) == a["digest"]
    assert a["digest"].startswith("sha256:")


def test_roundtrip_load():
    doc = _doc()
    assert mf.load(mf.dumps(doc)) == doc


def test_tampered_manifest_is_refused():
    doc = _doc()
    doc["tviews"][0]["row_count"] = 4
    with pytest.raises(mf.ManifestError, match="modified after it was written"):
        mf.load(json.dumps(doc), "m.json")


def test_other_schema_version_is_refused():
    doc = _doc()
    doc["schema_version"] = 99
    doc = mf.seal(doc)
    with pytest.raises(mf.ManifestError, match="schema version 99"):
        mf.load(json.dumps(doc))


def test_not_a_manifest():
    with pytest.raises(mf.ManifestError, match="not a pgtviews.ops manifest"):
        mf.load(json.dumps({"kind": "something"}))
    with pytest.raises(mf.ManifestError, match="not valid JSON"):
        mf.load("{")


def test_compare_equal_documents_has_no_differences():
    assert mf.compare(_doc(), copy.deepcopy(_doc())) == []


def test_compare_reports_every_kind():
    exp = _doc()
    act = copy.deepcopy(exp)
    act["tviews"] = [t for t in act["tviews"] if t["entity"] != "user"] + [_tview("extra")]
    post = act["tviews"][0]
    post.update(row_count=2, checksum="other", id_checksum="other-ids", view_definition=" SELECT 2;")
    post["table_details"]["indexes"] = []
    post["table_details"]["grants"] = []
    post["view_details"]["comment"] = None
    act["dependents"] = []
    act["base_tables"]["public.tb_user"] = {"row_count": 4, "checksum": "y"}
    kinds = sorted(d["kind"] for d in mf.compare(exp, act))
    assert kinds == sorted(["missing_tview", "extra_tview", "definition", "row_count", "checksum", "ids",
                            "index", "grant", "comment", "dependent", "base_table"])


def test_allow_by_kind_and_by_object():
    diffs = [{"kind": "row_count", "object": "post"}, {"kind": "checksum", "object": "post"},
             {"kind": "checksum", "object": "user"}]
    left = mf.filter_allowed(diffs, ["row_count", "checksum:post"])
    assert left == [{"kind": "checksum", "object": "user"}]
