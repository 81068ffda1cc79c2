"""The book's Altair theme and the chart helpers the chapters share.

Charts carry their data inside the page, so every helper rounds numbers to a few significant
digits first: pages stay small, and a re-executed notebook produces the same chart unless a
result really changed.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from mesalib import validate

WIDTH, HEIGHT = 440, 260
PALETTE = ["#3b6ea8", "#d1603d", "#5b9e5b", "#8c6bb1", "#c9a227", "#6b6b6b", "#d4779c", "#2a9d9d"]


@alt.theme.register("mesalib", enable=True)
def _theme() -> alt.theme.ThemeConfig:
    return alt.theme.ThemeConfig({
        "config": {
            "view": {"continuousWidth": WIDTH, "continuousHeight": HEIGHT, "stroke": None},
            "font": "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif",
            "axis": {"labelFontSize": 12, "titleFontSize": 13, "gridColor": "#e6e6e6", "domainColor": "#888"},
            "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "right"},
            "title": {"fontSize": 14, "anchor": "start", "fontWeight": "normal"},
            "range": {"category": PALETTE},
            "line": {"strokeWidth": 2},
        }
    })


def enable():
    """Re-enable the book's theme (importing this module already does)."""
    alt.theme.enable("mesalib")


def round_frame(df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """Round every float column to ``digits`` significant digits (NaN and infinities are kept as
    they are; the chart helpers reject them in the columns they draw)."""
    _check_frame(df)
    digits = validate.integer("digits", digits, minimum=1, maximum=15)
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            v = out[col].to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                mag = np.where(v == 0, 0, np.floor(np.log10(np.abs(np.where(v == 0, 1, v)))))
                scale = 10.0 ** (digits - 1 - mag)
                rounded = np.round(v * scale) / scale
            out[col] = np.where(np.isfinite(v) & np.isfinite(rounded), rounded, v)
    return out


def _check_frame(df, name: str = "df"):
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    return df


def _check_values(df: pd.DataFrame, *cols):
    """The columns a chart draws as quantities: numeric and finite (a NaN or an infinity would be
    dropped from the chart, or break its JSON, without a word)."""
    for c in cols:
        if c is None:
            continue
        v = df[c]
        if not (pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_complex_dtype(v)):
            raise ValueError(f"df[{c!r}] must be numeric to be drawn as a quantity, got dtype {v.dtype}")
        arr = v.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"df[{c!r}] must be finite; it holds {int(np.isnan(arr).sum())} NaN and "
                             f"{int(np.isinf(arr).sum())} infinite value(s) (drop or fill those rows first, "
                             f"e.g. df.dropna(subset=[{c!r}]))")


def _check_options(title, x_title=None, y_title=None, **flags):
    validate.text("title", title)
    validate.text("x_title", x_title, allow_none=True)
    validate.text("y_title", y_title, allow_none=True)
    for name, value in flags.items():
        validate.boolean(name, value)


def _check_columns(df: pd.DataFrame, *cols):
    _check_frame(df)
    for c in cols:
        if c is not None and not isinstance(c, str):
            raise ValueError(f"column names must be strings, got {c!r}")
    missing = [c for c in cols if c is not None and c not in df.columns]
    if missing:
        raise ValueError(f"df is missing column(s) {missing}; it has {list(df.columns)}")


