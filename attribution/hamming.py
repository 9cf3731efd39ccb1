"""Exact Hamming-radius search over issued fingerprints.

Fingerprints are packed 8 bits a byte (`pack`); a length that is not a multiple of 8 is
padded with zero bits, the same in every code, so distances do not change.

`HammingIndex` answers "which fingerprints lie within t bits of this code, and how far"
exactly, by multi-index hashing in numpy. The code is cut into m = t + 1 disjoint
substrings; a fingerprint within t bits of the query differs from it in at most t bits, so
by pigeonhole at least one substring is equal in both. For each substring the index keeps
the rows sorted by that substring (the key) with bucket offsets, so all fingerprints that
share the query's key are one contiguous run, and next to each a 32-bit filter: other bits
of the same fingerprint. A query reads its m runs, drops the candidates whose filter alone
is more than t bits off, and checks the full distance of the rest. When the substrings would
be shorter than MIN_SUBSTRING_BITS (t close to the length) the index scans every
fingerprint instead (FAISS `IndexBinaryFlat`). Both are compared with a numpy brute force
(`brute_force_search`) in the tests.
"""

import io

import numpy as np

import dnnlib

MIN_SUBSTRING_BITS = 8  # shorter keys put a large share of all fingerprints into every bucket
MAX_KEY_BITS = 24  # bucket offsets: 2^bits entries per substring
FILTER_BITS = 32  # a random 32-bit filter is within t = 6 bits of the query's with p ~ 3e-4
CANDIDATES_PER_CHUNK = 1 << 20  # bounds the memory of one batch of queries (~15 MB)
_BYTE_POPCOUNT = np.array([bin(byte).count('1') for byte in range(256)], np.uint8)  # numpy < 2 has no bitwise_count


def pack(bits):
    """0/1 array [n, d] -> uint8 [n, ceil(d / 8)], first bit in the high bit of the first byte."""
    return np.packbits(np.asarray(bits, np.uint8), axis=-1)


def unpack(codes, num_bits):
    return np.unpackbits(np.asarray(codes, np.uint8), axis=-1)[..., :num_bits]


def popcount_distances(codes, query):
    """Hamming distances between every row of codes [n, bytes] and one code [bytes] (numpy reference)."""
    return _BYTE_POPCOUNT[np.bitwise_xor(codes, query)].sum(axis=1, dtype=np.int32)


def brute_force_search(codes, queries, radius):
    """Per query, (row indices, distances) of the codes within `radius` bits, by row (numpy reference)."""
    results = []
    for query in np.asarray(queries, np.uint8):
        distances = popcount_distances(codes, query)
        rows = np.flatnonzero(distances <= radius)
        results.append((rows, distances[rows]))
    return results


def _popcount(words):
    """Set bits per element of an unsigned integer array, as uint8."""
    if hasattr(np, 'bitwise_count'):
        return np.bitwise_count(words)
    return _BYTE_POPCOUNT[words.view(np.uint8)].reshape(words.shape + (-1,)).sum(axis=-1, dtype=np.uint8)


def _words(codes, num_words):
    """Packed codes [n, bytes] -> uint64 [n, num_words], bit 0 the most significant bit of word 0.
    Column-major: keys and filters are read a word column at a time."""
    padded = np.zeros((len(codes), 8 * num_words), np.uint8)
    padded[:, :codes.shape[1]] = codes
    return np.asfortranarray(padded.view('>u8'), np.uint64)


def _bits(words, start, length):
    """Bits [start, start + length) of every row of words, as an integer (uint64); length <= 64."""
    word, offset = divmod(start, 64)
    if offset + length <= 64:
        value = words[:, word] >> np.uint64(64 - offset - length)
    else:  # the run continues into the next word
        rest = offset + length - 64
        value = words[:, word] << np.uint64(rest)
        value |= words[:, word + 1] >> np.uint64(64 - rest)
    value &= np.uint64((1 << length) - 1)  # in place: fresh arrays of 1e7 rows cost page faults
    return value


