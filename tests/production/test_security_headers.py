"""Security headers of the backlog service's pages and API."""

import pytest

from backlog.web import init_app, middlewares
from tests.conftest import TOKEN, make_settings


@pytest.fixture
def origins(monkeypatch):
    def set_origins(value):
        monkeypatch.setenv("DIGOR_WIDGET_ALLOWED_ORIGINS", value)
        middlewares.parse_allowed_origins.cache_clear()

    yield set_origins
    middlewares.parse_allowed_origins.cache_clear()


@pytest.fixture
async def client(aiohttp_client, sqlite_url):
    return await aiohttp_client(init_app(make_settings(sqlite_url)))


def directives(response):
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


async def test_the_widget_page_can_be_framed_by_the_allowed_sites_only(client, origins):
    origins("https://www.region.example, https://*.bzh.example  javascript:alert(1) https://bad.example/path")
    response = await client.get("/")
    assert response.status == 200
    csp = directives(response)
    assert csp["frame-ancestors"] == ["'self'", "https://www.region.example", "https://*.bzh.example"]
    assert csp["script-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert "X-Frame-Options" not in response.headers  # it cannot list sites; CSP does
    assert response.headers["Permissions-Policy"].startswith("camera=()")


async def test_without_allowed_sites_only_this_service_frames_the_widget(client, origins):
    origins("")
    response = await client.get("/")
    assert directives(response)["frame-ancestors"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


async def test_the_api_is_never_framed_nor_cached_even_on_errors(client, origins):
    origins("https://www.region.example")
    for headers, status in (({}, 401), ({"Authorization": f"Bearer {TOKEN}"}, 200)):
        response = await client.get("/api/tickets", headers=headers)
        assert response.status == status
        assert directives(response)["frame-ancestors"] == ["'none'"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in (await client.get("/")).headers
    behind_proxy = await client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert behind_proxy.headers["Strict-Transport-Security"].startswith("max-age=31536000")


async def test_a_too_large_body_is_refused(client):
    response = await client.patch(
        "/api/tickets/TK-2026-00001",
        data=b"x" * (300 * 1024),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status == 413
