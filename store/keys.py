"""Where everything lives in Redis.

Every key that one script, transaction or multi-key read touches shares a hash tag, so
Rebound runs on a Redis Cluster (store/client.py): records, dedup markers and history per
``{tenant.bucket}``; policy, audit, intents, review, sender health and credentials per
``{tenant}``; platform lists per their own tag (``{p.bucket}``, ``{pd}``, ``{dns}``...). No
step needs keys of two tags at once: a policy update watches only the policy (the operator's
permission to give is enforced where it matters, at ingest and query), and a person's
change of a record and its audit entry are an intent, the change and the audit (see
store/suppressions.py). Tests check every multi-key command against its slots, on one
server too (tests/cluster.py). Per-address state is bucketed: one Redis hash per
(tenant, bucket) holds the records of many addresses as fields. That is what keeps memory
per suppressed address small (a field in a hash costs a fraction of a top-level key) and
makes the bulk check one HMGET per bucket instead of one command per address.

Platform-wide per-address facts (operator lists, bounces shared across tenants, complaint
counts) are bucketed the same way in fewer buckets: there is one copy for all tenants, and
the bulk check reads them in the same pipeline as the tenant's records.
"""
from __future__ import annotations

import zlib

#: Fixed forever: changing it would move every address to another bucket.
BUCKETS = 1024
#: Platform buckets: a divisor of BUCKETS, so one crc gives both bucket numbers.
PLATFORM_BUCKETS = 256


def bucket_of(address: str) -> int:
    return zlib.crc32(address.encode("utf-8")) & (BUCKETS - 1)


def platform_bucket_of(address: str) -> int:
    return zlib.crc32(address.encode("utf-8")) & (PLATFORM_BUCKETS - 1)


