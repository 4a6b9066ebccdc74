"""French names and definitions shown to the committee beside each figure."""

from __future__ import annotations

from ivr.flow.model import Flow

_SERVICE_NAMES = {
    "crisis": "Gestion de crise",
    "immigration": "Bureau de l'immigration",
    "road_safety": "Pôle sécurité routière",
    "user_relations": "Pôle relations usagers",
    "reception": "Accueil général",
}
CLOSED_REASONS = {"hours": "hors des horaires", "holiday": "jour férié",
                  "closure": "fermeture exceptionnelle"}
WEEKDAYS_FR = {"monday": "lundi", "tuesday": "mardi", "wednesday": "mercredi",
               "thursday": "jeudi", "friday": "vendredi", "saturday": "samedi",
               "sunday": "dimanche"}


def service_name(flow: Flow, service: str) -> str:
    """A service's name as a heading ("Bureau de l'immigration")."""
    if service in _SERVICE_NAMES:
        return _SERVICE_NAMES[service]
    label = flow.services[service].label if service in flow.services else service
    return label[:1].upper() + label[1:]


def ordinal(ring: int) -> str:
    """5 -> "5e", 1 -> "1re"."""
    return "1re" if ring == 1 else f"{ring}e"


def definitions(target_ring: int, cycle: float) -> dict[str, str]:
    """What each figure means, printed beside it."""
    before = f"avant la {ordinal(target_ring)} sonnerie"
    limit = (target_ring - 1) * cycle
    return {
        "calls": "Appels reçus : tous les appels arrivés sur le serveur vocal pendant la "
                 "période, y compris hors des heures d'ouverture.",
        "open_days": "Jours ouverts : jours de la période où le standard ouvre (horaires du "
                     "serveur vocal, hors jours fériés et fermetures exceptionnelles).",
        "calls_per_open_day": "Moyenne par jour ouvert : appels reçus / jours ouverts.",
        "closed": "Appels hors ouverture : appels arrivés standard fermé, qui ont entendu le "
                  "message des horaires.",
        "queued": "En file : appels mis en attente d'un agent après le menu.",
        "answered": "Décrochés : appels pris par un agent.",
        "abandoned": "Abandons : l'appelant a raccroché pendant l'attente.",
        "unanswered": "Sans réponse : aucun agent n'a pu répondre avant l'attente maximale ; "
                      "l'appelant est invité à rappeler.",
        "taux_de_decroche": "Taux de décroché : décrochés / appels mis en file "
                            "(objectif Services Publics+ : 85 %).",
        "share_before_target": f"Part décrochée {before} : appels décrochés {before} "
                               f"(attente de moins de {limit:g} s) / appels mis en file ; "
                               "les abandons comptent contre.",
        "wait": f"Attente : de la mise en file au décroché d'un agent, en secondes et en "
                f"sonneries (une sonnerie toutes les {cycle:g} s) ; moyenne et 90e centile "
                "(9 appels décrochés sur 10 ont attendu moins).",
        "time_to_human": "Délai jusqu'à un agent : de l'arrivée de l'appel, menu compris, "
                         "au décroché ; ce que vit l'appelant.",
        "crisis_days": "Jours de message de crise : jours où l'annonce de crise était "
                       "active, avec le nombre d'appels reçus pendant l'annonce.",
    }
