"""Generate the project's training corpus from the hand-written phrase templates.

Real bounces wrap the same few hundred phrasings in many ways: the MTA that reports the
failure (Postfix' "host ... said: ... (in reply to RCPT TO command)", Exim's "SMTP error
from remote mail server after ...", a bare ``smtp;`` Diagnostic-Code, Gmail's multi-line
``550-5.1.1`` replies), codes in the text, in separate fields, in both or nowhere, generic
or contradicting codes, addresses, hosts and ids that differ in every message. The model
must learn the phrasing, not the wrapping; so every template is expanded into several
records that vary exactly those things.

Reproducible: each template draws from its own ``random.Random`` seeded with the global
seed and the template's reference (a hash of its reason and text), so adding a phrase
changes no other record.

    python -m classifier.training.generate [--seed 20261126] [--out classifier/training/data]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import string
import sys
from dataclasses import dataclass
from pathlib import Path

from classifier.rules.engine import PHASE_REFINE
from classifier.rules.status_codes import STATUS_RE
from classifier.training.dataset import write_sets
from classifier.taxonomy import reason as check_reason

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
DATA = HERE / "data"
DEFAULT_SEED = 20261126

#: How many records a reason should get, spread over its templates (within the bounds below).
PER_REASON = 320
MIN_PER_TEMPLATE, MAX_PER_TEMPLATE = 3, 24

#: Codes that real MTAs hand out for almost anything; seen with a phrase they must not win.
GENERIC_STATUS = {"5": ["5.0.0", "5.7.1", "5.5.0", "5.1.0", "5.2.0", "5.7.0", "5.1.1", "5.2.1", "5.3.0"],
                  "4": ["4.0.0", "4.7.1", "4.3.0", "4.2.0", "4.7.0"]}
GENERIC_SHARE = 0.15
NO_CODE_NOISE = {"undefined", "onhold", "vacation", "delivered", "feedback"}
#: Share of failure records that start with a generic report opening (_preambles.txt).
PREAMBLE_SHARE = 0.15
#: Share of failure records whose phrase gets the recipient's address added.
ADDRESS_SHARE = 0.3
#: Share of failure records that carry a date (Exchange and others print one): no clue either.
DATE_SHARE = 0.08
#: Share of records that keep only their code fields (the code then decides alone).
CODE_ONLY_SHARE = 0.03
#: Reports that are not failures: their text is never wrapped in an MTA's failure format.
REPORTS = {"vacation", "delivered", "feedback"}

PHASES = {"RCPT", "DATA", "MAIL", "CONN", "HELO"}
# How a template's phase can show up: connection-time refusals are reported by Postfix and
# others at RCPT time (smtpd_delay_reject), so CONN phrases appear after any command.
SHOWN_PHASE = {"CONN": ["CONN", "HELO", "MAIL", "RCPT", "RCPT"], "HELO": ["HELO"],
               "MAIL": ["MAIL", "MAIL", "RCPT"], "RCPT": ["RCPT"], "DATA": ["DATA"]}
#: Where a generic recipient-level phrase ("RCPT~" templates) is given: mostly at RCPT TO,
#: but the same words come after DATA (a filter) and at MAIL FROM (about the sender).
REFINED_PHASES = ["RCPT"] * 6 + ["DATA"] * 3 + ["MAIL"] * 2
#: Share of "~" records whose phase is stated in a field when the wrapper does not say it.
REFINED_PHASE_FIELD = 0.35
#: Reasons that mean "undecided": a deferral saying nothing more is "expired" (the message
#: did not get through in time), the rule engine's convention (classifier.rules.engine.PENDING).
UNDECIDED = {"onhold", "undefined"}
POSTFIX_CMD = {"CONN": "initial greeting", "HELO": "EHLO command", "MAIL": "MAIL FROM command",
               "RCPT": "RCPT TO command", "DATA": "end of DATA command"}
EXIM_CMD = {"CONN": "initial connection", "HELO": "EHLO {host}", "MAIL": "MAIL FROM:<{sender}> SIZE={size}",
            "RCPT": "RCPT TO:<{addr}>", "DATA": "end of data"}
SENDMAIL_CMD = {"CONN": "", "HELO": ">>> EHLO {host}\n", "MAIL": ">>> MAIL From:<{sender}> SIZE={size}\n",
                "RCPT": ">>> RCPT To:<{addr}>\n", "DATA": ">>> DATA\n"}

# Ways a remote SMTP reply reaches the bounce, as (name, template, states the phase?).
REMOTE_WRAPPERS = [
    ("bare", "{T}", False),
    ("dsn", "smtp; {T}", False),
    ("postfix", "host {mx}[{ip}] said: {T} (in reply to {pcmd})", True),
    ("exim", "SMTP error from remote mail server after {ecmd}:\nhost {mx} [{ip}]: {T}", True),
    ("sendmail", "... while talking to {mx}.:\n{scmd}<<< {T}", True),
    ("qmail", "{ip} does not like recipient.\nRemote host said: {T}\nGiving up on {ip}.", False),
    ("exchange", "Remote Server returned '{T}'", False),
    ("exchange2", "#{T} ##", False),
    ("gmail", "The response from the remote server was:\n{T}", False),
    ("esp", "{T}", False),
    # Exim's delay warning: the reason, then boilerplate that says nothing about it
    ("exim-delay", ("Delay reason: SMTP error from remote mail server after {ecmd}:\nhost {mx} [{ip}]: {T}\n"
                    "No action is required on your part. Delivery attempts will continue for some time, and "
                    "this warning may be repeated at intervals if the message remains undelivered. Eventually "
                    "the mail delivery software will give up, and when that happens, the message will be "
                    "returned to you."), True),
]
#: Wrappers only a temporary failure comes in (else the plain variant, by name).
TEMPORARY_ONLY = {"exim-delay": "exim"}
LOCAL_WRAPPERS = [("bare", "{T}"), ("xpostfix", "X-Postfix; {T}"), ("xunix", "x-unix; {T}"),
                  ("dsn", "smtp; {T}"), ("notes", "X-Notes; {T}")]
GENERIC_PROVIDERS = ["postfix", "exim", "sendmail", "qmail", "exchange", "office365", "gmail",
                     "opensmtpd", "courier", "zimbra", "domino", "ses", "sendgrid", "mailgun",
                     "sparkpost", "postmark"]

FIRST = ["john", "maria", "kijitora", "neko", "li.wei", "a.smith", "j_doe", "olga", "hans.mueller",
         "pierre", "sato", "info", "sales", "noreply", "test123", "user", "m.rossi", "ana.silva"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.jp", "corp.example.de",
           "example.co.uk", "example.fr", "example.ru", "example.com.br", "shop.example",
           "example.es", "example.ne.jp", "example.edu", "sub.example.io"]
URLS = ["https://support.google.com/mail/answer/{n}", "https://sender.office.com",
        "http://go.microsoft.com/fwlink/?LinkID={n}", "https://postmaster.{domain}/errors/{n}",
        "https://www.spamhaus.org/query/ip/{ip}", "http://www.{domain}/help?code={id}",
        "https://help.yahoo.com/kb/postmaster/SLN{n}.html", "https://mxtoolbox.com/blacklists.aspx"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class Template:
    reason: str
    lang: str
    replies: tuple[str, ...]
    statuses: tuple[str, ...]
    phase: str | None
    phase_shown: bool   # the label depends on the phase ("DATA!"): always let it be seen
    providers: tuple[str, ...]
    #: "RCPT~": a generic recipient-level phrase whose label follows where it was said, as the
    #: rule engine refines it (classifier.rules.engine.PHASE_REFINE): after DATA (and no X.1.x
    #: code) a "user unknown" is a filter, at MAIL FROM the sender's refusal; unstated, what it says
    refined: bool
    text: str
    ref: str          # "<lang>:<hash of reason and phrase>": groups a phrase's records


def _opts(field: str) -> tuple[str, ...]:
    return () if field == "-" else tuple(field.split("/"))


def parse_templates(path: Path) -> list[Template]:
    """Read one template file (format in ../README.md), failing loudly on a bad line."""
    lang = path.stem
    out: list[Template] = []
    reason_code = None
    defaults: tuple = ((), (), None, False, (), False)
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("# ") or line == "#":
            continue
        if line.startswith("## "):
            reason_code = line[3:].strip()
            check_reason(reason_code)
            defaults = ((), (), None, False, (), False)
            continue
        if line.startswith("@"):
            parts = line[1:].split()
            if len(parts) not in (3, 4):
                raise ValueError(f"{path}:{lineno}: '@ REPLY STATUS PHASE [PROVIDERS]' expected")
            phase = None if parts[2] == "-" else parts[2].rstrip("!~")
            if phase is not None and phase not in PHASES:
                raise ValueError(f"{path}:{lineno}: unknown phase {phase!r}")
            refined = parts[2].endswith("~")
            if refined and (phase != "RCPT" or not any(k[0] == reason_code for k in PHASE_REFINE)):
                raise ValueError(f"{path}:{lineno}: '~' is for RCPT phrases of a refined reason")
            provs = () if len(parts) == 3 or parts[3] == "-" else tuple(parts[3].split(","))
            defaults = (_opts(parts[0]), _opts(parts[1]), phase, parts[2].endswith("!"), provs, refined)
            continue
        if reason_code is None:
            raise ValueError(f"{path}:{lineno}: phrase before the first '## reason' line")
        # the reference names the phrase, not its line: stable when other lines move
        digest = hashlib.sha1(f"{reason_code}\0{line}".encode("utf-8")).hexdigest()[:10]
        out.append(Template(reason_code, lang, *defaults, text=line, ref=f"{lang}:{digest}"))
    return out


class Filler:
    """Random but realistic values for the placeholders of one record."""

    def __init__(self, rng: random.Random):
        self.r = rng
        d = rng.choice(DOMAINS)
        local = rng.choice(FIRST) + (str(rng.randint(1, 999)) if rng.random() < 0.4 else "")
        sd = rng.choice([x for x in DOMAINS if x != d])
        self.values = {
            "domain": d, "local": local, "addr": f"{local}@{d}",
            "addr2": f"{rng.choice(FIRST)}@{rng.choice(DOMAINS)}",
            "domain2": rng.choice(DOMAINS),
            "sender": f"{rng.choice(['news', 'bounce', 'mailer', 'shop'])}@{sd}", "sdomain": sd,
            "ip": self.ip(), "host": f"{rng.choice(['mail', 'smtp', 'out', 'o1'])}{rng.randint(1, 40)}.{sd}",
            "mx": rng.choice([f"mx{rng.randint(1, 9)}.{d}", f"{d.split('.')[0]}-{'com'}.mail.protection.outlook.com",
                              "gmail-smtp-in.l.google.com", f"mta{rng.randint(1, 9)}.am0.yahoodns.net",
                              f"mx0{rng.randint(1, 2)}.mail.icloud.com", f"mail.{d}"]),
            "id": self.ident(), "n": str(rng.choice([rng.randint(1, 99), rng.randint(100, 99999)])),
            "size": str(rng.randint(10_000, 80_000_000)), "days": str(rng.choice([2, 3, 4, 5, 7])),
            "hours": str(rng.choice([24, 48, 72, 96, 120])), "date": self.date(), "empty": "",
        }
        self.values["url"] = rng.choice(URLS).format(**self.values)

    def ip(self) -> str:
        r = self.r
        if r.random() < 0.1:
            return "2001:db8:%x::%x" % (r.randint(1, 0xffff), r.randint(1, 0xffff))
        return ".".join(str(r.randint(1, 254)) for _ in range(4))

    def ident(self) -> str:
        r = self.r
        alnum = string.ascii_letters + string.digits
        return r.choice([
            "".join(r.choice("0123456789ABCDEF") for _ in range(10)),
            "".join(r.choice(alnum) for _ in range(6)) + "." + str(r.randint(100, 999)),
            f"{''.join(r.choice(alnum) for _ in range(12))}si{r.randint(100000, 999999)}ejc.{r.randint(10, 999)}",
            "".join(r.choice(string.ascii_lowercase + string.digits) for _ in range(16)),
        ])

    def date(self) -> str:
        r = self.r
        day, mon, year = r.randint(1, 28), r.randint(1, 12), r.choice([2024, 2025, 2026])
        hh, mm = r.randint(0, 23), r.randint(0, 59)
        wd = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][r.randint(0, 6)]
        return r.choice([f"{day:02d}.{mon:02d}.{year}", f"{year}-{mon:02d}-{day:02d}",
                         f"{day} {MONTHS[mon - 1]} {year}", f"{mon}/{day}/{year}",
                         f"{year}年{mon}月{day}日",
                         f"{wd}, {day} {MONTHS[mon - 1]} {year} {hh:02d}:{mm:02d}:00 +0900"])

    def fill(self, text: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: self.values.get(m.group(1), m.group(0)), text)


def _multiline(reply: str, status: str | None, text: str, rng: random.Random) -> str:
    """Gmail-style continuation lines: ``550-5.1.1 part`` ... ``550 5.1.1 last part``."""
    words, chunks, cur = text.split(), [], []
    width = rng.choice([40, 60, 75])
    for w in words:
        if cur and len(" ".join(cur + [w])) > width:
            chunks.append(" ".join(cur))
            cur = []
        cur.append(w)
    chunks.append(" ".join(cur))
    st = f" {status}" if status else ""
    lines = [f"{reply}-{st[1:]} {c}" if st else f"{reply}-{c}" for c in chunks[:-1]]
    lines.append(f"{reply}{st} {chunks[-1]}")
    return "\n".join(lines)


def parse_preambles(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def expand(t: Template, count: int, seed: int, preambles: list[str] = ()) -> list[dict]:
    rng = random.Random(f"{seed}:{t.ref}")
    records = []
    for _ in range(count):
        f = Filler(rng)
        phrase = f.fill(t.text)
        noisy = t.reason not in REPORTS and phrase != ""   # an empty record stays empty
        if noisy and "@" not in phrase and rng.random() < ADDRESS_SHARE:
            # most real diagnostics name the recipient somewhere: an address is no clue
            phrase = rng.choice(["<{addr}>: {p}", "{addr}: {p}", "<{addr}>... {p}", "{p} ({addr})",
                                 "{p} for <{addr}>", "{addr} {p}"]).format(addr=f.values["addr"], p=phrase)
        reply = rng.choice(t.replies) if t.replies else None
        status = rng.choice(t.statuses) if t.statuses else None
        # Reply and status must agree on the class digit (a 4xx reply with a 5.x.x status
        # does not happen); templates give both families, so pair them up here.
        if reply and status and reply[0] != status[0]:
            same = [s for s in t.statuses if s[0] == reply[0]]
            status = rng.choice(same) if same else status.replace(status[0], reply[0], 1)
        if status and t.reason not in NO_CODE_NOISE and rng.random() < GENERIC_SHARE:
            status = rng.choice(GENERIC_STATUS.get(status[0], GENERIC_STATUS["5"]))
        if t.refined:
            shown_phase = rng.choice(REFINED_PHASES)
        else:
            shown_phase = rng.choice(SHOWN_PHASE[t.phase]) if t.phase else None
        field_status, field_reply, phase_field = status, reply, None

        if reply:
            roll = rng.random()
            if roll < 0.55:        # codes in the text and in the DSN fields
                in_text = True
            elif roll < 0.70:      # only in the text (ESP forwarding a diagnostic string)
                in_text, field_status, field_reply = True, None, None
            elif roll < 0.85:      # only in the fields
                in_text = False
            else:                  # nowhere: a phrase with no code at all
                in_text, field_status, field_reply = False, None, None
            if in_text:
                if len(phrase) > 70 and rng.random() < 0.3:
                    core = _multiline(reply, status, phrase, rng)
                else:
                    core = " ".join(x for x in (reply, status, phrase) if x)
            else:
                core = phrase
            name, wrapper, states_phase = rng.choice(REMOTE_WRAPPERS)
            if name in TEMPORARY_ONLY and reply[0] != "4":
                name, wrapper, states_phase = next(w for w in REMOTE_WRAPPERS if w[0] == TEMPORARY_ONLY[name])
            if states_phase and not shown_phase:
                name, wrapper, states_phase = REMOTE_WRAPPERS[1]
            f.values.update(T=core)
            if states_phase:
                f.values.update(pcmd=POSTFIX_CMD[shown_phase],
                                ecmd=f.fill(EXIM_CMD[shown_phase]),
                                scmd=f.fill(SENDMAIL_CMD[shown_phase]))
                phase_field = shown_phase
            diagnostic = f.fill(wrapper.replace("{T}", "\x00")).replace("\x00", core)
        else:
            if status and rng.random() < 0.4:
                field_status = None
            name, wrapper = LOCAL_WRAPPERS[0] if t.reason in REPORTS else rng.choice(LOCAL_WRAPPERS)
            diagnostic = wrapper.replace("{T}", phrase)
            if status and rng.random() < 0.25:
                diagnostic = f"{status} {diagnostic}" if name == "bare" else diagnostic
        field_share = REFINED_PHASE_FIELD if t.refined else 0.2
        if shown_phase and phase_field is None and (t.phase_shown or rng.random() < field_share):
            phase_field = shown_phase   # some ESPs report the phase as its own field
        if noisy and rng.random() < DATE_SHARE:
            diagnostic = rng.choice(["{d} {t}", "{t} on {d}", "[{d}] {t}"]).format(d=f.values["date"], t=diagnostic)
        if preambles and noisy and rng.random() < PREAMBLE_SHARE:
            diagnostic = f.fill(rng.choice(preambles)) + rng.choice([" ", "\n"]) + diagnostic

        if t.providers and rng.random() < 0.6:
            provider = rng.choice(t.providers)
        elif rng.random() < 0.25:
            provider = rng.choice(GENERIC_PROVIDERS)
        else:
            provider = None
        kind = {"feedback": "complaint", "delivered": "delivered"}.get(t.reason)
        if kind is None:
            cls = (field_status or field_reply or status or reply or "5")[0]
            kind = "deferral" if cls == "4" else "bounce"
        if (field_status or field_reply) and t.reason not in REPORTS and not t.refined \
                and rng.random() < CODE_ONLY_SHARE:
            diagnostic = ""          # some reporters pass codes and no text at all
        label = _refined(t.reason, phase_field, field_status, diagnostic) if t.refined else t.reason
        if kind == "deferral" and label in UNDECIDED:
            label = "expired"
        rec = {
            "reason": label, "diagnostic": diagnostic, "status": field_status,
            "reply_code": field_reply, "smtp_phase": phase_field, "provider": provider,
            "kind": kind, "lang": t.lang, "template": t.ref, "wrapper": name,
        }
        if t.reason == "vacation":
            rec["provider_class"] = "auto-reply"   # how the parser hands over an auto-reply
        records.append(rec)
    return records


def _refined(reason: str, phase: str | None, field_status: str | None, diagnostic: str) -> str:
    """The label of a generic recipient-level phrase given where it was said, by the rule
    engine's table: a code saying the address itself is bad (X.1.x) keeps a "user unknown"
    one except at MAIL FROM, where any recipient-level words are about the sender.

    With no stated phase the words stand: a plain "unknown user" is ``userunknown``. (Reading
    it as ``filtered``, as the rule engine's table does for an unstated phase, is Sisimai's
    convention for a few vendors; taught as the default it left dead addresses unsuppressed
    on mail from other systems, issue 12.)"""
    if phase is None:
        return reason
    refined = PHASE_REFINE.get((reason, phase))
    if refined is None:
        return reason
    if phase == "DATA":
        for code in ([field_status] if field_status else []) + [m.group(0) for m in STATUS_RE.finditer(diagnostic)]:
            if code and code.split(".")[1] == "1":
                return reason
    return refined


def record_id(rec: dict) -> str:
    key = json.dumps([rec[k] for k in ("reason", "diagnostic", "status", "reply_code",
                                       "smtp_phase", "provider", "kind")], ensure_ascii=False)
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def generate(seed: int = DEFAULT_SEED, templates_dir: Path = TEMPLATES) -> dict[str, list[dict]]:
    """All template files expanded: ``{lang: [record, ...]}``, deduplicated, in a stable order."""
    templates = [t for p in sorted(templates_dir.glob("*.txt")) if not p.name.startswith("_")
                 for t in parse_templates(p)]
    preambles = parse_preambles(templates_dir / "_preambles.txt")
    per_reason: dict[str, int] = {}
    for t in templates:
        per_reason[t.reason] = per_reason.get(t.reason, 0) + 1
    out: dict[str, list[dict]] = {}
    seen: set[str] = set()
    for t in templates:
        count = min(MAX_PER_TEMPLATE, max(MIN_PER_TEMPLATE, math.ceil(PER_REASON / per_reason[t.reason])))
        for rec in expand(t, count, seed, preambles):
            rid = record_id(rec)
            if rid in seen:
                continue
            seen.add(rid)
            out.setdefault(t.lang, []).append({"id": rid, **rec})
    return out


def write(data: dict[str, list[dict]], out_dir: Path) -> list[Path]:
    return write_sets(data, out_dir, "generated")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=DATA)
    a = ap.parse_args(argv)
    data = generate(a.seed)
    for p in write(data, a.out):
        print(f"{p}: {sum(1 for _ in p.open(encoding='utf-8'))} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
