"""Run the backlog service: `python -m backlog`."""

from __future__ import annotations

import logging

from aiohttp import web

from backlog.settings import Settings
from backlog.web import init_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    web.run_app(init_app(settings), host=settings.web_host, port=settings.web_port, print=None)


if __name__ == "__main__":
    main()
