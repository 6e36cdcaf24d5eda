"""The phone desk console page of the backlog service."""

import json
import re
from html import unescape

from backlog.web import init_app
from tests.conftest import make_settings


async def test_the_desk_page_is_served_with_the_theme_labels(aiohttp_client, sqlite_url):
    client = await aiohttp_client(init_app(make_settings(sqlite_url, rasa_public_url="https://rasa.example.org")))
    answer = await client.get("/desk")
    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert "https://rasa.example.org" in answer.headers["Content-Security-Policy"]
    html = await answer.text()
    assert '<html lang="fr">' in html
    assert 'data-rasa-url="https://rasa.example.org"' in html
    themes = json.loads(unescape(re.search(r'data-themes="([^"]*)"', html).group(1)))
    assert themes["transports"] == "Transports et mobilité"
    assert "Région test" in html
    # The page's script and style are files of the service (the policy forbids inline code).
    assert '<script src="/static/desk.js"' in html and "<script>" not in html
    for path in ("/static/desk.js", "/static/desk.css"):
        assert (await client.get(path)).status == 200


async def test_the_demo_page_brands_the_widget_from_the_settings(aiohttp_client, sqlite_url):
    settings = make_settings(sqlite_url, brand_color="#7a1f3d", logo_url="/static/logo-test.svg")
    client = await aiohttp_client(init_app(settings))
    html = await (await client.get("/")).text()
    script = re.search(r'<script src="/static/widget.js"[^>]*>', html).group(0)
    assert 'data-color="#7a1f3d"' in script
    assert 'data-logo="/static/logo-test.svg"' in script
    assert 'data-name="Région test"' in script
