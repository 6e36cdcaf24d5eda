"""Fakes for the channel tests: a stand-in for Rasa, a Mattermost server, Microsoft's endpoints.

The channels run in a real Sanic server (as Rasa mounts them) on a free port;
the remote services are local aiohttp servers that speak their published
formats. Nothing here calls the internet.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic


# --- Rasa --------------------------------------------------------------------


class FakeRasa:
    """Records what reaches Rasa and answers with canned bot messages."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []
        self.replies: List[Dict[str, Any]] = [{"text": "Bonjour. Quel est le problème ?"}]
        self.gate: Optional[asyncio.Event] = None

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.gate is not None:
            await self.gate.wait()
        for reply in self.replies:
            await message.output_channel.send_response(message.sender_id, dict(reply))


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def serve_channel():
    """Mount a channel's blueprint in a Sanic server, as `rasa run` does; yields its base URL."""
    servers = []

    # Several Sanic apps in one process: test mode lets each start (Sanic rewrites its
    # protocol methods at start-up, once per process otherwise).
    Sanic.test_mode = True

    async def serve(channel: InputChannel, on_new_message: Callable, agent: Any = None) -> str:
        app = Sanic(f"digor_test_{uuid.uuid4().hex[:12]}")
        app.ctx.agent = agent
        app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.url_prefix()}")
        port = free_port()
        server = await app.create_server(
            host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        await server.before_start()  # the channel's "before_server_start" listeners, as `rasa run` runs them
        servers.append((server, channel))
        return f"http://127.0.0.1:{port}/webhooks/{channel.url_prefix()}"

    yield serve
    for server, channel in servers:
        await channel.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
def wait_until():
    async def wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.01)

    return wait


