"""SNS: URLs taken from a message are checked before anything is fetched, subscriptions
are confirmed only when the tenant allows it and only on SNS hosts."""
from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from click.testing import CliRunner

from store import CredentialsError
from tests.webhook.esp.conftest import TOPIC, SnsSigner, sample_json
from webhook.cli import main
from webhook.esp.sns import CertificateUnavailable, SnsCertificates, is_sns_url


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
    # the regional forms AWS uses
    ("https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
    ("https://sns.cn-northwest-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", True),
    ("https://sns.ap-southeast-5.amazonaws.com/SimpleNotificationService-abc.pem", True),
    ("https://sns.il-central-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
    # hosts a customer names under amazonaws.com (S3 endpoints of a bucket called "sns")
    ("https://sns.s3-us-west-2.amazonaws.com/SimpleNotificationService-abc.pem", False),
    ("https://sns.s3-website-us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
    ("https://sns.s3-external-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
    ("https://sns.compute-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
    # nothing in the authority but the host, nothing after the path
    ("https://sns.us-east-1.amazonaws.com:443/x.pem", False),
    ("https://sns.us-east-1.amazonaws.com:/x.pem", False),
    ("https://@sns.us-east-1.amazonaws.com/x.pem", False),
    ("https://sns.us-east-1.amazonaws.com/x.pem?x=.pem", False),
    ("https://sns.us-east-1.amazonaws.com/x.pem#x", False),
    ("https://evil.example#@sns.us-east-1.amazonaws.com/x.pem", False),
    ("https://sns.us-east-1.amazonaws.com./x.pem", False),
    ("https://sns.us-east-1.amazonaws.com%2eevil.example/x.pem", False),
    ("https://sns.us-east-1.amazon\taws.com/x.pem", False),
    ("https://sns.us-east-1.amazonaws.com\n/x.pem", False),
    ("https://sns.us-east-1.amazonaws.co\u2128/x.pem", False),
    ("https://sns.us-east-1.amazonaws.com.cn.evil.example/x.pem", False),
])
def test_signing_certificate_urls(url, ok):
    assert is_sns_url(url, pem=True) is ok


@pytest.mark.parametrize("url, ok", [
    ("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + TOPIC + "&Token=2336", True),
    ("https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription&Token=x", True),
    ("https://sns.s3-us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=x", False),
    ("https://sns.us-west-2.amazonaws.com:8443/?Action=ConfirmSubscription&Token=x", False),
    ("https://u@sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=x", False),
    ("http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=x", False),
])
def test_subscribe_urls(url, ok):
    assert is_sns_url(url, pem=False) is ok


def test_subscribe_url_on_a_customer_named_amazonaws_host_is_never_fetched(esp, sns, app):
    signer, server = sns
    esp.configure("ses", topic_arns=TOPIC, auto_confirm="true")
    host = "sns.s3-us-west-2.amazonaws.com"          # the legacy S3 endpoint of a bucket named "sns"
    app.extensions["rebound"].fetcher.connect_to[f"{host}:443"] = ("127.0.0.1", server.port)
    confirm = dict(sample_json("sns-envelope-subscriptionconfirmation.json"),
                   SubscribeURL=f"https://{host}/?Action=ConfirmSubscription&Token=x")
    r = post(esp, signer.sign(confirm))
    assert r.status_code == 400 and r.json()["error"] == "invalid_payload"
    assert not any("Confirm" in path for _, path in server.requests)


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


def test_ses_configuration_requires_topic_arns(esp, settings, redis_url):
    with pytest.raises(CredentialsError, match="topic_arns"):
        esp.configure("ses", auto_confirm="true")
    r = esp.api.put("/v1/providers/ses", json={"credentials": {"auto_confirm": "true"}})
    assert r.status_code == 400 and "topic_arns" in r.json()["message"], r.text
    env = {"REBOUND_REDIS_URL": redis_url, "REBOUND_SECRET_KEY": settings.secret_key.get_secret_value()}
    result = CliRunner().invoke(main, ["providers", "set", esp.tenant, "ses", "auto_confirm=true"], env=env)
    assert result.exit_code != 0 and "ses needs topic_arns" in result.output, result.output
    # set, it cannot be removed again: that would accept every topic or none
    esp.configure("ses", topic_arns=TOPIC)
    with pytest.raises(CredentialsError, match="topic_arns"):
        esp.configure("ses", topic_arns="")
    assert esp.api.get("/v1/providers/ses").json()["credentials"]["topic_arns"] == TOPIC


def test_auto_confirm_confirms_only_listed_topics_and_fetches_nothing_for_others(esp, sns):
    signer, server = sns
    esp.configure("ses", topic_arns="arn:aws:sns:us-west-2:123456789012:Other", auto_confirm="true")
    r = post(esp, signer.sign(sample_json("sns-envelope-subscriptionconfirmation.json")))
    assert r.status_code == 403 and r.json()["error"] == "topic_not_allowed"
    assert server.requests == []                  # neither the certificate nor the SubscribeURL


def test_unlisted_topic_is_refused_before_the_certificate_is_fetched(esp, sns):
    signer, server = sns
    esp.configure("ses", topic_arns=TOPIC)
    other = "arn:aws:sns:us-west-2:999999999999:SomeoneElse"
    r = post(esp, signer.notification(sample_json("ses-event-bounce.json"), topic=other))
    assert r.status_code == 403 and r.json()["error"] == "topic_not_allowed"
    assert server.requests == [] and esp.stored() == []
    # anyone can forge an envelope naming a listed topic: that costs one fetch, then the cache
    for _ in range(3):
        assert post(esp, signer.notification(sample_json("ses-event-bounce.json"))).status_code == 200
    assert sum(p.endswith(".pem") for _, p in server.requests) == 1


def test_sns_envelope_for_a_tenant_without_ses_gets_the_same_answer(esp, sns):
    signer, server = sns
    esp.configure("ses", topic_arns=TOPIC)
    other = signer.notification(sample_json("ses-event-bounce.json"), topic="arn:aws:sns:us-west-2:999999999999:X")
    configured = post(esp, other)
    unknown = esp.post("ses", orjson.dumps(other), tenant="no-such-tenant", content_type="text/plain")
    assert configured.status_code == unknown.status_code == 403
    assert configured.json() == unknown.json()
    assert server.requests == []
    # a body that is not an SNS envelope is still the plain 401 for an unknown tenant
    assert esp.post("ses", b"{}", tenant="no-such-tenant", content_type="text/plain").status_code == 401


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


@pytest.mark.parametrize("age, status", [(50 * 60, 200), (2 * 3600, 401), (-10 * 60, 401)])
def test_old_messages_are_replays(esp, sns, age, status):
    """A really signed message published more than an hour ago (SNS stops retrying by then),
    or in the future, is refused before its certificate is fetched."""
    signer, server = sns
    esp.configure("ses", topic_arns=TOPIC)
    r = post(esp, signer.notification(sample_json("ses-event-bounce.json"), age=age))
    assert r.status_code == status, r.text
    if status == 401:
        assert r.json()["error"] == "stale_timestamp"
        assert server.requests == [] and esp.stored() == []
    else:
        assert r.json()["accepted"] == 1


def test_a_captured_message_replayed_hours_later_is_refused(esp, sns):
    signer, _ = sns
    esp.configure("ses", topic_arns=TOPIC)
    captured = signer.notification(sample_json("ses-event-bounce.json"), age=3 * 3600)
    assert post(esp, captured).json()["error"] == "stale_timestamp"
    assert esp.answer("recipient@example.com")["sendable"] is True


@pytest.mark.parametrize("name, status", [("missing", 503), ("garbage", 401)])
def test_a_certificate_that_failed_is_not_fetched_again_for_every_message(esp, sns, name, status):
    """A flood of messages naming a certificate that cannot be had costs one fetch."""
    signer, server = sns
    esp.configure("ses", topic_arns=TOPIC)
    signer.cert_url = f"https://sns.us-west-2.amazonaws.com/SimpleNotificationService-{name}.pem"
    for _ in range(5):
        r = post(esp, signer.notification(sample_json("ses-event-bounce.json")))
        assert r.status_code == status, r.text
    assert [p for _, p in server.requests] == [f"/SimpleNotificationService-{name}.pem"]
    assert esp.stored() == []
    # other certificates are not affected
    signer.cert_url = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-rebound-test.pem"
    assert post(esp, signer.notification(sample_json("ses-event-bounce.json"))).status_code == 200


def test_a_failed_certificate_is_fetched_again_after_a_few_seconds(sns):
    _, server = sns
    clock = [1000.0]
    certs = SnsCertificates(retry_after=10, clock=lambda: clock[0])
    fetch = server.fetcher().get
    url = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-missing.pem"
    now = datetime.now(UTC)
    for _ in range(3):
        with pytest.raises(CertificateUnavailable):
            certs.public_key(url, fetch, now)
    assert len(server.requests) == 1
    clock[0] += 11                                    # AWS may answer again: ask again, once
    for _ in range(3):
        with pytest.raises(CertificateUnavailable):
            certs.public_key(url, fetch, now)
    assert len(server.requests) == 2
