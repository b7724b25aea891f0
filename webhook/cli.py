"""The ``rebound`` command: one click group gathering the commands of every layer."""
from __future__ import annotations

import click

from classifier import cli as classifier_cli


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Rebound: may this email be sent, and if not, why?"""


for _command in classifier_cli.COMMANDS:
    main.add_command(_command)
