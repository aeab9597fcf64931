# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dependency order between TVIEWs: create in this order, drop in reverse."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class DependencyCycleError(ValueError):
    pass


def dependency_order(depends_on):
    """Topological order of a {node: iterable of nodes it depends on} mapping.

    Dependencies come first; ties are broken by name so the order is stable.
    Edges to nodes that are not keys are ignored (they are not TVIEWs).
    A cycle raises DependencyCycleError naming the nodes on it."""
    nodes = sorted(depends_on)
    known = set(nodes)
    edges = dict((n, sorted(set(d for d in depends_on[n] if d in known and d != n))) for n in nodes)
    order, state = [], {}

    def visit(node, path):
        if state.get(node) == 'done':
            return
        if state.get(node) == 'active':
            cycle = path[path.index(node):] + [node]
            raise DependencyCycleError("TVIEW dependency cycle: %s" % ' -> '.join(cycle))
        state[node] = 'active'
        for dep in edges[node]:
            visit(dep, path + [node])
        state[node] = 'done'
        order.append(node)

    for n in nodes:
        visit(n, [])
    return order
