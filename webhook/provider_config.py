"""Setting and showing a tenant's ESP credentials: shared by the CLI and the tenant API.

Values are validated by the provider module that will use them (a SendGrid key must be an
ECDSA P-256 key, a Resend secret a ``whsec_`` secret, ...) and the resulting set must be a
complete way to authenticate, before anything is stored. Secret values never come back:
they are shown as ``"***"``; the non-secret ones (usernames, topic ARNs, the Mandrill URL,
SendGrid's public key) are shown as set, so an operator can check them, except for a
password written into a URL.
"""
from __future__ import annotations

from datetime import UTC, datetime

from store import CredentialsError, CredentialSet, Store
from webhook import redact
from webhook.esp import PROVIDERS

HIDDEN = redact.MASK


def provider_class(name: str):
    cls = PROVIDERS.get(name)
    if cls is None:
        raise CredentialsError(f"no webhook provider {name!r}; known: {', '.join(PROVIDERS)}")
    return cls


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _shown(cls, name: str, value: str) -> str:
    """A secret as ``***``; a shown value that is a URL without the password it may carry
    (a Mandrill webhook URL with user:password in it)."""
    if cls.credential_names.get(name, True):
        return HIDDEN
    return redact.url(value) if "://" in value else value


def describe(creds: CredentialSet) -> dict:
    cls = provider_class(creds.provider)
    return {
        "provider": cls.name,
        "webhook_path": f"/v1/webhooks/{cls.name}/{creds.tenant}",
        "credentials": {n: _shown(cls, n, v) for n, v in sorted(creds.current.items())},
        "previous_valid_until": {n: _iso(t) for n, t in sorted(creds.rotating().items())},
        "updated": _iso(creds.updated) if creds.updated else None,
        "setup": cls.setup,
    }


def configure(store: Store, tenant: str, provider: str, changes: dict[str, str | None],
              grace_seconds: int) -> dict:
    """Apply ``changes`` (an empty value removes a name) and describe the result."""
    cls = provider_class(provider)
    if not changes:
        raise CredentialsError(f"give at least one NAME=VALUE; {cls.name} names: {', '.join(cls.credential_names)}")
    cleaned: dict[str, str | None] = {}
    for name, value in changes.items():
        if name not in cls.credential_names:
            raise CredentialsError(f"{cls.name} has no credential {name!r}; names: {', '.join(cls.credential_names)}")
        cleaned[name] = cls.clean_credential(name, value) if value not in (None, "") else None
    creds = store.credentials.set(tenant, cls.name, cleaned, grace_seconds=grace_seconds,
                                  check=cls.check_credentials, tenant_exists=store.tenants.exists(tenant))
    return describe(creds)