def line_band(df: pd.DataFrame, x: str, y: str, low: str | None = None, high: str | None = None,
              color: str | None = None, title: str = "", x_title: str | None = None,
              y_title: str | None = None, y_zero: bool = True, sort=None) -> alt.Chart:
    """Mean curves (``y`` against ``x``) with a shaded confidence band from ``low`` to ``high``."""
    _check_columns(df, x, y, low, high, color)
    _check_values(df, x, y, low, high)
    _check_options(title, x_title, y_title, y_zero=y_zero)
    if (low is None) != (high is None):
        raise ValueError("low and high must be given together (or neither)")
    data = round_frame(df)
    base = alt.Chart(data, title=title)
    col = alt.Color(f"{color}:N", sort=sort, title=color) if color else alt.value(PALETTE[0])
    xe = alt.X(f"{x}:Q", title=x_title or x)
    ye = alt.Y(f"{y}:Q", title=y_title or y, scale=alt.Scale(zero=y_zero))
    line = base.mark_line().encode(x=xe, y=ye, color=col, tooltip=[c for c in (color, x, y) if c])
    if color:  # clicking a legend entry highlights that curve
        sel = alt.selection_point(fields=[color], bind="legend")
        line = line.add_params(sel).encode(opacity=alt.condition(sel, alt.value(1.0), alt.value(0.15)))
    layers = []
    if low and high:
        layers.append(base.mark_area(opacity=0.2).encode(
            x=xe, y=alt.Y(f"{low}:Q", title=y_title or y), y2=f"{high}:Q", color=col))
    chart = alt.layer(*layers, line)
    return chart.properties(width=WIDTH, height=HEIGHT)


