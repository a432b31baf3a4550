"""How Harvest calls authenticate: v1 Basic key, v3 OAuth client credentials.

Both strategies answer the same three questions for the Harvest client: which headers go on
every call, which extra headers go on writes, and whether a 401 is worth one more try with fresh
credentials.

- v1 (Harvest docs, "Authentication"): HTTP Basic with the API key as user name and an empty
  password, i.e. ``base64("<key>:")`` with the trailing colon. Every write names the acting user
  in ``On-Behalf-Of`` ("Required for auditing purposes").
- v3 (harvestdocs.greenhouse.io ``/docs/authentication``): a bearer token from the token endpoint,
  asked for with HTTP Basic ``client_id:client_secret`` and the form
  ``grant_type=client_credentials&sub=<user id>``; ``sub`` plays the role ``On-Behalf-Of`` had.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import Protocol

from config.logs import get_logger
from connectors.errors import AuthenticationError, ServerError
from connectors.http import HttpClient, Timeouts

log = get_logger("connectors.greenhouse.auth")

SERVICE = "greenhouse"


def basic_header(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class HarvestAuth(Protocol):
    def headers(self) -> dict[str, str]:
        """Headers for every call (may fetch a token)."""

    def write_headers(self) -> dict[str, str]:
        """Extra headers for POST/PATCH/PUT/DELETE."""

    def invalidate(self) -> bool:
        """Forget cached credentials after a 401; ``True`` if one more try may succeed."""


class BasicKeyAuth:
    """Harvest v1/v2: the API key as Basic user name, ``On-Behalf-Of`` on writes."""

    def __init__(self, api_key: str, on_behalf_of: str) -> None:
        self._authorization = basic_header(api_key, "")
        self.on_behalf_of = on_behalf_of

    def headers(self) -> dict[str, str]:
        return {"Authorization": self._authorization}

    def write_headers(self) -> dict[str, str]:
        return {"On-Behalf-Of": self.on_behalf_of} if self.on_behalf_of else {}

    def invalidate(self) -> bool:
        # A key does not expire: a 401 means it is wrong or lacks the endpoint's permission.
        return False

    def __repr__(self) -> str:
        return "BasicKeyAuth(api_key=***)"


class OAuthClientCredentials:
    """Harvest v3: a bearer token from the client-credentials grant, cached until near expiry.

    The token is refreshed ``refresh_margin`` seconds (at most a tenth of its lifetime) before it
    expires, and at once after a 401 (:meth:`invalidate`). The token call does not pass the
    worker's Harvest rate limiter: it goes to the authorization server, not to Harvest.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        on_behalf_of: str,
        *,
        timeouts: Timeouts,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        http: HttpClient | None = None,
    ) -> None:
        self.token_url = token_url
        self.on_behalf_of = on_behalf_of
        self._authorization = basic_header(client_id, client_secret)
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._http = http or HttpClient(SERVICE, token_url, timeouts=timeouts)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def write_headers(self) -> dict[str, str]:
        # The acting user is the token's ``sub``; v3 has no On-Behalf-Of header.
        return {}

    def invalidate(self) -> bool:
        with self._lock:
            self._token = None
            self._refresh_at = 0.0
        return True

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._token, self._refresh_at = self._fetch()
            return self._token

    def _fetch(self) -> tuple[str, float]:
        response = self._http.request(
            "POST",
            self.token_url,
            path_template="token",
            data={"grant_type": "client_credentials", "sub": self.on_behalf_of},
            headers={"Authorization": self._authorization},
            limited=False,
        )
        try:
            body = response.json()
            token = str(body["access_token"])
        except (ValueError, KeyError, TypeError):
            raise ServerError("token response without access_token", service=SERVICE, path="token") from None
        if (body.get("token_type") or "bearer").lower() != "bearer":
            raise AuthenticationError(
                f"unsupported token type {body.get('token_type')!r}", service=SERVICE, path="token"
            )
        lifetime = _lifetime(body)
        margin = min(self._refresh_margin, lifetime / 10)
        log.info("greenhouse.token_fetched", expires_in=lifetime)
        return token, self._clock() + lifetime - margin

    def __repr__(self) -> str:
        return f"OAuthClientCredentials(token_url={self.token_url!r}, client_secret=***)"


def _lifetime(body: dict[str, object]) -> float:
    """Seconds the token lives: ``expires_in``, else an hour (RFC 6749 §5.1 makes it optional)."""
    value = body.get("expires_in")
    try:
        seconds = float(value) if isinstance(value, int | float | str) else 3600.0
    except ValueError:
        seconds = 3600.0
    return max(seconds, 1.0)
