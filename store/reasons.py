"""Suppression reason codes (../shared/taxonomy.md section 2): the answers to "may I send?".

Kept apart from the classifier's bounce reasons on purpose: a bounce becomes a suppression
only through the policy. ``scope`` is what the answer reports; the streams a reason blocks
are policy (store/policy_defaults.json), not a property of the code.
"""
from __future__ import annotations

SUPPRESSION_REASONS: dict[str, str] = {
    "previously_bounced": "tenant",
    "mailbox_full": "tenant",
    "account_disabled": "tenant",
    "invalid_domain": "tenant",
    "previous_spam": "tenant",
    "unsubscribed": "subscription",
    "unsubscribed_all": "tenant",
    "invalid_syntax": "everywhere",
    "role_address": "stream",
    "disposable_domain": "stream",
    "domain_blocked": "platform",
    "company_opted_out": "domain",
    "platform_blocked": "platform",
    "globally_bounced": "platform",
    "unconfirmed_opt_in": "tenant",
    "frequency_capped": "stream",
    "low_engagement": "stream",
    "manual": "tenant",
}


def check_code(code: str) -> str:
    if code not in SUPPRESSION_REASONS:
        raise ValueError(f"unknown suppression reason {code!r}; valid: {', '.join(SUPPRESSION_REASONS)}")
    return code

#: What a tenant may set by hand (PUT /v1/suppressions/<address>): its own lists, never
#: platform-wide ones and never the ones that are derived at query time.
TENANT_SETTABLE = frozenset({
    "manual", "previously_bounced", "previous_spam", "unsubscribed", "unsubscribed_all",
    "unconfirmed_opt_in", "mailbox_full", "account_disabled", "invalid_domain",
})
