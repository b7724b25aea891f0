"""The full classifier and the model alone on the shared corpus of real bounces (issue 4):
with rules and model combined category >= 0.93, reason >= 0.90, recipient >= 0.97; with the
rules switched off category >= 0.85. Figures in bench/RESULTS.md.

(Issue 12: the corpus's labels follow Sisimai's reading of "user unknown" with no stated
SMTP phase as ``filtered``, and DNS failures of the destination (NXDOMAIN, "Name service
error") as ``networkerror``; the rules now read the first as a missing mailbox outside
documented filter gateways and the second as the domain (``hostunknown``), which costs the
corpus about three points and gains them on unseen mail.)"""
from __future__ import annotations

import pytest

from tests.classifier.test_corpus import score

pytestmark = pytest.mark.shared


def test_full_classifier_on_the_corpus():
    summary = score("combined", "--min-category", "0.93", "--min-reason", "0.90", "--min-recipient", "0.97")
    rules = score("rules")
    # combining never does worse than the rules alone
    assert summary["category_acc"] >= rules["category_acc"]
    assert summary["reason_acc"] >= rules["reason_acc"]


def test_model_alone_on_the_corpus():
    score("model", "--min-category", "0.85")
