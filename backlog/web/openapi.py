"""OpenAPI 3.0 description of the backlog API."""

from __future__ import annotations

from typing import Any

from backlog.models import CHANNELS, REPORTER_ROLES, SCORE_MAX, SCORE_MIN, SCORES, STATUSES
from backlog.store import SORT_KEYS

_NULLABLE_TEXT = {"type": "string", "nullable": True}


def _scores() -> dict[str, Any]:
    return {
        name: {
            "type": "integer", "minimum": SCORE_MIN, "maximum": SCORE_MAX, "nullable": True,
            "description": f"Grille de l'équipe, {description} ({SCORE_MIN} à {SCORE_MAX}).",
        }
        for name, description in SCORES.items()
    }


def _ticket_schema(themes: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [
            "reference", "created_at", "status", "channel", "reporter_role",
            "on_behalf", "theme", "theme_confidence", "theme_confirmed", "title",
            "description", "contact_consent", "similar_count",
        ],
        "properties": {
            "reference": {"type": "string", "pattern": r"^TK-\d{4}-\d{5,}$"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "status": {"type": "string", "enum": list(STATUSES)},
            "channel": {"type": "string", "enum": list(CHANNELS)},
            "reporter_role": {"type": "string", "enum": list(REPORTER_ROLES)},
            "on_behalf": {"type": "boolean"},
            "desk_agent": _NULLABLE_TEXT,
            "theme": {"type": "string", "enum": themes},
            "theme_confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "theme_confirmed": {"type": "boolean"},
            "title": {"type": "string"},
            "description": {"type": "string", "description": "Personal data redacted."},
            "affected": _NULLABLE_TEXT,
            "frequency": _NULLABLE_TEXT,
            "since": _NULLABLE_TEXT,
            "location": _NULLABLE_TEXT,
            "service": _NULLABLE_TEXT,
            "consequences": _NULLABLE_TEXT,
            "solution_idea": _NULLABLE_TEXT,
            "contact_consent": {"type": "boolean"},
            "group_id": {"type": "integer", "nullable": True, "description": "Groupe de signalements semblables (même thème, sens proche)."},
            "similar_count": {"type": "integer", "minimum": 0, "description": "Nombre d'autres tickets dans le même groupe."},
            **_scores(),
            "notes": {"type": "string", "nullable": True, "description": "La dernière note de l'équipe."},
            "notes_history": {
                "type": "array",
                "description": "Toutes les notes, de la plus ancienne à la plus récente.",
                "items": {
                    "type": "object",
                    "properties": {
                        "created_at": {"type": "string", "format": "date-time"},
                        "author": {"type": "string"},
                        "text": {"type": "string"},
                    },
                },
            },
            "status_history": {
                "type": "array",
                "description": "Chaque changement de statut, depuis le dépôt (old_status vide).",
                "items": {
                    "type": "object",
                    "properties": {
                        "changed_at": {"type": "string", "format": "date-time"},
                        "author": {"type": "string"},
                        "old_status": {"type": "string", "enum": list(STATUSES), "nullable": True},
                        "new_status": {"type": "string", "enum": list(STATUSES)},
                    },
                },
            },
        },
    }


def _filter_parameters(themes: list[str]) -> list[dict[str, Any]]:
    """Filters shared by the list and the exports."""
    return [
        {"name": "theme", "in": "query", "schema": {"type": "string", "enum": themes}},
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
        {"name": "channel", "in": "query", "schema": {"type": "string", "enum": list(CHANNELS)}},
        {"name": "group_id", "in": "query", "description": "Les signalements d'un même groupe.", "schema": {"type": "integer", "minimum": 0}},
        {
            "name": "created_after", "in": "query",
            "description": "Déposés à partir de cette date (incluse), en UTC sans décalage. Exemple : 2026-03-01 ou 2026-03-01T08:30:00Z.",
            "schema": {"type": "string", "format": "date-time"},
        },
        {
            "name": "created_before", "in": "query",
            "description": "Déposés avant cette date (exclue), en UTC sans décalage. Exemple : 2026-04-01.",
            "schema": {"type": "string", "format": "date-time"},
        },
    ]


def _sort_values() -> list[str]:
    return [value for key in SORT_KEYS for value in (key, "-" + key)]


def build_openapi(themes: list[str]) -> dict[str, Any]:
    error = {"$ref": "#/components/schemas/Error"}
    errors = {
        "401": {"description": "Jeton manquant ou invalide.", "content": {"application/json": {"schema": error}}},
        "404": {"description": "Ticket introuvable.", "content": {"application/json": {"schema": error}}},
    }
    reference = {"name": "reference", "in": "path", "required": True, "schema": {"type": "string"}}
    ticket = {"application/json": {"schema": {"$ref": "#/components/schemas/Ticket"}}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Digor — backlog des irritants",
            "version": "1.1.0",
            "description": "Tickets déposés par les usagers et les agents. Les coordonnées ne sont jamais exposées.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Ticket": _ticket_schema(themes),
                "TicketChanges": {
                    "type": "object",
                    "additionalProperties": False,
                    "minProperties": 1,
                    "properties": {
                        "status": {"type": "string", "enum": list(STATUSES)},
                        "theme": {"type": "string", "enum": themes},
                        "notes": {"type": "string", "minLength": 1, "description": "Ajoute une note à l'historique."},
                        **_scores(),
                        "group_with": {
                            "type": "string", "pattern": r"^TK-\d{4}-\d{5,}$",
                            "description": "Regrouper : ce ticket, et tout son groupe, rejoint le groupe de ce ticket-là.",
                        },
                        "group_id": {
                            "type": "integer", "minimum": 1, "nullable": True,
                            "description": "Déplacer ce ticket dans un groupe existant, ou null pour le sortir de son groupe.",
                        },
                    },
                },
                "JournalLine": {
                    "type": "object",
                    "description": "Une ligne du journal. Le journal ne fait que grandir.",
                    "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "actor": {"type": "string", "description": "Le nom du jeton utilisé (« équipe » pour DIGOR_API_TOKEN)."},
                        "action": {"type": "string", "enum": ["view", "update", "export", "purge"]},
                        "reference": {"type": "string", "nullable": True},
                        "field": {"type": "string", "nullable": True},
                        "old_value": {"type": "string", "nullable": True},
                        "new_value": {"type": "string", "nullable": True},
                    },
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "status": {"type": "integer"},
                                "message": {"type": "string"},
                                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                            },
                        }
                    },
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            **_open311_paths(themes),
            "/api/tickets": {
                "get": {
                    "summary": "Liste des tickets, du plus récent au plus ancien.",
                    "parameters": [
                        *_filter_parameters(themes),
                        {"name": "sort", "in": "query", "description": "Ordre de la liste. « - » devant : du plus grand au plus petit.", "schema": {"type": "string", "enum": _sort_values(), "default": "-created_at"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 500, "default": 100}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    ],
                    "responses": {
                        "200": {
                            "description": "Les tickets de la page. Le nombre total et les liens vers les autres pages sont dans les en-têtes.",
                            "headers": {
                                "X-Total-Count": {"description": "Nombre de tickets qui répondent aux filtres.", "schema": {"type": "integer"}},
                                "Link": {"description": "Liens first, prev, next, last (RFC 8288).", "schema": {"type": "string"}},
                            },
                            "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Ticket"}}}},
                        },
                        "400": {"description": "Filtre invalide.", "content": {"application/json": {"schema": error}}},
                        "401": errors["401"],
                    },
                }
            },
            "/api/tickets/{reference}": {
                "parameters": [reference],
                "get": {
                    "summary": "Un ticket.",
                    "responses": {"200": {"description": "Le ticket.", "content": ticket}, **errors},
                },
                "patch": {
                    "summary": "Modifier le statut, le thème, la grille d'évaluation ou ajouter une note.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TicketChanges"}}},
                    },
                    "responses": {
                        "200": {"description": "Le ticket modifié.", "content": ticket},
                        "400": {"description": "Modification invalide.", "content": {"application/json": {"schema": error}}},
                        **errors,
                    },
                },
            },
            "/api/export.csv": {
                "get": {
                    "summary": "Export CSV de tous les tickets qui répondent aux filtres, sans aucune coordonnée.",
                    "description": (
                        "Une ligne par ticket, en UTF-8 avec BOM. Les historiques sont dans l'export JSON. "
                        "Une cellule qui commence par =, +, -, @, une tabulation ou un retour chariot "
                        "est précédée d'une apostrophe, pour qu'un tableur ne l'exécute pas."
                    ),
                    "parameters": [
                        *_filter_parameters(themes),
                        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": _sort_values(), "default": "-created_at"}},
                        {"name": "sep", "in": "query", "description": "Séparateur des colonnes.", "schema": {"type": "string", "enum": [",", ";"], "default": ","}},
                    ],
                    "responses": {
                        "200": {"description": "Le fichier CSV.", "content": {"text/csv": {"schema": {"type": "string"}}}},
                        "400": {"description": "Filtre invalide.", "content": {"application/json": {"schema": error}}},
                        "401": errors["401"],
                    },
                }
            },
            "/api/export.json": {
                "get": {
                    "summary": "Export JSON de tous les tickets qui répondent aux filtres, sans aucune coordonnée.",
                    "parameters": [
                        *_filter_parameters(themes),
                        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": _sort_values(), "default": "-created_at"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "Les tickets.",
                            "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Ticket"}}}},
                        },
                        "400": {"description": "Filtre invalide.", "content": {"application/json": {"schema": error}}},
                        "401": errors["401"],
                    },
                }
            },
            "/api/journal": {
                "get": {
                    "summary": "Tout le journal, du plus récent au plus ancien : consultations, modifications, exports, purges.",
                    "parameters": [
                        {"name": "action", "in": "query", "schema": {"type": "string", "enum": ["view", "update", "export", "purge"]}},
                        {"name": "actor", "in": "query", "description": "Le nom d'un jeton.", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 500, "default": 100}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    ],
                    "responses": {
                        "200": {
                            "description": "Les lignes de la page. Le total et les liens vers les autres pages sont dans les en-têtes X-Total-Count et Link.",
                            "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/JournalLine"}}}},
                        },
                        "400": {"description": "Filtre invalide.", "content": {"application/json": {"schema": error}}},
                        "401": errors["401"],
                    },
                }
            },
            "/api/tickets/{reference}/journal": {
                "parameters": [reference],
                "get": {
                    "summary": "Qui a consulté ou modifié ce ticket, et quand (du plus ancien au plus récent).",
                    "responses": {
                        "200": {
                            "description": "Les lignes du journal.",
                            "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/JournalLine"}}}},
                        },
                        **errors,
                    },
                },
            },
        },
    }


