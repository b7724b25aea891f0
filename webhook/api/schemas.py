"""Request and response bodies of the JSON API, as pydantic models.

They validate input (unknown fields are refused, so a typo is an error rather than a
silently ignored field) and they are what /openapi.json is generated from.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, field_validator

from classifier.address import AddressError, normalise

EventType = Literal["bounce", "deferral", "complaint", "unsubscribe", "resubscribe", "drop",
                    "delivered", "send", "open", "click"]
StreamName = Literal["marketing", "transactional"]
MAX_FUTURE = timedelta(hours=24)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
    subscription: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
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
        return v


class EventsIn(RootModel[Union[EventIn, list[EventIn]]]):
    """One event object, or a list of them."""


class EventsOut(BaseModel):
    accepted: int = Field(description="events applied now")
    duplicates: int = Field(description="events already applied before (same id), changed nothing")


class AddressPath(BaseModel):
    address: str = Field(max_length=512)


class CheckQuery(_Strict):
    stream: StreamName | None = None
    subscription: str | None = Field(None, max_length=64)


class CheckIn(_Strict):
    addresses: list[str] = Field(min_length=1, max_length=10_000)
    stream: StreamName | None = None
    subscription: str | None = Field(None, max_length=64)


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
    events: list[dict]


class SuppressIn(_Strict):
    note: str | None = Field(None, max_length=1000)
    code: str = Field("manual", description="manual (default), unsubscribed (with subscription), "
                                            "unsubscribed_all, unconfirmed_opt_in, previously_bounced, ...")
    subscription: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    until: AwareDatetime | None = None


class UnsuppressIn(_Strict):
    note: str = Field(min_length=1, max_length=1000, description="why it is lifted; kept in the audit trail")
    codes: list[str] | None = Field(None, description="lift only these codes (default: all the tenant can lift)")


class SuppressOut(BaseModel):
    address: str
    added: list[str] = []
    lifted: list[str] = []


class ErrorOut(BaseModel):
    error: str
    message: str
    details: list[dict] | None = None
