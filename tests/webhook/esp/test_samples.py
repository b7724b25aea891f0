"""Every official sample payload in ../shared/esp/samples, through the real HTTP stack,
authenticated the way its ESP does, checked by what the store then says."""
from __future__ import annotations

import os

import orjson
import pytest

from classifier.taxonomy import SENDER_SIDE
from tests.conftest import shared
from tests.webhook.esp.conftest import (
    TOPIC,
    MailgunSigner,
    MandrillSigner,
    SendGridSigner,
    SvixSigner,
    sample,
    sample_json,
)

COVERED: set[str] = set()
#: samples whose own tests live beside the signature vectors
COVERED_ELSEWHERE = {
    "sendgrid-signed-testvector.json", "sendgrid-signed-testvector-dropped.body.bin",
    "sns-signature-testvectors.json", "sns-signing-cert-7ff5318490ec183fbaddaa2a969abfda.pem",
    "svix-resend-signature-testvector.json", "mailgun-signature-selfgenerated-vector.json",
    "mandrill-signature-selfgenerated-vector.json", "mandrill-hard_bounce.form-body.txt",
    "sns-envelope-notification.json", "sns-envelope-notification.http.txt",
    "sns-envelope-subscriptionconfirmation.json", "sns-envelope-subscriptionconfirmation.http.txt",
    "sns-envelope-unsubscribeconfirmation.json", "sns-envelope-unsubscribeconfirmation.http.txt",
}


def covers(*names):
    COVERED.update(names)
    return pytest.mark.parametrize("name", names)


def test_every_sample_is_sent_by_a_test():
    assert set(os.listdir(shared("esp", "samples"))) - COVERED - COVERED_ELSEWHERE == set()


def verdict_of(esp, address: str, kind: str) -> dict:
    [entry] = [e for e in esp.history(address) if e.get("kind") == kind]
    return entry


# -- SendGrid ---------------------------------------------------------------------------

@pytest.fixture
def sendgrid(esp):
    signer = SendGridSigner()
    esp.configure("sendgrid", public_key=signer.public_key)

    return esp.poster("sendgrid", signer.headers)


@covers("sendgrid-bounce.json", "sendgrid-dropped.json")
def test_sendgrid_permanent_failures_suppress(esp, sendgrid, name):
    assert sendgrid(sample(name)) == {"accepted": 1, "duplicates": 0, "ignored": 0}
    assert esp.codes("example@test.com") == ["previously_bounced"]


@covers("sendgrid-blocked.json", "sendgrid-blocked-real-no-status-discourse.json")
def test_sendgrid_blocked_never_suppresses(esp, sendgrid, name):
    event = sample_json(name)[0]
    sendgrid(sample(name))
    answer = esp.answer(event["email"])
    assert answer["sendable"] is True and answer["reasons"] == []
    entry = verdict_of(esp, event["email"], "bounce")
    assert entry["provider_class"].startswith("sendgrid:blocked")
    assert entry["verdict"]["category"] == "sender_blocked" and entry["verdict"]["hard"] is False
    assert entry["diagnostic"] == event["reason"]


@covers("sendgrid-deferred.json")
def test_sendgrid_deferral_is_kept_but_suppresses_nothing(esp, sendgrid, name):
    sendgrid(sample(name))
    assert esp.answer("example@test.com")["sendable"] is True
    entry = verdict_of(esp, "example@test.com", "deferral")
    assert entry["diagnostic"] == "400 try again later" and entry["reply_code"] == "400"


@covers("sendgrid-spamreport.json")
def test_sendgrid_spam_report(esp, sendgrid, name):
    sendgrid(sample(name))
    assert esp.codes("example@test.com", stream="marketing") == ["previous_spam"]
    assert esp.answer("example@test.com", stream="transactional")["sendable"] is True


@covers("sendgrid-unsubscribe.json")
def test_sendgrid_unsubscribe_from_everything(esp, sendgrid, name):
    sendgrid(sample(name))
    assert esp.codes("example@test.com", stream="marketing") == ["unsubscribed_all"]


