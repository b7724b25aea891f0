"""What each ESP's own classification of a failure is worth, as one table.

An ESP's classification (SendGrid's ``type``/``bounce_classification``, SES's
``bounceType``/``bounceSubType``, SparkPost's ``bounce_class``, ...) is evidence, not the
verdict: the diagnostic text and codes go through our own rules first. The provider's word
is used in three ways, and each table row says how far it goes:

- **reason** (may be None): what the classification means in our vocabulary, with the
  confidence it deserves on its own. It is one more opinion in the decision procedure of
  :mod:`classifier.combine`, beside the rules': it decides when our rules have nothing
  precise to say, stands beside a precise rule when it is itself precise (:data:`PRECISE`),
  raises the confidence when it agrees with them, and settles the doubt of a "user unknown"
  text whose SMTP phase is not stated (ESP events never state it).
- **SOFT**: the provider states the failure is temporary (SendGrid ``blocked``, Mailgun
  ``temporary``, SES ``Transient``, SparkPost's soft classes). The verdict is then never
  hard, whatever the text says: one such event never suppresses.
- **SENDER**: the provider states the cause is on the sending side or is its own block
  (SendGrid ``blocked``, Mailgun ``espblock``, SparkPost block classes 50-53, Postmark
  ``Blocked``/``DMARCPolicy``). The verdict is then never a recipient category: a
  confident "user unknown" rule is overruled by the provider's sender-side reason, because
  suppressing a good recipient for the sender's own block is the costliest mistake there is.

SOFT and SENDER are constraints on the final verdict (:func:`constrain`), applied after the
decision whoever made it, the model included.

Keys are ``"<provider>:<classification>"`` in lower case, the way ``Event.provider_class``
spells them (the webhook modules build them). Lookup goes from the most specific key to
the least, dropping one ``/part`` at a time, so ``sendgrid:blocked/some new class`` still
gets what ``sendgrid:blocked`` says; the first reason found and the first constraint found
on the way are combined. A class ending in `` (soft)`` carries the provider's separate
statement that the failure was temporary (Mailjet's ``hard_bounce: false``): it is looked up
without the suffix and gets at least the SOFT constraint.
"""
from __future__ import annotations

import dataclasses
import functools

from classifier.taxonomy import CATEGORY_OF, SENDER_SIDE
from classifier.taxonomy import reason as _check_reason
from classifier.verdict import Verdict

SOFT = "soft"
SENDER = "sender"
SOFT_SUFFIX = " (soft)"

#: A classification at least this confident names the cause precisely: it then stands beside
#: a precise rule in classifier.combine.decide (the more confident of the two decides).
PRECISE = 0.8
#: Categories a SENDER-constrained verdict may have: nothing that suppresses a recipient.
NOT_RECIPIENT = SENDER_SIDE | {"unknown", "auto_reply"}

