"""GitLab issues (REST API v4).

One issue per ticket in DIGOR_FORWARD_GITLAB_PROJECT (a numeric id or a
path such as `incubateur/irritants`), with the token of
DIGOR_FORWARD_GITLAB_TOKEN (a project or personal access token with the `api`
scope) in the PRIVATE-TOKEN header:

- `GET /api/v4/projects/:id/issues?search=<reference>&in=description&labels=digor`
  first: an issue whose description holds this message's key is the one a
  previous attempt made (it was created, then the answer was lost), so none
  is created twice;
- else `POST /api/v4/projects/:id/issues` with `title`, `description`
  (Markdown) and `labels` (`digor`, `theme::<theme>`).
"""

from __future__ import annotations

import json
from urllib.parse import quote

import aiohttp

from backlog.forwarding import Message, check_status

LABEL = "digor"
FIELDS = (
    ("Thème", "theme"),
    ("Canal", "channel"),
    ("Rôle", "reporter_role"),
    ("Lieu", "location"),
    ("Fréquence", "frequency"),
    ("Depuis", "since"),
    ("Personnes touchées", "affected"),
    ("Service", "service"),
    ("Conséquences", "consequences"),
    ("Idée de solution", "solution_idea"),
    ("Signalements similaires", "similar_count"),
)


def key_line(key: str) -> str:
    return f"<!-- digor-delivery: {key} -->"


def _markdown_text(value: object) -> str:
    # Keep what people wrote from turning into Markdown or HTML.
    text = str(value)
    for char in "\\`*_{}[]<>#|!":
        text = text.replace(char, "\\" + char)
    return text


def description(message: Message) -> str:
    ticket = json.loads(message.payload)
    lines = [_markdown_text(ticket["description"]), "", "| | |", "| --- | --- |"]
    lines.append(f"| Référence | {ticket['reference']} |")
    lines.append(f"| Déposé le | {ticket['created_at']} |")
    for label, name in FIELDS:
        value = ticket.get(name)
        if value not in (None, ""):
            lines.append(f"| {label} | {_markdown_text(value).replace(chr(10), ' ')} |")
    lines += ["", key_line(message.idempotency_key)]
    return "\n".join(lines)


class GitLabIssues:
    name = "gitlab"

    def __init__(self, url: str, project: str, token: str) -> None:
        self.base = url.rstrip("/") + "/api/v4/projects/" + quote(project, safe="")
        self.headers = {"PRIVATE-TOKEN": token}

    async def _existing(self, http: aiohttp.ClientSession, message: Message) -> str | None:
        params = {
            "search": message.ticket_reference,
            "in": "description",
            "labels": LABEL,
            "per_page": "100",
        }
        async with http.get(self.base + "/issues", params=params, headers=self.headers) as response:
            check_status(response.status, await response.text())
            issues = await response.json()
        for issue in issues:
            if key_line(message.idempotency_key) in (issue.get("description") or ""):
                return issue.get("web_url") or str(issue.get("iid"))
        return None

    async def send(self, http: aiohttp.ClientSession, message: Message) -> str | None:
        existing = await self._existing(http, message)
        if existing:
            return existing
        ticket = json.loads(message.payload)
        body = {
            "title": f"[{ticket['reference']}] {ticket['title']}"[:255],
            "description": description(message),
            "labels": f"{LABEL},theme::{ticket['theme']}",
        }
        async with http.post(self.base + "/issues", json=body, headers=self.headers) as response:
            check_status(response.status, await response.text())
            issue = await response.json()
        return issue.get("web_url") or str(issue.get("iid"))