@covers("sendgrid-groupunsubscribe.json")
def test_sendgrid_group_unsubscribe_then_resubscribe(esp, sendgrid, name):
    sendgrid(sample(name))
    assert esp.codes("example@test.com", subscription="10") == ["unsubscribed"]
    assert esp.answer("example@test.com", subscription="11")["sendable"] is True
    again = dict(sample_json(name)[0], event="group_resubscribe", sg_event_id="resub-1", timestamp=1513299600)
    sendgrid(orjson.dumps([again]))
    assert esp.answer("example@test.com", subscription="10")["sendable"] is True


# -- Mailgun ----------------------------------------------------------------------------

@pytest.fixture
def mailgun(esp):
    signer = MailgunSigner()
    esp.configure("mailgun", signing_key=signer.key)

    post = esp.poster("mailgun")
    return lambda event_data: post(signer.body(event_data))


@covers("mailgun-failed-permanent-delayed-bounce.event-data.json", "mailgun-failed-permanent-suppress-bounce.event-data.json")
def test_mailgun_permanent_failures_suppress(esp, mailgun, name):
    data = sample_json(name)
    assert mailgun(data)["accepted"] == 1
    assert esp.codes(data["recipient"]) == ["previously_bounced"]
    entry = verdict_of(esp, data["recipient"], "drop" if "suppress" in name else "bounce")
    assert entry["provider_class"] == f"mailgun:permanent/{data['reason']}"


@covers("mailgun-failed-temporary.event-data.json")
def test_mailgun_temporary_failure_is_a_deferral(esp, mailgun, name):
    mailgun(sample_json(name))
    assert esp.answer("test@test.com")["sendable"] is True
    entry = verdict_of(esp, "test@test.com", "deferral")
    assert entry["status"] == "4.7.652" and entry["reply_code"] == "451"
    assert entry["remote_mta"] == "hotmail-com.olc.protection.outlook.com"
    assert entry["verdict"]["hard"] is False


@covers("mailgun-complained.event-data.json")
def test_mailgun_complaint(esp, mailgun, name):
    mailgun(sample_json(name))
    assert esp.codes("foo@example.com", stream="marketing") == ["previous_spam"]


@covers("mailgun-unsubscribed.event-data.json")
def test_mailgun_unsubscribe(esp, mailgun, name):
    mailgun(sample_json(name))
    assert esp.codes("recipient@example.com", stream="marketing") == ["unsubscribed_all"]


@covers("mailgun-delivered.event-data.json")
def test_mailgun_delivered(esp, mailgun, name):
    mailgun(sample_json(name))
    [entry] = esp.history("john@example.com")
    assert entry["kind"] == "delivered" and entry["id"] == "hK7mQVt1QtqRiOfQXta4sw"


@covers("mailgun-rejected.event-data.json")
def test_mailgun_rejected_without_recipient_is_counted_as_ignored(esp, mailgun, name):
    assert mailgun(sample_json(name)) == {"accepted": 0, "duplicates": 0, "ignored": 1}
    assert esp.ignored() == {"mailgun:rejected": 1}


# -- Amazon SES (inside signed SNS notifications) ----------------------------------------

@pytest.fixture
def ses(esp, sns):
    signer, _ = sns
    esp.configure("ses", topic_arns=TOPIC)

    post = esp.poster("ses", lambda body: {"x-amz-sns-message-type": "Notification"},
                      content_type="text/plain; charset=UTF-8")
    return lambda name, version="1": post(orjson.dumps(signer.notification(sample(name).decode(), version=version)))


@covers("ses-event-bounce.json", "ses-notification-bounce-with-dsn.json")
def test_ses_permanent_bounce(esp, ses, name):
    recipient = sample_json(name)["bounce"]["bouncedRecipients"][0]["emailAddress"]
    assert ses(name)["accepted"] == 1
    assert esp.codes(recipient) == ["previously_bounced"]
    entry = verdict_of(esp, recipient, "bounce")
    assert entry["status"] == "5.1.1" and entry["provider_class"] == "ses:Permanent/General"
    assert entry["verdict"]["reason"] == "userunknown"


