"""The committee's page: one self-contained French HTML file (tables, SVG charts, definitions)."""

from __future__ import annotations

from datetime import date
from html import escape

from ivr.flow.model import Flow
from ivr.report import charts
from ivr.report.formats import number, percent, service_headers, service_rows
from ivr.report.labels import CLOSED_REASONS, WEEKDAYS_FR, definitions, ordinal, service_name
from ivr.report.queries import Report
from ivr.staffing.plan import Plan

_STYLE = """
body { font-family: Marianne, Arial, sans-serif; color: #161616; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; line-height: 1.4; }
h1 { color: #000091; font-size: 1.6rem; margin-bottom: .2rem; }
h2 { color: #000091; font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .85rem; }
th, td { border: 1px solid #ccc; padding: .25rem .45rem; }
th { background: #f0f0f8; text-align: left; }
td.n { text-align: right; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f6f6f6; }
.def { color: #444; font-size: .8rem; margin: .2rem 0; }
figure { margin: .5rem 0; } svg { max-width: 100%; height: auto; }
"""


_NUMERIC = ' class="n"'


def _table(headers: list[str], rows: list[list[str]], total_last: bool = False) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="total"' if total_last and i == len(rows) - 1 else ""
        cells = "".join(f"<td{_NUMERIC if j else ''}>{escape(c)}</td>"
                        for j, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _defs(*texts: str) -> str:
    return "".join(f'<p class="def">{escape(t)}</p>' for t in texts)


def _date(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def _staffing(plan: Plan) -> str:
    """Weekday x hour grid: standardists needed / mean signed in; short hours marked."""
    weekdays = list(dict.fromkeys(s.weekday for s in plan.slots))
    hours = sorted({s.hour for s in plan.slots})
    cells = {(s.weekday, s.hour): s for s in plan.slots}
    head = "".join(f"<th>{escape(WEEKDAYS_FR[d])}</th>" for d in weekdays)
    rows = []
    for hour in hours:
        tds = []
        for day in weekdays:
            slot = cells.get((day, hour))
            if slot is None:
                tds.append("<td></td>")
                continue
            short = ' style="background:#fde2e2"' if slot.signed_in + 1e-9 < slot.needed else ""
            tds.append(f'<td class="n"{short}>{slot.needed} / {number(slot.signed_in)}</td>')
        rows.append(f"<tr><th>{hour:02d}h</th>{''.join(tds)}</tr>")
    model = ("Erlang C (aucun abandon mesuré)" if plan.patience_seconds is None else
             f"Erlang A, patience moyenne mesurée {number(plan.patience_seconds, 0)} s")
    handle = "–" if plan.handle_seconds is None else number(plan.handle_seconds, 0)
    return (f"<table><thead><tr><th>Heure</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            + _defs(f"Dans chaque case : standardistes nécessaires pour décrocher "
                    f"{plan.share * 100:.0f} % des appels mis en file en moins de "
                    f"{plan.answer_within:g} s / standardistes connectés en moyenne (en rose : "
                    f"moins que nécessaire). Calcul : {model} ; appels mis en file par heure "
                    f"mesurés sur les jours ouverts de la période ; durée de traitement "
                    f"mesurée {handle} s (conversation et après-appel)."))


def render(flow: Flow, report: Report, target_share: float = 0.85,
           staffing: Plan | None = None) -> str:
    """The whole page as one string (with the staffing grid when a plan is given)."""
    d = definitions(report.target_ring, report.ring_cycle_seconds)
    p = report.period
    closed_rows = [[CLOSED_REASONS.get(k, k), str(v)] for k, v in report.closed.items()]
    summary = _table(["Indicateur", "Valeur"], [
        ["Appels reçus", str(report.calls)],
        ["Jours ouverts", str(len(report.open_days))],
        ["Moyenne d'appels par jour ouvert", number(report.calls_per_open_day)],
        ["Appels hors ouverture", str(sum(report.closed.values()))],
        ["Raccrochés dans le menu", str(report.left_in_menu)],
        ["Taux de décroché (tous services)", percent(report.all_services.taux_de_decroche)],
        [f"Part décrochée avant la {ordinal(report.target_ring)} sonnerie (tous services)",
         percent(report.all_services.share_before_target)],
    ])
    weekday_rows = [[WEEKDAYS_FR[k], str(v)] for k, v in report.by_weekday.items()]
    crisis_rows = [[_date(date.fromisoformat(k)), str(v)] for k, v in
                   report.crisis_days.items()]
    scope = ""
    if report.service:
        scope = f" — service : {escape(service_name(flow, report.service))}"
    return f"""<!DOCTYPE html>
<html lang="fr">
<head><meta charset="utf-8"><title>Standard téléphonique — {escape(flow.name)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Standard téléphonique — {escape(flow.name)}</h1>
<p>Période du {_date(p.first)} au {_date(p.last)} (heure de {escape(p.timezone)}){scope}.
Chiffres calculés à partir des appels enregistrés par le serveur vocal.</p>

<h2>Vue d'ensemble</h2>
{summary}
{_defs(d["calls"], d["open_days"], d["calls_per_open_day"])}
<h2>Appels arrivés standard fermé</h2>
{_table(["Motif", "Appels"], closed_rows) if closed_rows else "<p>Aucun.</p>"}
{_defs(d["closed"])}

<h2>Par service demandé</h2>
{_table(service_headers(report), service_rows(flow, report), total_last=True)}
{_defs(d["queued"], d["answered"], d["abandoned"], d["unanswered"], d["taux_de_decroche"],
       d["share_before_target"], d["wait"], d["time_to_human"])}
<figure>{charts.share_before_target(flow, report, target_share)}
<figcaption class="def">Part des appels mis en file décrochés avant la
{ordinal(report.target_ring)} sonnerie, par service ;
ligne pointillée : objectif de {target_share * 100:.0f} %.</figcaption></figure>

<h2>Appels par jour</h2>
<figure>{charts.calls_per_day(report)}
<figcaption class="def">En bleu les jours ouverts, en gris les jours fermés (week-ends,
jours fériés, fermetures).</figcaption></figure>

<h2>Appels par heure et par jour de la semaine</h2>
<figure>{charts.calls_per_hour(report)}
<figcaption class="def">Appels reçus selon l'heure d'arrivée (heure locale) : les pics
d'appels.</figcaption></figure>
{_table(["Jour", "Appels"], weekday_rows)}

{"<h2>Standardistes nécessaires et connectés</h2>" + _staffing(staffing) if staffing else ""}

<h2>Message de crise</h2>
{_table(["Jour", "Appels reçus pendant l'annonce"], crisis_rows) if crisis_rows
 else "<p>Aucun jour de message de crise sur la période.</p>"}
{_defs(d["crisis_days"])}
</body>
</html>
"""
