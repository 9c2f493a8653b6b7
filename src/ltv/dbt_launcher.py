"""dbt as `ltv publish` and `ltv bench` run it: ready nodes handed out longest remaining chain first.

dbt 1.11 hands the nodes whose parents are done to its threads in order of their depth in the graph
(dbt.graph.queue.GraphQueue._get_scores: the shallowest first, ties by name). On the large shop that
let the shallow recommendation models take both threads while the value models, which a long chain
of later nodes waits for, sat ready: ml_user_value.v3 waited 39 s for a thread and v4 then ran alone
at the end. List scheduling by the longest chain of nodes still to run below each node (the
classic critical-path rule) starts that chain first; replaying the large build's own node times with
both orders gave 256 s for dbt's and 245 s for this one, the bound being half the node seconds (245 s).

The order only decides which ready node goes first: dependencies hold as before, so every table is
what `dbt build` makes. dbt has no setting for this yet (dbt-core issue #10632, "priority among
models with satisfied dependencies"), so the launcher replaces the scoring function before dbt's
command line runs; if a dbt release moves or changes it, dbt runs with its own order and a warning
says so. A plain `dbt build` keeps dbt's order.

Usage: `python -m ltv.dbt_launcher <dbt arguments>`, as `dbt <dbt arguments>`.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Hashable

import networkx as nx


def longest_chain_below(graph: nx.DiGraph) -> dict[Hashable, int]:
    """Each node's count of nodes on the longest path from it to a node without children (itself
    included: a leaf has 1)."""
    chain: dict[Hashable, int] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        chain[node] = 1 + max((chain[child] for child in graph.successors(node)), default=0)
    return chain


def critical_path_scores(graph: nx.DiGraph, depth_scores: dict) -> dict:
    """GraphQueue scores (lower goes first) that put the longest chain below first, then dbt's own
    score (depth), then, as in dbt, the node's name."""
    chain = longest_chain_below(graph)
    return {node: (-chain[node], depth_scores[node]) for node in graph}


def install_critical_path_order() -> bool:
    """Make dbt's GraphQueue score ready nodes by critical_path_scores; False (with a warning) when
    this dbt's queue is not the one this was written for."""
    try:
        from dbt.graph.queue import GraphQueue
    except ImportError:
        GraphQueue = None  # noqa: N806 - the class, when there is one
    original = getattr(GraphQueue, "_get_scores", None)
    if original is None or list(inspect.signature(original).parameters) != ["self", "graph"]:
        warnings.warn("ltv: this dbt's graph queue is not the one ltv's scheduling was written for; "
                      "dbt hands out nodes in its own order", RuntimeWarning, stacklevel=2)
        return False
    if getattr(original, "ltv_critical_path", False):
        return True

    def scores(self, graph: nx.DiGraph) -> dict:
        return critical_path_scores(graph, original(self, graph))

    scores.ltv_critical_path = True
    GraphQueue._get_scores = scores
    return True


def main() -> int:
    install_critical_path_order()
    from dbt.cli.main import cli

    sys.argv[0] = "dbt"
    return cli()


if __name__ == "__main__":
    sys.exit(main())