class Keys:
    def __init__(self, prefix: str = "rb"):
        self.p = prefix

    # -- per (tenant, address bucket): one slot per bucket ------------------------------
    def tag(self, tenant: str, bucket: int) -> str:
        return f"{{{tenant}.{bucket}}}"

    def records(self, tenant: str, bucket: int) -> str:
        """Hash: normalised address -> the address's record (suppressions, counters)."""
        return f"{self.p}:t:{self.tag(tenant, bucket)}:r"

    def dedup(self, tenant: str, bucket: int, digest: str) -> str:
        """Marker that an event was applied; expires after the dedup window."""
        return f"{self.p}:t:{self.tag(tenant, bucket)}:d:{digest}"

    def history(self, tenant: str, bucket: int, address: str) -> str:
        """List of the address's recent events and changes, newest first."""
        return f"{self.p}:t:{self.tag(tenant, bucket)}:h:{address}"

    def scratch(self, tenant: str, bucket: int) -> str:
        """Hash: records replayed by a reclassification (store/reclassify.py), short-lived."""
        return f"{self.p}:t:{self.tag(tenant, bucket)}:rc"

    def history_pattern(self, tenant: str) -> str:
        """SCAN pattern of every history list of a tenant (tenant ids hold no glob characters)."""
        return f"{self.p}:t:{{{tenant}.*}}:h:*"

    # -- per tenant ----------------------------------------------------------------------
    def raw(self, tenant: str, ref: str) -> str:
        return f"{self.p}:t:{{{tenant}}}:raw:{ref}"

    def audit(self, tenant: str) -> str:
        return f"{self.p}:t:{{{tenant}}}:audit"

    def intents(self, tenant: str) -> str:
        """Hash: operation id -> a person's change not yet audited (store/suppressions.py):
        written before the change, removed with its audit entry, finished by a recovery pass."""
        return f"{self.p}:t:{{{tenant}}}:intents"

    def policy(self, tenant: str) -> str:
        return f"{self.p}:t:{{{tenant}}}:policy"

    def companies(self, tenant: str) -> str:
        """Hash: domain -> who opted out of this tenant's mail for the whole organisation."""
        return f"{self.p}:t:{{{tenant}}}:companies"

    def sender_day(self, tenant: str, day: str) -> str:
        """Hash of sender-side failure counters for one UTC day (YYYYMMDD)."""
        return f"{self.p}:t:{{{tenant}}}:snd:{day}"

    def sender_recent(self, tenant: str) -> str:
        """List: the latest sender-side failures, newest first (bounded)."""
        return f"{self.p}:t:{{{tenant}}}:snd:recent"

    # -- per tenant: the review queue (store/review.py, review.lua) ----------------------
    def review_item(self, tenant: str, item_id: str) -> str:
        """Hash: one item of the review queue (evidence, verdict, count, examples, label)."""
        return f"{self.p}:t:{{{tenant}}}:rv:i:{item_id}"

    def review_by_time(self, tenant: str) -> str:
        """Sorted set (by member text): open items, oldest first."""
        return f"{self.p}:t:{{{tenant}}}:rv:open"

    def review_by_count(self, tenant: str) -> str:
        """Sorted set (by member text): open items, most frequent first."""
        return f"{self.p}:t:{{{tenant}}}:rv:count"

    def review_labelled(self, tenant: str) -> str:
        """Sorted set (by member text): labelled items, in the order they were labelled."""
        return f"{self.p}:t:{{{tenant}}}:rv:done"

    def review_stats(self, tenant: str) -> str:
        return f"{self.p}:t:{{{tenant}}}:rv:stats"

    def daily(self, tenant: str, day: str) -> str:
        """Hash of one UTC day's (YYYYMMDD) counters of the tenant's traffic (store/daily.py)."""
        return f"{self.p}:t:{{{tenant}}}:day:{day}"

    # -- per tenant: the console (webhook/console) ------------------------------------------
    def job(self, tenant: str, job_id: str) -> str:
        """Hash: a console job (training, evaluation, reclassification), its progress and result."""
        return f"{self.p}:t:{{{tenant}}}:job:{job_id}"

    def jobs(self, tenant: str) -> str:
        """Sorted set: the tenant's recent console jobs by creation time."""
        return f"{self.p}:t:{{{tenant}}}:jobs"

    def console_session(self, sid: str) -> str:
        """A signed-in console session (tenant, key digest), expiring with it."""
        return f"{self.p}:console:session:{sid}"

    def console_secret(self) -> str:
        """The console's cookie-signing secret, shared by every worker and host."""
        return f"{self.p}:console:secret"

    # -- per tenant: ESP webhooks (issue 5) -----------------------------------------------
    def credentials(self, tenant: str) -> str:
        """Hash: provider -> the tenant's encrypted credentials for that ESP."""
        return f"{self.p}:t:{{{tenant}}}:esp"

    def replay(self, tenant: str, provider: str, digest: str) -> str:
        """Marker that a single-use webhook token was seen; expires after the window."""
        return f"{self.p}:t:{{{tenant}}}:replay:{provider}:{digest}"

    def esp_activity(self, tenant: str) -> str:
        """Hash: per provider, the last stored request and refused ones (store/esp_activity.py);
        outside ``t:{tenant}``, whose data a refused request never touches."""
        return f"{self.p}:espactivity:{tenant}"

    def ignored(self, tenant: str) -> str:
        """Hash: "provider:event type" -> count of authenticated events not ingested."""
        return f"{self.p}:t:{{{tenant}}}:ignored"

    # -- per tenant: bounce intake (issue 17) ---------------------------------------------
    def held_items(self, tenant: str) -> str:
        """Hash: id -> a message held for review (store/held.py)."""
        return f"{self.p}:t:{{{tenant}}}:held:i"

    def held_order(self, tenant: str) -> str:
        """Sorted set: held message ids by when they came."""
        return f"{self.p}:t:{{{tenant}}}:held:t"

    def mailboxes(self, tenant: str) -> str:
        """Hash: mailbox name -> its encrypted settings (store/mailboxes.py)."""
        return f"{self.p}:t:{{{tenant}}}:mbx"

    def mailbox_state(self, tenant: str, name: str) -> str:
        """Hash: a mailbox's progress (last poll, errors, counts, IMAP UIDs)."""
        return f"{self.p}:t:{{{tenant}}}:mbx:{name}:state"

    def mailbox_kept(self, tenant: str, name: str) -> str:
        """Set: UIDLs of POP3 messages left on the server on purpose."""
        return f"{self.p}:t:{{{tenant}}}:mbx:{name}:kept"

    # -- platform ------------------------------------------------------------------------
    def return_paths(self) -> str:
        """Hash: return-path address -> its route to a tenant (store/returnpath.py)."""
        return f"{self.p}:p:{{rp}}:routes"

    def mailbox_index(self) -> str:
        """Set: "tenant/name" of every mailbox Rebound reads."""
        return f"{self.p}:p:{{mbx}}:index"

    def tenants(self) -> str:
        return f"{self.p}:tenants"

    def api_key(self, digest: str) -> str:
        return f"{self.p}:apikey:{digest}"

    def api_keys_of(self, tenant: str) -> str:
        """Hash: key id -> {digest, created} of a tenant's keys, to list and revoke them by id."""
        return f"{self.p}:apikeys:{tenant}"

    def platform_records(self, bucket: int) -> str:
        """Hash: normalised address -> platform facts (operator block, shared bounces, complaints)."""
        return f"{self.p}:p:{{p.{bucket}}}:r"

    def blocked_domains(self) -> str:
        """Hash: domain -> why the operator blocks all mail to it."""
        return f"{self.p}:p:{{pd}}:domains"

    def dns(self, domain: str) -> str:
        """A domain's cached DNS verdict; one hash tag for all, so one MGET reads many."""
        return f"{self.p}:p:{{dns}}:{domain}"

    def platform_audit(self) -> str:
        return f"{self.p}:p:{{pd}}:audit"

    def sharing_givers(self) -> str:
        """Hash: tenant -> the operator's entry allowing it to give bounces to the shared pool."""
        return f"{self.p}:p:{{pd}}:givers"
