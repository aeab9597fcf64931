"""tviews_failure_detail: why a task failed, in one line of text, for a rescue section and the
report (the module's own message per failed loop item, not the loop's "One or more items failed")."""

from ansible_collections.pgtviews.ops.plugins.filter.tviews_report import FilterModule, tviews_failure_detail

SWAP_TASK = {"name": "Swap each database in one transaction", "action": "pgtviews.ops.tviews_swap",
             "args": {"login_db": "{{ item }}"}}
ADOPT = ("swap of database app to pg_tviews 0.2.0: step 'adopt TVIEW' for TVIEW 'post' failed: "
         "broken on purpose; rolled back, nothing changed")


def item(name, failed, msg, **extra):
    r = {"ansible_loop_var": "item", "item": name, "failed": failed, "changed": False, "msg": msg,
         "invocation": {"module_args": {"login_db": name, "login_password": "pw-secret-1"}}}
    r.update(extra)
    return r


def looped(*items):
    return {"changed": False, "failed": True, "msg": "One or more items failed", "skipped": False, "results": list(items)}


def test_registered_as_a_filter():
    assert FilterModule().filters()["tviews_failure_detail"] is tviews_failure_detail


def test_looped_task_names_each_failed_item_and_its_own_message():
    result = looped(item("app", True, ADOPT),
                    item("ok_db", False, ""),
                    item("shop", True, "swap of database shop to pg_tviews 0.2.0: step 'lock'\n   failed:\tlock timeout"))
    d = tviews_failure_detail(result, SWAP_TASK)
    assert d["phase"] == "Swap each database in one transaction"
    assert d["msg"] == ("app: " + ADOPT + "; shop: swap of database shop to pg_tviews 0.2.0: step 'lock' failed: lock timeout")
    assert "One or more items failed" not in d["msg"]
    assert d["databases"] == ["app", "shop"]
    assert d["failed_items"] == [{"item": "app", "msg": ADOPT},
                                 {"item": "shop", "msg": "swap of database shop to pg_tviews 0.2.0: step 'lock' failed: lock timeout"}]
    assert "pw-secret-1" not in str(d)


def test_loop_items_that_are_dicts_are_named_by_their_naming_key():
    result = looped({"ansible_loop_var": "db", "db": {"name": "app", "size": 3}, "failed": True, "msg": "boom"},
                    {"ansible_loop_var": "item", "item": {"item": "shop", "msg": "x"}, "failed": True, "msg": "bang"},
                    {"ansible_loop_var": "item", "item": {"size": 3}, "failed": True, "msg": "bong"})
    d = tviews_failure_detail(result, SWAP_TASK)
    assert d["msg"] == 'app: boom; shop: bang; {"size": 3}: bong'
    assert d["databases"] == ["app", "shop"]      # a dict without a name is no database


def test_plain_task_keeps_its_message_and_names_no_database():
    result = {"failed": True, "changed": False, "msg": "preflight failed on db1 (1 failing check(s)):\n  drift[app]: out of sync"}
    d = tviews_failure_detail(result, {"name": "Stop this host when a check failed"})
    assert d == {"phase": "Stop this host when a check failed",
                 "msg": "preflight failed on db1 (1 failing check(s)): drift[app]: out of sync",
                 "databases": [], "failed_items": [{"item": None, "msg": d["msg"]}]}
    # The task's name alone works too, and a command's stderr is kept when its msg lacks it.
    d = tviews_failure_detail({"failed": True, "msg": "non-zero return code", "rc": 2, "stderr": "make: *** [all] Error 1\n"},
                              "Build it")
    assert d["phase"] == "Build it" and d["msg"] == "non-zero return code (stderr: make: *** [all] Error 1)"


def test_messages_that_are_dicts_or_lists_are_text_not_a_python_repr():
    d = tviews_failure_detail({"failed": True, "msg": {"reason": "bad\n value", "tables": ["a", "b"], "login_password": "pw-secret-1"}},
                              {"name": "Check"})
    assert d["msg"] == "reason: bad value; tables: a, b; login_password: ********"
    assert "{" not in d["msg"] and "[" not in d["msg"] and "'" not in d["msg"]
    d = tviews_failure_detail(looped(item("app", True, ["first problem", {"second": "problem"}])), SWAP_TASK)
    assert d["msg"] == "app: first problem, second: problem"


def test_no_password_in_the_text():
    result = looped(item("app", True, "could not connect to postgres://admin:pw-secret-1@db1/app with pw-secret-1"))
    d = tviews_failure_detail(result, {"name": "Connect as pw-secret-1"}, secrets=["pw-secret-1", None, ""])
    assert "pw-secret-1" not in str(d)
    assert d["msg"] == "app: could not connect to postgres://********@db1/app with ********"
    assert d["phase"] == "Connect as ********"


def test_unreachable_and_missing_results():
    d = tviews_failure_detail({"unreachable": True, "msg": "Failed to connect to the host via ssh: timeout", "changed": False},
                              {"name": "Read the state file"})
    assert d["msg"] == "unreachable: Failed to connect to the host via ssh: timeout" and d["databases"] == []
    gone = {"ansible_loop_var": "item", "item": "shop", "unreachable": True, "msg": "host gone"}
    d = tviews_failure_detail(looped(item("app", False, ""), gone), SWAP_TASK)
    assert d["msg"] == "shop: unreachable: host gone" and d["databases"] == ["shop"]
    for nothing in (None, "", []):
        d = tviews_failure_detail(nothing, None)
        assert d["phase"] == "unknown" and d["databases"] == []
        assert d["msg"] == "no result of the failed task was recorded; see the log"
        assert d["failed_items"] == [{"item": None, "msg": d["msg"]}]
    d = tviews_failure_detail({"failed": True}, {"name": None, "action": "ansible.builtin.command"})
    assert d["phase"] == "ansible.builtin.command" and d["msg"] == "failed, without a message"


def test_long_messages_are_shortened():
    d = tviews_failure_detail(looped(item("app", True, "x" * 5000)), SWAP_TASK)
    assert len(d["failed_items"][0]["msg"]) == 2000 and d["failed_items"][0]["msg"].endswith("...")
