"""Configuration: every knob is a ``REBOUND_*`` environment variable, validated at start.

One pydantic model is the single place where names, defaults and limits are
written down; the README's configuration table is generated from the same field
descriptions (``rebound config``). A bad value stops the service at start with one line per
problem naming the variable, instead of failing on the first request that needs it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from classifier.model.location import DATA_DIR_SHOWN, xdg_data_dir
from store.platform import COMPLAINTS_KEPT
from webhook import redact

PREFIX = "REBOUND_"


class ConfigError(Exception):
    """Invalid configuration; ``str()`` is a ready-to-print message."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    redis_url: str | None = Field(
        None, repr=False, description="Redis to use: one server (redis://, rediss:// or unix://) or a Redis Cluster "
                          "(redis+cluster://[user:password@]host:port,host:port, rediss+cluster:// for TLS; "
                          "database 0 only). Unset: `rebound serve` starts its own redis-server under the "
                          "data directory.")
    data_dir: Path = Field(
        default_factory=xdg_data_dir, json_schema_extra={"shown": DATA_DIR_SHOWN},
        description="Where the embedded Redis, models and runtime files live; one absolute place wherever a "
                    "command runs (`~/.local/share/rebound` when XDG_DATA_HOME is unset), so the CLI and the "
                    "service use the same store. `rebound config` shows the one in use.")
    operator_key: SecretStr | None = Field(
        None, description="Bearer key for platform-wide routes (operator lists). Unset: those routes answer 403.")
    host: str = Field("127.0.0.1", description="Address `rebound serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `rebound serve` binds to.")
    workers: int = Field(2, ge=1, le=64, description="gunicorn worker processes.")
    threads: int = Field(4, ge=1, le=64, description="Threads per worker.")
    max_body_bytes: int = Field(10 << 20, ge=1024, description="Largest request body accepted (413 above).")
    max_batch: int = Field(10_000, ge=1, description="Most events accepted in one POST /v1/events.")
    dedup_days: float = Field(7, gt=0, description="How long an event id is remembered to drop duplicates.")
    raw_retention_days: float = Field(30, gt=0, description="How long raw payloads are kept for reclassification.")
    raw_max_bytes: int = Field(1 << 20, ge=0, description="Raw payloads are cut to this size when kept.")
    history_max: int = Field(100, ge=1, le=10_000, description="Events kept in each address's history.")
    history_days: float = Field(180, ge=0, description="An address's history is dropped this long after its last entry (0: kept); about 1 KB per address while kept. Suppressions keep their own evidence.")
    key_prefix: str = Field("rb", pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="Prefix of every Redis key.")
    redis_min_replica_acks: int | None = Field(
        None, ge=0, le=16, json_schema_extra={"shown": "1 on a cluster, 0 on one server"},
        description="Replicas that must have a write (Redis WAIT on each primary written to) before Rebound "
                    "answers 2xx; fewer within REBOUND_REDIS_WAIT_MS: 503 with Retry-After (the client retries, "
                    "dedup makes that safe). What keeps acknowledged events through a failover.")
    redis_wait_ms: int = Field(300, ge=1, le=10_000, description="Milliseconds a write waits for "
                               "REBOUND_REDIS_MIN_REPLICA_ACKS replicas before it is answered 503.")
    redis_timeout: float = Field(2.0, gt=0, le=60, description="Seconds one request may wait for Redis, all its calls together; beyond it the request answers 503 (a frozen Redis costs a request this long, not this long per call).")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe level logged, by the service and gunicorn alike: `debug`, `info` (adds "
                            "one line per request), `warning` or `error`. No level logs addresses or message bodies.")
    dns_nameservers: str | None = Field(None, description="host[:port],... for DNS checks; unset: the system's resolvers.")
    dns_timeout: float = Field(2.0, gt=0, le=30, description="Seconds per DNS lookup; a timeout never makes an address unsendable.")
    dns_checks: bool = Field(True, description="Check recipient domains in DNS at query time.")
    secret_key: SecretStr | None = Field(
        None, description="Fernet key(s) encrypting ESP credentials at rest, comma-separated, newest first "
                          "(`rebound providers genkey`). Unset: a key file `secret.key` (mode 0600) under the "
                          "data directory, created on first use; set it when several hosts share one Redis.")
    rotation_grace_hours: float = Field(
        72, ge=0, le=24 * 90, description="After an ESP credential is changed, how long its previous value stays valid.")
    webhook_tolerance_seconds: int = Field(
        300, ge=30, le=86400, description="Largest clock difference accepted on signed webhook timestamps "
                                          "(Mailgun, Resend/Svix); replayed tokens are refused within twice this.")
    fetch_timeout: float = Field(5.0, gt=0, le=60, description="Seconds for outgoing HTTPS calls (SNS certificates "
                                                               "and subscription confirmations, SNS hosts only).")

    @field_validator("secret_key")
    @classmethod
    def _fernet_keys(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value().strip():
            return None
        from cryptography.fernet import Fernet

        for part in v.get_secret_value().split(","):
            try:
                Fernet(part.strip())
            except ValueError:
                raise ValueError("each key must be 32 url-safe base64-encoded bytes "
                                 "(`rebound providers genkey` makes one)") from None
        return v
    dns_cache_seconds: int = Field(86400, ge=1, description="How long a domain that accepts mail is cached.")
    dns_negative_cache_seconds: int = Field(3600, ge=1, description="How long a domain found not to accept mail (NXDOMAIN, null MX, no MX/A/AAAA) is cached.")
    dns_concurrency: int = Field(64, ge=1, le=1024, description="Domains resolved at once by a bulk check (which waits at most REBOUND_DNS_TIMEOUT in total).")
    dns_canary: str = Field("gmail.com", description="A domain known to accept mail; while it does not resolve, negative DNS answers are not trusted. Empty: no canary.")
    complaint_tenants: int = Field(0, ge=0, le=COMPLAINTS_KEPT, description=f"An address that complained at this many different tenants becomes platform_blocked (0: never; at most {COMPLAINTS_KEPT}, the complaining tenants remembered per address).")
    classifier: Literal["combined", "rules", "model"] = Field(
        "combined", description="How failures are classified: rules and model `combined`, `rules` only (the model is "
                                "never loaded), or `model` only (see \"How a verdict is decided\").")
    model_dir: Path | None = Field(
        None, description="Model registry whose active model the service uses (`rebound models ...`). Unset: "
                          "`models` under the data directory; the packaged default model while it has no active one.")
    model_check_seconds: float = Field(
        5, ge=0, le=3600, description="How often a worker looks for a newly activated model (a file stat); "
                                      "`rebound models activate` takes effect within this time, without a restart.")
    body_timeout: float = Field(
        30, gt=0, le=3600, description="Seconds a client has to send a whole request (headers and body) once it "
                                       "starts; 408 after. Under `rebound serve` a request being received holds no "
                                       "thread.")
    max_batch_text: int = Field(
        2_000_000, ge=10_000, description="Characters of diagnostic text one request may ask to classify "
                                          "(POST /v1/events, /v1/classify, an ESP batch); 413 above.")
    work_seconds: float = Field(
        10, gt=0, le=300, description="Seconds of classification one request may take (a batch of events, of "
                                      "evidence, an ESP batch); the budget is checked inside the loops, and a "
                                      "request that spends it gets 413 `over_budget`: send smaller batches. A raw "
                                      "message has its own 2 s.")
    rate_lookup: str = Field(
        "2000/second", description="Requests per tenant (all its keys together) to the lookups (GET "
                                   "/v1/recipients/..., POST /v1/recipients/check), in `limits` notation "
                                   "(`N/second;M/minute`); 429 with Retry-After above. Empty: no limit.")
    rate_ingest: str = Field(
        "200/second", description="Requests per tenant to ingest routes (events, inbound, ESP webhooks). ESPs "
                                  "retry on 429. Empty: no limit.")
    rate_other: str = Field("100/second", description="Requests per tenant to every other tenant route. Empty: no limit.")
    rate_auth_failures: str = Field(
        "30/minute", description="Failed authentications (unknown API key, wrong operator key, failed webhook "
                                 "authentication) per client address; beyond it that address gets 429 before "
                                 "its credentials are looked at. Empty: no limit.")
    rate_webhook_auth_failures: str = Field(
        "60/minute", description="Failed authentications per webhook URL (tenant and provider), from any "
                                 "address: guessing a webhook password from many addresses. Empty: no limit.")
    proxy_hops: int = Field(
        0, ge=0, le=5, description="Reverse proxies in front that set X-Forwarded-For (the README's nginx: 1): "
                                   "the client address that limits count is then the one they saw.")
    raw_quota_bytes: int = Field(
        256 << 20, ge=0, description="Raw payload bytes one tenant may keep (REBOUND_RAW_RETENTION_DAYS); beyond "
                                     "it new payloads are not kept (their events still are, and the answer says "
                                     "so). 0: no raw payloads kept.")
    metrics_public: bool = Field(
        False, description="Serve /metrics without authentication. Off: it needs `Authorization: Bearer "
                           "$REBOUND_OPERATOR_KEY`.")
    training_data_dir: Path | None = Field(
        None, description="Labelled JSONL files the console trains and evaluates models on, with each tenant's "
                          "labels. Unset: the corpus packaged with Rebound (as `rebound train`).")
    review_max: int = Field(
        10_000, ge=100, le=1_000_000,
        description="Open items kept in each tenant's review queue (`GET /v1/review`); beyond it the least "
                    "frequent, oldest evidence is dropped (counted as `dropped` in the queue's stats).")

    @field_validator("rate_lookup", "rate_ingest", "rate_other", "rate_auth_failures", "rate_webhook_auth_failures")
    @classmethod
    def _rates(cls, v: str) -> str:
        from limits import parse_many

        v = v.strip()
        if v:
            try:
                parse_many(v)
            except ValueError:
                raise ValueError("not a rate: write N/second, N/minute, N/hour or N/day, several with ';'") from None
        return v

    smtp_port: int | None = Field(
        None, ge=1, le=65535, description="Port of the SMTP/LMTP listener for return-path domains (`rebound smtp`); "
                                          "set, `rebound serve` starts it too. Unset: no listener (`rebound smtp` uses 2525).")
    smtp_host: str = Field("127.0.0.1", description="Address the SMTP/LMTP listener binds to (`0.0.0.0` to be your "
                                                    "return-path domain's MX).")
    smtp_hostname: str | None = Field(None, description="Name the listener greets with (unset: this host's FQDN).")
    smtp_lmtp: bool = Field(False, description="Speak LMTP instead of SMTP (for an MTA delivering to Rebound by LMTP; "
                                               "one answer per recipient).")
    smtp_tls_cert: Path | None = Field(None, description="Certificate (PEM, with its chain) offered with STARTTLS; "
                                                         "unset: no STARTTLS.")
    smtp_tls_key: Path | None = Field(None, description="Private key (PEM) of REBOUND_SMTP_TLS_CERT.")
    smtp_require_tls: bool = Field(False, description="Refuse mail commands before STARTTLS (most MTAs try TLS "
                                                      "when offered; some old ones cannot).")
    smtp_connections_per_ip: int = Field(10, ge=1, le=10_000, description="Connections one client address may "
                                                                           "hold open at once (421 beyond).")
    smtp_connection_rate: str = Field("120/minute", description="New connections per client address (421 beyond), "
                                                                "as `N/second|minute|hour`.")
    smtp_message_rate: str = Field("600/minute", description="Messages per client address (451 at MAIL beyond, "
                                                             "so the MTA retries later), as `N/second|minute|hour`.")
    smtp_exempt: str = Field("", description="Client networks exempt from the per-address limits, comma-separated "
                                             "CIDRs (your own relay, e.g. `127.0.0.1/32`).")
    smtp_workers: int = Field(4, ge=1, le=64, description="Threads parsing and storing messages for the listener.")
    mailbox_watch: bool = Field(True, description="`rebound serve` reads the configured bounce mailboxes "
                                                  "(`rebound mailbox`) in the background.")
    mailbox_interval: float = Field(60, ge=1, le=86400, description="Seconds between polls of a mailbox without IMAP "
                                                                   "IDLE (and of POP3), unless the mailbox sets its own.")

    @field_validator("smtp_connection_rate", "smtp_message_rate")
    @classmethod
    def _rate(cls, v: str) -> str:
        from limits import parse

        try:
            parse(v)
        except ValueError:
            raise ValueError("must be a rate such as 60/minute, 5/second or 1000/hour") from None
        return v

    @field_validator("smtp_exempt")
    @classmethod
    def _networks(cls, v: str) -> str:
        import ipaddress

        for part in filter(None, (p.strip() for p in v.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not a network (CIDR such as 127.0.0.1/32)") from None
        return v

    @model_validator(mode="after")
    def _tls_pair(self) -> "Settings":
        if (self.smtp_tls_cert is None) != (self.smtp_tls_key is None):
            raise ValueError("REBOUND_SMTP_TLS_CERT and REBOUND_SMTP_TLS_KEY go together: set both or neither")
        return self

    @field_validator("dns_nameservers")
    @classmethod
    def _nameservers(cls, v: str | None) -> str | None:
        if not v:
            return None                  # the system's resolvers (dnspython loaded only when asked)
        from store.dns import parse_nameservers

        parse_nameservers(v)
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        from store.cluster_url import is_cluster_url, parse_cluster_url

        if is_cluster_url(v):
            parse_cluster_url(v)         # a database but 0, a node without a port: said now
            return v
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss://, unix:// or, for a Redis Cluster, "
                             "redis+cluster:// or rediss+cluster://")
        from redis.connection import parse_url

        try:
            parse_url(v)                 # as the client will: a bad port is found now, not at connect
        except ValueError as exc:
            raise ValueError(f"not a Redis URL: {exc}") from None
        return v

    @property
    def embedded_socket(self) -> Path:
        return (self.data_dir / "redis" / "redis.sock").resolve()

    @property
    def effective_model_dir(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.data_dir / "models"

    @property
    def effective_redis_url(self) -> str:
        """The configured Redis, or the embedded one that `rebound serve` starts."""
        return self.redis_url or f"unix://{self.embedded_socket}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        known = {PREFIX + name.upper() for name in cls.model_fields}
        unknown = sorted(k for k in environ if k.startswith(PREFIX) and k not in known)
        if unknown:
            raise ConfigError("unknown setting(s): " + ", ".join(unknown)
                              + "\nvalid: " + ", ".join(sorted(known)))
        values = {k[len(PREFIX):].lower(): v for k, v in environ.items() if k in known}
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            lines = [f"{PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}{cls._got(e)}" if e["loc"]
                     else e["msg"].removeprefix("Value error, ") for e in exc.errors()]
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None

    @classmethod
    def _got(cls, error: dict) -> str:
        """The rejected value for an error line: never a secret's, a Redis URL's without its
        password (a typo in the URL must not print the password beside it)."""
        name = error["loc"][0] if error["loc"] else None
        f = cls.model_fields.get(name) if isinstance(name, str) else None
        if f is not None and SecretStr in (f.annotation, *get_args(f.annotation)):
            return ""
        value = error.get("input")
        if name == "redis_url" and isinstance(value, str):
            value = redact.url(value)
        return f" (got {value!r})"

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(variable, default, description) for documentation."""
        rows = []
        for name, f in cls.model_fields.items():
            default = f.default
            shown = "unset" if default is None else (str(default) if not isinstance(default, bool) else str(default).lower())
            shown = (f.json_schema_extra or {}).get("shown", shown)
            rows.append((PREFIX + name.upper(), shown, f.description or ""))
        return rows
