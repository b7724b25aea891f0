"""Address normalisation: the one spelling under which an address is stored and compared.

What is folded, and why:
- surrounding whitespace, angle brackets and a ``mailto:`` prefix: transport noise;
- the domain: lower-cased and converted to its IDNA A-label (``bücher.example`` ->
  ``xn--bcher-kva.example``), because DNS is case-insensitive and both spellings reach
  the same host;
- the local part: lower-cased. RFC 5321 lets a host treat case as significant, but no
  mailbox provider in use does, and ESPs report the same address in different cases; a
  suppression that a case change could dodge would be worse than the theoretical clash.

What is not folded: dots and ``+tags`` in the local part (only some providers ignore them,
so ``a.b+x@`` and ``ab@`` may be different people), quoted local parts (kept verbatim apart
from case), and Unicode local parts (kept as given, lower-cased, NFC-normalised).
"""
from __future__ import annotations

import functools
import unicodedata

import idna


class AddressError(ValueError):
    """The text is not an address that can be normalised."""


@functools.lru_cache(maxsize=65536)
def normalise_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".")
    if not domain:
        raise AddressError("empty domain")
    if domain.startswith("[") and domain.endswith("]"):
        return domain.lower()            # address literal, e.g. [192.0.2.1]
    if domain.isascii():
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AddressError(f"domain {domain!r} is not a valid internationalised name: {exc}") from None


def normalise(address: str) -> str:
    """Return the canonical spelling of ``address`` or raise :class:`AddressError`."""
    if not isinstance(address, str):
        raise AddressError("address must be a string")
    a = address.strip()
    if a[:7].lower() == "mailto:":
        a = a[7:]
    if a.startswith("<") and a.endswith(">"):
        a = a[1:-1].strip()
    at = a.rfind("@")
    if at <= 0 or at == len(a) - 1:
        raise AddressError(f"{address!r} is not an address (local@domain)")
    local, domain = a[:at], a[at + 1:]
    if not local.isascii():
        local = unicodedata.normalize("NFC", local)
    return f"{local.lower()}@{normalise_domain(domain)}"


def domain_of(normalised: str) -> str:
    return normalised[normalised.rfind("@") + 1:]
