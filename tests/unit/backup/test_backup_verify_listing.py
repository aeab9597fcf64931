"""Reading pg_restore --list: names with spaces and non-ASCII letters, exact matches only."""

from ansible_collections.pgtviews.ops.plugins.module_utils.backup import verify as bv

LISTING = """;
; Archive created at 2026-11-26 13:00:08 UTC
;     dbname: app
;
9; 2615 16586 SCHEMA - Sales Dept postgres
2; 3079 16385 EXTENSION - pg_tviews {empty_owner}
235; 1259 16587 TABLE Sales Dept tb_Bücher postgres
237; 1259 16602 TABLE Sales Dept tv_Bücher postgres
236; 1259 16598 VIEW Sales Dept v_Bücher postgres
231; 1259 16542 TABLE public tv_post postgres
230; 1259 16538 VIEW public v_post postgres
226; 1259 16478 TABLE public tb_post app owner
3519; 0 16587 TABLE DATA Sales Dept tb_Bücher postgres
3520; 0 16602 TABLE DATA Sales Dept tv_Bücher postgres
3514; 0 16478 TABLE DATA public tb_post postgres
3517; 0 16542 TABLE DATA public tv_post postgres
3528; 0 0 COMMENT public TABLE tv_post postgres
""".format(empty_owner="")


def test_everything_listed():
    entries = [("EXTENSION", "", "pg_tviews"), ("TABLE", "Sales Dept", "tv_Bücher"), ("TABLE DATA", "Sales Dept", "tv_Bücher"),
               ("VIEW", "Sales Dept", "v_Bücher"), ("TABLE", "Sales Dept", "tb_Bücher"), ("TABLE DATA", "Sales Dept", "tb_Bücher"),
               ("TABLE", "public", "tb_post"), ("TABLE DATA", "public", "tb_post"), ("TABLE", "public", "tv_post"),
               ("TABLE DATA", "public", "tv_post"), ("VIEW", "public", "v_post")]
    assert bv.missing_entries(LISTING, entries) == []
    assert bv.toc_entry_count(LISTING) == 13


def test_missing_and_near_misses():
    entries = [("TABLE DATA", "public", "tv_user"),      # absent
               ("TABLE", "public", "tv_pos"),             # prefix of tv_post: must not match
               ("TABLE DATA", "Sales", "Dept tb_Bücher"),  # same text, split differently: pg_restore cannot tell
               ("VIEW", "public", "tv_post")]             # wrong kind
    assert bv.missing_entries(LISTING, entries) == ["TABLE DATA public.tv_user", "TABLE public.tv_pos", "VIEW public.tv_post"]


def test_scratch_names_fit_and_say_what_they_are():
    name = bv.scratch_name("Ä" * 60, token="abcd1234")
    assert name.startswith("pgtviews_verify_") and name.endswith("_abcd1234")
    assert len(name.encode("utf-8")) <= 63
    name.encode("utf-8").decode("utf-8")  # no split character
    assert bv.scratch_name('Bk "App"', token="00") == 'pgtviews_verify_Bk "App"_00'
