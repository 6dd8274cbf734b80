"""Reading an import's records a batch at a time, with what each batch needs of every record:
its JSON as text, that JSON's content hash and size in bytes, and, when asked, its key and its
shape (see schema.py), every record refused as `encode` would refuse it.

A list is read a slice at a time by C-level calls (`map` over the slice), one Python step a
batch instead of a dozen a record: a million records cost 1.2 s in the per-record loop and
0.7 s in slices, 1.8 s and 1.25 s with their shapes counted. So are the lists a source run
hands over (RecordChunks: a JavaScript source's records as parsed from its messages, a JSON
file's array). Any other stream is read record by record, and everything is taken from a
record before the next one is read: a generator may reuse or change a record it yielded, and
what is stored must be what it yielded. A list's records stay as they are until the import
returns. Either way a batch holds at most about READ_AHEAD_BYTES of JSON (twice, in a slice:
the texts, and the texts joined to look for nulls).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate, compress, repeat, takewhile, tee
from operator import countOf, ne
from typing import Any, NamedTuple

import orjson
import xxhash

from manifold_pipelines.sources.base import RecordChunks
from manifold_pipelines.versions.columns import Columns
from manifold_pipelines.versions.records import (
    MAX_RECORD_BYTES,
    KeyFunction,
    check_encoded,
    dumps_record,
    encode,
    not_an_object,
    not_json,
)
from manifold_pipelines.versions.schema import Shapes, count_shapes

BATCH_ROWS = 10_000
BATCH_BYTES = 16 * 2**20
"""Rows are written when either bound is reached: 10,000 records of 900 KB held for one
executemany would be 9 GB."""
READ_AHEAD_BYTES = BATCH_BYTES // 2
"""A batch of records read ahead holds both the records and their JSON: half the JSON of a
batch of rows, so that a streamed import of large records holds no more than it did when each
record was written as it came."""
FIRST_SLICE_ROWS = 16
"""A list's first slice: how large its records are is known only once they are encoded."""
CHUNKED_SLICE_ROWS = 1000
"""Records that come in lists (a source run's) are read once this many are held, or a slice's
worth when they are large: enough that what a batch costs beyond its records stays small, and
few enough that the run answers its script between two batches (a script paging an HTTP API
fetched its next page while the host read 10,000 records in one go: 2.98 s to a first
version of 500,000 records instead of 2.56 s, see sources/sandbox/runner.py)."""
_NULL = re.compile("null")


class Batch(NamedTuple):
    """Records read, with what was taken from each as it was read."""

    records: Sequence[Any]
    digests: list[bytes]
    texts: list[str]
    sizes: list[int]
    keys: list[str | None]


def read_batches(
    records: Iterable[Any],
    where: str,
    key_of: KeyFunction | None = None,
    shapes: Shapes | None = None,
) -> Iterator[Batch]:
    """Every record, in batches of up to BATCH_ROWS records or about READ_AHEAD_BYTES of JSON,
    keyed when `key_of` is given and counted by shape into `shapes` when that is given. The
    caller drops each batch before asking for the next, so that only one is held."""
    if isinstance(records, (list, tuple)):
        return _slices((records,), where, key_of, shapes, parsed=False)
    if isinstance(records, RecordChunks):
        return _slices(records.chunks(), where, key_of, shapes, parsed=records.parsed)
    return _stream(iter(records), where, key_of, shapes)


def _slices(
    chunks: Iterable[Sequence[Any]],
    where: str,
    key_of: KeyFunction | None,
    shapes: Shapes | None,
    *,
    parsed: bool,
) -> Iterator[Batch]:
    """Lists of records, read a slice at a time across them; `parsed` when orjson parsed
    every record from JSON text (see RecordChunks)."""
    reader = _SliceReader(where, key_of, shapes, parsed)
    held: Sequence[Any] = ()
    own: list[Any] = []  # held, when it is not a producer's list but ours
    at = 0  # held[:at] is read
    source = iter(chunks)
    while True:
        try:
            chunk = next(source, None)
        except Exception:
            # What the run handed over before it failed is read first: a bad row in it is the
            # error, as when records came one by one.
            yield from reader.rest(held, at)
            raise
        if chunk is None:
            break
        if at < len(held):  # small lists join into one of our own, extended in place
            if held is not own or at:
                own = list(held[at:])
            own.extend(chunk)
            held = own
        else:
            held = chunk
        at = 0
        while len(held) - at >= min(reader.step, CHUNKED_SLICE_ROWS):
            batch = reader.read(held, at)
            at += len(batch.records)
            yield batch
            del batch  # before the next slice is read
    yield from reader.rest(held, at)


