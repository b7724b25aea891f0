"""Hashed character and word n-grams of a whole batch at once, with numpy.

scikit-learn's text vectorisers walk every n-gram of every text in Python; at bounce-text
lengths that caps prediction near 12,000 texts a second on two cores. Here the batch is one
array of code points and every n-gram's hash is computed by array arithmetic:

- characters: the hash of the n-gram at i is built from the (n-1)-gram's by one
  multiply-add; n-grams that would cross a record boundary are dropped;
- words (maximal runs of letters, digits and ``_``; any non-ASCII character that is not
  punctuation counts as a letter, so CJK text forms words too): prefix sums of
  ``code * R**i`` give each word's hash in O(1); bigrams combine neighbouring words of the
  same record.

Hashes use fixed constants and 64-bit wrap-around arithmetic: the same text gets the same
columns on every machine and in every process (Python's own ``hash`` is salted).
The functions also return each n-gram's span, so an explanation can name the n-grams.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

_MIX = np.uint64(0x9E3779B97F4A7C15)
_PRIME = np.uint64(1_000_003)
_R = 0x100000001B3                       # odd, so invertible modulo 2**64
_R_INV = pow(_R, -1, 2 ** 64)
_BIGRAM = np.uint64(0xC2B2AE3D27D4EB4F)
_SALT_WORD, _SALT_BIGRAM = np.uint64(101), np.uint64(202)

# Code points below 128 that belong to words; above 128, everything but this punctuation.
_ASCII_WORD = np.zeros(128, dtype=bool)
for _c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _ASCII_WORD[ord(_c)] = True
_WIDE_PUNCT = np.array(sorted(map(ord, "\u00a0\u00ab\u00bb\u2013\u2014\u2018\u2019\u201c\u201d"
                                       "\u2026\u3000\u3001\u3002\u300c\u300d\u300e\u300f"
                                       "\u3010\u3011\uff08\uff09\uff0c\uff0e\uff1a\uff1b"
                                       "\uff01\uff1f\uff3b\uff3d")), dtype=np.uint64)


class Encoded:
    """A batch as code points: ``codes`` with a 0 after every record, ``doc`` per position."""

    __slots__ = ("codes", "doc", "n_docs", "room")

    def __init__(self, texts: Sequence[str]):
        joined = "\x00".join(f" {t} " for t in texts) + "\x00"
        self.codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        seps = np.flatnonzero(self.codes == 0)
        lengths = np.diff(np.concatenate(([-1], seps)))          # record length + its separator
        self.doc = np.repeat(np.arange(len(texts), dtype=np.int32), lengths)
        # characters left before the record's separator: an n-gram at i fits if room[i] >= n
        self.room = seps[self.doc] - np.arange(self.codes.shape[0])
        self.n_docs = len(texts)


def _bucket(h: np.ndarray, n_features: int) -> np.ndarray:
    """Multiplicative hashing: the top bits of h * golden ratio (n_features a power of 2)."""
    bits = n_features.bit_length() - 1
    if n_features != 1 << bits:
        raise ValueError(f"the number of hashed features must be a power of 2, not {n_features}")
    with np.errstate(over="ignore"):
        return ((h * _MIX) >> np.uint64(64 - bits)).astype(np.int32)


def char_ngrams(enc: Encoded, lo: int, hi: int, n_features: int, spans: bool = False):
    """(rows, columns[, starts, lengths]) of every character n-gram, lo <= n <= hi."""
    codes, length = enc.codes, enc.codes.shape[0]
    h = np.zeros(length, dtype=np.uint64)
    rows, cols, starts, lens = [], [], [], []
    with np.errstate(over="ignore"):
        for n in range(1, hi + 1):
            m = length - n + 1
            h[:m] = h[:m] * _PRIME + codes[n - 1:]
            if n < lo:
                continue
            ok = np.flatnonzero(enc.room[:m] >= n)
            cols.append(_bucket(h[ok] + np.uint64(n), n_features))
            rows.append(enc.doc[ok])
            if spans:
                starts.append(ok)
                lens.append(np.full(ok.shape[0], n))
    out = (np.concatenate(rows), np.concatenate(cols))
    return out + (np.concatenate(starts), np.concatenate(lens)) if spans else out


def _word_mask(codes: np.ndarray) -> np.ndarray:
    ascii_ = codes < 128
    word = np.zeros(codes.shape[0], dtype=bool)
    word[ascii_] = _ASCII_WORD[codes[ascii_].astype(np.intp)]
    wide = ~ascii_
    word[wide] = ~np.isin(codes[wide], _WIDE_PUNCT)
    return word


class Words:
    """Every word of a batch: start, end, hash and record; computed once, read by
    :func:`word_ngrams` and :func:`salted_words`."""

    __slots__ = ("start", "end", "hash", "doc")

    def __init__(self, enc: Encoded):
        codes = enc.codes
        word = _word_mask(codes)
        edge = np.diff(np.concatenate(([False], word, [False])).astype(np.int8))
        s = np.flatnonzero(edge == 1)
        e = np.flatnonzero(edge == -1)
        n = codes.shape[0]
        with np.errstate(over="ignore"):
            powers = np.empty(n + 1, dtype=np.uint64)
            powers[0] = 1
            powers[1:] = np.uint64(_R)
            np.cumprod(powers, out=powers)
            inv = np.empty(n + 1, dtype=np.uint64)
            inv[0] = 1
            inv[1:] = np.uint64(_R_INV)
            np.cumprod(inv, out=inv)
            prefix = np.zeros(n + 1, dtype=np.uint64)    # (a Python 0 here would promote to float64)
            np.cumsum(codes * powers[:n], out=prefix[1:])
            self.hash = (prefix[e] - prefix[s]) * inv[s]
        self.start, self.end, self.doc = s, e, enc.doc[s]


def word_ngrams(enc: Encoded, lo: int, hi: int, n_features: int, spans: bool = False,
                words: Words | None = None):
    """(rows, columns[, starts, ends]) of word unigrams and/or bigrams (hi <= 2)."""
    if hi > 2:
        raise ValueError("word n-grams are supported up to bigrams")
    w = words if words is not None else Words(enc)
    s, e, wh, doc = w.start, w.end, w.hash, w.doc
    rows, cols, starts, ends = [], [], [], []
    with np.errstate(over="ignore"):
        if lo <= 1:
            rows.append(doc)
            cols.append(_bucket(wh + _SALT_WORD, n_features))
            starts.append(s)
            ends.append(e)
        if hi >= 2 and s.shape[0] > 1:
            same = np.flatnonzero(doc[1:] == doc[:-1])
            rows.append(doc[same])
            cols.append(_bucket(wh[same] * _BIGRAM + wh[same + 1] + _SALT_BIGRAM, n_features))
            starts.append(s[same])
            ends.append(e[same + 1])
    out = (np.concatenate(rows), np.concatenate(cols))
    return out + (np.concatenate(starts), np.concatenate(ends)) if spans else out


def salted_words(words: Words, row_salt: np.ndarray, n_features: int, spans: bool = False):
    """(rows, columns[, starts, ends]) of word unigrams hashed together with their record's
    salt (one uint64 per record; none for records whose salt is 0): the same word in
    different contexts (e.g. SMTP phases) lands in different columns."""
    salt = row_salt[words.doc]
    keep = np.flatnonzero(salt != 0)
    with np.errstate(over="ignore"):
        out = (words.doc[keep], _bucket(words.hash[keep] * _BIGRAM + salt[keep], n_features))
    return out + (words.start[keep], words.end[keep]) if spans else out


def occurrences(rows: np.ndarray, cols: np.ndarray, n_docs: int, n_features: int) -> sp.csr_matrix:
    """One entry of 1.0 per occurrence, grouped by row; repeated n-grams stay separate entries.

    Not summing duplicates saves sorting every row (the largest cost of a transform); all
    that reads the matrix is linear in its entries (products, idf scaling), so it is the same
    matrix for the classifier. ``rows`` is a concatenation of sorted runs, which a stable
    sort merges in near-linear time.
    """
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_docs + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
    return sp.csr_matrix((np.ones(rows.shape[0], dtype=np.float32), cols[order], indptr),
                         shape=(n_docs, n_features))
