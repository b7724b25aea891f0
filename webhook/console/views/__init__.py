"""The console's pages, one module per section; importing them attaches their routes."""
from webhook.console import pages  # noqa: F401  (hooks and error pages first)
from webhook.console.views import addresses, models, operator, overview, review, settings, signin  # noqa: F401
