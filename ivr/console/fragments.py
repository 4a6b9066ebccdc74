"""The live parts of the console's pages, rendered from one snapshot for one viewer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ivr import keys
from ivr.console import text
from ivr.console.live import Snapshot
from ivr.rings import RingPolicy
from ivr.store import accounts

AGENT_VIEW = ("me", "queues", "announce")
MANAGER_VIEW = ("agents", "queues", "figures", "crisis", "announce")


def _policy(app: web.Application) -> RingPolicy:
    settings = app[keys.SETTINGS]
    return RingPolicy(settings.ring_cycle_seconds, settings.target_ring)


def _labels(app: web.Application) -> dict[str, str]:
    return {name: service.label[:1].upper() + service.label[1:]
            for name, service in app[keys.FLOW].services.items()}


def _me(app: web.Application, snap: Snapshot, agent_id: int) -> dict[str, Any]:
    policy, labels = _policy(app), _labels(app)
    row = next((a for a in snap.agents if a.id == agent_id), None)
    if row is None:
        return {"missing": True, "announce": "Votre fiche d'agent a été supprimée."}
    me: dict[str, Any] = {
        "missing": False, "status": text.status_label(row.status, row.note),
        "since": text.duration((snap.now - row.since).total_seconds()),
        "services": [labels.get(s, s) for s in row.services], "offer": None, "wrap_up": None}
    offer = snap.offers.get(agent_id)
    if offer is not None:
        if offer.state == "ringing":
            waited = (snap.now - offer.queued_at).total_seconds() if offer.queued_at else 0.0
        else:
            waited = offer.wait_seconds or 0.0
        me["offer"] = {
            "ringing": offer.state == "ringing", "service": labels.get(offer.service,
                                                                       offer.service),
            "wait": text.wait_text(waited, policy),
            "language": text.language_label(offer.language),
            "foreign": offer.language != "fr",
            "talking": text.duration((snap.now - offer.answered_at).total_seconds())
            if offer.answered_at else None}
        me["announce"] = (f"Appel proposé : {me['offer']['service']}." if offer.state == "ringing"
                          else f"Appel en cours : {me['offer']['service']}.")
        if me["offer"]["foreign"]:
            me["announce"] += f" Appelant en {me['offer']['language']}."
    elif row.status == "wrap_up" and row.wrap_up_until is not None:
        me["wrap_up"] = text.duration((row.wrap_up_until - snap.now).total_seconds())
        me["announce"] = "Après-appel en cours."
    else:
        me["announce"] = f"Votre statut : {me['status']}."
    return me


def _queues(app: web.Application, snap: Snapshot, services: list[str]) -> list[dict[str, Any]]:
    policy, labels = _policy(app), _labels(app)
    rows = []
    for service in services:
        count, longest = snap.waiting.get(service, (0, 0.0))
        rows.append({"label": labels.get(service, service), "count": count,
                     "longest": text.wait_text(longest, policy) if count else "—",
                     "risk": bool(count) and text.at_risk(longest, policy),
                     "ring": text.ordinal(policy.ring_of(longest)),
                     **_callbacks(snap, service, policy)})
    return rows


def _callbacks(snap: Snapshot, service: str, policy: RingPolicy) -> dict[str, Any]:
    """The service's pending callbacks: how many, and the longest wait among them."""
    count, longest = snap.callbacks.get(service, (0, 0.0))
    return {"callbacks": count,
            "callbacks_longest": text.wait_text(longest, policy) if count else ""}


def _agents(app: web.Application, snap: Snapshot) -> list[dict[str, Any]]:
    labels = _labels(app)
    rows = []
    for a in snap.agents:
        offer = snap.offers.get(a.id)
        doing = ""
        if offer is not None:
            verb = "sonne" if offer.state == "ringing" else "en ligne"
            doing = f"{verb} : {labels.get(offer.service, offer.service)}"
            if offer.language != "fr":
                doing += f" ({text.language_label(offer.language)})"
        rows.append({"id": a.id, "name": a.name, "role": text.ROLE_LABELS.get(a.role, a.role),
                     "status": text.status_label(a.status, a.note), "doing": doing,
                     "services": ", ".join(labels.get(s, s) for s in a.services),
                     "since": text.duration((snap.now - a.since).total_seconds())})
    return rows