# key -> (reason or None, confidence, constraint or None)
PROVIDER_CLASSES: dict[str, tuple[str | None, float, str | None]] = {
    # -- SendGrid: type bounce (permanent) / blocked (temporary), bounce_classification -----
    # A permanent bounce of unstated cause: SendGrid itself adds the address to its bounce
    # list, so a hard nonexistent-account verdict at the lowest acting confidence, which
    # any confident rule of ours overrides.
    "sendgrid:bounce": ("userunknown", 0.55, None),
    "sendgrid:bounce/invalid address": ("userunknown", 0.85, None),
    "sendgrid:bounce/mailbox unavailable": ("suspend", 0.6, None),
    "sendgrid:bounce/technical": ("systemerror", 0.5, None),
    "sendgrid:bounce/technical failure": ("systemerror", 0.5, None),
    "sendgrid:bounce/content": ("spamdetected", 0.6, SENDER),
    "sendgrid:bounce/reputation": ("badreputation", 0.7, SENDER),
    "sendgrid:bounce/frequency or volume too high": ("speeding", 0.7, SENDER),
    "sendgrid:bounce/unclassified": ("userunknown", 0.55, None),
    # blocked: never suppresses the recipient, whatever the classification says
    "sendgrid:blocked": ("blocked", 0.6, SENDER),
    "sendgrid:blocked/reputation": ("badreputation", 0.7, SENDER),
    "sendgrid:blocked/frequency or volume too high": ("speeding", 0.7, SENDER),
    "sendgrid:blocked/content": ("spamdetected", 0.6, SENDER),
    "sendgrid:blocked/technical": ("networkerror", 0.5, SENDER),
    "sendgrid:blocked/technical failure": ("networkerror", 0.5, SENDER),
    "sendgrid:deferred": (None, 0.0, SOFT),
    # dropped: SendGrid refused to send. Unsubscribe/spam-report drops become unsubscribe
    # and complaint events in the webhook module; the rest are classified here.
    "sendgrid:dropped": ("onhold", 0.5, None),
    "sendgrid:dropped/bounced address": ("userunknown", 0.8, None),
    "sendgrid:dropped/invalid": ("userunknown", 0.6, None),
    "sendgrid:dropped/invalid smtpapi header": ("syntaxerror", 0.8, SENDER),
    "sendgrid:dropped/spam content": ("spamdetected", 0.8, SENDER),
    "sendgrid:dropped/spam content (if spam checker app enabled)": ("spamdetected", 0.8, SENDER),
    "sendgrid:dropped/recipient list over package quota": ("speeding", 0.8, SENDER),

    # -- Mailgun: severity permanent|temporary, reason --------------------------------------
    "mailgun:permanent": ("userunknown", 0.55, None),
    "mailgun:permanent/generic": ("userunknown", 0.55, None),
    "mailgun:permanent/bounce": ("userunknown", 0.6, None),
    "mailgun:permanent/suppress-bounce": ("userunknown", 0.8, None),
    "mailgun:permanent/espblock": ("blocked", 0.7, SENDER),
    "mailgun:permanent/blacklisted": ("blocked", 0.7, SENDER),
    "mailgun:permanent/old": ("expired", 0.8, SOFT),
    "mailgun:permanent/hardfail": ("onhold", 0.5, None),
    "mailgun:temporary": (None, 0.0, SOFT),
    "mailgun:temporary/espblock": ("blocked", 0.7, SENDER),
    "mailgun:temporary/blacklisted": ("blocked", 0.7, SENDER),
    "mailgun:temporary/greylisted": ("filtered", 0.5, SOFT),
    "mailgun:temporary/old": ("expired", 0.8, SOFT),

    # -- Amazon SES: bounceType/bounceSubType, DeliveryDelay delayType, Reject reason -------
    "ses:permanent": ("userunknown", 0.55, None),
    "ses:permanent/general": ("userunknown", 0.55, None),
    "ses:permanent/noemail": ("userunknown", 0.9, None),
    # SES's global suppression list holds addresses that hard-bounced recently
    "ses:permanent/suppressed": ("userunknown", 0.8, None),
    # the account-level list holds bounces *and* complaints: the cause is not stated
    "ses:permanent/onaccountsuppressionlist": ("onhold", 0.6, None),
    "ses:transient": (None, 0.0, SOFT),
    "ses:transient/mailboxfull": ("mailboxfull", 0.8, SOFT),
    "ses:transient/messagetoolarge": ("mesgtoobig", 0.8, SENDER),
    "ses:transient/contentrejected": ("contenterror", 0.7, SENDER),
    "ses:transient/attachmentrejected": ("contenterror", 0.8, SENDER),
    "ses:undetermined": ("onhold", 0.5, SOFT),
    "ses:deliverydelay": (None, 0.0, SOFT),
    "ses:deliverydelay/internalfailure": ("systemerror", 0.6, SENDER),
    "ses:deliverydelay/mailboxfull": ("mailboxfull", 0.8, SOFT),
    "ses:deliverydelay/spamdetected": ("spamdetected", 0.7, SENDER),
    "ses:deliverydelay/recipientservererror": ("systemerror", 0.6, SOFT),
    "ses:deliverydelay/ipfailure": ("blocked", 0.7, SENDER),
    "ses:deliverydelay/transientcommunicationfailure": ("networkerror", 0.6, SOFT),
    "ses:deliverydelay/byoiphostnamelookupunavailable": ("networkerror", 0.6, SENDER),
    "ses:deliverydelay/sendingdeferral": ("speeding", 0.7, SENDER),
    "ses:reject": ("virusdetected", 0.9, SENDER),

    # -- SparkPost bounce_class (support-docs bounce-classification-codes) -----------------
    "sparkpost:bounce_class=1": ("onhold", 0.5, None),
    "sparkpost:bounce_class=10": ("userunknown", 0.85, None),
    "sparkpost:bounce_class=20": (None, 0.0, SOFT),
    "sparkpost:bounce_class=21": ("hostunknown", 0.6, SOFT),
    "sparkpost:bounce_class=22": ("mailboxfull", 0.85, SOFT),
    "sparkpost:bounce_class=23": ("mesgtoobig", 0.85, SENDER),
    "sparkpost:bounce_class=24": ("networkerror", 0.6, SOFT),
    "sparkpost:bounce_class=25": ("policyviolation", 0.6, SENDER),
    "sparkpost:bounce_class=30": ("userunknown", 0.55, None),
    "sparkpost:bounce_class=40": (None, 0.0, SOFT),
    "sparkpost:bounce_class=50": ("blocked", 0.8, SENDER),
    "sparkpost:bounce_class=51": ("blocked", 0.8, SENDER),
    "sparkpost:bounce_class=52": ("spamdetected", 0.8, SENDER),
    "sparkpost:bounce_class=53": ("contenterror", 0.8, SENDER),
    "sparkpost:bounce_class=54": ("norelaying", 0.6, SOFT),
    "sparkpost:bounce_class=60": ("vacation", 0.9, SOFT),
    "sparkpost:bounce_class=70": (None, 0.0, SOFT),
    "sparkpost:bounce_class=100": ("filtered", 0.6, SOFT),

    # -- Postmark bounce Type (TypeCode names) ---------------------------------------------
    "postmark:hardbounce": ("userunknown", 0.6, None),
    "postmark:transient": (None, 0.0, SOFT),
    "postmark:softbounce": (None, 0.0, SOFT),
    "postmark:dnserror": ("networkerror", 0.6, SOFT),
    "postmark:spamnotification": ("spamdetected", 0.7, SENDER),
    "postmark:virusnotification": ("virusdetected", 0.8, SENDER),
    "postmark:autoresponder": ("vacation", 0.9, SOFT),
    "postmark:addresschange": ("hasmoved", 0.6, None),
    "postmark:challengeverification": ("filtered", 0.6, SOFT),
    "postmark:bademailaddress": ("userunknown", 0.8, None),
    "postmark:manuallydeactivated": ("onhold", 0.6, None),
    "postmark:unconfirmed": ("rejected", 0.8, SENDER),
    "postmark:blocked": ("blocked", 0.7, SENDER),
    "postmark:smtpapierror": ("syntaxerror", 0.7, SENDER),
    "postmark:dmarcpolicy": ("authfailure", 0.9, SENDER),
    "postmark:templaterenderingfailed": ("contenterror", 0.8, SENDER),
    "postmark:openrelaytest": ("onhold", 0.5, SOFT),
    "postmark:inbounderror": ("onhold", 0.5, SOFT),
    "postmark:unknown": ("onhold", 0.4, None),
    # SubscriptionChange: Postmark deactivated the address after a hard bounce
    "postmark:suppressed/hardbounce": ("userunknown", 0.8, None),

    # -- Mailjet error_related_to/error ------------------------------------------------------
    "mailjet:recipient/user unknown": ("userunknown", 0.85, None),
    "mailjet:recipient/mailbox inactive": ("suspend", 0.8, None),
    "mailjet:recipient/quota exceeded": ("mailboxfull", 0.8, SOFT),
    "mailjet:recipient/blacklisted": ("onhold", 0.6, None),
    "mailjet:recipient/spam reporter": ("onhold", 0.6, None),
    "mailjet:domain/invalid domain": ("hostunknown", 0.85, None),
    "mailjet:domain/no mail host": ("notaccept", 0.8, None),
    "mailjet:domain/relay/access denied": ("norelaying", 0.6, None),
    "mailjet:domain/greylisted": ("filtered", 0.5, SOFT),
    "mailjet:domain/typofix": ("hostunknown", 0.7, None),
    "mailjet:content": ("contenterror", 0.7, SENDER),
    "mailjet:spam": ("spamdetected", 0.6, SENDER),
    "mailjet:spam/sender blocked": ("blocked", 0.8, SENDER),
    "mailjet:spam/content blocked": ("spamdetected", 0.8, SENDER),
    "mailjet:spam/policy issue": ("policyviolation", 0.7, SENDER),
    "mailjet:system": ("systemerror", 0.5, SOFT),
    "mailjet:system/protocol issue": ("syntaxerror", 0.6, SENDER),
    "mailjet:system/connection issue": ("networkerror", 0.6, SOFT),
    "mailjet:mailjet": ("onhold", 0.5, SENDER),
    "mailjet:mailjet/preblocked": ("onhold", 0.6, None),

    # -- Mandrill event/bounce_description ---------------------------------------------------
    "mandrill:hard_bounce": ("userunknown", 0.55, None),
    "mandrill:hard_bounce/bad_mailbox": ("userunknown", 0.85, None),
    "mandrill:hard_bounce/invalid_mailbox": ("userunknown", 0.85, None),
    "mandrill:hard_bounce/invalid_domain": ("hostunknown", 0.85, None),
    "mandrill:hard_bounce/domain_error": ("hostunknown", 0.6, None),
    "mandrill:hard_bounce/mailbox_full": ("mailboxfull", 0.8, None),
    "mandrill:hard_bounce/spam_related": ("spamdetected", 0.7, SENDER),
    "mandrill:hard_bounce/general": ("userunknown", 0.55, None),
    "mandrill:soft_bounce": (None, 0.0, SOFT),
    "mandrill:soft_bounce/mailbox_full": ("mailboxfull", 0.8, None),
    "mandrill:soft_bounce/spam_related": ("spamdetected", 0.7, SENDER),
    "mandrill:soft_bounce/invalid_domain": ("hostunknown", 0.6, None),
    "mandrill:deferral": (None, 0.0, SOFT),
    # on Mandrill's rejection list: bounces, complaints, unsubscribes or manual; not stated
    "mandrill:reject": ("onhold", 0.6, None),

    # -- Brevo event names -------------------------------------------------------------------
    "brevo:hard_bounce": ("userunknown", 0.55, None),
    "brevo:soft_bounce": (None, 0.0, SOFT),
    "brevo:deferred": (None, 0.0, SOFT),
    "brevo:invalid_email": ("userunknown", 0.6, None),
    # Brevo's blocklist: earlier bounce, complaint, unsubscribe or manual; not stated
    "brevo:blocked": ("onhold", 0.6, None),
    "brevo:error": ("systemerror", 0.6, SENDER),

    # -- Resend (SES underneath: bounce.type/subType) ---------------------------------------
    "resend:bounce": ("userunknown", 0.55, None),
    "resend:permanent": ("userunknown", 0.55, None),
    "resend:permanent/general": ("userunknown", 0.55, None),
    "resend:permanent/noemail": ("userunknown", 0.9, None),
    "resend:permanent/suppressed": ("userunknown", 0.8, None),
    "resend:permanent/onaccountsuppressionlist": ("onhold", 0.6, None),
    "resend:hard": ("userunknown", 0.55, None),
    "resend:transient": (None, 0.0, SOFT),
    "resend:soft": (None, 0.0, SOFT),
    "resend:undetermined": ("onhold", 0.5, SOFT),
    "resend:suppressed": ("onhold", 0.6, None),
    "resend:failed": ("systemerror", 0.6, SENDER),
    "resend:delivery_delayed": (None, 0.0, SOFT),

    # -- MailerSend activity types (v2 may add meta.bounce_type) ----------------------------
    "mailersend:hard_bounced": ("userunknown", 0.55, None),
    "mailersend:soft_bounced": (None, 0.0, SOFT),
    "mailersend:deferred": (None, 0.0, SOFT),

    # -- Postal message statuses -------------------------------------------------------------
    # HardFail: Postal gave up on a permanent refusal, whose text ``output`` carries the
    # cause; the class alone says only "permanent" (Postal keeps no bounce list of its own,
    # unlike SendGrid): undecided, as Mailgun's permanent/hardfail, until the output says more
    "postal:hardfail": ("onhold", 0.5, None),
    "postal:softfail": (None, 0.0, SOFT),
    # Held: not sent (suppression list, limits, spam check): the cause is in ``details``
    "postal:held": ("onhold", 0.5, None),
    # a DSN Postal received and read for a sent message; the webhook carries no reason
    "postal:bounced": ("userunknown", 0.55, None),

    # -- Mailtrap bounce_category (`` (soft)`` for soft bounces), suspension, reject --------
    "mailtrap:bounce": ("userunknown", 0.55, None),
    "mailtrap:hard": ("userunknown", 0.55, None),
    "mailtrap:badrecipient": ("userunknown", 0.85, None),
    "mailtrap:overquota": ("mailboxfull", 0.8, SOFT),
    "mailtrap:dnsfail": ("hostunknown", 0.6, None),
    "mailtrap:relayfail": ("norelaying", 0.6, None),
    "mailtrap:timeout": ("networkerror", 0.6, SOFT),
    "mailtrap:serverfail": ("systemerror", 0.5, SOFT),
    "mailtrap:transientfail": (None, 0.0, SOFT),
    "mailtrap:unavailable": (None, 0.0, SOFT),
    "mailtrap:greylisting": ("filtered", 0.5, SOFT),
    "mailtrap:generalfail": ("onhold", 0.5, None),
    "mailtrap:other": ("onhold", 0.4, None),
    "mailtrap:block": ("blocked", 0.7, SENDER),
    "mailtrap:spam": ("spamdetected", 0.7, SENDER),
    "mailtrap:spam_gmail": ("spamdetected", 0.7, SENDER),
    "mailtrap:content": ("contenterror", 0.7, SENDER),
    "mailtrap:badsender": ("rejected", 0.7, SENDER),
    "mailtrap:verifyfail": ("rejected", 0.6, SENDER),
    "mailtrap:serverpolicy": ("policyviolation", 0.6, SENDER),
    # suspension: unverified sending domain or an account limit
    "mailtrap:suspension": ("speeding", 0.6, SENDER),
    "mailtrap:reject": ("onhold", 0.5, None),
    "mailtrap:suppressed": ("onhold", 0.6, None),
    "mailtrap:suppressed/bounce": ("userunknown", 0.8, None),

    # -- Scaleway TEM event types --------------------------------------------------------------
    "scaleway:email_dropped": ("userunknown", 0.5, None),
    "scaleway:email_mailbox_not_found": ("userunknown", 0.85, None),
    "scaleway:email_deferred": (None, 0.0, SOFT),
    "scaleway:email_spam": ("spamdetected", 0.7, SENDER),
    "scaleway:email_blocklisted": ("onhold", 0.6, None),
    "scaleway:email_blocklisted/mailbox_not_found": ("userunknown", 0.8, None),
    "scaleway:email_blocklisted/mailbox_full": ("mailboxfull", 0.7, SOFT),

    # -- Unisender Go delivery_info.delivery_status (`` (soft)`` for soft bounces) -----------
    "unisender-go:hard_bounced": ("userunknown", 0.55, None),
    "unisender-go:err_user_unknown": ("userunknown", 0.85, None),
    "unisender-go:err_user_inactive": ("suspend", 0.8, None),
    "unisender-go:err_mailbox_discarded": ("userunknown", 0.8, None),
    "unisender-go:err_mailbox_full": ("mailboxfull", 0.8, SOFT),
    "unisender-go:err_domain_inactive": ("hostunknown", 0.8, None),
    "unisender-go:err_destination_misconfigured": ("notaccept", 0.6, None),
    "unisender-go:err_unreachable": ("networkerror", 0.6, SOFT),
    "unisender-go:err_will_retry": (None, 0.0, SOFT),
    "unisender-go:err_spam_rejected": ("spamdetected", 0.7, SENDER),
    "unisender-go:err_spam_skipped": ("spamdetected", 0.7, SENDER),
    "unisender-go:err_too_large": ("mesgtoobig", 0.8, SENDER),
    "unisender-go:err_blacklisted": ("onhold", 0.6, None),
    "unisender-go:err_unsubscribed": ("onhold", 0.6, None),
    "unisender-go:err_skip_letter": ("onhold", 0.5, SENDER),
    "unisender-go:err_delivery_failed": ("onhold", 0.5, None),
    "unisender-go:err_lost": ("systemerror", 0.6, SENDER),
    "unisender-go:err_internal": ("systemerror", 0.6, SENDER),
}


