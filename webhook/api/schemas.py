"""Request and response bodies of the JSON API, as pydantic models.

They validate input (unknown fields are refused, so a typo is an error rather than a
silently ignored field) and they are what /openapi.json is generated from.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, RootModel, field_validator

from classifier.address import AddressError, normalise
from store.records import check_time
from store.subscriptions import subscription_name

EventType = Literal["bounce", "deferral", "complaint", "unsubscribe", "resubscribe", "drop",
                    "delivered", "send", "open", "click"]
StreamName = Literal["marketing", "transactional"]
#: The longest address a URL path may name (the single lookup, its fast path, history).
MAX_ADDRESS = 512
MAX_FUTURE = timedelta(hours=24)
#: Normalised by the store's one rule (store/subscriptions.py): a bad name is a 400 naming the rule.
Subscription = Annotated[str, Field(max_length=256), AfterValidator(subscription_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


_SCHEMAS: dict = {}


class _Query(_Strict):
    """Query-string models. flask-openapi3 asks for the model's JSON schema on every request
    to read the query string (about half a millisecond each time, on the hottest route of
    the service); the schema of a class never changes, so it is built once."""

    @classmethod
    def model_json_schema(cls, *args, **kwargs):
        key = (cls, args, tuple(sorted(kwargs.items())))
        if key not in _SCHEMAS:
            _SCHEMAS[key] = super().model_json_schema(*args, **kwargs)
        return _SCHEMAS[key]


def _address(v: str) -> str:
    try:
        return normalise(v)
    except AddressError as exc:
        raise ValueError(str(exc)) from None


class EventIn(_Strict):
    """One event in Rebound's own format (for MTAs and applications without an ESP)."""

    id: str = Field(min_length=1, max_length=256, description="idempotency key: the same id twice counts once")
    type: EventType
    recipient: str = Field(min_length=3, max_length=512)
    time: AwareDatetime | None = Field(None, description="when it happened (with a timezone); default: now")
    status: str | None = Field(None, pattern=r"^[245]\.\d{1,3}\.\d{1,3}$", description="enhanced status code")
    reply_code: str | None = Field(None, pattern=r"^[245]\d\d$")
    diagnostic: str | None = Field(None, max_length=10_000)
    remote_mta: str | None = Field(None, max_length=255)
    smtp_phase: str | None = Field(None, max_length=32)
    stream: StreamName | None = None
    subscription: Subscription | None = None
    feedback_type: str | None = Field(None, max_length=64)
    message_id: str | None = Field(None, max_length=998)

    @field_validator("recipient")
    @classmethod
    def _recipient(cls, v: str) -> str:
        _address(v)
        return v

    @field_validator("time")
    @classmethod
    def _not_future(cls, v: datetime | None) -> datetime | None:
        if v is not None and v - datetime.now(timezone.utc) > MAX_FUTURE:
            raise ValueError("time is more than 24 hours in the future")
        if v is not None:
            check_time(v.timestamp(), "time")          # no negative epoch
        return v


class EventsIn(RootModel[Union[EventIn, list[EventIn]]]):
    """One event object, or a list of them."""


class EventsOut(BaseModel):
    accepted: int = Field(description="events applied now")
    duplicates: int = Field(description="events already applied before (same id), changed nothing")


class AddressPath(BaseModel):
    address: str = Field(max_length=MAX_ADDRESS)


class CheckQuery(_Query):
    stream: StreamName | None = None
    subscription: Subscription | None = None


class CheckIn(_Strict):
    addresses: list[str] = Field(min_length=1, max_length=10_000)
    stream: StreamName | None = None
    subscription: Subscription | None = None


class Reason(BaseModel):
    code: str
    scope: str
    since: str | None
    until: str | None
    streams: list[str]
    evidence: dict


class RecipientOut(BaseModel):
    address: str
    normalised: str | None
    sendable: bool
    reasons: list[Reason]


class CheckOut(BaseModel):
    results: list[RecipientOut]


class HistoryOut(BaseModel):
    address: str
    state: dict = Field(description="counters behind the policy's thresholds (bounces in the window, "
                                    "messages this month, sends without engagement)")
    events: list[dict]


