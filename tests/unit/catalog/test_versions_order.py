import pytest

from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.order import DependencyCycleError, dependency_order
from ansible_collections.pgtviews.ops.plugins.module_utils.catalog.versions import (
    UnknownGenerationError, generation_of, parse_version, same_release)


@pytest.mark.parametrize("text,release,pre", [
    ("0.1.0", (0, 1, 0), ""),
    ("0.1.0-beta.8", (0, 1, 0), "beta.8"),
    (" 0.1.0-beta.8\n", (0, 1, 0), "beta.8"),   # psql -t output without -A
    ("v0.2.0", (0, 2, 0), ""),
    ("0.2", (0, 2, 0), ""),
])
def test_parse(text, release, pre):
    v = parse_version(text)
    assert v.release == release
    assert v.pre == pre


def test_prerelease_sorts_before_release():
    assert parse_version("0.1.0-beta.8") < parse_version("0.1.0")
    assert parse_version("0.1.0-beta.7") < parse_version("0.1.0-beta.8")
    assert parse_version("0.1.0-beta.10") > parse_version("0.1.0-beta.8")
    assert parse_version("0.1.1") > parse_version("0.1.0")
    assert parse_version("0.2.0") > parse_version("0.1.1")


def test_same_release_ignores_crate_suffix():
    assert same_release("0.1.0", "0.1.0-beta.8")
    assert not same_release("0.1.0", "0.2.0")


@pytest.mark.parametrize("version,gen", [("0.1.0", "0.1"), ("0.1.1", "0.1"), ("0.1.0-beta.8", "0.1"), ("0.2.0", "0.2")])
def test_generation(version, gen):
    assert generation_of(version) == gen


@pytest.mark.parametrize("version", ["0.3.0", "1.0.0", "2.0.0"])
def test_unknown_generation_is_an_error(version):
    with pytest.raises(UnknownGenerationError, match=version):
        generation_of(version)


def test_not_a_version():
    with pytest.raises(ValueError, match="not a pg_tviews version"):
        parse_version("0.1.x")


def test_dependency_order_puts_dependencies_first():
    graph = {"comment": {"post", "user"}, "post": {"user"}, "user": set(), "feed": {"post"}}
    order = dependency_order(graph)
    assert order == ["user", "post", "comment", "feed"]
    for node, deps in graph.items():
        for d in deps:
            assert order.index(d) < order.index(node)


def test_dependency_order_is_stable_and_ignores_unknown_nodes():
    graph = {"b": set(), "a": {"tb_not_a_tview"}, "c": set()}
    assert dependency_order(graph) == ["a", "b", "c"]


def test_cycle_is_named():
    with pytest.raises(DependencyCycleError) as e:
        dependency_order({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()})
    assert "a -> b -> c -> a" in str(e.value)
