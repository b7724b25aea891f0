"""Bounces taken where they arrive: an SMTP/LMTP listener for return-path domains
(``smtp``), mailboxes read over IMAP or POP3 (``mailbox``), and a pipe for MTAs
(``pipe``: ``rebound inbound``).

All three hand each message to :func:`webhook.intake.message.take`, the path the HTTP inbound
route takes too: parsed and classified by the classifier's public entry points, routed by
its envelope recipient (``routing``: return-path addresses, VERP, signed tokens), stored
through the one ingest pipeline, and only then acknowledged (250, exit 0, moved or deleted).
"""
