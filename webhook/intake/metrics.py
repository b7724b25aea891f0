"""Counters of the intakes (SMTP/LMTP listener, mailbox poller, pipe), beside the service's
own in /metrics (``rebound serve`` runs the intakes in a process that writes to the same
multiprocess directory). Labels take values from small fixed sets: outcomes, reasons,
protocols; never addresses, tenants or mailbox names."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

SMTP_CONNECTIONS = Counter("rebound_smtp_connections_total", "SMTP/LMTP connections, by outcome",
                           ["outcome"])
SMTP_RECIPIENTS = Counter("rebound_smtp_recipients_total", "RCPT commands, by outcome", ["outcome"])
SMTP_MESSAGES = Counter("rebound_smtp_messages_total",
                        "Messages (per routed recipient) received over SMTP/LMTP, by outcome", ["outcome"])
MAILBOX_MESSAGES = Counter("rebound_mailbox_messages_total", "Messages read from bounce mailboxes, by outcome",
                           ["protocol", "outcome"])
MAILBOX_POLLS = Counter("rebound_mailbox_polls_total", "Mailbox polls, by outcome", ["protocol", "outcome"])
MAILBOX_LAST_SUCCESS = Gauge("rebound_mailbox_last_success_timestamp_seconds",
                             "When a mailbox poll last succeeded (any mailbox), Unix time", ["protocol"],
                             multiprocess_mode="max")
MAILBOXES_WATCHED = Gauge("rebound_mailboxes_watched", "Mailboxes the poller is watching", [],
                          multiprocess_mode="liveall")
