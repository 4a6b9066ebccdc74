"""The report as a terminal table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, fields

from ivr.flow.model import Flow
from ivr.report.labels import CLOSED_REASONS, WEEKDAYS_FR, ordinal, service_name
from ivr.report.queries import Report, ServiceFigures


def percent(value: float | None) -> str:
    """0.8512 -> "85,1 %"; None -> "–" (no denominator)."""
    return "–" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def number(value: float | None, digits: int = 1) -> str:
    """A decimal number the French way; None -> "–"."""
    return "–" if value is None else f"{value:.{digits}f}".replace(".", ",")


def to_json(report: Report) -> str:
    """One JSON object (see the README)."""
    return json.dumps(report.as_json(), ensure_ascii=False, indent=2)


def to_csv(report: Report) -> str:
    """One row per service and one for all services, columns named like the JSON keys."""
    out = io.StringIO()
    names = [f.name for f in fields(ServiceFigures)]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["from", "to", "service", *names])
    rows = [*report.services.items(), ("all", report.all_services)]
    for name, figures in rows:
        values = asdict(figures)
        writer.writerow([report.period.first.isoformat(), report.period.last.isoformat(), name,
                         *("" if values[n] is None else values[n] for n in names)])
    return out.getvalue()


def service_rows(flow: Flow, report: Report) -> list[list[str]]:
    """The per-service table's cells (shared by the text table and the HTML page)."""
    rows = []
    for name, f in [*report.services.items(), ("all", report.all_services)]:
        rows.append([
            "Tous services" if name == "all" else service_name(flow, name),
            str(f.calls), str(f.queued), str(f.answered), str(f.answered_before_target),
            str(f.abandoned), str(f.unanswered), percent(f.taux_de_decroche),
            percent(f.share_before_target),
            f"{number(f.wait_seconds_avg)} s / {number(f.wait_rings_avg)}",
            f"{number(f.wait_seconds_p90)} s / {f.wait_rings_p90 or '–'}",
            f"{number(f.time_to_human_seconds_avg)} s"])
    return rows


def service_headers(report: Report) -> list[str]:
    """Headings of the per-service table."""
    ring = ordinal(report.target_ring)
    return ["Service", "Appels", "En file", "Décrochés", f"Avant {ring} sonnerie", "Abandons",
            "Sans réponse", "Taux de décroché", f"Part avant {ring} sonnerie",
            "Attente moy. (s / sonneries)", "Attente 90e centile", "Délai jusqu'à un agent"]


def _grid(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                      enumerate(zip(r, widths, strict=True))) for r in [headers, *rows]]
    return "\n".join([body[0], line, *body[1:]])


def to_table(flow: Flow, report: Report) -> str:
    """A plain-text summary for the terminal, in French."""
    p = report.period
    closed = ", ".join(f"{CLOSED_REASONS.get(k, k)} {v}" for k, v in report.closed.items())
    lines = [
        f"Standard — {flow.name}",
        f"Période : du {p.first:%d/%m/%Y} au {p.last:%d/%m/%Y} ({p.timezone})"
        + (f", service {service_name(flow, report.service)}" if report.service else ""),
        f"Appels reçus : {report.calls}   Jours ouverts : {len(report.open_days)}   "
        f"Moyenne par jour ouvert : {number(report.calls_per_open_day)}",
        f"Appels hors ouverture : {closed or 'aucun'}   "
        f"Raccrochés dans le menu : {report.left_in_menu}",
        "",
        _grid(service_headers(report), service_rows(flow, report)),
        "",
        "Appels par heure : " + "  ".join(f"{h}h {n}" for h, n in report.by_hour.items()),
        "Appels par jour de la semaine : " + "  ".join(
            f"{WEEKDAYS_FR[d]} {n}" for d, n in report.by_weekday.items() if n),
        "Jours de message de crise : " + (", ".join(
            f"{d} ({n} appels)" for d, n in report.crisis_days.items()) or "aucun"),
    ]
    return "\n".join(lines) + "\n"
