"""Optional API-key / bearer-token check of a model server.

A request is let through when it carries one of the configured tokens, either as
``Authorization: Bearer <token>`` or as ``X-API-Key: <token>``. Tokens are compared in
constant time and never logged. Health probes (``/v2/health/...``), ``/metrics`` and the
demo page's static files need no token, so that probes and scrapers work unchanged.

Example:
    >>> check = TokenCheck(["s3cret-token"])
    >>> check.allows({"authorization": "Bearer s3cret-token"}), check.allows({})
    (True, False)
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from qkeras.errors import ConfigurationError

__all__ = ["TokenCheck", "read_tokens", "EXEMPT_PREFIXES"]

EXEMPT_PREFIXES = ("/v2/health/", "/metrics", "/ui/", "/favicon.ico")
MIN_TOKEN_CHARS = 8


class TokenCheck:
    """Accepts requests that present one of ``tokens``.

    Raises:
        ConfigurationError: A token shorter than 8 characters.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = tuple(t.encode() for t in tokens)
        if any(len(t) < MIN_TOKEN_CHARS for t in self._tokens):
            raise ConfigurationError(f"API tokens must be at least {MIN_TOKEN_CHARS} "
                                     "characters; generate one with `openssl rand -hex 24`.")

    def __repr__(self) -> str:  # never shows the tokens
        return f"TokenCheck({len(self._tokens)} token(s))"

    @staticmethod
    def exempt(path: str) -> bool:
        """Whether ``path`` is served without a token."""
        return path == "/" or path.startswith(EXEMPT_PREFIXES)

    def allows(self, headers: Mapping[str, str]) -> bool:
        """Whether the (lower-case) ``headers`` carry a valid token."""
        given = headers.get("x-api-key", "")
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        candidate = given.encode()
        return any(hmac.compare_digest(candidate, t) for t in self._tokens)


def read_tokens(*, env: str | None = None, file: str | os.PathLike | None = None,
                ) -> list[str]:
    """Reads tokens from an environment variable (comma-separated) and/or a file (one a line).

    Raises:
        ConfigurationError: The variable is unset or the file unreadable.

    Example:
        >>> os.environ["DEMO_TOKENS"] = "aaaaaaaa,bbbbbbbb"
        >>> read_tokens(env="DEMO_TOKENS")
        ['aaaaaaaa', 'bbbbbbbb']
    """
    tokens = []
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigurationError(f"Environment variable {env} is not set; set it to the "
                                     "API token(s), comma-separated.")
        tokens += [t.strip() for t in value.split(",") if t.strip()]
    if file:
        try:
            tokens += [t.strip() for t in Path(file).read_text().splitlines() if t.strip()]
        except OSError as err:
            raise ConfigurationError(f"Cannot read the token file {file} "
                                     f"({type(err).__name__}); check its path and "
                                     "permissions.") from err
    return tokens
