"""The ``rebound`` command: one click group gathering the commands of every layer.

Each command lives in a module of its own (here, or ``classifier/cli.py`` and
``classifier/model/cli.py`` for the commands that need nothing but the classifier) and is
registered by name in :data:`COMMANDS`. A module is imported only when its command runs, or
when ``--help`` lists the commands; command modules import nothing heavy at the top (the
store, Flask, scikit-learn are imported inside the commands that use them), so every command
starts at once. To add a command: a module with a click command or group, and one line here.
The helpers commands share (settings, the store, output, argument types) are in
:mod:`webhook.cli.common`.
"""
from __future__ import annotations

import importlib

import click

from webhook.cli.common import OneLineErrors

#: name -> "module:attribute" of the click command, in the order ``rebound --help`` lists them.
COMMANDS = {
    "serve": "webhook.cli.serve:serve",
    "config": "webhook.cli.config:config",
    "tenants": "webhook.cli.tenants:tenants",
    "check": "webhook.cli.check:check",
    "policy": "webhook.cli.policy:policy",
    "suppressions": "webhook.cli.suppressions:suppressions",
    "platform": "webhook.cli.platform:platform",
    "senders": "webhook.cli.senders:senders",
    "dns": "webhook.cli.dns:dns",
    "providers": "webhook.cli.providers:providers",
    "classify": "classifier.cli:classify",
    "train": "classifier.model.cli:train_cmd",
    "evaluate": "classifier.model.cli:evaluate_cmd",
    "models": "classifier.model.cli:models_group",
    "review": "webhook.cli.review:review",
    "reclassify": "webhook.cli.reclassify:reclassify",
    "raw": "webhook.cli.raw:raw",
    "smtp": "webhook.intake.cli:smtp",
    "inbound": "webhook.intake.cli:inbound",
    "returnpath": "webhook.intake.cli:returnpath",
    "mailbox": "webhook.intake.cli:mailbox",
}


class Rebound(OneLineErrors):
    """The root group: commands are looked up in :data:`COMMANDS` and imported on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=Rebound, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Rebound: may this email be sent, and if not, why?"""
