"""SNS: URLs taken from a message are checked before anything is fetched, subscriptions
are confirmed only when the tenant allows it and only on SNS hosts."""
from __future__ import annotations

import orjson
import pytest

from tests.webhooks.conftest import TOPIC, SnsSigner, sample_json
from webhook.esp.sns import is_sns_url


@pytest.mark.parametrize("url, ok", [
    ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
    ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", True),
    ("http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
    ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem.txt", False),
    ("https://sns.us-east-1.amazonaws.com.evil.example/x.pem", False),
    ("https://evil.example/sns.us-east-1.amazonaws.com/x.pem", False),
    ("https://sns.amazonaws.com/x.pem", False),
    ("https://user:pw@sns.us-east-1.amazonaws.com/x.pem", False),
    ("https://sns.us-east-1.amazonaws.com:8443/x.pem", False),
    ("https://sqs.us-east-1.amazonaws.com/x.pem", False),
    ("https://sns.us-east-1.amazonaws.com\\@evil.example/x.pem", False),
    ("", False), (None, False),
])
def test_signing_certificate_urls(url, ok):
    assert is_sns_url(url, pem=True) is ok


def post(esp, envelope: dict):
    return esp.post("ses", orjson.dumps(envelope), {"x-amz-sns-message-type": envelope.get("Type", "")},
                    content_type="text/plain; charset=UTF-8")


def test_certificate_on_a_foreign_host_is_never_fetched(esp, sns, app):
    signer, server = sns
    esp.configure("ses", topic_arns=TOPIC)
    app.extensions["rebound"].fetcher.connect_to["evil.example:443"] = ("127.0.0.1", server.port)
    rogue = SnsSigner("https://evil.example/SimpleNotificationService-x.pem")
    r = post(esp, rogue.notification(sample_json("ses-event-bounce.json")))
    assert r.status_code == 401
    assert server.requests == [] and esp.stored() == []


def test_subscribe_url_on_a_foreign_host_is_never_fetched(esp, sns, app):
    signer, server = sns
    esp.configure("ses", topic_arns=TOPIC, auto_confirm="true")
    app.extensions["rebound"].fetcher.connect_to["evil.example:443"] = ("127.0.0.1", server.port)
    confirm = dict(sample_json("sns-envelope-subscriptionconfirmation.json"),
                   SubscribeURL="https://evil.example/?Action=ConfirmSubscription&Token=x")
    r = post(esp, signer.sign(confirm))
    assert r.status_code == 400
    assert not any("Confirm" in path for _, path in server.requests)


def test_no_auto_confirm_leaves_the_subscription_pending(esp, sns):
    signer, server = sns
    esp.configure("ses", topic_arns=TOPIC, auto_confirm="false")
    r = post(esp, signer.sign(sample_json("sns-envelope-subscriptionconfirmation.json")))
    assert r.status_code == 200 and r.json()["subscription"].startswith("pending")
    assert not any("Confirm" in path for _, path in server.requests)


def test_auto_confirm_needs_the_topic_to_be_listed(esp, sns):
    signer, server = sns
    esp.configure("ses", auto_confirm="true")                 # no topic_arns: confirm nothing
    r = post(esp, signer.sign(sample_json("sns-envelope-subscriptionconfirmation.json")))
    assert r.status_code == 403 and r.json()["error"] == "topic_not_allowed"
    assert not any("Confirm" in path for _, path in server.requests)


def test_notifications_from_an_unlisted_topic_are_forbidden(esp, sns):
    signer, _ = sns
    esp.configure("ses", topic_arns=TOPIC)
    other = "arn:aws:sns:us-west-2:999999999999:SomeoneElse"
    r = post(esp, signer.notification(sample_json("ses-event-bounce.json"), topic=other))
    assert r.status_code == 403 and esp.stored() == []


def test_unreachable_certificate_is_503_so_sns_retries(esp, sns):
    signer, _ = sns
    esp.configure("ses", topic_arns=TOPIC)
    signer.cert_url = "https://sns.eu-west-3.amazonaws.com/SimpleNotificationService-unreachable.pem"
    r = post(esp, signer.notification(sample_json("ses-event-bounce.json")))
    assert r.status_code == 503 and r.json()["error"] == "certificate_unavailable" and r.headers["Retry-After"]
    assert esp.stored() == []


def test_raw_message_delivery_cannot_be_authenticated(esp, sns):
    esp.configure("ses", topic_arns=TOPIC)
    r = esp.post("ses", orjson.dumps(sample_json("ses-event-bounce.json")), content_type="text/plain")
    assert r.status_code == 401 and esp.stored() == []


def test_not_spam_feedback_is_not_a_complaint(esp, sns):
    signer, _ = sns
    esp.configure("ses", topic_arns=TOPIC)
    n = sample_json("ses-event-complaint.json")
    n["complaint"]["complaintFeedbackType"] = "not-spam"
    r = post(esp, signer.notification(n))
    assert r.json() == {"accepted": 0, "duplicates": 0, "ignored": 1}
    assert esp.answer("recipient@example.com")["sendable"] is True


def test_ses_suppression_list_drops(esp, sns):
    signer, _ = sns
    esp.configure("ses", topic_arns=TOPIC)
    for sub, sendable in (("Suppressed", False), ("OnAccountSuppressionList", True)):
        n = sample_json("ses-event-bounce.json")
        n["bounce"]["bounceSubType"] = sub
        n["bounce"]["bouncedRecipients"] = [{"emailAddress": f"{sub.lower()}@example.com"}]
        n["mail"]["messageId"] = sub
        assert post(esp, signer.notification(n)).status_code == 200
        assert esp.answer(f"{sub.lower()}@example.com")["sendable"] is sendable
        [entry] = esp.history(f"{sub.lower()}@example.com")
        assert entry["kind"] == "drop"


def test_subscription_topic_opt_out_and_back_in(esp, sns):
    signer, _ = sns
    esp.configure("ses", topic_arns=TOPIC)
    n = sample_json("ses-event-subscription.json")
    n["subscription"]["newTopicPreferences"] = {"unsubscribeAll": False, "topicSubscriptionStatus": [
        {"topicName": "Newsletter", "subscriptionStatus": "OptOut"}]}
    n["subscription"]["oldTopicPreferences"] = {"unsubscribeAll": False, "topicSubscriptionStatus": [
        {"topicName": "Newsletter", "subscriptionStatus": "OptIn"}]}
    post(esp, signer.notification(n))
    assert esp.codes("recipient@example.com", subscription="newsletter") == ["unsubscribed"]
    assert esp.answer("recipient@example.com", subscription="billing")["sendable"] is True
    n["subscription"]["oldTopicPreferences"], n["subscription"]["newTopicPreferences"] = (
        n["subscription"]["newTopicPreferences"], n["subscription"]["oldTopicPreferences"])
    n["subscription"]["timestamp"] = "2022-01-12T02:00:00.000Z"
    post(esp, signer.notification(n))
    assert esp.answer("recipient@example.com", subscription="newsletter")["sendable"] is True
