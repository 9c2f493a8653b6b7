"""ltv.dbt_launcher: dbt's ready nodes handed out longest remaining chain first."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import networkx as nx
import pytest
from dbt.graph.queue import GraphQueue

from ltv import dbt_launcher


def test_longest_chain_below_by_hand():
    graph = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "d"), ("e", "c")])
    graph.add_node("lonely")
    assert dbt_launcher.longest_chain_below(graph) == {"a": 3, "b": 2, "c": 1, "d": 1, "e": 2, "lonely": 1}


class _Manifest:
    """What GraphQueue asks of a manifest here: a node by id (a plain one, so not a microbatch model)."""

    def expect(self, unique_id):
        return SimpleNamespace(unique_id=unique_id)


def _hand_out_order(graph: nx.DiGraph) -> list[str]:
    """The order one dbt thread takes the nodes in, marking each done before taking the next."""
    queue = GraphQueue(graph.copy(), _Manifest(), set(graph))
    order = []
    while len(order) < len(graph):
        node = queue.get(block=False)
        order.append(node.unique_id)
        queue.mark_done(node.unique_id)
    return order


# After "root": "a_short" (nothing below it) and "b_long" (three nodes below it) are both ready and
# equally deep; dbt takes the first by name, the launcher the one with the longer chain below.
GRAPH = nx.DiGraph([("root", "a_short"), ("root", "b_long"), ("b_long", "c"), ("c", "d"), ("d", "e")])


@pytest.fixture
def restored_queue(monkeypatch):
    """Put dbt's scoring back after the test: the suite runs dbt in this process too."""
    monkeypatch.setattr(GraphQueue, "_get_scores", GraphQueue._get_scores)


def test_dbt_order_takes_the_shallow_name_first(restored_queue):
    assert _hand_out_order(GRAPH) == ["root", "a_short", "b_long", "c", "d", "e"]


def test_launcher_order_takes_the_longest_chain_first(restored_queue):
    assert dbt_launcher.install_critical_path_order()
    assert dbt_launcher.install_critical_path_order()  # a second install keeps one layer
    # The chain goes on first while it is the longest; a_short, as deep as b_long, goes before e.
    assert _hand_out_order(GRAPH) == ["root", "b_long", "c", "d", "a_short", "e"]
    # Between equal chains, dbt's own order (depth, then name) decides.
    twins = nx.DiGraph([("root", "y"), ("root", "x"), ("x", "x2"), ("y", "y2")])
    assert _hand_out_order(twins) == ["root", "x", "y", "x2", "y2"]


def test_an_unknown_queue_keeps_dbts_order_with_a_warning(restored_queue, monkeypatch):
    monkeypatch.setattr(GraphQueue, "_get_scores", lambda self, graph, extra: {})
    with pytest.warns(RuntimeWarning, match="own order"):
        assert not dbt_launcher.install_critical_path_order()


def test_launcher_runs_dbt():
    result = subprocess.run([sys.executable, "-m", "ltv.dbt_launcher", "--version"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "installed: 1.11." in result.stdout