@covers("ses-notification-bounce-no-dsn.json")
def test_ses_bounce_of_several_recipients_without_dsn(esp, ses, name):
    assert ses(name)["accepted"] == 2
    assert esp.codes("jane@example.com") == ["previously_bounced"]
    assert esp.codes("richard@example.com") == ["previously_bounced"]
    assert esp.answer("mary@example.com")["sendable"] is True      # in destination, did not bounce


@covers("ses-event-complaint.json", "ses-notification-complaint-no-feedback.json",
        "ses-notification-complaint-with-feedback.json")
def test_ses_complaints(esp, ses, name):
    recipient = sample_json(name)["complaint"]["complainedRecipients"][0]["emailAddress"]
    ses(name)
    assert esp.codes(recipient, stream="marketing") == ["previous_spam"]
    assert verdict_of(esp, recipient, "complaint")["feedback_type"] == "abuse"


@covers("ses-event-delivery.json", "ses-notification-delivery.json", "ses-event-send.json",
        "ses-event-open.json", "ses-event-click.json")
def test_ses_engagement_and_delivery_events(esp, ses, name):
    kind = {"delivery": "delivered", "send": "send", "open": "open", "click": "click"}[name.split("-")[-1][:-5]]
    recipient = sample_json(name)["mail"]["destination"][0]
    ses(name)
    assert esp.answer(recipient)["sendable"] is True
    [entry] = esp.history(recipient)
    assert entry["kind"] == kind and entry["provider"] == "ses"


@covers("ses-event-deliverydelay.json")
def test_ses_delivery_delay(esp, ses, name):
    ses(name, version="2")
    entry = verdict_of(esp, "recipient@example.com", "deferral")
    assert entry["status"] == "4.4.1" and entry["reply_code"] == "421"
    assert entry["provider_class"] == "ses:DeliveryDelay/TransientCommunicationFailure"
    assert esp.answer("recipient@example.com")["sendable"] is True


@covers("ses-event-reject.json")
def test_ses_reject_is_about_the_message_not_the_recipient(esp, ses, name):
    ses(name)
    assert esp.answer("sender@example.com")["sendable"] is True
    entry = verdict_of(esp, "sender@example.com", "drop")
    assert entry["verdict"]["category"] == "spam_flagged" and entry["provider_class"] == "ses:Reject/Bad content"


@covers("ses-event-subscription.json")
def test_ses_subscription_opt_out_of_everything(esp, ses, name):
    ses(name)
    assert esp.codes("recipient@example.com", stream="marketing") == ["unsubscribed_all"]


@covers("ses-event-rendering-failure.json")
def test_ses_rendering_failure_is_ignored_and_counted(esp, ses, name):
    assert ses(name) == {"accepted": 0, "duplicates": 0, "ignored": 1}
    assert esp.ignored() == {"ses:Rendering Failure": 1}


# -- Postmark ---------------------------------------------------------------------------

