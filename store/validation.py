"""Address validation at query time: syntax, role accounts, disposable domains.

Everything here is pure and cached: the bulk check validates ten thousand addresses per
call, so the common case must cost a regular-expression match, not a parser run.

- Syntax: ordinary addresses (a dot-atom local part at a host name, which is nearly all
  real traffic) are settled by one strict regular expression. Everything else (quoted local
  parts, Unicode local parts, address literals, and the plainly broken) goes to flanker's
  RFC 5322 parser, which is exact but about a hundred times slower, behind an LRU cache.
  On top of what flanker accepts, the domain must be a usable host name (letters, digits
  and hyphens; at least two labels), and the RFC 5321 length limits hold.
- Role accounts: ``role_local_parts.txt``, compared after dropping a ``+tag``.
- Disposable domains: the ``disposable-email-domains`` package's list, matched against the
  domain and each parent down to its registrable domain (public suffix list), so
  ``x.mailinator.com`` is caught while a shared suffix such as ``dynv6.net`` never is.
"""
from __future__ import annotations

import contextlib
import functools
import io
import ipaddress
import re
import warnings
from dataclasses import dataclass
from importlib import resources
from itertools import compress, repeat
from operator import itemgetter, not_

from disposable_email_domains import allowlist as _DISPOSABLE_ALLOW
from disposable_email_domains import blocklist as _DISPOSABLE
from publicsuffixlist import PublicSuffixList

from classifier.address import AddressError, normalise

_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
#: The fast path for the local part, on the normalised (lower-case) spelling: a dot-atom.
#: Anything it refuses is not necessarily wrong: it goes to the full parser.
FAST_LOCAL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

MAX_LOCAL = 64       # octets, RFC 5321 4.5.3.1.1
MAX_ADDRESS = 254    # octets of the path without angle brackets (RFC 5321 4.5.3.1.3 and erratum 1690)


#: The common case in one match: an address already in its normal form (lower-case ASCII,
#: nothing around it) with a dot-atom local part. The domain is checked once per domain of
#: a batch (``_host_name_ok``), the lengths once per batch unless some address is long.
_PLAIN = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*@[a-z0-9.-]+")


@dataclass(slots=True)
class Screened:
    """A batch of addresses as asked, validated, position by position.

    ``normalised`` is what the answer reports (None when the text could not be read as an
    address at all); ``errors`` holds why each invalid position is invalid; ``domains``
    holds the domain of each valid one ("" at invalid positions), so that nothing
    downstream splits ten thousand addresses again.
    """

    normalised: list[str | None]
    domains: list[str]
    errors: dict[int, str]

    def valid(self) -> list[str]:
        """The valid normalised addresses, in order (repeats included: reading a record
        twice costs less than finding the repeats among ten thousand)."""
        out = list(self.normalised)
        for i in sorted(self.errors, reverse=True):      # few: each a memmove, not a Python step per address
            del out[i]
        return out

    def valid_domains(self) -> list[str]:
        out = dict.fromkeys(self.domains)
        out.pop("", None)
        return list(out)

    def local_parts(self) -> list[str]:
        """The local part of each valid address ("" at invalid positions)."""
        source = self.normalised
        if self.errors:
            source = list(source)
            for i in self.errors:
                source[i] = ""
        return list(map(itemgetter(0), map(str.rpartition, source, repeat("@"))))


def screen(addresses: list[str]) -> Screened:
    """Normalise and validate a batch: the bulk check's first step.

    Ten thousand addresses are nearly all plain (already normalised, dot-atom, a host
    name): those cost one regular-expression match and one split, done by C loops (maps
    whose intermediate objects die at once rather than piling up for the garbage
    collector), with each domain and the length limits checked once for the batch. Only
    the others (capitals, Unicode, quoted local parts, literals, broken text) go through
    :func:`~classifier.address.normalise` and :func:`syntax_error` one by one. The
    result is exactly theirs, address by address (tests/store/test_reasons.py).
    """
    positions = range(len(addresses))
    odd = set(compress(positions, map(not_, map(_PLAIN.fullmatch, addresses))))
    domains = list(map(itemgetter(2), map(str.rpartition, addresses, repeat("@"))))
    if max(map(len, addresses), default=0) > MAX_LOCAL:        # only then can a limit be passed
        odd.update(i for i, a in enumerate(addresses)
                   if len(a) > MAX_ADDRESS or a.rfind("@") > MAX_LOCAL)
    bad_hosts = {d for d in set(domains) if not _host_name_ok(d)}
    if bad_hosts:
        odd.update(compress(positions, map(bad_hosts.__contains__, domains)))
    normalised: list[str | None] = list(addresses)
    errors: dict[int, str] = {}
    for i in odd:
        try:
            n = normalise(addresses[i])
        except AddressError as exc:
            n, problem = None, str(exc)
        else:
            problem = syntax_error(n)
        normalised[i] = n
        if problem:
            errors[i] = problem
            domains[i] = ""
        else:
            domains[i] = n.rpartition("@")[2]
    return Screened(normalised, domains, errors)


