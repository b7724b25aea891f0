"""``python -m webhook.cli``: the ``rebound`` command."""
from webhook.cli import main

main()