def multihash_plan(num_bits, radius):
    """The m = radius + 1 disjoint substrings (start, length) that cover the code, or None when
    they would be shorter than MIN_SUBSTRING_BITS bits."""
    substrings = radius + 1
    if num_bits // substrings < MIN_SUBSTRING_BITS:
        return None
    lengths = [num_bits // substrings + (i < num_bits % substrings) for i in range(substrings)]
    starts = np.cumsum([0] + lengths[:-1])
    return tuple((int(start), length) for start, length in zip(starts, lengths))


class HammingIndex:
    """An exact radius search over packed fingerprints with ids.

    codes: uint8 [n, bytes] from pack(); ids: int64 [n]; radius: the largest distance searched.
    """

    def __init__(self, codes, ids, num_bits, radius, orders=None):
        self.num_bits, self.radius = int(num_bits), int(radius)
        self.code_bits = 8 * ((self.num_bits + 7) // 8)
        self.ids = np.asarray(ids, np.int64)
        codes = np.ascontiguousarray(codes, np.uint8).reshape(len(self.ids), self.code_bits // 8)
        self.plan = multihash_plan(self.num_bits, self.radius)
        if self.plan is None:
            import faiss  # pylint: disable=import-outside-toplevel
            self._flat = faiss.IndexBinaryFlat(self.code_bits)
            if len(codes):
                self._flat.add(codes)
            self._codes = codes
        else:
            self._build(codes, orders)

    def _build(self, codes, orders):
        size = len(self.ids)
        self._words = _words(codes, (self.code_bits + 63) // 64)
        # A key longer than log2(n) bits mostly indexes empty buckets.
        key_bits = min(MAX_KEY_BITS, max(MIN_SUBSTRING_BITS, size.bit_length()))
        self._keys, self._filters = [], []
        for start, length in self.plan:
            key = (start, min(length, key_bits))
            after = (start + key[1], min(FILTER_BITS, self.num_bits - start - key[1]))
            before = (0, min(FILTER_BITS - after[1], start))
            self._keys.append(key)
            self._filters.append(tuple(part for part in (after, before) if part[1]))
        position = np.int32 if len(self.plan) * size < 2 ** 31 else np.int64
        self._orders = np.empty((len(self.plan), size), position) if orders is None else orders.astype(position)
        self._sorted_filters = np.empty((len(self.plan), size), np.uint32)
        self._offsets = []
        for j, key in enumerate(self._keys):
            keys = _bits(self._words, *key).astype(np.uint32)
            if orders is None:
                self._orders[j] = np.argsort(keys)
            counts = np.bincount(keys, minlength=1 << key[1])
            offsets = np.empty(len(counts) + 1, position)
            offsets[0] = j * size
            np.cumsum(counts, out=offsets[1:])
            offsets[1:] += j * size
            self._offsets.append(offsets)
            self._sorted_filters[j] = self._filter(self._words, j)[self._orders[j]]
        self._sorted_filters = self._sorted_filters.reshape(-1)
        self._flat_orders = self._orders.reshape(-1)

    def _filter(self, words, j):
        value = np.zeros(len(words), np.uint64)
        for start, length in self._filters[j]:
            value <<= np.uint64(length)
            value |= _bits(words, start, length)
        return value.astype(np.uint32)

    @property
    def kind(self):
        if self.plan is None:
            return 'flat scan'
        keys = sorted({length for _, length in self._keys})
        return 'multi-index hashing: %d substrings, keys of %s bits' % (len(self.plan), '/'.join(map(str, keys)))

    def __len__(self):
        return len(self.ids)

    def search(self, queries):
        """Per query, (ids, distances) of the fingerprints within the radius, nearest first (ties by id)."""
        queries = np.ascontiguousarray(queries, np.uint8).reshape(-1, self.code_bits // 8)
        if not len(self.ids) or not len(queries):
            return [(np.zeros(0, np.int64), np.zeros(0, np.int32)) for _ in queries]
        if self.plan is None:
            rows, query_of, distances = self._scan(queries)
        else:
            rows, query_of, distances = self._probe(queries)
        found_ids = self.ids[rows]
        order = np.lexsort((found_ids, distances, query_of))
        found_ids, distances = found_ids[order], distances[order]
        ends = np.cumsum(np.bincount(query_of, minlength=len(queries))).tolist()
        return [(found_ids[begin:end], distances[begin:end]) for begin, end in zip([0] + ends[:-1], ends)]

    def _scan(self, queries):
        # FAISS returns distances strictly below the radius it is given.
        limits, distances, rows = self._flat.range_search(queries, self.radius + 1)
        query_of = np.repeat(np.arange(len(queries)), np.diff(limits.astype(np.int64)))
        return rows, query_of, distances.astype(np.int32)

    def _probe(self, queries):
        """(rows, query indices, distances) of every fingerprint within the radius of a query."""
        words = _words(queries, self._words.shape[1])
        substrings = len(self._keys)
        starts = np.empty((len(queries), substrings), self._offsets[0].dtype)
        ends = np.empty_like(starts)
        filters = np.empty((len(queries), substrings), np.uint32)
        for j, key in enumerate(self._keys):
            keys = _bits(words, *key).astype(np.int64)
            starts[:, j], ends[:, j] = self._offsets[j][keys], self._offsets[j][keys + 1]
            filters[:, j] = self._filter(words, j)
        lengths = (ends - starts).reshape(-1)
        # Chunks of whole queries with about CANDIDATES_PER_CHUNK candidates each.
        per_query = np.cumsum(lengths.reshape(len(queries), substrings).sum(axis=1))
        cuts = np.searchsorted(per_query, np.arange(1, per_query[-1] // CANDIDATES_PER_CHUNK + 1) * CANDIDATES_PER_CHUNK)
        bounds = np.unique(np.concatenate([[0], cuts + 1, [len(queries)]]).clip(0, len(queries)))
        found = [self._probe_chunk(words[a:b], starts[a:b].reshape(-1), lengths[a * substrings:b * substrings],
                                   filters[a:b].reshape(-1), a) for a, b in zip(bounds[:-1], bounds[1:])]
        rows, query_of, distances = (np.concatenate(parts) for parts in zip(*found))
        # A fingerprint equal to the query in several substrings is found once through each.
        unique = np.unique(query_of * len(self.ids) + rows, return_index=True)[1]
        return rows[unique], query_of[unique], distances[unique]

    def _probe_chunk(self, words, starts, lengths, filters, first_query):
        runs = np.flatnonzero(lengths)
        starts, lengths, filters = starts[runs], lengths[runs], filters[runs]
        run_begins = np.cumsum(lengths) - lengths
        # Positions of all candidates: +1 within a run, a jump to the next run's start between runs.
        steps = np.ones(int(lengths.sum()), starts.dtype)
        if len(steps):
            steps[0] = starts[0]
            steps[run_begins[1:]] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
        positions = np.cumsum(steps, dtype=starts.dtype)
        near = _popcount(np.take(self._sorted_filters, positions) ^ np.repeat(filters, lengths)) <= self.radius
        hits = np.flatnonzero(near)
        query_of = runs[np.searchsorted(run_begins, hits, 'right') - 1] // len(self._keys)
        rows = np.take(self._flat_orders, positions[hits]).astype(np.int64)
        distances = _popcount(self._words[rows] ^ words[query_of]).sum(axis=1, dtype=np.int32)
        keep = distances <= self.radius
        return rows[keep], query_of[keep] + first_query, distances[keep]

    def save(self, path, key):
        """Write the codes, ids and sort orders with `key` (what they were built from) to `path` atomically."""
        buffer = io.BytesIO()
        if self.plan is None:
            arrays = dict(codes=self._codes)
        else:
            codes = np.ascontiguousarray(self._words, '>u8').view(np.uint8)[:, :self.code_bits // 8]
            arrays = dict(codes=codes, orders=self._orders)  # loading skips the sorts
        np.savez(buffer, ids=self.ids, key=np.array(key, np.int64), num_bits=self.num_bits, radius=self.radius, **arrays)
        dnnlib.util.atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path, key):
        """The index saved at `path` if it was built from `key`, else None (missing, stale or unreadable)."""
        try:
            with np.load(path) as saved:
                if list(saved['key']) != list(key):
                    return None
                index = cls.__new__(cls)
                HammingIndex.__init__(index, saved['codes'], saved['ids'], int(saved['num_bits']),
                                      int(saved['radius']), saved['orders'] if 'orders' in saved else None)
                return index
        except (OSError, ValueError, KeyError, IndexError, RuntimeError):
            return None