@pytest.fixture
def postmark(esp):
    esp.configure("postmark", username="postmark-hook", password="s3cret-pw")

    def post(body: bytes):
        r = esp.http.post(f"{esp.base.replace('http://', 'http://postmark-hook:s3cret-pw@')}/v1/webhooks/postmark/"
                          f"{esp.tenant}", data=body, headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()
    return post


@covers("postmark-bounce.json")
def test_postmark_hard_bounce(esp, postmark, name):
    postmark(sample(name))
    assert esp.codes("john@example.com") == ["previously_bounced"]
    entry = verdict_of(esp, "john@example.com", "bounce")
    assert entry["provider_class"] == "postmark:HardBounce" and entry["id"] == "bounce:42"
    assert entry["stream"] == "transactional"


@covers("postmark-spamcomplaint.json")
def test_postmark_spam_complaint(esp, postmark, name):
    postmark(sample(name))
    assert esp.codes("john@example.com", stream="marketing") == ["previous_spam"]


@covers("postmark-subscriptionchange.json")
def test_postmark_deactivation_after_hard_bounce(esp, postmark, name):
    postmark(sample(name))
    assert esp.codes("bounced-address@wildbit.com") == ["previously_bounced"]


# -- SparkPost --------------------------------------------------------------------------

@pytest.fixture
def sparkpost(esp):
    esp.configure("sparkpost", token="sp-token-123")

    return esp.poster("sparkpost", lambda body: {"Authorization": "Bearer sp-token-123"})


@covers("sparkpost-bounce-batch.json")
def test_sparkpost_invalid_recipient(esp, sparkpost, name):
    sparkpost(sample(name))
    assert esp.codes("bounce@example.com") == ["previously_bounced"]
    entry = verdict_of(esp, "bounce@example.com", "bounce")
    assert entry["provider_class"] == "sparkpost:bounce_class=10" and entry["status"] == "5.1.1"


@covers("sparkpost-delay-batch.json")
def test_sparkpost_delay(esp, sparkpost, name):
    sparkpost(sample(name))
    assert esp.answer("recipient@nomx.example.com")["sendable"] is True
    assert verdict_of(esp, "recipient@nomx.example.com", "deferral")["reply_code"] == "454"


@covers("sparkpost-list_unsubscribe-batch.json")
def test_sparkpost_list_unsubscribe(esp, sparkpost, name):
    sparkpost(sample(name))
    assert esp.codes("recipient@example.com", stream="marketing") == ["unsubscribed_all"]


@covers("sparkpost-mixed-batch-mautic-fixture.json")
def test_sparkpost_mixed_batch(esp, sparkpost, name):
    assert sparkpost(sample(name))["accepted"] == 4
    # the complaint and the unsubscribe suppress; the blacklisted-IP bounce and the policy
    # rejection are about the sender, and change nothing for the recipient
    assert sorted(esp.codes("recipient@example.com", stream="marketing")) == ["previous_spam", "unsubscribed_all"]
    assert esp.answer("recipient@example.com", stream="transactional")["sendable"] is True
    drop = verdict_of(esp, "recipient@example.com", "drop")
    assert drop["verdict"]["category"] in SENDER_SIDE and drop["provider_class"] == "sparkpost:bounce_class=25"
    assert verdict_of(esp, "recipient@example.com", "complaint")["feedback_type"] == "abuse"


@covers("sparkpost-ping-batch.json")
def test_sparkpost_ping(esp, sparkpost, name):
    assert sparkpost(sample(name)) == {"accepted": 0, "duplicates": 0, "ignored": 0}
    assert esp.stored() == []


# -- Mandrill ---------------------------------------------------------------------------

@covers("mandrill-hard_bounce.event.json")
def test_mandrill_hard_bounce(esp, name):
    signer = MandrillSigner()
    esp.configure("mandrill", webhook_key=signer.key, url=signer.url)
    body, headers = signer.post_args([sample_json(name)])
    r = esp.post("mandrill", body, headers, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200, r.text
    assert esp.codes("example.webhook@mandrillapp.com") == ["previously_bounced"]
    entry = verdict_of(esp, "example.webhook@mandrillapp.com", "bounce")
    assert entry["provider_class"] == "mandrill:hard_bounce/bad_mailbox" and entry["status"] == "5.1.1"


# -- Mailjet ----------------------------------------------------------------------------

@pytest.fixture
def mailjet(esp):
    esp.configure("mailjet", username="mj", password="mj-password")

    return esp.poster("mailjet", lambda body: {"Authorization": "Basic bWo6bWotcGFzc3dvcmQ="})   # mj:mj-password


@covers("mailjet-blocked.json")
def test_mailjet_blocked_user_unknown(esp, mailjet, name):
    mailjet(sample(name))
    assert esp.codes("bounce@mailjet.com") == ["previously_bounced"]


@covers("mailjet-bounce.json")
def test_mailjet_bounce_reads_the_smtp_comment_first(esp, mailjet, name):
    # Mailjet files it under "user unknown", but the comment says the host does not exist
    mailjet(sample(name))
    assert esp.codes("bounce@mailjet.com") == ["invalid_domain"]
    entry = verdict_of(esp, "bounce@mailjet.com", "bounce")
    assert entry["provider_class"] == "mailjet:recipient/user unknown"
    assert entry["verdict"]["reason"] == "hostunknown"


@covers("mailjet-spam.json")
def test_mailjet_spam(esp, mailjet, name):
    mailjet(sample(name))
    assert esp.codes("bounce@mailjet.com", stream="marketing") == ["previous_spam"]


@covers("mailjet-unsub.json")
def test_mailjet_unsubscribe_from_a_list(esp, mailjet, name):
    mailjet(sample(name))
    assert esp.codes("api@mailjet.com", subscription="1") == ["unsubscribed"]
    assert esp.answer("api@mailjet.com", subscription="2")["sendable"] is True


@covers("mailjet-grouped-sent-batch.json")
def test_mailjet_grouped_events(esp, mailjet, name):
    assert mailjet(sample(name)) == {"accepted": 2, "duplicates": 0, "ignored": 0}
    assert [e["kind"] for e in esp.history("api@mailjet.com")] == ["delivered", "delivered"]


# -- Brevo ------------------------------------------------------------------------------

@pytest.fixture
def brevo(esp):
    esp.configure("brevo", token="brevo-token")

    return esp.poster("brevo", lambda body: {"Authorization": "Bearer brevo-token"})


@covers("brevo-hard_bounce.json")
def test_brevo_hard_bounce(esp, brevo, name):
    brevo(sample(name))
    assert esp.codes("not-a-user@example.com") == ["previously_bounced"]


@covers("brevo-soft_bounce.json", "brevo-blocked.json")
def test_brevo_soft_bounce_and_blocklist_do_not_suppress(esp, brevo, name):
    email = sample_json(name)["email"]
    brevo(sample(name))
    assert esp.answer(email)["sendable"] is True
    [entry] = esp.history(email)
    assert entry["verdict"]["hard"] is False and entry["provider_class"].startswith("brevo:")


@covers("brevo-complaint.json")
def test_brevo_complaint(esp, brevo, name):
    brevo(sample(name))
    assert esp.codes("example@domain.com", stream="marketing") == ["previous_spam"]


@covers("brevo-request-full-fields.json")
def test_brevo_request_is_a_send(esp, brevo, name):
    brevo(sample(name))
    [entry] = esp.history("recipient@example.com")
    assert entry["kind"] == "send"


# -- Resend -----------------------------------------------------------------------------

@pytest.fixture
def resend(esp):
    signer = SvixSigner()
    esp.configure("resend", secret=signer.secret)

    return esp.poster("resend", signer.headers)


@covers("resend-bounced-hard-anymail-live.json", "resend-bounced-ingester-fixture.json")
def test_resend_hard_bounce(esp, resend, name):
    resend(sample(name))
    assert esp.codes(sample_json(name)["data"]["to"][0]) == ["previously_bounced"]


@covers("resend-bounced-suppressed-anymail-live.json")
def test_resend_suppressed_is_a_drop_of_unstated_cause(esp, resend, name):
    resend(sample(name))
    assert esp.answer("blocked@example.org")["sendable"] is True
    assert verdict_of(esp, "blocked@example.org", "drop")["provider_class"] == "resend:suppressed"


@covers("resend-complained-anymail-live.json")
def test_resend_complaint(esp, resend, name):
    resend(sample(name))
    assert esp.codes("complained@resend.dev", stream="marketing") == ["previous_spam"]


@covers("resend-delivery_delayed-docs.json")
def test_resend_delivery_delayed(esp, resend, name):
    resend(sample(name))
    assert esp.answer("delivered@resend.dev")["sendable"] is True
    assert verdict_of(esp, "delivered@resend.dev", "deferral")["provider"] == "resend"

