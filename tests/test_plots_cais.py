"""The chart helpers Chapter 7 appended to mesalib.plots: the service-tree diagram and log-axis curves."""
import pandas as pd
import pytest

from mesalib import plots
from mesalib.experiments import cais


def test_service_tree_draws_edges_nodes_and_labels():
    nodes, edges = cais.tree_frames()
    spec = plots.service_tree(nodes, edges).to_dict()
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert marks == ["rule", "circle", "text"]
    kinds = set(nodes["kind"])
    assert {"where mesa-optimization can enter (1)", "where mesa-optimization can enter (2)"} <= kinds
    # every edge starts and ends at a node
    points = set(zip(nodes["x"], nodes["y"]))
    assert all((r.x, r.y) in points and (r.x2, r.y2) in points for r in edges.itertuples())


def test_log_lines_uses_log_scales_and_rounds_data():
    df = pd.DataFrame({"step": [1, 10, 100] * 2, "value": [1.23456789, 0.1, 0.01, 2.0, 0.2, 0.02],
                       "schedule": list("aaabbb")})
    spec = plots.log_lines(df, "step", "value", "schedule").to_dict()
    assert spec["encoding"]["x"]["scale"]["type"] == "log" and spec["encoding"]["y"]["scale"]["type"] == "log"
    assert plots.log_lines(df, "step", "value", "schedule", log_y=False).to_dict()["encoding"]["y"]["scale"]["type"] == "linear"
    data = next(iter(spec["datasets"].values()))
    assert data[0]["value"] == 1.235


@pytest.mark.parametrize("call", [lambda df: plots.log_lines(df, "step", "value", "schedule"),
                                  lambda df: plots.service_tree(df, df)])
def test_missing_columns_are_reported(call):
    with pytest.raises(ValueError, match="missing column"):
        call(pd.DataFrame({"step": [1.0]}))


def test_log_dots_ci_uses_a_log_value_axis_and_rejects_nonpositive_values():
    df = pd.DataFrame({"schedule": ["a", "b"], "loss": [1.23456, 0.0123], "lo": [1.0, 0.01], "hi": [1.5, 0.015],
                       "kind": ["learned", "optimum"]})
    spec = plots.log_dots_ci(df, "schedule", "loss", "lo", "hi", color="kind").to_dict()
    rules, dots = spec["layer"]
    assert dots["encoding"]["x"]["scale"]["type"] == "log" and rules["encoding"]["x"]["scale"]["type"] == "log"
    data = next(iter(spec["datasets"].values()))
    assert data[0]["loss"] == 1.235
    with pytest.raises(ValueError, match="positive"):
        plots.log_dots_ci(df.assign(lo=[1.0, 0.0]), "schedule", "loss", "lo", "hi", color="kind")
