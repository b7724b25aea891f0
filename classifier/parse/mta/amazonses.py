"""Amazon SES: DSNs from *.amazonses.com and SNS notifications e-mailed as JSON."""
import json
import re

from classifier.parse import ndr
from classifier.parse.load import Loaded
from classifier.parse.mta import Context, Module, header_matcher
from classifier.parse.report import Record

#: What an SES bounce (or an SNS notification e-mailed by AWS) really carries in its own
#: headers. A body that merely mentions SES or holds SES's JSON (a forwarded or quoted
#: notification, a support thread) is not enough: the module is trusted, so a false
#: detection would read any such message as SES's report.
_headers = header_matcher(from_=r"@(?:[\w.-]+\.)?amazonses\.com|no-reply@sns\.amazonaws\.com",
                          headers=("X-SES-Outgoing",), received=r"amazonses\.com|\.smtp-out\.[\w-]+\.amazonses")
_RETURN_PATH = re.compile(r"[@.]amazonses\.com>?\s*$", re.I)
DIALECT = ndr.Dialect(
    recipient=re.compile(r"(?:following message to|message to) <?(?P<addr>[^\s<>@]+@[^\s<>]+?)>? "
                         r"(?:was undeliverable|could not be delivered)", re.I),
    start=None,
)
_JSON = re.compile(r"\{.*\}", re.S)


def detect(msg: Loaded) -> bool:
    if _headers(msg) or _RETURN_PATH.search(msg.headers.get("return-path")):
        return True
    return any(name.lower().startswith("x-ses-") for name, _ in msg.headers.items)


def _from_json(text: str) -> list[Record] | None:
    m = _JSON.search(text)
    if not m or "notificationType" not in m.group(0)[:600]:
        return None
    try:
        doc = json.loads(m.group(0))
    except ValueError:
        # SNS wraps long lines: undo the wrapping and try once more
        try:
            doc = json.loads(re.sub(r"\n ?", "", m.group(0)))
        except ValueError:
            return None
    if "Message" in doc and isinstance(doc["Message"], str):
        try:
            doc = json.loads(doc["Message"])
        except ValueError:
            return None
    kind = str(doc.get("notificationType") or doc.get("eventType") or "")
    out: list[Record] = []
    if kind == "Bounce":
        b = doc.get("bounce", {})
        cls = f"{b.get('bounceType', '')}/{b.get('bounceSubType', '')}"
        for r in b.get("bouncedRecipients", []):
            rec = Record(recipient=r.get("emailAddress"), diagnostic=r.get("diagnosticCode") or "",
                         status=r.get("status"), provider_class=cls,
                         action="failed" if b.get("bounceType") != "Transient" else "delayed")
            ndr.fill_codes(rec)
            out.append(rec)
    elif kind == "Complaint":
        c = doc.get("complaint", {})
        for r in c.get("complainedRecipients", []):
            out.append(Record(recipient=r.get("emailAddress"), action="complaint",
                              feedback_type=c.get("complaintFeedbackType") or "abuse"))
    elif kind == "Delivery":
        d = doc.get("delivery", {})
        for r in d.get("recipients", []):
            out.append(Record(recipient=r, action="delivered", diagnostic=d.get("smtpResponse", ""),
                              status="2.0.0", reply_code=(d.get("smtpResponse") or "250")[:3]))
    return out


def extract(msg: Loaded, ctx: Context) -> list[Record]:
    found = _from_json(ctx.text[:200000])
    if found is not None:
        return found
    return ndr.scan(ctx.text, DIALECT, exclude=ctx.exclude) or ndr.scan(ctx.text, exclude=ctx.exclude)


MODULE = Module("amazonses", detect, extract, trusted=True)
