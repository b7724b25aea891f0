"""Features of one piece of evidence: character n-grams, word n-grams and code tokens.

- Character n-grams (2 to 4) carry the wording across languages without a tokeniser
  (Japanese and Chinese have no spaces) and survive spelling variants and typos.
- Word unigrams and bigrams: short phrases such as "user unknown" or "relay denied" weigh
  more as words than as a bag of fragments.
- Both are hashed (see :mod:`classifier.model.hashing`, vectorised over the batch) and
  weighted by inverse document frequency (see ``_block``).
- Code tokens: the enhanced status code at three levels (class, class.subject, full) plus
  subject.detail regardless of class, the reply code and its class, the SMTP phase (or
  that none was stated), the reporting provider, the event kind, the provider's own class
  (``auto-reply`` for a recognised auto-reply), and the reason the RFC 3463 table alone would give. Codes come from the evidence's fields, or from the text when the
  fields are empty, so a code counts the same wherever the reporter put it.
- Phase words: when the SMTP phase is known, every word again, hashed together with the
  phase. The same words mean different things at different points of the conversation
  ("user unknown" after RCPT TO is a missing mailbox, after DATA a filter, at MAIL FROM
  the sender), which a linear model over words and a separate phase token cannot express.

- Context words: the words within :data:`WINDOW` of the anchors that name *what* failed
  ("user", "mailbox", "recipient", "account", "domain", "host", "spam", "policy", ...), as
  ``anchor~word`` tokens, and whether a negation stands near the anchor (``anchor!``).
  "no such user", "user does not exist", "the user you tried is unknown" share
  ``user~such``/``user!`` and ``user~unknown`` whatever words stand between: what one
  vendor says in its own order carries to another (issue 12), where adjacent n-grams do not.

All blocks are L2-normalised and weighted, then stacked into one sparse matrix.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifier.events import Evidence
from classifier.model import hashing
from classifier.model.normalise import normalise_batch
from classifier.rules.status_codes import REPLY_RE, STATUS_RE, lookup_status


def evidence_row(x) -> tuple[str, str | None, str | None, str | None, str | None, str | None, str | None]:
    """The fields the model reads, from an :class:`Evidence` or a training record (dict):
    diagnostic, status, reply code, SMTP phase, provider, kind, provider class."""
    if isinstance(x, Evidence):
        kind = x.kind.value if x.kind is not None else None
        return (x.diagnostic or "", x.status, x.reply_code, x.smtp_phase, x.provider, kind, x.provider_class)
    if isinstance(x, dict):
        kind = x.get("kind")
        kind = getattr(kind, "value", kind)
        return (x.get("diagnostic") or "", x.get("status"), x.get("reply_code"),
                x.get("smtp_phase"), x.get("provider"), kind, x.get("provider_class"))
    raise TypeError(f"expected Evidence or a training record (dict), got {type(x).__name__}")


def code_tokens(status: str | None, reply: str | None, phase: str | None, provider: str | None,
                kind: str | None, text: str, provider_class: str | None = None) -> list[str]:
    st = STATUS_RE.search(status or "") or STATUS_RE.search(text)
    rc = REPLY_RE.match(reply or "") or _first_reply(text)
    return list(_tokens_of(st.group(0) if st else None, rc.group(1) if rc else None, phase, provider, kind,
                           provider_class))


@functools.lru_cache(maxsize=16384)
def _tokens_of(status: str | None, reply: str | None, phase: str | None, provider: str | None,
               kind: str | None, provider_class: str | None) -> tuple[str, ...]:
    """The code tokens of one combination of codes: few combinations recur across a batch,
    so they are built once (a fifth of the feature step's cost before)."""
    toks = []
    if status:
        c, s, d = status.split(".")
        toks += [f"sc={c}", f"ss={c}.{s}", f"sf={c}.{s}.{d}", f"sd={s}.{d}", f"su={s}"]
        found = lookup_status(status)
        if found:
            toks.append(f"tbl={found[0]}")
    else:
        toks.append("sf=none")
    if reply:
        toks += [f"rc={reply}", f"rcc={reply[0]}"]
    else:
        toks.append("rc=none")
    ph = phase.strip().lower() if phase else "none"
    toks.append(f"ph={ph}")
    # where it was said, with what the code says of the subject: "user unknown" with an
    # X.1.x code after DATA is still the mailbox, without one it is a filter
    toks.append(f"pss={ph}.{status.split('.')[1] if status else 'none'}")
    if provider:
        toks.append(f"pv={provider.strip().lower()}")
    if kind:
        toks.append(f"kd={kind}")
    if provider_class:
        toks.append(f"pc={provider_class.strip().lower()}")
    return tuple(toks)


def _first_reply(text: str):
    """A reply code at the start of the text or of a line, or after ``smtp;``/``said:``."""
    m = REPLY_RE.match(text)
    if m:
        return m
    for marker in ("\n", "smtp;", "said:", "]: ", "<<< ", "#"):
        i = text.find(marker)
        if i >= 0:
            m = REPLY_RE.match(text, i + len(marker))
            if m:
                return m
    return None


#: Words whose neighbours say what failed (see the module docstring), and how far around.
ANCHORS = frozenset({"user", "users", "mailbox", "mailboxes", "recipient", "recipients", "account", "address",
                     "addressee", "domain", "host", "spam", "policy", "quota", "sender", "relay", "relaying",
                     "content", "message", "reputation", "rate", "connection", "dns", "storage", "name"})
NEGATIONS = frozenset({"no", "not", "non", "never", "nonexistent", "unknown", "invalid", "doesn't", "don't",
                       "isn't", "cannot", "can't", "unable", "without", "inactive", "disabled", "n't"})
WINDOW = 3
_STOP = frozenset({"the", "a", "an", "to", "of", "in", "for", "is", "this", "that", "on", "at", "by", "with",
                   "and", "or", "be", "was", "has", "have", "your", "you", "our", "we", "it", "from", "please",
                   "are", "as", "its", "will", "been"})
_WORD = re.compile(r"[a-z][a-z']*")


def context_tokens(text: str, pending: bool = False) -> tuple[str, ...]:
    """``anchor~word`` for the words near each anchor, ``anchor!`` when a negation is near,
    from a normalised (lower-case) text; for a deferral (``pending``) each token once more
    with a ``4:`` prefix: "connection timed out" while the sender still retries is the
    cause of a delay (``networkerror``), in a final report the reason it gave up
    (``expired``), and a linear model needs the pair to tell them apart."""
    words = [w for w in _WORD.findall(text) if w not in _STOP]
    out = set()
    for i, w in enumerate(words):
        if w not in ANCHORS:
            continue
        anchor = w.rstrip("s") if w in ("users", "mailboxes", "recipients") else w
        near = words[max(0, i - WINDOW):i] + words[i + 1:i + 1 + WINDOW]
        for n in near:
            if n != w:
                out.add(f"{anchor}~{n}")
            if n in NEGATIONS or n.endswith("n't"):
                out.add(f"{anchor}!")
    if pending:
        out |= {f"4:{t}" for t in out}
    return tuple(sorted(out))


#: Salt of the phase-word block per stated SMTP phase (0: no block for the row).
PHASE_SALTS = {"RCPT": 11, "DATA": 13, "MAIL": 17, "CONN": 19, "HELO": 23}
_OTHER_PHASE_SALT = 29


def _phase_salt(phase: str | None) -> int:
    if not phase:
        return 0
    return PHASE_SALTS.get(phase.strip().upper(), _OTHER_PHASE_SALT)


class EvidenceFeatures(TransformerMixin, BaseEstimator):
    """Evidence (or training records) -> one sparse feature matrix. See the module docstring."""

    #: Models saved before the phase-word block existed have none (see ``_phase_block``).
    phase_word_weight = 0.0
    n_phase_features = 2 ** 16
    #: ... nor, before issue 12, the context-word block.
    context_weight = 0.0

    def __init__(self, char_ngram_range=(2, 4), n_char_features=2 ** 19, word_ngram_range=(1, 2),
                 n_word_features=2 ** 18, min_df=2, char_weight=1.0, word_weight=0.7,
                 code_weight=0.8, max_chars=1000, phase_word_weight=0.7, n_phase_features=2 ** 16,
                 context_weight=0.5):
        self.char_ngram_range = char_ngram_range
        self.n_char_features = n_char_features
        self.word_ngram_range = word_ngram_range
        self.n_word_features = n_word_features
        self.min_df = min_df
        self.char_weight = char_weight
        self.word_weight = word_weight
        self.code_weight = code_weight
        self.max_chars = max_chars
        self.phase_word_weight = phase_word_weight
        self.n_phase_features = n_phase_features
        self.context_weight = context_weight

    # -- shared by fit and transform -------------------------------------------------
    def _distinct(self, X: Iterable) -> tuple[list[str], list[list[str]], np.ndarray, np.ndarray, list[bool]]:
        """Normalised text, code tokens, phase salt and whether it is a deferral, per *distinct*
        row, and each row's index into them.

        Batches repeat the same evidence many times (one bounce campaign, one block); each
        distinct row is normalised and vectorised once.
        """
        index: dict[tuple, int] = {}
        where = [index.setdefault(evidence_row(x), len(index)) for x in X]
        uniq = list(index)
        texts = normalise_batch([r[0][: self.max_chars] for r in uniq])
        codes = [code_tokens(r[1], r[2], r[3], r[4], r[5], r[0], r[6]) for r in uniq]
        salts = np.fromiter((_phase_salt(r[3]) for r in uniq), dtype=np.uint64, count=len(uniq))
        pending = [r[5] == "deferral" for r in uniq]
        return texts, codes, np.asarray(where, dtype=np.int64), salts, pending

    def _phase_block(self) -> bool:
        return self.phase_word_weight > 0 and getattr(self, "phase_map_", None) is not None

    def _ngrams(self, enc: hashing.Encoded, salts: np.ndarray, spans: bool = False, fitting: bool = False):
        """Hashed character, word and phase-word n-grams of the batch, before any column
        mapping (no phase words for a model without that block)."""
        words = hashing.Words(enc)
        out = [hashing.char_ngrams(enc, *self.char_ngram_range, self.n_char_features, spans=spans),
               hashing.word_ngrams(enc, *self.word_ngram_range, self.n_word_features, spans=spans, words=words)]
        if self.phase_word_weight > 0 and (fitting or self._phase_block()):
            out.append(hashing.salted_words(words, salts, self.n_phase_features, spans=spans))
        return out

    @staticmethod
    def _block(rows: np.ndarray, cols: np.ndarray, n_docs: int, col_map: np.ndarray, idf: np.ndarray,
               weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, values) of one block, each row scaled to length ``weight``.

        Hashed columns not seen in training are dropped (they have no coefficient) and the
        rest renumbered compactly: the model stores one coefficient per kept column, not per
        hash bucket. Each occurrence weighs its idf, and repeated n-grams stay separate
        entries: k repeats weigh k*idf against a norm growing with sqrt(k), a dampened term
        frequency without sorting rows to sum duplicates.
        """
        mapped = col_map[cols]
        keep = mapped >= 0
        rows, cols = rows[keep], mapped[keep]
        vals = idf[cols]
        with np.errstate(divide="ignore"):       # rows without entries: never indexed below
            scale = (weight / np.sqrt(np.bincount(rows, weights=vals * vals, minlength=n_docs)))
        vals *= scale.astype(np.float32)[rows]
        return rows, cols, vals

    def _context_block(self, texts: list[str], pending: list[bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._token_block([context_tokens(t, p) for t, p in zip(texts, pending)], self.context_vocabulary_,
                                 self.context_weight)

    def _has_context(self) -> bool:
        return self.context_weight > 0 and getattr(self, "context_vocabulary_", None) is not None

    def _code_block(self, codes: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._token_block(codes, self.code_vocabulary_, self.code_weight)

    @staticmethod
    def _token_block(tokens: list, vocab: dict[str, int], weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows, cols = [], []
        for i, toks in enumerate(tokens):
            found = [vocab[t] for t in toks if t in vocab]
            cols.extend(found)
            rows.extend([i] * len(found))
        rows_a = np.asarray(rows, dtype=np.int64)
        counts = np.bincount(rows_a, minlength=len(tokens))
        vals = weight / np.sqrt(np.maximum(counts[rows_a], 1))
        return rows_a, np.asarray(cols, dtype=np.int64), vals.astype(np.float32)

    # -- estimator API ----------------------------------------------------------------
    def fit(self, X, y=None):
        texts, codes, where, salts, pending = self._distinct(X)
        n = len(where)
        enc = hashing.Encoded(texts)
        fitted = []
        sizes = (self.n_char_features, self.n_word_features, self.n_phase_features)
        for (rows, cols), size in zip(self._ngrams(enc, salts, fitting=True), sizes):
            m = hashing.occurrences(rows, cols, enc.n_docs, size)
            m.sum_duplicates()                   # document frequency: once per row ...
            df = np.bincount(m[where].indices, minlength=size)   # ... and per repeated row
            kept = np.flatnonzero(df >= self.min_df)
            col_map = np.full(size, -1, dtype=np.int32)
            col_map[kept] = np.arange(kept.shape[0], dtype=np.int32)
            fitted.append((col_map, (np.log((1 + n) / (1 + df[kept])) + 1).astype(np.float32)))
        (self.char_map_, self.char_idf_), (self.word_map_, self.word_idf_) = fitted[:2]
        self.phase_map_, self.phase_idf_ = fitted[2] if len(fitted) > 2 else (None, None)
        vocab = sorted({t for toks in codes for t in toks})
        self.code_vocabulary_ = {t: i for i, t in enumerate(vocab)}
        self.n_features_out_ = sum(b.shape[0] for b in self._idfs()) + len(vocab)
        if self.context_weight > 0:
            seen: dict[str, int] = {}
            for i in where.tolist():                 # counted per row, repeats included
                for t in context_tokens(texts[i], pending[i]):
                    seen[t] = seen.get(t, 0) + 1
            kept = sorted(t for t, n in seen.items() if n >= self.min_df)
            self.context_vocabulary_ = {t: i for i, t in enumerate(kept)}
            self.n_features_out_ += len(kept)
        return self

    def _idfs(self) -> list[np.ndarray]:
        """The idf vectors of the hashed blocks, in column order."""
        out = [self.char_idf_, self.word_idf_]
        if self._phase_block():
            out.append(self.phase_idf_)
        return out

    def transform(self, X) -> sp.csr_matrix:
        return self.matrix(X)

    def entries(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
        """(rows, columns, values) of the feature matrix of the *distinct* rows of ``X``, their
        number, and the distinct row of each row of ``X``. Entries are not sorted: a COO
        product needs no order, and sorting is a fifth of the cost of a batch."""
        texts, codes, where, salts, pending = self._distinct(X)
        enc = hashing.Encoded(texts)
        grams = self._ngrams(enc, salts)
        n = enc.n_docs
        maps = [(self.char_map_, self.char_idf_, self.char_weight),
                (self.word_map_, self.word_idf_, self.word_weight)]
        if len(grams) > 2:
            maps.append((self.phase_map_, self.phase_idf_, self.phase_word_weight))
        blocks = [self._block(rows, cols, n, *m) for (rows, cols), m in zip(grams, maps)]
        blocks.append(self._code_block(codes))
        sizes = [b.shape[0] for b in self._idfs()] + [len(self.code_vocabulary_)]
        if self._has_context():
            blocks.append(self._context_block(texts, pending))
        offsets = np.cumsum([0] + sizes)
        rows = np.concatenate([b[0] for b in blocks])
        cols = np.concatenate([b[1] + off for b, off in zip(blocks, offsets)])
        vals = np.concatenate([b[2] for b in blocks])
        return rows, cols, vals, n, where

    def matrix(self, X) -> sp.csr_matrix:
        """The transform without scikit-learn's output wrapping, as one CSR matrix."""
        rows, cols, vals, n, where = self.entries(X)
        order = np.argsort(rows, kind="stable")
        indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        m = sp.csr_matrix((vals[order], cols[order].astype(np.int32), indptr),
                          shape=(n, self.n_features_out_))
        if len(where) == n:                      # no repeats: rows are already in order
            return m
        return m[where]

    # -- explanations ------------------------------------------------------------------
    def feature_names_of(self, x) -> dict[int, str]:
        """Column -> readable name for the features one piece of evidence activates."""
        (text,), (codes,), _, salts, (pending,) = self._distinct([x])
        padded = f" {text} "
        grams = self._ngrams(hashing.Encoded([text]), salts, spans=True)
        (_, ccols, cstarts, clens), (_, wcols, wstarts, wends) = grams[:2]
        names: dict[int, str] = {}
        for c, s, n in zip(self.char_map_[ccols].tolist(), cstarts.tolist(), clens.tolist()):
            if c >= 0:
                names.setdefault(c, f"chars:{padded[s:s + n]!r}")
        off = self.char_idf_.shape[0]
        for c, s, e in zip(self.word_map_[wcols].tolist(), wstarts.tolist(), wends.tolist()):
            if c >= 0:
                names.setdefault(off + c, f"words:{padded[s:e]}")
        off += self.word_idf_.shape[0]
        if len(grams) > 2:
            phase = evidence_row(x)[3]
            _, pcols, pstarts, pends = grams[2]
            for c, s, e in zip(self.phase_map_[pcols].tolist(), pstarts.tolist(), pends.tolist()):
                if c >= 0:
                    names.setdefault(off + c, f"words@{phase}:{padded[s:e]}")
            off += self.phase_idf_.shape[0]
        for t in codes:
            if t in self.code_vocabulary_:
                names[off + self.code_vocabulary_[t]] = f"code:{t}"
        if self._has_context():
            off += len(self.code_vocabulary_)
            for t in context_tokens(text, pending):
                if t in self.context_vocabulary_:
                    names[off + self.context_vocabulary_[t]] = f"context:{t}"
        return names
