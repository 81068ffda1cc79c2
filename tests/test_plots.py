import numpy as np
import pandas as pd
import pytest

from mesalib import plots


def test_round_frame_keeps_four_significant_digits():
    df = pd.DataFrame({"x": [1234567.0, 0.000123456, -2.71828, 0.0], "n": [1, 2, 3, 4]})
    out = plots.round_frame(df)
    np.testing.assert_allclose(out["x"], [1235000.0, 0.0001235, -2.718, 0.0])
    assert list(out["n"]) == [1, 2, 3, 4]


def test_line_band_spec_has_band_line_and_legend_highlight():
    df = pd.DataFrame({"t": [0.0, 1.0] * 2, "m": [0.1, 0.2, 0.3, 0.4], "lo": 0.0, "hi": 1.0, "alg": list("aabb")})
    spec = plots.line_band(df, "t", "m", "lo", "hi", color="alg").to_dict()
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert marks == ["area", "line"]
    assert spec["params"] or any("params" in layer for layer in spec["layer"])


def test_enable_restores_the_books_theme_in_rendered_specs():
    import altair as alt
    df = pd.DataFrame({"t": [0.0, 1.0], "m": [0.1, 0.2], "lo": 0.0, "hi": 1.0})
    alt.theme.enable("default")
    try:
        plain = plots.line_band(df, "t", "m", "lo", "hi").to_dict()
        plots.enable()
        themed = plots.line_band(df, "t", "m", "lo", "hi").to_dict()
    finally:
        plots.enable()
    assert themed["config"]["range"]["category"] == plots.PALETTE
    assert "range" not in plain.get("config", {})


@pytest.mark.parametrize("fn", [plots.line_band, plots.points_ci])
def test_missing_column_is_reported(fn):
    df = pd.DataFrame({"t": [0.0], "m": [1.0], "lo": [0.0], "hi": [2.0]})
    with pytest.raises(ValueError, match="missing column"):
        fn(df, "t", "mean", "lo", "hi")


def test_bars_ci_horizontal_puts_categories_down_the_side():
    df = pd.DataFrame({"alg": ["a long name", "b"], "m": [1.0, 2.0], "lo": [0.5, 1.5], "hi": [1.5, 2.5]})
    upright = plots.bars_ci(df, "alg", "m", "lo", "hi").to_dict()
    side = plots.bars_ci(df, "alg", "m", "lo", "hi", horizontal=True).to_dict()
    bars, whiskers = side["layer"]
    assert bars["encoding"]["y"]["field"] == "alg" and bars["encoding"]["x"]["field"] == "m"
    assert whiskers["encoding"]["x"]["field"] == "lo" and whiskers["encoding"]["x2"]["field"] == "hi"
    assert upright["layer"][0]["encoding"]["x"]["field"] == "alg"


def test_dots_ci_rows_with_offset_groups_and_fixed_domain():
    df = pd.DataFrame({"system": ["a long name", "a long name", "b", "b"], "measure": ["x", "y", "x", "y"],
                       "share": [0.123456, 0.5, 0.9, 1.0], "lo": [0.1, 0.4, 0.8, 0.99], "hi": [0.2, 0.6, 1.0, 1.0]})
    spec = plots.dots_ci(df, "system", "share", "lo", "hi", color="measure", domain=(0, 1)).to_dict()
    bars, dots = spec["layer"]
    assert dots["encoding"]["y"]["field"] == "system" and dots["encoding"]["x"]["field"] == "share"
    assert dots["encoding"]["yOffset"]["field"] == "measure"
    assert bars["encoding"]["x"]["field"] == "lo" and bars["encoding"]["x2"]["field"] == "hi"
    assert dots["encoding"]["x"]["scale"]["domain"] == [0, 1]
    values = spec["datasets"][spec["data"]["name"]] if "datasets" in spec else None
    assert values is None or values[0]["share"] == 0.1235          # rounded data in the page
    with pytest.raises(ValueError, match="missing column"):
        plots.dots_ci(df, "system", "mean", "lo", "hi", color="measure")


def test_reference_lines_draw_one_rule_and_label_per_row():
    df = pd.DataFrame({"algorithm": ["Random", "Greedy"], "mean": [5.0, 6.6]})
    spec = plots.reference_lines(df, "mean", "algorithm").to_dict()
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["rule", "text"]
    data = next(iter(spec["datasets"].values()))
    assert [row["mean"] for row in data] == [5.0, 6.6]
    with pytest.raises(ValueError, match="nope"):
        plots.reference_lines(df, "nope", "algorithm")
    with pytest.raises(ValueError, match="mean"):
        plots.reference_lines(df.assign(mean=[1.0, float("nan")]), "mean", "algorithm")


def test_line_band_facets_one_panel_per_group_with_independent_y_and_rounded_data():
    df = pd.DataFrame({"w": [0.0, 0.5, 1.0] * 2, "m": [0.9, 0.5, 0.123456, 0.01, 0.02, 0.015],
                       "lo": 0.0, "hi": 1.0, "alpha": ["0.0"] * 3 + ["0.2"] * 3})
    spec = plots.line_band_facets(df, "w", "m", "lo", "hi", facet="alpha").to_dict()
    assert spec["facet"]["field"] == "alpha" and spec["resolve"]["scale"]["y"] == "independent"
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["spec"]["layer"]]
    assert marks == ["area", "line", "point"]       # band, mean curve, the peak of each panel
    values = next(iter(spec["datasets"].values()))
    assert [v["m"] for v in values][2] == 0.1235
    with pytest.raises(ValueError, match="missing column"):
        plots.line_band_facets(df, "w", "mean", "lo", "hi", facet="alpha")
