"""Local stand-ins for the tools tickets are forwarded to, following their published APIs.

- GitLab REST API v4, issues: `GET /api/v4/projects/:id/issues` (search, in,
  labels) and `POST /api/v4/projects/:id/issues` (title, description, labels
  as a comma-separated string), `PRIVATE-TOKEN` header, `:id` a number or an
  URL-encoded path; answers 201 with the issue (id, iid, web_url…).
- Grist records API: `PUT /api/docs/{docId}/tables/{tableId}/records`
  ("add or update": `require` + `fields`), Bearer key; unknown columns are
  refused (400) as Grist does.
- A webhook receiver that checks the HMAC-SHA256 signature and keeps each
  delivery key once.

Each can be made to fail: `down` answers 503 (a destination away), and
`lose_answers` makes GitLab create the issue and then answer 502 (the answer
lost on the way back).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import unquote

from aiohttp import web

GITLAB_TOKEN = "glpat-test-0123456789"
GITLAB_PROJECT = "incubateur/irritants"
GRIST_KEY = "grist-key-0123456789"
GRIST_DOC = "fXkL0bTn6xAa"
GRIST_TABLE = "Irritants"
WEBHOOK_SECRET = "webhook-secret-0123456789"


class FakeGitLab:
    def __init__(self) -> None:
        self.issues: list[dict] = []
        self.down = False
        self.lose_answers = 0
        self.requests: list[tuple[str, str]] = []
        self.base_url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v4/projects/{project}/issues", self.list_issues)
        app.router.add_post("/api/v4/projects/{project}/issues", self.create_issue)
        return app

    def _check(self, request: web.Request) -> None:
        self.requests.append((request.method, request.path_qs))
        if self.down:
            raise web.HTTPServiceUnavailable(text="503 Service Unavailable")
        if request.headers.get("PRIVATE-TOKEN") != GITLAB_TOKEN:
            raise web.HTTPUnauthorized(text=json.dumps({"message": "401 Unauthorized"}), content_type="application/json")
        project = unquote(request.match_info["project"])
        if project not in (GITLAB_PROJECT, "42"):
            raise web.HTTPNotFound(text=json.dumps({"message": "404 Project Not Found"}), content_type="application/json")

    async def list_issues(self, request: web.Request) -> web.Response:
        self._check(request)
        found = self.issues
        search = request.query.get("search")
        if search:
            scope = request.query.get("in", "title,description").split(",")
            found = [
                issue for issue in found
                if any(search.lower() in (issue.get(field) or "").lower() for field in scope)
            ]
        if request.query.get("labels"):
            wanted = set(request.query["labels"].split(","))
            found = [issue for issue in found if wanted <= set(issue["labels"])]
        return web.json_response(found)

    async def create_issue(self, request: web.Request) -> web.Response:
        self._check(request)
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        if not body.get("title"):
            return web.json_response({"error": "title is missing"}, status=400)
        iid = len(self.issues) + 1
        labels = body.get("labels") or ""
        issue = {
            "id": 1000 + iid,
            "iid": iid,
            "project_id": 42,
            "title": body["title"],
            "description": body.get("description"),
            "state": "opened",
            "labels": [label for label in labels.split(",") if label] if isinstance(labels, str) else labels,
            "web_url": f"{self.base_url}/{GITLAB_PROJECT}/-/issues/{iid}",
        }
        self.issues.append(issue)
        if self.lose_answers:
            self.lose_answers -= 1
            raise web.HTTPBadGateway(text="502 Bad Gateway")
        return web.json_response(issue, status=201)


class FakeGrist:
    COLUMNS = {
        "Reference", "Depose_le", "Statut", "Canal", "Role", "Theme", "Titre", "Description",
        "Lieu", "Frequence", "Depuis", "Personnes_touchees", "Service", "Consequences",
        "Idee_de_solution", "Groupe", "Signalements_similaires",
    }

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.down = False
        self.requests = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_put("/api/docs/{doc}/tables/{table}/records", self.put_records)
        return app

    async def put_records(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.down:
            raise web.HTTPServiceUnavailable(text="503")
        if request.headers.get("Authorization") != f"Bearer {GRIST_KEY}":
            return web.json_response({"error": "Unauthorized"}, status=401)
        if request.match_info["doc"] != GRIST_DOC or request.match_info["table"] != GRIST_TABLE:
            return web.json_response({"error": "not found"}, status=404)
        body = await request.json()
        for record in body["records"]:
            require, fields = record.get("require", {}), record.get("fields", {})
            unknown = (set(require) | set(fields)) - self.COLUMNS
            if unknown:
                return web.json_response({"error": f"Invalid column \"{sorted(unknown)[0]}\""}, status=400)
            match = [row for row in self.rows if all(row.get(k) == v for k, v in require.items())]
            if match:
                match[0].update(fields)
            else:
                self.rows.append({"id": len(self.rows) + 1, **require, **fields})
        return web.Response(status=200)


class FakeWebhook:
    def __init__(self) -> None:
        self.deliveries: dict[str, dict] = {}
        self.received = 0
        self.down = False
        self.bad_signatures = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks/digor", self.receive)
        return app

    async def receive(self, request: web.Request) -> web.Response:
        self.received += 1
        if self.down:
            raise web.HTTPServiceUnavailable(text="503")
        raw = await request.read()
        expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Digor-Signature", "")):
            self.bad_signatures += 1
            return web.Response(status=401)
        # The receiver keeps a delivery once, however many times it comes.
        self.deliveries.setdefault(request.headers["X-Digor-Delivery"], json.loads(raw))
        return web.Response(status=204)