def go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it (compact, <, > and & escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


# --- Mattermost ---------------------------------------------------------------

_MM_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"


def mattermost_id() -> str:
    """A Mattermost id: 26 characters of its base32 alphabet."""
    return "".join(secrets.choice(_MM_ALPHABET) for _ in range(26))


@dataclass
class FakeMattermost:
    """Mattermost's API v4 for posts: GET /api/v4/posts/{id}, POST /api/v4/posts."""

    bot_token: str = field(default_factory=lambda: mattermost_id())
    bot_user_id: str = field(default_factory=mattermost_id)
    posts: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    created: List[Dict[str, Any]] = field(default_factory=list)
    requests: List[str] = field(default_factory=list)
    url: str = ""

    new_id = staticmethod(mattermost_id)

    def add_post(self, user_id: str, channel_id: str, message: str, root_id: str = "", from_bot: bool = False) -> str:
        now = int(time.time() * 1000)
        post = self._post(mattermost_id(), now, user_id, channel_id, root_id, message)
        if from_bot:
            post["props"] = {"from_bot": "true"}
        self.posts[post["id"]] = post
        return post["id"]

    @staticmethod
    def _post(post_id: str, now: int, user_id: str, channel_id: str, root_id: str, message: str) -> Dict[str, Any]:
        return {
            "id": post_id,
            "create_at": now,
            "update_at": now,
            "edit_at": 0,
            "delete_at": 0,
            "is_pinned": False,
            "user_id": user_id,
            "channel_id": channel_id,
            "root_id": root_id,
            "original_id": "",
            "message": message,
            "type": "",
            "props": {},
            "hashtags": "",
            "file_ids": [],
            "pending_post_id": "",
            "reply_count": 0,
            "last_reply_at": 0,
            "participants": None,
            "metadata": {},
        }

    @staticmethod
    def error(status: int, error_id: str, message: str) -> web.Response:
        body = {
            "id": error_id,
            "message": message,
            "detailed_error": "",
            "request_id": mattermost_id(),
            "status_code": status,
        }
        return web.Response(status=status, body=go_json(body), content_type="application/json")

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.bot_token}"

    async def get_post(self, request: web.Request) -> web.Response:
        self.requests.append(f"GET {request.path}")
        if not self._authorised(request):
            return self.error(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.")
        post = self.posts.get(request.match_info["post_id"])
        if post is None:
            return self.error(404, "app.post.get.app_error", "Unable to get the post.")
        return web.Response(status=200, body=go_json(post), content_type="application/json")

    async def create_post(self, request: web.Request) -> web.Response:
        self.requests.append(f"POST {request.path}")
        if not self._authorised(request):
            return self.error(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.")
        try:
            body = await request.json()
        except ValueError:
            return self.error(400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.")
        channel_id = body.get("channel_id") or ""
        if len(channel_id) != 26:
            return self.error(400, "api.context.invalid_body_param.app_error", "Invalid or missing channel_id in request body.")
        root_id = body.get("root_id") or ""
        if root_id:
            root = self.posts.get(root_id)
            if root is None or root["root_id"] or root["channel_id"] != channel_id:
                return self.error(400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.")
        post = self._post(mattermost_id(), int(time.time() * 1000), self.bot_user_id, channel_id, root_id, body.get("message", ""))
        post["props"] = {"from_bot": "true"}
        self.posts[post["id"]] = post
        self.created.append(post)
        return web.Response(status=201, body=go_json(post), content_type="application/json")


def mattermost_app(fake: FakeMattermost) -> web.Application:
    app = web.Application()
    app.router.add_get("/api/v4/posts/{post_id}", fake.get_post)
    app.router.add_post("/api/v4/posts", fake.create_post)
    return app


@pytest.fixture
async def mattermost(aiohttp_server) -> FakeMattermost:
    fake = FakeMattermost()
    server = await aiohttp_server(mattermost_app(fake))
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


# --- Microsoft: OpenID metadata and keys, token endpoint, Bot Connector ---------

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeMicrosoft:
    """Microsoft's side of a Bot Framework bot, on one local server.

    - `/openid` and `/keys`: the Bot Framework's OpenID metadata and its signing keys;
    - `/{tenant}/oauth2/v2.0/token`: the tenant's token endpoint (client credentials);
    - `/teams/v3/conversations/...`: the Bot Connector of a Teams service URL.
    """

    app_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    app_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    key: Any = field(default_factory=new_rsa_key)
    kid: str = field(default_factory=lambda: base64.urlsafe_b64encode(secrets.token_bytes(12)).decode())
    url: str = ""
    token_requests: List[Dict[str, str]] = field(default_factory=list)
    metadata_requests: int = 0
    activities: List[Dict[str, Any]] = field(default_factory=list)
    issued_tokens: List[str] = field(default_factory=list)
    refused_replies: int = 0

    @property
    def service_url(self) -> str:
        return f"{self.url}/teams/"

    @property
    def openid_url(self) -> str:
        return f"{self.url}/openid"

    @property
    def token_url(self) -> str:
        return f"{self.url}/{self.tenant_id}/oauth2/v2.0/token"

    new_key = staticmethod(new_rsa_key)

    def mint(self, key: Any = None, kid: Optional[str] = None, **overrides: Any) -> str:
        """A Bot Framework → bot token, valid unless overridden."""
        now = int(time.time())
        claims = {
            "serviceurl": self.service_url,
            "nbf": now - 10,
            "exp": now + 3600,
            "iss": BOT_FRAMEWORK_ISSUER,
            "aud": self.app_id,
        }
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    async def openid(self, request: web.Request) -> web.Response:
        self.metadata_requests += 1
        return web.json_response(
            {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": f"{self.url}/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "kty": "RSA", "endorsements": ["msteams", "webchat"]})
        return web.json_response({"keys": [jwk]})

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append(form)
        if (
            request.match_info["tenant"] != self.tenant_id
            or form.get("grant_type") != "client_credentials"
            or form.get("client_id") != self.app_id
            or form.get("client_secret") != self.app_password
        ):
            return web.json_response(
                {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
                status=401,
            )
        access_token = "eyJ0eXAi." + secrets.token_urlsafe(32)
        self.issued_tokens.append(access_token)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": access_token}
        )

    async def reply(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        if not self.issued_tokens or authorization != f"Bearer {self.issued_tokens[-1]}":
            self.refused_replies += 1
            return web.json_response({"message": "Authorization has been denied for this request."}, status=401)
        body = await request.json()
        self.activities.append(
            {
                "conversation": request.match_info["conversation"],
                "reply_to": request.match_info.get("activity"),
                "raw_path": request.raw_path,
                "body": body,
            }
        )
        return web.json_response({"id": str(uuid.uuid4())}, status=200)


def microsoft_app(fake: FakeMicrosoft) -> web.Application:
    app = web.Application()
    app.router.add_get("/openid", fake.openid)
    app.router.add_get("/keys", fake.keys)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", fake.token)
    app.router.add_post("/teams/v3/conversations/{conversation}/activities/{activity}", fake.reply)
    app.router.add_post("/teams/v3/conversations/{conversation}/activities", fake.reply)
    return app


@pytest.fixture
async def microsoft(aiohttp_server) -> FakeMicrosoft:
    fake = FakeMicrosoft()
    server = await aiohttp_server(microsoft_app(fake))
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


# --- the same fakes for the real Rasa server (another process) ----------------------


class ThreadedServers:
    """aiohttp servers on an event loop of their own, so synchronous tests can use them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runners: List[web.AppRunner] = []
        self.thread.start()

    def start(self, app: web.Application) -> str:
        async def serve() -> str:
            runner = web.AppRunner(app)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            self.runners.append(runner)
            return f"http://127.0.0.1:{port}"

        return asyncio.run_coroutine_threadsafe(serve(), self.loop).result(timeout=30)

    def stop(self) -> None:
        async def cleanup() -> None:
            for runner in self.runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(cleanup(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def channel_env(mattermost: FakeMattermost, microsoft: FakeMicrosoft, mattermost_token: str) -> Dict[str, str]:
    """The Rasa server's environment for Mattermost and Teams, pointed at the fakes."""
    return {
        "DIGOR_MATTERMOST_URL": mattermost.url,
        "DIGOR_MATTERMOST_TOKEN": mattermost_token,
        "DIGOR_MATTERMOST_BOT_TOKEN": mattermost.bot_token,
        "DIGOR_TEAMS_APP_ID": microsoft.app_id,
        "DIGOR_TEAMS_APP_PASSWORD": microsoft.app_password,
        "DIGOR_TEAMS_TENANT_ID": microsoft.tenant_id,
        "DIGOR_TEAMS_OPENID_URL": microsoft.openid_url,
        "DIGOR_TEAMS_TOKEN_URL": microsoft.token_url,
    }


@pytest.fixture(scope="module")
def remote_fakes():
    """A Mattermost server and Microsoft's endpoints, reachable by other processes."""
    servers = ThreadedServers()
    mattermost, microsoft = FakeMattermost(), FakeMicrosoft()
    mattermost.url = servers.start(mattermost_app(mattermost))
    microsoft.url = servers.start(microsoft_app(microsoft))
    yield mattermost, microsoft
    servers.stop()
