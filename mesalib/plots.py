"""The book's Altair theme and the chart helpers the chapters share.

Charts carry their data inside the page, so every helper rounds numbers to a few significant
digits first: pages stay small, and a re-executed notebook produces the same chart unless a
result really changed.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

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
    """Round every float column to ``digits`` significant digits."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            v = out[col].to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                mag = np.where(v == 0, 0, np.floor(np.log10(np.abs(np.where(v == 0, 1, v)))))
            scale = 10.0 ** (digits - 1 - mag)
            out[col] = np.round(v * scale) / scale
    return out


def _check_columns(df: pd.DataFrame, *cols):
    missing = [c for c in cols if c is not None and c not in df.columns]
    if missing:
        raise ValueError(f"df is missing column(s) {missing}; it has {list(df.columns)}")


def line_band(df: pd.DataFrame, x: str, y: str, low: str | None = None, high: str | None = None,
              color: str | None = None, title: str = "", x_title: str | None = None,
              y_title: str | None = None, y_zero: bool = True, sort=None) -> alt.Chart:
    """Mean curves (``y`` against ``x``) with a shaded confidence band from ``low`` to ``high``."""
    _check_columns(df, x, y, low, high, color)
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
    data = round_frame(df)
    scale = alt.Scale(scheme=scheme, domain=domain) if domain is not None else alt.Scale(scheme=scheme)
    return alt.Chart(data, title=title).mark_rect().encode(
        x=alt.X(f"{x}:O", title=x_title or x), y=alt.Y(f"{y}:O", title=y_title or y),
        color=alt.Color(f"{value}:Q", scale=scale), tooltip=[x, y, value],
    ).properties(width=min(WIDTH, 300), height=min(HEIGHT, 300))


def table(df: pd.DataFrame, digits: int = 2):
    """A rounded DataFrame for display as a table (pandas renders it as HTML)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(digits)
    return out


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