def _check_table() -> None:
    """Fail at import on a typo'd reason or a SENDER row that would suppress a recipient."""
    for key, (code, confidence, constraint) in PROVIDER_CLASSES.items():
        if key != key.lower():
            raise ValueError(f"provider class key {key!r} must be lower case")
        if constraint not in (None, SOFT, SENDER):
            raise ValueError(f"{key}: unknown constraint {constraint!r}")
        if code is not None:
            _check_reason(code)
            if constraint == SENDER and CATEGORY_OF[code] not in NOT_RECIPIENT:
                raise ValueError(f"{key}: a SENDER row cannot give recipient reason {code!r}")


_check_table()


@functools.lru_cache(maxsize=4096)
def lookup(provider_class: str) -> tuple[str | None, float, str | None, str] | None:
    """(reason, confidence, constraint, matched key) for a provider class, or None."""
    key = provider_class.strip().lower()
    soft = key.endswith(SOFT_SUFFIX)
    if soft:
        key = key[: -len(SOFT_SUFFIX)].rstrip()
    reason = constraint = matched = None
    confidence = 0.0
    while key:
        row = PROVIDER_CLASSES.get(key)
        if row is not None:
            matched = matched or key
            if reason is None and row[0] is not None:
                reason, confidence = row[0], row[1]
            if constraint is None and row[2] is not None:
                constraint = row[2]
        cut = key.rfind("/")
        key = key[:cut] if cut > 0 else ""
    if matched is None:
        return (None, 0.0, SOFT, "(soft)") if soft else None
    if soft and constraint is None:
        constraint = SOFT
    return reason, confidence, constraint, matched


