"""Cheap signals: does a message look like a bounce, or like an automatic reply?

Both are judged from headers first. The first lines of text count only beside a header
that already points that way (a daemon's or null return path or sender, a bounce-like
subject that starts like a bounce's), so a newsletter or a person's mail that merely
talks about a failed delivery is never read as a bounce; for auto-replies the text counts
beside an Auto-Submitted header.
"""
from __future__ import annotations

import re

from classifier.parse.load import Loaded

_DAEMON_FROM = re.compile(
    r"(?:^|[<\s\"'(])(?:mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|mail[-_.]?delivery[-_.]?(?:system|subsystem)?|"
    r"bounces?|mdaemon|nobody|mail[-_.]?administrator|system[-_.]?administrator|sysadmin|"
    r"non[-_.]?delivery|ndr|mailadmin|mail[-_]?router|mmsc)[\w.+-]*@|"
    r"Mail Delivery (?:System|Subsystem|Service)|MAILER-DAEMON|Mail Administrator", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|not (?:been )?delivered|delivery (?:status notification|failure|failed|problem|"
    r"report|notification|has failed|delayed|incomplete|error)|failure notice|returned (?:mail|to sender)|"
    r"mail delivery (?:failed|failure|system)|non[- ]?delivery|could not (?:be )?deliver|"
    r"delivery status|rejected|bounced?|mail system error|nondeliverable|message not delivered|"
    r"delayed mail|warning: (?:could not|message)|(?:mail )?delivery warning|"
    r"mail failure|ошибка доставки|не доставлено|"
    r"unzustellbar|nicht zustellbar|non remis|no entregado|non consegnat|配信|エラー|返送", re.I)
# What a delivery report says in its first lines, and other mail does not.
_BODY_FAILURE = re.compile(
    r"\b(?:(?:could|can) ?n[o']t be delivered|(?:could|can) ?n[o']t deliver|unable to deliver|undeliverable|"
    r"not (?:been )?delivered|"
    r"delivery (?:has )?failed|delivery (?:to the following|failure|of (?:e-?mail|your message) to)|"
    r"failed recipients?|permanent(?:ly)? (?:error|fail\w*)|unknown user|user unknown|no such user|"
    r"mailbox (?:unavailable|is full|full|not found)|returned mail|has been postponed|"
    r"recipient address rejected|did not reach the following|delivery status notification)\b", re.I)
_DAEMON_RETURN_PATH = re.compile(r"^\s*<?\s*>?\s*$|mailer[-_]?daemon", re.I)
# A subject that is a bounce's own: it starts with the bounce words (after a list's "[tag]").
# A person's reply or forward ("Re: Undeliverable ..."), a ticket or a newsletter that
# mentions a failed delivery further on is not one.
_BOUNCE_SUBJECT_START = re.compile(r"^\s*(?:\[[^\]\n]{0,60}\]\s*)?(?:" + _BOUNCE_SUBJECT.pattern + ")", re.I)
_NULL_FROM = re.compile(r"<\s*>\s*$")           # "Jetmail System" <>: written by nobody's mailbox
_FORWARDED_DAEMON = re.compile(r"^[> \t]*From:.*(?:MAILER-DAEMON|Mail Delivery|postmaster@)", re.I | re.M)
_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[- ]?(?:reply|response|answer|antwort|respuesta|réponse)|auto:|autoreply|"
    r"out of (?:the )?office|away from (?:the |my )?(?:office|desk)|on vacation|vacation|absence|"
    r"abwesenheit|r[ée]ponse automatique|respuesta autom[aá]tica|risposta automatica|"
    r"i am (?:currently )?(?:away|out)|away until|ooo\b|abwesend|fuera de la oficina|不在)", re.I)
_AUTOREPLY_BODY = re.compile(
    r"\b(?:i am (?:currently )?(?:out of (?:the )?office|away|on (?:vacation|holiday|leave))|"
    r"i will be (?:out of|away|back)|i'm (?:currently )?(?:out of (?:the )?office|away|on vacation)|"
    r"(?:will|shall) (?:respond|reply|get back to you) (?:to you )?(?:upon|when|as soon)|"
    r"returning (?:to the office )?on|limited access to (?:e-?mail|my email)|"
    r"this is an automat(?:ed|ic) (?:reply|response))", re.I)


def looks_like_bounce(msg: Loaded) -> bool:
    h = msg.headers
    if h.get("x-failed-recipients") or msg.report_type == "delivery-status":
        return True
    sender = h.get("from")
    subject = h.get("subject")
    null_sender = "return-path" in h and h.get("return-path").strip() in ("<>", "")
    if _DAEMON_FROM.search(sender) or (null_sender and _BOUNCE_SUBJECT.search(subject)):
        return True
    bounce_subject = _BOUNCE_SUBJECT.search(subject)
    if bounce_subject and (msg.original is not None or _FORWARDED_DAEMON.search(msg.head)):
        return True
    # a daemon's return path or a bounce-like subject, and the text says delivery failed
    # (an RFC 3834 auto-reply also has a null return path: it says so, and stays one)
    daemon = ("return-path" in h and _DAEMON_RETURN_PATH.search(h.get("return-path"))) or \
        _NULL_FROM.search(sender) is not None
    if (daemon or _BOUNCE_SUBJECT_START.match(subject)) and \
            not h.get("auto-submitted").lower().startswith("auto-replied"):
        return _BODY_FAILURE.search(msg.head) is not None
    return False


def is_autoreply(msg: Loaded) -> bool:
    """RFC 3834 auto-replies and the de-facto headers of out-of-office responders."""
    h = msg.headers
    auto = h.get("auto-submitted").lower()
    if auto.startswith("auto-replied"):
        return True
    if any(n in h for n in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-mailautoreply")):
        return True
    if h.get("precedence").lower() == "auto_reply" or _AUTOREPLY_SUBJECT.search(h.get("subject")):
        return True
    return auto.startswith("auto-generated") and any(_AUTOREPLY_BODY.search(t[:2000]) for t in msg.texts[:1])