class SuppressIn(_Strict):
    note: str | None = Field(None, max_length=1000)
    code: str = Field("manual", description="manual (default), unsubscribed (with subscription), "
                                            "unsubscribed_all, unconfirmed_opt_in, previously_bounced, ...")
    subscription: Subscription | None = None
    stream: StreamName | None = Field(None, description="block only this stream (default: the streams the policy names)")
    until: AwareDatetime | None = None


class UnsuppressIn(_Strict):
    note: str = Field(min_length=1, max_length=1000, description="why it is lifted; kept in the audit trail")
    codes: list[str] | None = Field(None, description="lift only these codes (default: all the tenant can lift)")


class SuppressOut(BaseModel):
    address: str
    added: list[str] = []
    lifted: list[str] = []
    still: list[str] = Field([], description="after a lift: the reasons that still apply (not the tenant's to lift)")


class ErrorDetail(BaseModel):
    field: str = Field(description="where in the request, e.g. `recipient` or `[2].time`")
    problem: str


class ErrorOut(BaseModel):
    """Every error answer: 4xx for what the client can fix, 503 (with Retry-After) when the
    store is unavailable."""

    error: str = Field(description="a stable code to branch on, e.g. `invalid_request`, `unauthorized`")
    message: str = Field(description="what is wrong, for a person")
    details: list[ErrorDetail] | None = Field(None, description="each problem of an invalid request")


class HealthOut(BaseModel):
    status: str = Field(description="`ok`: the process is up")


class ModelStatus(BaseModel):
    version: str | None = Field(description="the model this worker uses; null when none could be loaded")
    activation_failed: dict | None = Field(description="the activation that failed (`version`, `error`, `since`), "
                                                      "while the last good model goes on serving")


class RedisTopology(BaseModel):
    topology: str = Field(description="`single`: one Redis server; `cluster`: a Redis Cluster")
    primaries: int | None = Field(None, description="cluster: the masters serving the slots")
    replicas: int | None = Field(None, description="cluster: their replicas")


class ReadyOut(BaseModel):
    status: str = Field(description="`ready`: Redis answers")
    redis: RedisTopology = Field(description="the Redis this worker uses (REBOUND_REDIS_URL)")
    model: ModelStatus | None = Field(description="null when the classifier runs on rules only")


# -- listing, import, export --------------------------------------------------------------------

class ExportQuery(_Query):
    """Filters of a listing or an export."""

    code: str | None = Field(None, description="comma-separated reason codes")
    stream: StreamName | None = Field(None, description="only suppressions that block this stream")
    subscription: Subscription | None = None
    since: AwareDatetime | None = Field(None, description="started at or after")
    before: AwareDatetime | None = Field(None, description="started before")
    domain: str | None = Field(None, max_length=253, description="addresses at this domain or its subdomains")


class SuppressionsQuery(ExportQuery):
    cursor: str | None = Field(None, max_length=512, description="the `next` of the previous page")
    limit: int = Field(100, ge=1, le=1000)


class SuppressionItem(BaseModel):
    address: str
    reasons: list[Reason]


class SuppressionsOut(BaseModel):
    items: list[SuppressionItem]
    next: str | None = Field(description="cursor of the next page; null at the end")


class ImportQuery(_Query):
    code: str = Field("manual", description="code for rows without a code column")
    note: str | None = Field(None, max_length=1000)
    subscription: Subscription | None = None
    stream: StreamName | None = None


class ImportOut(BaseModel):
    import_id: str
    rows: int
    new: int
    rejected: int
    errors: list[dict] = Field(description="the first 100 rejected lines: {line, error}")


class AuditQuery(_Query):
    limit: int = Field(100, ge=1, le=1000)


class AuditOut(BaseModel):
    entries: list[dict]


# -- policy ---------------------------------------------------------------------------------------

class PolicyDoc(RootModel[dict[str, Any]]):
    """Policy overrides: any part of the policy, merged onto the defaults."""


class PolicyOut(BaseModel):
    policy: dict = Field(description="the effective policy")
    overrides: dict = Field(description="this tenant's overrides of the defaults")


# -- tenant lists ---------------------------------------------------------------------------------

class DomainPath(BaseModel):
    domain: str = Field(max_length=253)


class TenantPath(BaseModel):
    tenant: str = Field(max_length=63)


class NoteIn(_Strict):
    note: str | None = Field(None, max_length=1000)


class RequiredNoteIn(_Strict):
    note: str = Field(min_length=1, max_length=1000, description="why; kept in the audit trail")


