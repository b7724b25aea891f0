"""The user's view of errors: suppressions missed and suppressions made by mistake.

A missed suppression leaves a dead address sendable (reputation suffers with every send);
a false one stops a customer's mail to a live address. Both are counted per labelled
recipient, beside accuracy.

What "suppresses" means is the store's default policy (``store/policy_defaults.json``),
restated here because the classifier may not import the store (tests/test_layering.py;
tests/classifier/evaluation checks that the two agree): one bounce suppresses an address
when the verdict is hard, of a category whose rule suppresses at the first hard bounce,
and at least ``min_confidence`` sure. Categories that suppress only after repeats
(mailbox full, account disabled) are not counted: one message does not decide them.
"""
from __future__ import annotations

from classifier.taxonomy import CATEGORY_OF

#: Categories the default policy suppresses at the first hard bounce (``hard_after: 1``).
SUPPRESSING_CATEGORIES = frozenset({"nonexistent_account", "domain_misconfigured"})
#: The default policy's ``min_confidence``: a less confident verdict changes nothing.
MIN_CONFIDENCE = 0.5


def verdict_suppresses(reason: str | None, hard: bool, confidence: float | None) -> bool:
    """Whether one bounce with this verdict suppresses the recipient under the default policy."""
    return (reason is not None and bool(hard) and CATEGORY_OF.get(reason) in SUPPRESSING_CATEGORIES
            and (confidence or 0.0) >= MIN_CONFIDENCE)


def label_suppresses(expected: dict) -> bool:
    """Whether the analyst's (or the corpus's) label says the address should be suppressed:
    a hard bounce of a suppressing category."""
    hard = expected.get("hardbounce")
    return bool(hard) and CATEGORY_OF.get(expected.get("reason")) in SUPPRESSING_CATEGORIES