def syntax_error(address: str) -> str | None:
    """Why the normalised ``address`` is not a valid address, or None when it is."""
    at = address.rfind("@")
    if (0 < at <= MAX_LOCAL and len(address) <= MAX_ADDRESS and FAST_LOCAL.fullmatch(address, 0, at)
            and _host_name_ok(address[at + 1:])):
        return None
    return _full_check(address)


@functools.lru_cache(maxsize=65536)
def _host_name_ok(domain: str) -> bool:
    """A plain host name (the domain part of nearly every address), checked once per domain."""
    return not domain.startswith("[") and domain.isascii() and _domain_problem(domain) is None


@functools.lru_cache(maxsize=65536)
def _full_check(address: str) -> str | None:
    at = address.rfind("@")
    local, domain = address[:at], address[at + 1:]
    if len(local.encode("utf-8")) > MAX_LOCAL:
        return f"the local part is longer than {MAX_LOCAL} octets"
    if len(address.encode("utf-8")) > MAX_ADDRESS:
        return f"the address is longer than {MAX_ADDRESS} octets"
    problem = _domain_problem(domain)
    if problem:
        return problem
    if _flanker_parse(address) is None:
        return "the address does not follow RFC 5321/5322 syntax"
    return None


def _domain_problem(domain: str) -> str | None:
    if domain.startswith("["):
        literal = domain[1:-1]
        try:
            if literal.lower().startswith("ipv6:"):
                ipaddress.IPv6Address(literal[5:])
            else:
                ipaddress.IPv4Address(literal)
        except ValueError:
            return f"{domain} is not a valid address literal"
        return None
    labels = domain.split(".")
    if len(labels) < 2:
        return f"the domain {domain!r} has a single label; mail on the Internet needs a full domain name"
    if len(domain) > 253:
        return "the domain is longer than 253 characters"
    for label in labels:
        if not _HOST_LABEL.match(label):
            return f"the domain label {label!r} is not a host name (letters, digits, inner hyphens)"
    if labels[-1].isdigit():
        return f"the domain {domain!r} ends in a number, not a top-level domain"
    return None


@functools.cache
def _flanker():
    # flanker builds its parser tables on first import and may print grammar warnings:
    # they say nothing to a Rebound user, so they do not reach the terminal or the logs
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)      # its imports of cgi and imghdr
        from flanker.addresslib import address
    return address


def _flanker_parse(address: str):
    return _flanker().parse(address, addr_spec_only=True, strict=True)


# -- role accounts ---------------------------------------------------------------------------

def _load_roles() -> frozenset[str]:
    text = resources.files("store").joinpath("role_local_parts.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.lstrip().startswith("#"))


ROLES: frozenset[str] = _load_roles()


@functools.lru_cache(maxsize=256)
def role_names(extra: frozenset[str] = frozenset(), exempt: frozenset[str] = frozenset()) -> frozenset[str]:
    """The maintained list with a policy's additions and exemptions."""
    return (ROLES | extra) - exempt


# -- disposable domains ----------------------------------------------------------------------

@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@functools.lru_cache(maxsize=65536)
def domain_and_parents(domain: str) -> tuple[str, ...]:
    """``a.b.example.co.uk`` -> (a.b.example.co.uk, b.example.co.uk, example.co.uk).

    Stops at the registrable domain: a rule about ``example.co.uk`` must never spread to
    ``co.uk``. A domain that is itself a public suffix, or a literal, is only itself.
    """
    if domain.startswith("["):
        return (domain,)
    registrable = _psl().privatesuffix(domain)
    if registrable is None or registrable == domain:
        return (domain,)
    labels = domain.split(".")
    stop = registrable.count(".") + 1
    return tuple(".".join(labels[i:]) for i in range(len(labels) - stop + 1))


@functools.lru_cache(maxsize=65536)
def disposable_match(domain: str, extra: frozenset[str] = frozenset(),
                     exempt: frozenset[str] = frozenset()) -> str | None:
    """The listed domain that makes ``domain`` disposable, or None (cached: a bulk check
    asks about hundreds of domains, the same ones again and again)."""
    candidates = domain_and_parents(domain)
    if any(c in exempt or c in _DISPOSABLE_ALLOW for c in candidates):
        return None
    for c in candidates:
        if c in _DISPOSABLE or c in extra:
            return c
    return None
