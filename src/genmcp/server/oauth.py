"""OAuth 2.1 resource-server mode: bearer tokens checked at the authorization server (RFC 7662 introspection).

The SDK does the HTTP side (401 with `WWW-Authenticate: Bearer ..., resource_metadata=...`, 403 for a
missing scope, the protected-resource metadata route); this module supplies its `TokenVerifier` and the
`AuthSettings` derived from `Settings`. Tokens are never logged; a cache keyed by their SHA-256 spares the
authorization server a round trip for a token seen in the last minute.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from typing import Any, cast

import httpx
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from pydantic import SecretStr

from genmcp.server.settings import Settings

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
CACHE_SIZE = 1024
INTROSPECTION_TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class OAuthConfigError(ValueError):
    """The OAuth settings are incomplete or conflict with another option."""


def resource_url(settings: Settings) -> str:
    """The protected resource this server is: the public URL's streamable HTTP endpoint."""
    if not settings.public_url:
        raise OAuthConfigError(
            "OAuth mode needs GENMCP_PUBLIC_URL (this server's public base URL, e.g. https://mcp.example.com): "
            "the resource URL tokens must be issued for is GENMCP_PUBLIC_URL + '/mcp'."
        )
    return f"{settings.public_url.rstrip('/')}/mcp"


def oauth_auth_settings(settings: Settings) -> AuthSettings | None:
    """The SDK `AuthSettings` when OAuth is configured, None otherwise; raises `OAuthConfigError` if misconfigured."""
    oauth = settings.oauth
    if oauth is None:
        return None
    if settings.auth_token is not None:
        raise OAuthConfigError(
            "GENMCP_AUTH_TOKEN and GENMCP_OAUTH_* are alternatives: set either a static bearer token or OAuth, not both."
        )
    missing = [
        name
        for name, value in (
            ("GENMCP_OAUTH_ISSUER", oauth.issuer),
            ("GENMCP_OAUTH_INTROSPECTION_URL", oauth.introspection_url),
        )
        if not value
    ]
    if missing:
        raise OAuthConfigError(f"OAuth mode is incomplete: set {' and '.join(missing)}.")
    try:
        return AuthSettings.model_validate(
            {
                "issuer_url": oauth.issuer,
                "resource_server_url": resource_url(settings),
                "required_scopes": oauth.scopes or None,
                # The verifier checks `aud`/`resource` against the resource URL itself.
                "validate_token_resource": False,
            }
        )
    except OAuthConfigError:
        raise
    except ValueError as err:
        raise OAuthConfigError(f"invalid OAuth settings (GENMCP_OAUTH_ISSUER / GENMCP_PUBLIC_URL): {err}") from None


def token_verifier_for(settings: Settings) -> IntrospectionTokenVerifier | None:
    oauth = settings.oauth
    if oauth is None or not oauth.introspection_url:
        return None
    return IntrospectionTokenVerifier(
        oauth.introspection_url,
        resource=resource_url(settings),
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
    )


def _same_url(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


class IntrospectionTokenVerifier:
    """The SDK's `TokenVerifier`: asks the authorization server whether a bearer token is active.

    Accepts only `active: true` answers whose `aud`/`resource` (when present) names this server's resource
    URL and whose `exp` (when present) is in the future. Any failure (network, status, malformed answer)
    means "not authenticated": it never raises and never logs the token.
    """

    def __init__(
        self,
        introspection_url: str,
        *,
        resource: str,
        client_id: str | None = None,
        client_secret: SecretStr | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        cache_seconds: float = CACHE_SECONDS,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.introspection_url = introspection_url
        self.resource = resource
        self._client_id = client_id
        self._client_secret = client_secret
        self._transport = transport
        self._cache_seconds = min(cache_seconds, CACHE_SECONDS)
        self._cache_size = cache_size
        self._cache: OrderedDict[str, tuple[float, AccessToken]] = OrderedDict()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token:
            return None
        key = hashlib.sha256(token.encode("utf-8")).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            until, access = cached
            if time.monotonic() < until and (access.expires_at is None or access.expires_at > time.time()):
                return access
            del self._cache[key]
        try:
            claims = await self._introspect(token)
            access = self._accept(token, claims) if claims is not None else None
        except Exception as err:  # a failed check means "not authenticated", never an error
            logger.warning("token introspection failed: %s", type(err).__name__)
            return None
        if access is not None:
            self._remember(key, access)
        return access

    async def _introspect(self, token: str) -> dict[str, Any] | None:
        auth: httpx.BasicAuth | None = None
        if self._client_id:
            secret = self._client_secret.get_secret_value() if self._client_secret else ""
            auth = httpx.BasicAuth(self._client_id, secret)
        async with httpx.AsyncClient(
            transport=self._transport, timeout=INTROSPECTION_TIMEOUT, follow_redirects=False
        ) as client:
            response = await client.post(
                self.introspection_url,
                data={"token": token, "token_type_hint": "access_token"},
                headers={"Accept": "application/json"},
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            )
        if response.status_code != 200:
            logger.warning("token introspection answered HTTP %d", response.status_code)
            return None
        body: object = response.json()
        if not isinstance(body, dict):
            return None
        return cast(dict[str, Any], body)

    def _accept(self, token: str, claims: dict[str, Any]) -> AccessToken | None:
        if claims.get("active") is not True:
            return None
        exp = claims.get("exp")
        if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float) or exp <= time.time()):
            return None
        for field in ("aud", "resource"):
            if field in claims and not self._names_us(claims[field]):
                logger.info("token refused: its %s does not name this server", field)
                return None
        scope = claims.get("scope")
        scopes = scope.split() if isinstance(scope, str) else []
        client_id = claims.get("client_id")
        subject = claims.get("sub")
        issuer = claims.get("iss")
        return AccessToken(
            token=token,
            client_id=str(client_id) if client_id else str(subject or "unknown"),
            scopes=scopes,
            expires_at=int(exp) if exp is not None else None,
            resource=self.resource,
            subject=str(subject) if subject is not None else None,
            claims={"iss": str(issuer)} if issuer is not None else None,
        )

    def _names_us(self, value: object) -> bool:
        values: list[object] = cast(list[object], value) if isinstance(value, list) else [value]
        return any(isinstance(v, str) and _same_url(v, self.resource) for v in values)

    def _remember(self, key: str, access: AccessToken) -> None:
        ttl = self._cache_seconds
        if access.expires_at is not None:
            ttl = min(ttl, access.expires_at - time.time())
        if ttl <= 0:
            return
        self._cache[key] = (time.monotonic() + ttl, access)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
