"""The console's pages and forms: thin handlers over auth, actions and the live snapshot."""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ivr import keys
from ivr.console import actions, auth, fragments
from ivr.console.live import read_snapshot
from ivr.ids import INT_MAX, strict_id
from ivr.store import accounts, audit

MESSAGES = {
    "status": "Statut mis à jour.",
    "crisis_on": "Annonce de crise activée.",
    "crisis_off": "Annonce de crise désactivée.",
    "bad_status": "Statut inconnu.",
    "reason": "Indiquez la raison de la pause (100 caractères au plus).",
    "on_call": "Impossible de passer disponible pendant un appel.",
    "no_agent": "Cet agent n'existe pas.",
    "message": "L'annonce de crise a besoin d'un message.",
    "message_long": "Le message est trop long.",
    "until": "L'heure de fin n'est pas une date valide.",
    "until_past": "L'heure de fin est déjà passée.",
    "transfer": "Appel transféré.",
    "no_call": "Aucun appel en cours à transférer.",
    "transfer_same": "L'appelant est déjà dans ce service.",
    "transfer_failed": "Le transfert a échoué ; l'appel continue avec vous.",
}
MAX_FIELD = 2000


def _field(form: Any, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def _signed_in(request: web.Request, *, manager: bool = False) -> accounts.Session:
    session = await auth.current(request)
    if session is None:
        raise web.HTTPSeeOther("/console/login")
    if manager and session.account.role != "manager":
        raise web.HTTPForbidden(
            text=_page_text(request, "Accès refusé",
                            "Cette page est réservée aux responsables."),
            content_type="text/html")
    return session


def _page_text(request: web.Request, title: str, detail: str) -> str:
    env = aiohttp_jinja2.get_env(request.app)
    return env.get_template("refused.html").render(title=title, detail=detail, account=None)


async def _form(request: web.Request, session: accounts.Session) -> Any:
    form = await request.post()
    if not auth.same_token(form.get("csrf"), session.csrf_token):
        raise web.HTTPForbidden(
            text=_page_text(request, "Formulaire refusé",
                            "Le jeton de sécurité du formulaire manque ou n'est pas valide. "
                            "Rechargez la page puis recommencez."),
            content_type="text/html")
    return form


async def home(request: web.Request) -> web.Response:
    """Send each person to their page."""
    session = await auth.current(request)
    if session is None:
        return _see_other("/console/login")
    return _see_other("/console/manager" if session.account.role == "manager"
                      else "/console/agent")


async def login_form(request: web.Request) -> web.Response:
    """The sign-in form."""
    if await auth.current(request) is not None:
        return _see_other("/console")
    return _login_page(request, None, 200)


def _login_page(request: web.Request, error: str | None, status: int,
                login: str = "") -> web.Response:
    token = secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"csrf": token, "error": error, "account": None, "login": login},
        status=status)
    auth.set_cookie(response, request, auth.LOGIN_COOKIE, token)
    return response


async def login(request: web.Request) -> web.Response:
    """Check a login and password, throttled per login and per address."""
    form = await request.post()
    if not auth.same_token(form.get("csrf"), request.cookies.get(auth.LOGIN_COOKIE, "")):
        return _login_page(request, "Le formulaire a expiré : recommencez.", 403)
    name, password = _field(form, "login", 200).strip(), _field(form, "password", 1000)
    pool, now = request.app[keys.POOL], request.app[keys.CLOCK].now()
    account = await accounts.find_for_login(pool, name) if name else None
    # One count per agent, whether they are named by name or by number.
    key = f"agent:{account.agent_id}" if account else name
    if await auth.throttled(request, key):
        return _login_page(request, "Trop de tentatives : réessayez dans quelques minutes.", 429,
                           name)
    if not await auth.check_password(account.password_hash if account else None, password):
        await accounts.record_failure(pool, key, auth.address(request), now)
        return _login_page(request, "Identifiant ou mot de passe incorrect.", 401, name)
    assert account is not None
    response = _see_other("/console")
    await auth.start_session(request, response, account.agent_id)
    await audit.record(pool, at=now, actor=actions.actor(account), surface="console",
                       action="console.sign_in", target=f"agent:{account.agent_id}")
    return response


async def logout(request: web.Request) -> web.Response:
    """Sign out; with `offline`, the standardist also goes offline."""
    session = await _signed_in(request)
    form = await _form(request, session)
    if _field(form, "offline") == "1":
        # An agent deleted meanwhile cannot go offline: signing out still proceeds.
        with contextlib.suppress(actions.Refused):
            await actions.change_status(request.app, session.account, session.account.agent_id,
                                        "offline", "")
    response = _see_other("/console/login")
    await auth.end_session(request, response)
    return response


async def _page(request: web.Request, template: str, session: accounts.Session,
                view: str) -> web.Response:
    snap = await read_snapshot(request.app)
    ctx = fragments.context(request.app, snap, session.account, view)
    code = request.query.get("msg", "")
    ctx.update(account=session.account, csrf=session.csrf_token,
               message=MESSAGES.get(code), error=request.query.get("err") == "1",
               fragments=fragments.render(request.app, snap, session.account, view),
               all_agents=snap.agents,
               transfer_services=[(name, service.label) for name, service
                                  in request.app[keys.FLOW].services.items()])
    return aiohttp_jinja2.render_template(template, request, ctx)


async def agent_page(request: web.Request) -> web.Response:
    """The standardist's page."""
    return await _page(request, "agent.html", await _signed_in(request), "agent")


async def manager_page(request: web.Request) -> web.Response:
    """The manager's page."""
    return await _page(request, "manager.html", await _signed_in(request, manager=True),
                       "manager")


async def _done(back: str, change: Any) -> web.Response:
    try:
        code = await change
    except actions.Refused as refused:
        return _see_other(f"{back}?msg={refused.code}&err=1")
    return _see_other(f"{back}?msg={code}")


async def my_status(request: web.Request) -> web.Response:
    """The standardist changes their own status."""
    session = await _signed_in(request)
    form = await _form(request, session)

    async def change() -> str:
        await actions.change_status(request.app, session.account, session.account.agent_id,
                                    _field(form, "status", 20), _field(form, "reason", 200))
        return "status"

    return await _done("/console/agent", change())


async def agent_status(request: web.Request) -> web.Response:
    """A manager changes an agent's status."""
    session = await _signed_in(request, manager=True)
    form = await _form(request, session)
    raw = _field(form, "agent_id", 10)

    async def change() -> str:
        agent_id = strict_id(raw, INT_MAX)
        if agent_id is None:
            raise actions.Refused("no_agent")
        await actions.change_status(request.app, session.account, agent_id,
                                    _field(form, "status", 20), _field(form, "reason", 200))
        return "status"

    return await _done("/console/manager", change())


async def crisis_switch(request: web.Request) -> web.Response:
    """A manager switches the crisis announcement on or off."""
    session = await _signed_in(request, manager=True)
    form = await _form(request, session)
    on = _field(form, "action", 10) == "on"

    async def change() -> str:
        await actions.switch_crisis(request.app, session.account, on, _field(form, "message"),
                                    _field(form, "until", 40))
        return "crisis_on" if on else "crisis_off"

    return await _done("/console/manager", change())


async def my_transfer(request: web.Request) -> web.Response:
    """The standardist sends their caller to another service."""
    session = await _signed_in(request)
    form = await _form(request, session)

    async def change() -> str:
        await actions.transfer_my_call(request.app, session.account, _field(form, "service", 40))
        return "transfer"

    return await _done("/console/agent", change())