def _open311_paths(themes: list[str]) -> dict[str, Any]:
    """Open311 GeoReport v2 read endpoints (backlog.web.open311)."""
    request = {
        "type": "object",
        "description": "Un ticket au format GeoReport v2 (jamais de coordonnées).",
        "properties": {
            "service_request_id": {"type": "string", "description": "La référence du ticket."},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "status_notes": {"type": "string", "description": "Le statut du backlog, en français."},
            "service_name": {"type": "string"},
            "service_code": {"type": "string", "enum": themes},
            "description": {"type": "string", "description": "Données personnelles masquées."},
            "agency_responsible": {"type": "string"},
            "service_notice": {"type": "string", "nullable": True},
            "requested_datetime": {"type": "string", "format": "date-time"},
            "updated_datetime": {"type": "string", "format": "date-time"},
            "expected_datetime": {"type": "string", "nullable": True},
            "address": {"type": "string", "nullable": True, "description": "Le lieu donné par la personne."},
            "address_id": {"type": "string", "nullable": True},
            "zipcode": {"type": "string", "nullable": True},
            "lat": {"type": "number", "nullable": True},
            "long": {"type": "number", "nullable": True},
            "media_url": {"type": "string", "nullable": True},
        },
    }
    errors = {
        "type": "array",
        "items": {"type": "object", "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}},
    }
    api_key = {
        "name": "api_key", "in": "query", "required": False,
        "description": "Le jeton d'accès, pour les clients GeoReport qui ne peuvent pas envoyer d'en-tête Authorization.",
        "schema": {"type": "string"},
    }
    denied = {"description": "Jeton manquant ou invalide.", "content": {"application/json": {"schema": errors}}}
    requests = {"application/json": {"schema": {"type": "array", "items": request}}}
    return {
        "/open311/v2/services.json": {
            "get": {
                "summary": "Open311 GeoReport v2 : les services, c'est-à-dire les thèmes.",
                "tags": ["Open311"],
                "parameters": [api_key],
                "responses": {
                    "200": {
                        "description": "Un service par thème de themes.yml.",
                        "content": {"application/json": {"schema": {"type": "array", "items": {
                            "type": "object",
                            "properties": {
                                "service_code": {"type": "string", "enum": themes},
                                "service_name": {"type": "string"},
                                "description": {"type": "string"},
                                "metadata": {"type": "boolean"},
                                "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
                                "keywords": {"type": "string"},
                                "group": {"type": "string"},
                            },
                        }}}},
                    },
                    "401": denied,
                },
            }
        },
        "/open311/v2/requests.json": {
            "get": {
                "summary": "Open311 GeoReport v2 : les demandes, c'est-à-dire les tickets (sans dates : les 90 derniers jours, 1000 au plus).",
                "tags": ["Open311"],
                "parameters": [
                    {"name": "service_request_id", "in": "query", "description": "Une ou plusieurs références, séparées par des virgules.", "schema": {"type": "string"}},
                    {"name": "service_code", "in": "query", "description": "Un ou plusieurs thèmes, séparés par des virgules.", "schema": {"type": "string"}},
                    {"name": "start_date", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "end_date", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "closed", "open,closed"]}},
                    api_key,
                ],
                "responses": {
                    "200": {"description": "Les demandes, les plus récentes d'abord.", "content": requests},
                    "400": {"description": "Paramètre invalide.", "content": {"application/json": {"schema": errors}}},
                    "401": denied,
                },
            }
        },
        "/open311/v2/requests/{service_request_id}.json": {
            "get": {
                "summary": "Open311 GeoReport v2 : une demande (une liste d'un élément, comme le veut le standard).",
                "tags": ["Open311"],
                "parameters": [
                    {"name": "service_request_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    api_key,
                ],
                "responses": {
                    "200": {"description": "La demande.", "content": requests},
                    "401": denied,
                    "404": {"description": "Aucune demande n'a cet identifiant.", "content": {"application/json": {"schema": errors}}},
                },
            }
        },
    }