class CompaniesOut(BaseModel):
    companies: dict[str, dict]


class OptInIn(_Strict):
    addresses: list[str] = Field(min_length=1, max_length=10_000)
    note: str | None = Field(None, max_length=1000)


class OptInOut(BaseModel):
    pending: int = Field(description="addresses newly waiting for confirmation")
    rejected: list[dict] = Field(description="addresses that could not be used: {address, error}")


class ConfirmOut(BaseModel):
    address: str
    confirmed: bool


# -- platform (operator) --------------------------------------------------------------------------

class BlockAddressIn(_Strict):
    kind: Literal["opt_out", "trap"] = Field(description="opt_out: the person wants no mail from anyone here; "
                                                          "trap: a known spam trap")
    note: str | None = Field(None, max_length=1000)


class ListQuery(_Query):
    limit: int = Field(1000, ge=1, le=100_000)


# -- sender health --------------------------------------------------------------------------------

class SenderStatusQuery(_Query):
    days: int = Field(7, ge=1, le=35)
    category: str | None = Field(None, max_length=64)
    domain: str | None = Field(None, max_length=253)


# -- classification and the review queue --------------------------------------------------------

ReviewReason = Literal["unknown", "low-confidence", "conflict"]


class EvidenceIn(_Strict):
    """What a bounce said, as the classifier reads it."""

    diagnostic: str = Field("", max_length=10_000, description="the diagnostic text (the remote server's reply)")
    status: str | None = Field(None, pattern=r"^[245]\.\d{1,3}\.\d{1,3}$", description="enhanced status code")
    reply_code: str | None = Field(None, pattern=r"^[245]\d\d$")
    smtp_phase: str | None = Field(None, max_length=32, description="CONN, HELO, MAIL, RCPT or DATA, when known")
    provider: str | None = Field(None, max_length=64, description="who reported it: postfix, gmail, an ESP's name")
    provider_class: str | None = Field(None, max_length=256, description="the ESP's own classification, "
                                                                       "e.g. sendgrid:blocked/Reputation")
    remote_mta: str | None = Field(None, max_length=255)
    kind: Literal["bounce", "deferral", "drop", "complaint", "delivered"] = "bounce"


class ClassifyIn(RootModel[Union[EvidenceIn, list[EvidenceIn]]]):
    """One piece of evidence, or a list of them."""


class VerdictOut(BaseModel):
    reason: str
    category: str
    hard: bool
    confidence: float
    source: str
    explanation: list[str]
    needs_review: bool
    review_reason: str | None


class ClassifyOut(BaseModel):
    results: list[VerdictOut] = Field(description="one verdict per piece of evidence, in input order")
    mode: str = Field(description="REBOUND_CLASSIFIER: combined, rules or model")
    model: str | None = Field(description="version of the model in use (null with the rules alone)")


class ReviewQuery(_Query):
    status: Literal["open", "labelled"] = "open"
    order: Literal["oldest", "count"] = Field("oldest", description="oldest first, or most frequent first "
                                                                    "(open items only)")
    review_reason: ReviewReason | None = Field(None, description="only items the classifier marked so")
    category: str | None = Field(None, max_length=64, description="only items whose verdict has this category")
    cursor: str | None = Field(None, max_length=512, description="the `next` of the previous page")
    limit: int = Field(50, ge=1, le=500)


class ReviewPath(BaseModel):
    item_id: str = Field(max_length=64)


class LabelIn(_Strict):
    reason: str = Field(min_length=1, max_length=32, description="the fine reason (see the taxonomy) this evidence "
                                                                 "really means")
    note: str | None = Field(None, max_length=1000)


class ReviewItemOut(BaseModel):
    id: str
    tenant: str
    status: str
    count: int = Field(description="events that brought this evidence")
    first_seen: str
    last_seen: str
    review_reason: str | None
    evidence: dict
    verdict: dict = Field(description="the classifier's latest verdict on it, with its explanation")
    examples: list[dict] = Field(description="the first events: event_id, address, time, provider, raw_ref")
    label: dict | None


class ReviewOut(BaseModel):
    items: list[ReviewItemOut]
    next: str | None = Field(description="cursor of the next page; null at the end")
    stats: dict = Field(description="open, labelled, dropped (evicted by the bound), max_open")
