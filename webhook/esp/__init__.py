"""One module per ESP, and the table of them that the webhook route dispatches on.

Adding a provider: a module with one :class:`~webhook.esp.base.Provider` subclass (its
``validate_request`` through mixins, its ``parse_events``), and one line here.
"""
from __future__ import annotations

from webhook.esp.base import Provider
from webhook.esp.brevo import Brevo
from webhook.esp.mailersend import MailerSend
from webhook.esp.mailgun import Mailgun
from webhook.esp.mailjet import Mailjet
from webhook.esp.mailtrap import Mailtrap
from webhook.esp.mandrill import Mandrill
from webhook.esp.postal import Postal
from webhook.esp.postmark import Postmark
from webhook.esp.resend import Resend
from webhook.esp.scaleway import Scaleway
from webhook.esp.sendgrid import SendGrid
from webhook.esp.ses import Ses
from webhook.esp.sparkpost import SparkPost
from webhook.esp.unisender_go import UnisenderGo

PROVIDERS: dict[str, type[Provider]] = {
    cls.name: cls for cls in (SendGrid, Mailgun, Ses, Postmark, SparkPost, Mandrill, Mailjet, Brevo, Resend,
                              MailerSend, Postal, Mailtrap, Scaleway, UnisenderGo)
}

__all__ = ["PROVIDERS", "Provider"]
