"""Settings from the environment. Keys are `SecretStr`: they never print, log or serialise by accident."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from genmcp.providers.base import PROVIDERS, ProviderName

DEFAULT_BASE_URLS: dict[ProviderName, str] = {
    "gamma": "https://public-api.gamma.app",
    "abyssale": "https://api.abyssale.com",
    "banatie": "https://api.banatie.app",
}
WAIT_CAP_SECONDS = 50.0

# Every variable the server reads, with its meaning; the README table and `genmcp --help` use it.
ENVIRONMENT: dict[str, str] = {
    "GAMMA_API_KEY": "Gamma API key (X-API-KEY, 'sk-gamma-...'). Enables the gamma_* tools.",
    "GAMMA_BASE_URL": "Gamma API base URL (default https://public-api.gamma.app).",
    "ABYSSALE_API_KEY": "Abyssale API key. Enables the abyssale_* tools.",
    "ABYSSALE_BASE_URL": "Abyssale API base URL (default https://api.abyssale.com).",
    "BANATIE_API_KEY": "Banatie project API key ('bnt_...'). Enables the banatie_* tools.",
    "BANATIE_BASE_URL": "Banatie API base URL (default https://api.banatie.app).",
    "GENMCP_SANDBOX": "1 = start built-in simulators of all three APIs and use them instead (no keys needed).",
    "GENMCP_SANDBOX_JOB_SECONDS": "Sandbox only: how long each simulated job takes (default: Gamma 6, Abyssale 4, Banatie 2).",
    "GENMCP_DATA_DIR": "Where the job store (SQLite) and thumbnails live (default ~/.local/share/genmcp; sandbox uses a 'sandbox' subfolder).",
    "GENMCP_OUTPUT_DIR": "Where result files are downloaded (default <data dir>/outputs).",
    "GENMCP_WAIT_SECONDS": "How long a tool call waits for a job before handing back its id (default 40, at most 50).",
    "GENMCP_LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR (default INFO); logs go to stderr, keys redacted.",
    "GENMCP_AUTH_TOKEN": "HTTP transports: bearer token clients must send. Required to bind beyond loopback (unless OAuth is set).",
    "GENMCP_PUBLIC_URL": "HTTP transports: public base URL of this server, enabling Abyssale webhooks (callback_url). With OAuth, the resource URL is this + /mcp.",
    "GENMCP_OAUTH_ISSUER": "HTTP transports, OAuth 2.1 resource-server mode: issuer URL of the authorization server (instead of GENMCP_AUTH_TOKEN).",
    "GENMCP_OAUTH_INTROSPECTION_URL": "OAuth mode: the authorization server's RFC 7662 token introspection endpoint.",
    "GENMCP_OAUTH_CLIENT_ID": "OAuth mode: client id this server authenticates with at the introspection endpoint (HTTP Basic).",
    "GENMCP_OAUTH_CLIENT_SECRET": "OAuth mode: client secret for the introspection endpoint.",
    "GENMCP_OAUTH_SCOPES": "OAuth mode: comma list of scopes every token must carry (missing scope → 403).",
    "GENMCP_TRUSTED_ORIGINS": "Comma list of origins (http://127.0.0.1:8101) trusted for downloads and reference URLs although local: for a separately run simulator.",
    "GENMCP_ALLOWED_HOSTS": "HTTP transports: extra Host header values to accept (comma list), e.g. a reverse proxy name.",
}


class ProviderSettings(BaseModel):
    api_key: SecretStr
    base_url: str


class OAuthSettings(BaseModel):
    """OAuth 2.1 resource-server mode: bearer tokens checked by RFC 7662 introspection."""

    issuer: str | None = None
    introspection_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scopes: list[str] = Field(default_factory=list[str])


class Settings(BaseModel):
    gamma: ProviderSettings | None = None
    abyssale: ProviderSettings | None = None
    banatie: ProviderSettings | None = None
    sandbox: bool = False
    data_dir: Path
    output_dir: Path
    wait_seconds: float = Field(default=40.0, gt=0, le=WAIT_CAP_SECONDS)
    log_level: str = "INFO"
    auth_token: SecretStr | None = None
    public_url: str | None = None
    oauth: OAuthSettings | None = None
    allowed_hosts: list[str] = Field(default_factory=list[str])
    # Origins (scheme://host:port) downloads may use although they are not public https (sandbox simulators).
    trusted_download_origins: set[str] = Field(default_factory=set[str])
    # Persistence off: an in-memory store (benchmarks only).
    persist: bool = True

    def provider(self, name: ProviderName) -> ProviderSettings | None:
        value: ProviderSettings | None = getattr(self, name)
        return value

    @property
    def configured(self) -> list[ProviderName]:
        return [name for name in PROVIDERS if self.provider(name) is not None]

    @property
    def secrets(self) -> list[str]:
        """Every secret value, for the log redaction filter."""
        values = [p.api_key.get_secret_value() for name in PROVIDERS if (p := self.provider(name))]
        if self.auth_token:
            values.append(self.auth_token.get_secret_value())
        if self.oauth and self.oauth.client_secret:
            values.append(self.oauth.client_secret.get_secret_value())
        return [v for v in values if v]

    @property
    def store_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, sandbox: bool | None = None) -> Settings:
        env = os.environ if env is None else env
        sandbox_on = sandbox if sandbox is not None else env.get("GENMCP_SANDBOX", "").lower() in {"1", "true", "yes"}
        base_data = Path(env.get("GENMCP_DATA_DIR") or Path.home() / ".local" / "share" / "genmcp").expanduser()
        data_dir = base_data / "sandbox" if sandbox_on else base_data
        output_dir = (
            Path(env["GENMCP_OUTPUT_DIR"]).expanduser() if env.get("GENMCP_OUTPUT_DIR") else data_dir / "outputs"
        )
        providers: dict[str, ProviderSettings | None] = {}
        for name in PROVIDERS:
            key = env.get(f"{name.upper()}_API_KEY", "").strip()
            base = env.get(f"{name.upper()}_BASE_URL", "").strip() or DEFAULT_BASE_URLS[name]
            providers[name] = ProviderSettings(api_key=SecretStr(key), base_url=base.rstrip("/")) if key else None
        wait = float(env.get("GENMCP_WAIT_SECONDS") or 40)
        token = env.get("GENMCP_AUTH_TOKEN", "").strip()
        oauth = {k: env.get(f"GENMCP_OAUTH_{k.upper()}", "").strip() for k in ("issuer", "introspection_url")}
        oauth_id = env.get("GENMCP_OAUTH_CLIENT_ID", "").strip()
        oauth_secret = env.get("GENMCP_OAUTH_CLIENT_SECRET", "").strip()
        oauth_scopes = [s.strip() for s in env.get("GENMCP_OAUTH_SCOPES", "").split(",") if s.strip()]
        oauth_on = any(oauth.values()) or bool(oauth_id or oauth_secret or oauth_scopes)
        return cls(
            gamma=None if sandbox_on else providers["gamma"],
            abyssale=None if sandbox_on else providers["abyssale"],
            banatie=None if sandbox_on else providers["banatie"],
            sandbox=sandbox_on,
            data_dir=data_dir,
            output_dir=output_dir,
            wait_seconds=min(max(wait, 1.0), WAIT_CAP_SECONDS),
            log_level=(env.get("GENMCP_LOG_LEVEL") or "INFO").upper(),
            auth_token=SecretStr(token) if token else None,
            public_url=(env.get("GENMCP_PUBLIC_URL") or "").rstrip("/") or None,
            oauth=OAuthSettings(
                issuer=oauth["issuer"] or None,
                introspection_url=oauth["introspection_url"] or None,
                client_id=oauth_id or None,
                client_secret=SecretStr(oauth_secret) if oauth_secret else None,
                scopes=oauth_scopes,
            )
            if oauth_on
            else None,
            allowed_hosts=[h.strip() for h in env.get("GENMCP_ALLOWED_HOSTS", "").split(",") if h.strip()],
            trusted_download_origins={
                o.strip().rstrip("/").lower() for o in env.get("GENMCP_TRUSTED_ORIGINS", "").split(",") if o.strip()
            },
        )