def bars_ci(df: pd.DataFrame, x: str, y: str, low: str, high: str, color: str | None = None,
            title: str = "", x_title: str | None = None, y_title: str | None = None, sort=None,
            y_zero: bool = True, horizontal: bool = False) -> alt.Chart:
    """Bars (one per category ``x``) with confidence-interval whiskers.

    ``horizontal=True`` lays the categories down the side, which leaves room for long names;
    ``x`` and ``y`` still name the category and the value columns.
    """
    _check_columns(df, x, y, low, high, color)
    _check_values(df, y, low, high)
    _check_options(title, x_title, y_title, y_zero=y_zero, horizontal=horizontal)
    data = round_frame(df)
    base = alt.Chart(data, title=title)
    col = alt.Color(f"{color}:N", title=color, legend=None) if color else alt.value(PALETTE[0])
    if horizontal:
        cat = alt.Y(f"{x}:N", title=x_title or x, sort=sort)
        val = alt.X(f"{y}:Q", title=y_title or y, scale=alt.Scale(zero=y_zero))
        bars = base.mark_bar(opacity=0.85).encode(y=cat, x=val, color=col, tooltip=[x, y, low, high])
        whiskers = base.mark_rule(color="black").encode(y=cat, x=f"{low}:Q", x2=f"{high}:Q")
        return alt.layer(bars, whiskers).properties(width=WIDTH, height=max(HEIGHT // 2, 32 * len(data)))
    xe = alt.X(f"{x}:N", title=x_title or x, sort=sort, axis=alt.Axis(labelAngle=0))
    bars = base.mark_bar(opacity=0.85).encode(
        x=xe, y=alt.Y(f"{y}:Q", title=y_title or y, scale=alt.Scale(zero=y_zero)), color=col,
        tooltip=[x, y, low, high])
    whiskers = base.mark_rule(color="black").encode(x=xe, y=f"{low}:Q", y2=f"{high}:Q")
    return alt.layer(bars, whiskers).properties(width=WIDTH, height=HEIGHT)


def points_ci(df: pd.DataFrame, x: str, y: str, low: str, high: str, color: str | None = None,
              title: str = "", x_title: str | None = None, y_title: str | None = None,
              x_type: str = "Q", y_zero: bool = False, line: bool = True, sort=None) -> alt.Chart:
    """Points with vertical CI bars per ``color`` group; ``line`` joins them (for a sweep over x).

    For a categorical ``x`` (``x_type="N"``) pass ``line=False`` and an explicit ``sort`` order.
    """
    _check_columns(df, x, y, low, high, color)
    validate.choice("x_type", x_type, {"Q", "N", "O", "T"})
    _check_values(df, *((x,) if x_type == "Q" else ()), y, low, high)
    _check_options(title, x_title, y_title, y_zero=y_zero, line=line)
    data = round_frame(df)
    base = alt.Chart(data, title=title)
    col = alt.Color(f"{color}:N", title=color) if color else alt.value(PALETTE[0])
    extra = {} if line else {"sort": sort, "axis": alt.Axis(labelAngle=0)}  # categories: upright labels
    xe = alt.X(f"{x}:{x_type}", title=x_title or x, **extra)
    ye = alt.Y(f"{y}:Q", title=y_title or y, scale=alt.Scale(zero=y_zero))
    tooltip = [c for c in (color, x, y, low, high) if c]
    mark = base.mark_line(point=True) if line else base.mark_point(filled=True, size=60)
    points = mark.encode(x=xe, y=ye, color=col, tooltip=tooltip)
    if color and not line:  # side by side within each category
        points = points.encode(xOffset=alt.XOffset(f"{color}:N"))
    err = base.mark_rule().encode(x=xe, y=f"{low}:Q", y2=f"{high}:Q", color=col)
    if color and not line:
        err = err.encode(xOffset=alt.XOffset(f"{color}:N"))
    return alt.layer(err, points).properties(width=WIDTH, height=HEIGHT)


def heatmap(df: pd.DataFrame, x: str, y: str, value: str, title: str = "", scheme: str = "blues",
            x_title: str | None = None, y_title: str | None = None, domain=None) -> alt.Chart:
    """A grid of cells coloured by ``value`` (e.g. a gridworld's visitation or a value map)."""
    _check_columns(df, x, y, value)
    _check_values(df, value)
    _check_options(title, x_title, y_title)
    validate.text("scheme", scheme)
    if domain is not None:
        d = validate.array("domain", domain, shape=(2,))
        if d[0] >= d[1]:
            raise ValueError(f"domain must be (low, high) with low < high, got {tuple(d)}")
    data = round_frame(df)
    scale = alt.Scale(scheme=scheme, domain=domain) if domain is not None else alt.Scale(scheme=scheme)
    return alt.Chart(data, title=title).mark_rect().encode(
        x=alt.X(f"{x}:O", title=x_title or x), y=alt.Y(f"{y}:O", title=y_title or y),
        color=alt.Color(f"{value}:Q", scale=scale), tooltip=[x, y, value],
    ).properties(width=min(WIDTH, 300), height=min(HEIGHT, 300))


#: How :func:`table` shows an undefined cell (pandas' <NA> in a nullable column).
MISSING = "—"


def table(df: pd.DataFrame, digits: int = 2):
    """A rounded DataFrame for display as a table (pandas renders it as HTML). Float columns are
    rounded to ``digits``; a nullable column (Float64, Int64) with undefined cells shows them as
    "—", its numbers written out to the same digits."""
    _check_frame(df)
    digits = validate.integer("digits", digits, minimum=0, maximum=15)
    out = df.copy()
    for col in out.columns:
        values = out[col]
        nullable = isinstance(values.dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(values)
        if nullable and values.isna().any():
            fmt = "{:.%df}" % digits if pd.api.types.is_float_dtype(values) else "{:d}"
            out[col] = [MISSING if pd.isna(v) else fmt.format(v) for v in values]
        elif nullable:
            values = values.to_numpy(dtype=np.float64 if pd.api.types.is_float_dtype(values) else np.int64)
            out[col] = values.round(digits) if values.dtype.kind == "f" else values
        elif pd.api.types.is_float_dtype(values):
            out[col] = values.round(digits)
    return out


LEVEL_COLOURS = {"wall": "#555555", "floor": "#f2f2f2", "start": "#3b6ea8", "goal": "#5b9e5b", "corner": "#e3c58f"}


def levels(df: pd.DataFrame, columns: int = 3, cell: int = 100, colours: dict | None = None) -> alt.Chart:
    """Small multiples of gridworld levels from a (level, row, col, cell) frame, e.g.
    ``gridworld.level_frame(levels, corner)``; ``colours`` maps cell kinds to colours."""
    _check_columns(df, "level", "row", "col", "cell")
    validate.integer("columns", columns, minimum=1)
    validate.integer("cell", cell, minimum=1, maximum=2000)
    colours = LEVEL_COLOURS if colours is None else colours
    if not isinstance(colours, dict):
        raise ValueError(f"colours must be a dict of cell kind -> colour, got {type(colours).__name__}")
    unknown = sorted(set(df["cell"].astype(str)) - set(colours))
    if unknown:
        raise ValueError(f"colours has no colour for cell kind(s) {unknown}; it covers {sorted(colours)}")
    scale = alt.Scale(domain=list(colours), range=list(colours.values()))
    return alt.Chart(df).mark_rect(stroke="white").encode(
        x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None),
        color=alt.Color("cell:N", scale=scale, title=None), tooltip=["level", "row", "col", "cell"],
    ).properties(width=cell, height=cell).facet(facet=alt.Facet("level:N", title=None, sort=None), columns=columns)


# Robustness status of inputs (Chapter 5's maps): from proved robust, through undecided, to refuted.
STATUS_ORDER = ["certified by CROWN", "certified by exact only", "unknown", "falsified by exact only", "falsified by PGD"]
STATUS_COLOURS = ["#3b6ea8", "#8fb3dc", "#c9a227", "#e8a58f", "#d1603d"]


def status_chart(grid: pd.DataFrame, points: pd.DataFrame | None = None, title: str = "") -> alt.LayerChart:
    """A map of statuses over a 2-D grid (columns x0, x1, predicted, status; cell colour: status,
    darker cells: class 1), optionally with points (columns x0, x1, label) on top."""
    _check_columns(grid, "x0", "x1", "predicted", "status")
    if points is not None:
        _check_columns(points, "x0", "x1", "label")
    data = round_frame(grid.assign(cls=grid["predicted"].map(lambda c: f"class {c}")), 3)
    step = float(np.diff(np.unique(data["x0"]))[:1].mean()) if data["x0"].nunique() > 1 else 0.1
    rect = alt.Chart(data, title=title).mark_square(size=120 * (step / 0.1) ** 2, opacity=0.9).encode(
        x=alt.X("x0:Q", title="x₀", scale=alt.Scale(nice=False)),
        y=alt.Y("x1:Q", title="x₁", scale=alt.Scale(nice=False)),
        color=alt.Color("status:N", scale=alt.Scale(domain=STATUS_ORDER, range=STATUS_COLOURS), title="status"),
        opacity=alt.Opacity("cls:N", scale=alt.Scale(domain=["class 0", "class 1"], range=[0.55, 1.0]),
                            title="predicted"),
        tooltip=["x0", "x1", "cls", "status"])
    layers = [rect]
    if points is not None:
        pts = round_frame(points.assign(label=points["label"].map(lambda c: f"class {c}")), 3)
        layers.append(alt.Chart(pts).mark_point(filled=True, size=25, color="black").encode(
            x="x0:Q", y="x1:Q", shape=alt.Shape("label:N", title="test point")))
    return alt.layer(*layers).properties(width=360, height=360)


def service_tree(nodes: pd.DataFrame, edges: pd.DataFrame, title: str = "") -> alt.Chart:
    """A layered diagram: ``nodes`` (columns name, x, y, kind, note) drawn as labelled points
    coloured by ``kind``; ``edges`` (columns x, y, x2, y2, kind) drawn as lines, dashed where
    ``kind`` is "check". Used for the tree of services in which services train services."""
    _check_columns(nodes, "name", "x", "y", "kind", "note")
    _check_columns(edges, "x", "y", "x2", "y2", "kind")
    n, e = round_frame(nodes), round_frame(edges)
    axis = alt.Axis(labels=False, ticks=False, domain=False, grid=False, title=None)
    lines = alt.Chart(e).mark_rule(color="#888", strokeWidth=1.5).encode(
        x=alt.X("x:Q", axis=axis, scale=alt.Scale(domain=[-0.5, 4.5])),
        y=alt.Y("y:Q", axis=axis, scale=alt.Scale(domain=[-0.6, 3.6])), x2="x2:Q", y2="y2:Q",
        strokeDash=alt.condition(alt.datum.kind == "check", alt.value([4, 3]), alt.value([1, 0])))
    points = alt.Chart(n).mark_circle(size=900, opacity=0.9).encode(
        x="x:Q", y="y:Q", color=alt.Color("kind:N", title=None, legend=alt.Legend(orient="bottom", columns=2)),
        tooltip=["name", "note"])
    labels = alt.Chart(n).mark_text(dy=-26, fontSize=12).encode(x="x:Q", y="y:Q", text="name:N")
    return alt.layer(lines, points, labels, title=title).properties(width=WIDTH + 120, height=HEIGHT + 60)


def log_lines(df: pd.DataFrame, x: str, y: str, color: str, title: str = "", x_title: str | None = None,
              y_title: str | None = None, log_y: bool = True, sort=None) -> alt.Chart:
    """Curves of ``y`` against ``x`` on a log ``x`` axis (and a log ``y`` axis unless ``log_y`` is
    False), one per ``color`` group; clicking a legend entry highlights that curve."""
    _check_columns(df, x, y, color)
    data = round_frame(df)
    sel = alt.selection_point(fields=[color], bind="legend")
    return alt.Chart(data, title=title).mark_line().encode(
        x=alt.X(f"{x}:Q", title=x_title or x, scale=alt.Scale(type="log")),
        y=alt.Y(f"{y}:Q", title=y_title or y, scale=alt.Scale(type="log" if log_y else "linear", zero=False)),
        color=alt.Color(f"{color}:N", title=color, sort=sort),
        opacity=alt.condition(sel, alt.value(1.0), alt.value(0.15)),
        tooltip=[color, x, y]).add_params(sel).properties(width=WIDTH, height=HEIGHT)
def dots_ci(df: pd.DataFrame, category: str, value: str, low: str, high: str, color: str,
            title: str = "", value_title: str | None = None, category_title: str | None = None,
            sort=None, color_sort=None, domain=None) -> alt.Chart:
    """Dots with horizontal interval bars, one row per ``category`` (long names fit down the side)
    and one dot per ``color`` group within a row; ``domain`` fixes the value axis, e.g. (0, 1)."""
    _check_columns(df, category, value, low, high, color)
    data = round_frame(df)
    base = alt.Chart(data, title=title)
    scale = alt.Scale(domain=list(domain)) if domain is not None else alt.Scale(zero=False)
    ye = alt.Y(f"{category}:N", title=category_title or category, sort=sort)
    col = alt.Color(f"{color}:N", title=color, sort=color_sort)
    offset = alt.YOffset(f"{color}:N", sort=color_sort)
    tooltip = [category, color, value, low, high]
    bars = base.mark_rule(strokeWidth=2).encode(y=ye, yOffset=offset, x=alt.X(f"{low}:Q", scale=scale),
                                                 x2=f"{high}:Q", color=col)
    dots = base.mark_point(filled=True, size=60).encode(
        y=ye, yOffset=offset, x=alt.X(f"{value}:Q", title=value_title or value, scale=scale), color=col,
        tooltip=tooltip)
    rows = data[category].nunique()
    return alt.layer(bars, dots).properties(width=WIDTH, height=max(HEIGHT, 44 * rows))
def scatter(df: pd.DataFrame, x: str, y: str, color: str | None = None, title: str = "",
            x_title: str | None = None, y_title: str | None = None, rule_x: float | None = None,
            sort=None) -> alt.Chart:
    """One point per row (e.g. one per trained agent); ``rule_x`` draws a vertical threshold."""
    _check_columns(df, x, y, color)
    data = round_frame(df)
    col = alt.Color(f"{color}:N", title=color, sort=sort) if color else alt.value(PALETTE[0])
    points = alt.Chart(data, title=title).mark_point(filled=True, size=60, opacity=0.8).encode(
        x=alt.X(f"{x}:Q", title=x_title or x), y=alt.Y(f"{y}:Q", title=y_title or y), color=col,
        tooltip=list(data.columns))
    layers = [points]
    if rule_x is not None:
        rule = alt.Chart(pd.DataFrame({x: [float(rule_x)]})).mark_rule(strokeDash=[4, 4], color="#888")
        layers.append(rule.encode(x=f"{x}:Q"))
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT)


def reference_lines(df: pd.DataFrame, y: str, label: str) -> alt.LayerChart:
    """Dashed horizontal lines at ``df[y]``, each labelled by ``df[label]`` at the right edge: levels
    to read a curve against, e.g. ``line_band(...) + reference_lines(baselines, "mean", "algorithm")``."""
    _check_columns(df, y, label)
    _check_values(df, y)
    data = round_frame(df[[label, y]])
    base = alt.Chart(data)
    rules = base.mark_rule(strokeDash=[4, 4], color="#888").encode(y=f"{y}:Q", tooltip=[label, y])
    text = base.mark_text(align="right", baseline="bottom", dx=-2, color="#555", fontSize=11).encode(
        y=f"{y}:Q", x=alt.value(WIDTH), text=f"{label}:N")
    return alt.layer(rules, text)


def log_dots_ci(df: pd.DataFrame, category: str, value: str, low: str, high: str, color: str,
                title: str = "", value_title: str | None = None, category_title: str | None = None,
                sort=None) -> alt.Chart:
    """Dots with horizontal interval bars on a log value axis, one row per ``category`` (for values
    spanning orders of magnitude, e.g. final losses); values and bounds must be positive."""
    _check_columns(df, category, value, low, high, color)
    _check_values(df, value, low, high)
    if not (df[[value, low, high]].to_numpy() > 0).all():
        raise ValueError(f"{value}, {low} and {high} must be positive for a log axis")
    data = round_frame(df)
    base = alt.Chart(data, title=title)
    scale = alt.Scale(type="log")
    ye = alt.Y(f"{category}:N", title=category_title or category, sort=sort)
    col = alt.Color(f"{color}:N", title=color)
    bars = base.mark_rule(strokeWidth=2).encode(y=ye, x=alt.X(f"{low}:Q", scale=scale), x2=f"{high}:Q", color=col)
    dots = base.mark_point(filled=True, size=60).encode(
        y=ye, x=alt.X(f"{value}:Q", title=value_title or value, scale=scale), color=col,
        tooltip=[category, color, value, low, high])
    return alt.layer(bars, dots).properties(width=WIDTH, height=max(HEIGHT, 30 * data[category].nunique()))


def line_band_facets(df: pd.DataFrame, x: str, y: str, low: str, high: str, facet: str, title: str = "",
                     x_title: str | None = None, y_title: str | None = None, columns: int = 4,
                     sort=None) -> alt.FacetChart:
    """One small panel per value of ``facet``, each a mean curve with its confidence band and a dot
    on its peak (the first, at the smallest ``x``, when several values tie), with independent y
    axes (curves of very different levels stay readable side by side)."""
    _check_columns(df, x, y, low, high, facet)
    _check_values(df, x, y, low, high)
    _check_options(title, x_title, y_title)
    columns = validate.integer("columns", columns, minimum=1, maximum=100)
    data = round_frame(df)
    base = alt.Chart().encode(x=alt.X(f"{x}:Q", title=x_title or x))
    band = base.mark_area(opacity=0.25, color=PALETTE[0]).encode(
        y=alt.Y(f"{low}:Q", title=y_title or y, scale=alt.Scale(zero=False)), y2=f"{high}:Q")
    line = base.mark_line(color=PALETTE[0]).encode(y=alt.Y(f"{y}:Q"), tooltip=[facet, x, y, low, high])
    peak = base.transform_window(rank="row_number()", sort=[alt.SortField(y, order="descending"),
                                                           alt.SortField(x, order="ascending")],
                                 groupby=[facet]).transform_filter("datum.rank == 1").mark_point(
        filled=True, size=60, color=PALETTE[1]).encode(y=alt.Y(f"{y}:Q"), tooltip=[facet, x, y])
    return alt.layer(band, line, peak, data=data).properties(width=180, height=160).facet(
        facet=alt.Facet(f"{facet}:N", title=facet, sort=sort), columns=columns, title=title
    ).resolve_scale(y="independent")
