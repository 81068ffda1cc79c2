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


def table(df: pd.DataFrame, digits: int = 2):
    """A rounded DataFrame for display as a table (pandas renders it as HTML)."""
    _check_frame(df)
    digits = validate.integer("digits", digits, minimum=0, maximum=15)
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(digits)
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
