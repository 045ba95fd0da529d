"""Pure chart builders: DataFrame in, ``plotly.graph_objects.Figure`` out. No Streamlit here."""

from dashboard.charts.confusion import confusion_figure
from dashboard.charts.curves import curves_figure
from dashboard.charts.groups import aggregate, align
from dashboard.charts.health import mark_flags
from dashboard.charts.importance import importance_figure
from dashboard.charts.live import live_figure
from dashboard.charts.runs import parallel_figure, scatter_figure
from dashboard.charts.traces import X_TITLES, ema

__all__ = [
    "X_TITLES",
    "aggregate",
    "align",
    "confusion_figure",
    "curves_figure",
    "importance_figure",
    "ema",
    "live_figure",
    "mark_flags",
    "parallel_figure",
    "scatter_figure",
]