class _SliceReader:
    """Reads slices of lists of records, numbering their rows on: the first slice is
    FIRST_SLICE_ROWS records, each next one as many as make READ_AHEAD_BYTES at the size of the
    records before (at most BATCH_ROWS), and it ends early at the record that brings its JSON to
    READ_AHEAD_BYTES, so that records larger than those before cannot make it hold more."""

    def __init__(
        self, where: str, key_of: KeyFunction | None, shapes: Shapes | None, parsed: bool
    ) -> None:
        self.where, self.key_of, self.shapes, self.parsed = where, key_of, shapes, parsed
        self.start, self.step = 0, FIRST_SLICE_ROWS

    def read(self, records: Sequence[Any], at: int) -> Batch:
        chunk = records[at : at + min(self.step, BATCH_ROWS)]
        batch = _slice(chunk, self.start, self)
        self.start += len(batch.records)
        self.step = max(1, READ_AHEAD_BYTES * len(batch.records) // max(1, sum(batch.sizes)))
        return batch

    def rest(self, records: Sequence[Any], at: int) -> Iterator[Batch]:
        while at < len(records):
            batch = self.read(records, at)
            at += len(batch.records)
            yield batch
            del batch


def _slice(chunk: Sequence[Any], start: int, reader: _SliceReader) -> Batch:
    """The batch of `chunk`'s first records (all, unless their JSON reaches READ_AHEAD_BYTES
    first), the first at row `start`. Holds two copies of its JSON at most: the texts, and
    either the texts joined or the one text being encoded. Records orjson parsed (`parsed`)
    hold no NaN or infinity, which it refuses to parse, and neither does a first import's
    batch whose columns say so (see columns.py): their nulls are not looked at (0.25 s a
    million records with a None in one in twenty)."""
    where = reader.where
    texts = _texts(chunk, start, where)
    chunk = chunk[: len(texts)]
    columns = Columns.of(chunk) if reader.shapes is not None else None
    if reader.parsed or (columns is not None and columns.finite()):
        ascii_only, suspects = all(map(str.isascii, texts)), set()
    else:
        joined = "".join(texts)
        ascii_only = joined.isascii()  # a flag of the string: a test a text cost 0.025 s/M
        suspects = _null_suspects(chunk, texts, joined)
        del joined  # before any text is encoded
    sizes = list(map(len, texts if ascii_only else map(str.encode, texts)))
    digests = list(map(xxhash.xxh3_128_digest, map(str.encode, texts)))
    for offset in _to_check(suspects, sizes):
        check_encoded(chunk[offset], texts[offset].encode(), start + offset, where)
    keys = list(map(reader.key_of, chunk)) if reader.key_of is not None else []
    if reader.shapes is not None:
        count_shapes(reader.shapes, chunk, columns)
    return Batch(chunk, digests, texts, sizes, keys)


def _texts(chunk: Sequence[Any], start: int, where: str) -> list[str]:
    """The records' JSON as text, up to and with the record that brings it to READ_AHEAD_BYTES
    (characters, here), by C-level calls: the texts run alongside their lengths added up, and
    `compress` takes texts for as long as `takewhile` passes the running total before each
    (0.04 s a million records less than pairing each total with its text). The totals start
    at 1, not 0, and the bound is one more: `compress` would take a total of 0 as false and
    drop the first text. The first record that is not a JSON object, or that
    JSON cannot hold, is refused as `encode` refuses it."""
    try:
        if set(map(type, chunk)) == {dict}:
            texts, measured = tee(map(bytes.decode, map(dumps_record, chunk)))
            before = accumulate(map(len, measured), initial=1)
            return list(compress(texts, takewhile((READ_AHEAD_BYTES + 1).__gt__, before)))
    except (TypeError, orjson.JSONEncodeError):
        pass
    for row, record in enumerate(chunk, start):
        encode(record, row, where)
    raise AssertionError("encode refused no record of a slice that failed to encode")


def _null_suspects(chunk: Sequence[Any], texts: list[str], joined: str) -> set[int]:
    """The offsets of the records whose JSON holds more nulls than the record has top-level
    None values: a NaN may be one of them (orjson writes it as null). The nulls are found in
    the batch's JSON `joined` (a null cannot span two records, each is an object): `re` finds a
    literal faster than `str.find` does, 0.06 s a million records against 0.2 s for a search
    a record. Every step is a C-level call over the batch: with a None in every record, a
    Python step and a call of `check_encoded` for each cost 1.1 s a million records more than
    no None at all; a batch whose nulls are all None values, counted as a whole, costs 0.3 s
    more."""
    starts = list(map(re.Match.start, _NULL.finditer(joined)))
    many = len(starts) > len(texts) // 4
    if not starts or (
        many and len(starts) == sum(map(countOf, map(dict.values, chunk), repeat(None)))
    ):
        return set()  # no null, or every null is a None: nothing is left to check
    ends = list(accumulate(map(len, texts)))
    holding = sorted(set(map(bisect_right, repeat(ends), starts)))
    # picked into lists first: pulling them through the maps below cost half as much again
    held_texts = list(map(texts.__getitem__, holding))
    held = list(map(chunk.__getitem__, holding))
    nulls = map(str.count, held_texts, repeat("null"))
    nones = map(countOf, map(dict.values, held), repeat(None))
    return set(compress(holding, map(ne, nulls, nones)))


def _to_check(suspects: set[int], sizes: list[int]) -> list[int]:
    """The offsets, in order, of the records `check_encoded` can refuse: the `suspects` of a
    NaN and those over the limit."""
    if max(sizes) > MAX_RECORD_BYTES:
        suspects |= set(compress(range(len(sizes)), map(MAX_RECORD_BYTES.__lt__, sizes)))
    return sorted(suspects)


def _stream(
    records: Iterator[Any], where: str, key_of: KeyFunction | None, shapes: Shapes | None
) -> Iterator[Batch]:
    start = 0
    while True:
        batch = _next_batch(records, start, where, key_of, shapes)
        if not batch.records:
            return
        start += len(batch.records)
        yield batch
        del batch  # before the next batch is read


def _next_batch(
    records: Iterator[Any],
    start: int,
    where: str,
    key_of: KeyFunction | None,
    shapes: Shapes | None,
) -> Batch:
    """The next records of a stream (the first at row `start`), up to BATCH_ROWS of them or
    READ_AHEAD_BYTES of JSON. The JSON is kept as text: orjson gives each result a buffer of
    4 KB or more, and holding a batch of those cost more than hashing it."""
    digest_of, dumps = xxhash.xxh3_128_digest, dumps_record
    chunk: list[Any] = []
    batch = Batch(chunk, [], [], [], [])
    _, digests, texts, sizes, keys = batch
    size = 0
    for record in records:
        # encode() inline: a call per record costs more than the checks
        row = start + len(chunk)
        if type(record) is not dict:
            raise not_an_object(record, row, where)
        try:
            blob = dumps(record)
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise not_json(exc, row, where, record) from exc
        if len(blob) > MAX_RECORD_BYTES or (
            b"null" in blob and blob.count(b"null") != countOf(record.values(), None)
        ):
            check_encoded(record, blob, row, where)
        chunk.append(record)
        digests.append(digest_of(blob))
        texts.append(blob.decode())
        sizes.append(len(blob))
        if key_of is not None:
            keys.append(key_of(record))
        if shapes is not None:
            shapes[(tuple(record), tuple(map(type, record.values())))] += 1
        size += len(blob)
        if len(chunk) >= BATCH_ROWS or size >= READ_AHEAD_BYTES:
            break
    return batch
