"""Bearer tokens of the API, each with a label that the audit journal records."""

from __future__ import annotations

import hmac

from aiohttp import web

from backlog.store import TEAM


def parse_tokens(main_token: str, extra_tokens: str = "") -> dict[str, str]:
    """Map each token to its label.

    `main_token` is DIGOR_API_TOKEN, labelled "équipe". `extra_tokens` is
    DIGOR_API_TOKENS: "label1:token1,label2:token2". A malformed entry, an
    empty label or token, or a token given twice raises ValueError, so a
    mistake in the configuration stops the service instead of locking
    someone out silently.
    """
    tokens = {main_token: TEAM} if main_token else {}
    for entry in filter(None, (part.strip() for part in extra_tokens.split(","))):
        label, separator, token = entry.partition(":")
        label, token = label.strip(), token.strip()
        if not separator or not label or not token:
            raise ValueError("DIGOR_API_TOKENS: each entry must read label:token")
        if len(label) > 80:
            raise ValueError("DIGOR_API_TOKENS: a label has at most 80 characters")
        if token in tokens:
            raise ValueError("DIGOR_API_TOKENS: the same token is given twice")
        tokens[token] = label
    return tokens


def token_label(tokens: dict[str, str], authorization: str) -> str | None:
    """The label of the bearer token of an Authorization header, or None."""
    scheme, _, given = authorization.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return None
    label = None
    for token, name in tokens.items():
        # Compare with every token, so the time taken tells nothing.
        if hmac.compare_digest(given.encode(), token.encode()):
            label = name
    return label


def require_token(request: web.Request, tokens: dict[str, str]) -> str:
    """The label of the request's token; 401 without a valid one."""
    label = token_label(tokens, request.headers.get("Authorization", ""))
    if label is None:
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="digor"'})
    return label
