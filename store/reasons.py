"""Suppression reason codes (../shared/taxonomy.md section 2): the answers to "may I send?".

Kept apart from the classifier's bounce reasons on purpose: a bounce becomes a suppression
only through the policy. ``SCOPE`` is what the answer reports as the reason's reach (made
precise per answer: ``subscription:newsletter``, ``stream:marketing``, ``domain:acme.com``);
the streams a reason blocks are policy (store/policy_defaults.json), not a property of the
code. ``ORIGIN`` says where each reason lives, which decides who may set or lift it.
"""
from __future__ import annotations

#: code -> scope, in the order answers list them (most fundamental first)
SUPPRESSION_REASONS: dict[str, str] = {
    "invalid_syntax": "everywhere",
    "invalid_domain": "tenant",
    "domain_blocked": "platform",
    "platform_blocked": "platform",
    "globally_bounced": "platform",
    "previously_bounced": "tenant",
    "mailbox_full": "tenant",
    "account_disabled": "tenant",
    "previous_spam": "tenant",
    "unsubscribed_all": "tenant",
    "unsubscribed": "subscription",
    "company_opted_out": "domain",
    "unconfirmed_opt_in": "tenant",
    "role_address": "stream",
    "disposable_domain": "stream",
    "frequency_capped": "stream",
    "low_engagement": "stream",
    "manual": "tenant",
}

ORDER: dict[str, int] = {code: i for i, code in enumerate(SUPPRESSION_REASONS)}

#: Where a reason comes from:
#: - ``record``: stored in the tenant's per-address record (events, API), liftable by the tenant
#: - ``platform``: operator lists and cross-tenant facts, never liftable by a tenant
#: - ``derived``: computed at query time (address validation, DNS, counters, tenant lists)
ORIGIN: dict[str, str] = {
    "invalid_syntax": "derived", "role_address": "derived", "disposable_domain": "derived",
    "frequency_capped": "derived", "low_engagement": "derived", "company_opted_out": "derived",
    "domain_blocked": "platform", "platform_blocked": "platform", "globally_bounced": "platform",
}


def check_code(code: str) -> str:
    if code not in SUPPRESSION_REASONS:
        raise ValueError(f"unknown suppression reason {code!r}; valid: {', '.join(SUPPRESSION_REASONS)}")
    return code


#: What a tenant may set by hand (PUT /v1/suppressions/<address>, CSV import): its own
#: per-address lists, never platform-wide ones and never the ones derived at query time.
TENANT_SETTABLE = frozenset(code for code in SUPPRESSION_REASONS if ORIGIN.get(code, "record") == "record")
