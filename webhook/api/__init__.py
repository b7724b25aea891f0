"""HTTP routes, one blueprint per audience: health, tenant API (senders and analysts)."""
