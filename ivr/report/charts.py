"""The report's charts as inline SVG (matplotlib, no display needed)."""

from __future__ import annotations

import io
from datetime import date

import matplotlib
from matplotlib.figure import Figure

from ivr.flow.model import Flow
from ivr.report.labels import ordinal, service_name
from ivr.report.queries import Report

BLUE = "#000091"  # the French State's "bleu France"
GREY = "#b0b0b0"
RED = "#c9191e"


def _svg(figure: Figure) -> str:
    """The figure as an <svg> element, text kept as text so the page stays small."""
    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg"):]


def calls_per_day(report: Report) -> str:
    """Bars of calls per day; closed days in grey."""
    days = [date.fromisoformat(d) for d in report.by_day]
    opened = set(report.open_days)
    figure = Figure(figsize=(7.5, 2.4))
    axes = figure.add_subplot()
    axes.bar(range(len(days)), list(report.by_day.values()), width=0.8,
             color=[BLUE if d in opened else GREY for d in days])
    # Every day on a short period; the 1st and 15th of each month on a long one.
    ticks = [i for i, d in enumerate(days) if len(days) <= 31 or d.day in (1, 15)]
    axes.set_xticks(ticks, [f"{days[i]:%d/%m}" for i in ticks],
                    rotation=90 if len(days) > 10 else 0)
    axes.set_ylabel("appels")
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def calls_per_hour(report: Report) -> str:
    """Bars of calls per local hour of day (the peaks)."""
    figure = Figure(figsize=(7.5, 2.4))
    axes = figure.add_subplot()
    hours = list(report.by_hour)
    # Numeric positions: labels such as "08h" would otherwise be guessed as times.
    axes.bar(range(len(hours)), list(report.by_hour.values()), color=BLUE)
    axes.set_xticks(range(len(hours)), [f"{h}h" for h in hours])
    axes.set_ylabel("appels")
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def share_before_target(flow: Flow, report: Report, target_share: float) -> str:
    """Per service, the share answered before the target ring, against the target."""
    items = [(service_name(flow, n), f.share_before_target)
             for n, f in report.services.items()]
    items.append(("Tous services", report.all_services.share_before_target))
    figure = Figure(figsize=(7.5, 0.45 * len(items) + 0.8))
    axes = figure.add_subplot()
    names = [n for n, _ in reversed(items)]
    values = [(v or 0.0) * 100 for _, v in reversed(items)]
    colors = [BLUE if v >= target_share * 100 else RED for v in values]
    bars = axes.barh(range(len(names)), values, color=colors)
    axes.set_yticks(range(len(names)), names)
    for bar, (_, raw) in zip(bars, reversed(items), strict=True):
        text = "–" if raw is None else f"{raw * 100:.1f} %".replace(".", ",")
        axes.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, text,
                  va="center")
    axes.axvline(target_share * 100, color="black", linestyle="--", linewidth=1)
    axes.text(target_share * 100, len(items) - 0.4, f" objectif {target_share * 100:.0f} %",
              ha="left", va="bottom")
    axes.set_xlim(0, 110)
    axes.set_xlabel(f"% des appels mis en file décrochés avant la "
                    f"{ordinal(report.target_ring)} sonnerie")
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)
