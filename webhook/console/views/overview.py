"""The overview: the tenant's traffic per day (store/daily.py) and its sender health
(store/senders.py, as GET /v1/senders/status), as charts with their numbers."""
from __future__ import annotations

from flask import g, render_template, request

from classifier.taxonomy import CATEGORIES, SENDER_SIDE
from webhook.console import bp, charts
from webhook.console.pages import tenant_page
from webhook.services import services

DAYS = 30


def _table(days: list[str], series: dict[str, list[int]]) -> dict:
    return {"columns": list(series), "rows": [(d, [series[s][i] for s in series]) for i, d in enumerate(days)]}


def _chart(title: str, days: list[str], series: dict[str, list[int]]) -> dict:
    series = {k: v for k, v in series.items() if any(v)} or {"none": [0] * len(days)}
    return {"title": title, "svg": charts.stacked_bars(days, series, title), "table": _table(days, series),
            "total": sum(map(sum, series.values()))}


def overview_data(tenant: str, days: int = DAYS) -> dict:
    store = services().store
    daily = store.daily.series(tenant, days)
    health = store.senders.status(tenant, days=days)
    dates = [d["date"] for d in daily]
    recipient_side = [c for c in CATEGORIES if c not in SENDER_SIDE]
    by_category = {c: [d["categories"].get(c, 0) for d in daily] for c in recipient_side}
    codes = sorted({c for d in daily for c in (*d["added"], *d["lifted"])})
    health_days = list(reversed(health["by_day"]))
    sender = {c: [d["categories"].get(c, 0) for d in health_days] for c in sorted(SENDER_SIDE)}
    return {
        "charts": [
            _chart("Failures per day by category (recipient side)", dates, by_category),
            _chart("Hard and soft bounces, complaints", dates, {
                "hard bounces": [d["hard"] for d in daily], "soft bounces": [d["soft"] for d in daily],
                "complaints": [d["kinds"].get("complaint", 0) for d in daily]}),
            _chart("Suppressions added and lifted", dates, {
                **{f"+ {c}": [d["added"].get(c, 0) for d in daily] for c in codes},
                **{f"- {c}": [d["lifted"].get(c, 0) for d in daily] for c in codes}}),
            _chart("Sender health: sender-side failures per day", [d["date"] for d in health_days], sender),
        ],
        "kinds": {k: sum(d["kinds"].get(k, 0) for d in daily)
                  for k in ("delivered", "bounce", "deferral", "complaint", "unsubscribe", "drop")},
        "health": health,
        "review": store.review.stats(tenant),
    }


@bp.get("/overview")
@tenant_page
def overview():
    days = min(max(request.args.get("days", DAYS, type=int) or DAYS, 1), 35)
    return render_template("console/overview.html", days=days, **overview_data(g.tenant, days))