def _figures(app: web.Application, snap: Snapshot) -> dict[str, Any]:
    policy, labels = _policy(app), _labels(app)
    rows = []
    totals = {"calls": 0, "ended": 0, "answered": 0, "before_target": 0, "abandoned": 0,
              "unanswered": 0, "waiting": 0}
    longest: float | None = None
    for f in snap.figures:
        rows.append({**_figure_row(labels.get(f.service, f.service), f.calls, f.ended,
                                   f.answered, f.before_target, f.abandoned, f.unanswered,
                                   f.waiting, f.longest_wait, policy),
                     **_after_pickup(snap.orientation.get(f.service),
                                     snap.satisfaction.get(f.service))})
        for name in totals:
            totals[name] += getattr(f, name)
        if f.longest_wait is not None:
            longest = max(longest or 0.0, f.longest_wait)
    total = {**_figure_row("Tous services", totals["calls"], totals["ended"], totals["answered"],
                           totals["before_target"], totals["abandoned"], totals["unanswered"],
                           totals["waiting"], longest, policy),
             **_after_pickup(_sum(snap.orientation.values()), _sum(snap.satisfaction.values()))}
    return {"rows": rows, "total": total, "target": text.ordinal(policy.target_ring)}


def _sum(pairs: Iterable[tuple[int, int]]) -> tuple[int, int]:
    listed = list(pairs)
    return sum(a for a, _ in listed), sum(b for _, b in listed)


def _after_pickup(orientation: tuple[int, int] | None,
                  satisfaction: tuple[int, int] | None) -> dict[str, str]:
    """The orientation rate and the satisfaction share (with how many answered the survey)."""
    answered, kept = orientation or (0, 0)
    surveyed, satisfied = satisfaction or (0, 0)
    return {"oriented": text.share(kept, answered),
            "satisfied": f"{text.share(satisfied, surveyed)} ({surveyed} réponses)"
            if surveyed else "—"}


def _figure_row(label: str, calls: int, ended: int, answered: int, before_target: int,
                abandoned: int, unanswered: int, waiting: int, longest: float | None,
                policy: RingPolicy) -> dict[str, Any]:
    return {"label": label, "calls": calls, "waiting": waiting,
            "before_target": f"{text.share(before_target, ended)} ({before_target})",
            "abandoned": abandoned, "unanswered": unanswered,
            "pickup_rate": text.share(answered, ended),
            "longest": text.wait_text(longest, policy) if longest is not None else "—"}


def _crisis(app: web.Application, snap: Snapshot) -> dict[str, Any]:
    state, zone = snap.crisis, ZoneInfo(app[keys.FLOW].timezone)
    until = state.until.astimezone(zone).strftime("%d/%m/%Y à %H:%M") if state.until else None
    return {"active": state.active, "message": state.message, "until": until,
            "changed_by": state.changed_by}


def context(app: web.Application, snap: Snapshot, account: accounts.Account,
            view: str) -> dict[str, Any]:
    """The template variables of a page's live parts."""
    if view == "agent":
        me = _me(app, snap, account.agent_id)
        row = next((a for a in snap.agents if a.id == account.agent_id), None)
        services = list(row.services) if row else []
        return {"me": me, "queues": _queues(app, snap, services), "announce": me["announce"]}
    waiting = sum(n for n, _ in snap.waiting.values())
    crisis_state = _crisis(app, snap)
    return {"agents": _agents(app, snap), "queues": _queues(app, snap,
                                                             list(app[keys.FLOW].services)),
            "figures": _figures(app, snap), "crisis": crisis_state,
            "announce": (f"{waiting} appel(s) en attente. Annonce de crise "
                         f"{'active' if crisis_state['active'] else 'inactive'}.")}


def render(app: web.Application, snap: Snapshot, account: accounts.Account,
           view: str) -> dict[str, str]:
    """Each live part's HTML, by element id."""
    env = aiohttp_jinja2.get_env(app)
    ctx = context(app, snap, account, view)
    names = AGENT_VIEW if view == "agent" else MANAGER_VIEW
    return {name: env.get_template(f"_{name}.html").render(ctx) for name in names}