def reading(provider_class: str) -> tuple[str, float, bool | None, str] | None:
    """What the provider's classification says on its own: (reason, confidence, hard,
    explanation tag), or None when it names no reason. ``hard`` is False when the provider
    states the failure is temporary or sender-side, else None (the evidence decides)."""
    found = lookup(provider_class)
    if found is None or found[0] is None:
        return None
    reason, confidence, constraint, key = found
    return reason, confidence, False if constraint else None, f"provider:{key}"


def provider_verdict(provider_class: str) -> Verdict | None:
    """The verdict the provider's classification gives on its own (None: it gives none)."""
    found = reading(provider_class)
    if found is None:
        return None
    reason, confidence, hard, tag = found
    return Verdict.of(reason, confidence=confidence, source="provider", explanation=(tag,), hard=hard)


def constrain(verdict: Verdict, provider_class: str) -> Verdict:
    """What the provider states about the failure's nature, applied to a verdict whoever
    decided it (rules, model or both): a SENDER-constrained failure never gets a recipient
    reason, a SOFT one is never hard."""
    found = lookup(provider_class)
    if found is None:
        return verdict
    constraint, key = found[2], found[3]
    tag = f"provider:{key}"
    if constraint == SENDER and verdict.category not in NOT_RECIPIENT:
        fallback = provider_verdict(provider_class) or Verdict.of("blocked", confidence=0.6, source="provider")
        verdict = dataclasses.replace(fallback, source="combined", review=verdict.review,
                                      explanation=verdict.explanation + (tag,))
    if constraint is not None and verdict.hard:
        verdict = dataclasses.replace(verdict, hard=False,
                                      explanation=verdict.explanation + (() if tag in verdict.explanation else (tag,)))
    return verdict
