"""Exact Hamming-radius search over issued fingerprints.

Fingerprints are packed 8 bits a byte (`pack`); a length that is not a multiple of 8 is
padded with zero bits, the same in every code, so distances do not change.

`HammingIndex` answers "which fingerprints lie within t bits of this code, and how far"
exactly. With FAISS's multi-index hashing (`IndexBinaryMultiHash`) the code is cut into
m disjoint substrings, each a hash key, and a query probes its own substrings and every
key within `nflip` flipped bits of them. A fingerprint within t bits of the query
differs from it in at most t bits spread over the m substrings; if m * (nflip + 1) > t,
some substring holds at most nflip of them (pigeonhole), so the fingerprint is a
candidate, and FAISS then checks the full distance of every candidate. When no such
split with substrings of at least MIN_SUBSTRING_BITS exists (t close to the length), the
index scans every fingerprint instead (`IndexBinaryFlat`). Both are compared with a
numpy brute force (`brute_force_search`) in the tests.
"""

import io

import numpy as np

import dnnlib

MIN_SUBSTRING_BITS = 8  # shorter hash keys put a large share of all fingerprints into every bucket
MAX_SUBSTRING_BITS = 32  # FAISS's multi-hash keys; longer keys only add probes
MAX_FLIPS = 1  # probes per substring grow with (bits choose flips)
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


def multihash_plan(num_bits, radius):
    """(substrings, bits per substring, flips) for an exact search within `radius`, or None when
    the pigeonhole condition cannot hold with substrings of at least MIN_SUBSTRING_BITS bits.

    Among the exact plans, the one with the longest substrings (fewest candidates per probe)."""
    plans = []
    for flips in range(MAX_FLIPS + 1):
        substrings = radius // (flips + 1) + 1  # the fewest that satisfy substrings * (flips + 1) > radius
        bits = min(num_bits // substrings, MAX_SUBSTRING_BITS)
        if bits >= MIN_SUBSTRING_BITS:
            plans.append((substrings, bits, flips))
    # A flip multiplies the probes by the substring length; it pays only for much longer keys.
    return max(plans, key=lambda plan: plan[1] - 8 * plan[2]) if plans else None


class HammingIndex:
    """An exact radius search over packed fingerprints with ids.

    codes: uint8 [n, bytes] from pack(); ids: int64 [n]; radius: the largest distance searched.
    """

    def __init__(self, codes, ids, num_bits, radius):
        import faiss  # pylint: disable=import-outside-toplevel
        self.num_bits, self.radius = int(num_bits), int(radius)
        self.code_bits = 8 * ((self.num_bits + 7) // 8)
        self.ids = np.asarray(ids, np.int64)
        self.plan = multihash_plan(self.num_bits, self.radius)
        if self.plan is None:
            self._index = faiss.IndexBinaryFlat(self.code_bits)
        else:
            substrings, bits, flips = self.plan
            self._index = faiss.IndexBinaryMultiHash(self.code_bits, substrings, bits)
            self._index.nflip = flips
        codes = np.ascontiguousarray(codes, np.uint8)
        if len(codes):
            self._index.add(codes)

    @property
    def kind(self):
        if self.plan is None:
            return 'flat scan'
        return 'multi-index hashing: %d substrings of %d bits, %d flip(s)' % self.plan

    def __len__(self):
        return len(self.ids)

    def search(self, queries):
        """Per query, (ids, distances) of the fingerprints within the radius, nearest first (ties by id)."""
        queries = np.ascontiguousarray(queries, np.uint8).reshape(-1, self.code_bits // 8)
        if not len(self.ids):
            return [(np.zeros(0, np.int64), np.zeros(0, np.int32)) for _ in queries]
        # FAISS returns distances strictly below the radius it is given.
        limits, distances, rows = self._index.range_search(queries, self.radius + 1)
        results = []
        for begin, end in zip(limits[:-1], limits[1:]):
            found_ids = self.ids[rows[begin:end]]
            found = distances[begin:end].astype(np.int32)
            order = np.lexsort((found_ids, found))
            results.append((found_ids[order], found[order]))
        return results

    def save(self, path, key):
        """Write the index and its ids with `key` (what it was built from) to `path` atomically."""
        import faiss  # pylint: disable=import-outside-toplevel
        buffer = io.BytesIO()
        np.savez(buffer, index=faiss.serialize_index_binary(self._index), ids=self.ids,
                 key=np.array(key, np.int64), num_bits=self.num_bits, radius=self.radius)
        dnnlib.util.atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path, key):
        """The index saved at `path` if it was built from `key`, else None (missing, stale or unreadable)."""
        import faiss  # pylint: disable=import-outside-toplevel
        try:
            with np.load(path) as saved:
                if list(saved['key']) != list(key):
                    return None
                index = cls.__new__(cls)
                index.num_bits, index.radius = int(saved['num_bits']), int(saved['radius'])
                index.code_bits = 8 * ((index.num_bits + 7) // 8)
                index.ids = saved['ids']
                index.plan = multihash_plan(index.num_bits, index.radius)
                index._index = faiss.deserialize_index_binary(saved['index'])
                return index
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
