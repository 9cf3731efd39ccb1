"""How many generators a fingerprint length can tell apart (paper Section 4.3, Figure 4).

The "bottom line" of a bit length d is the largest bit overlap between any two of
N random fingerprints (the paper: N = 1 million), as a fraction of d:
(d - min pairwise Hamming distance) / d. A decoder whose bit accuracy falls below
it could confuse two of those fingerprints. It is computed exactly: a brute-force
k-nearest-neighbour search (FAISS IndexBinaryFlat, k = 2) of the set against itself, each pair once.
The capacity of a length read at bit accuracy a is 2^(d * a) fingerprints.
"""

import math

import numpy as np


def random_fingerprints(num_fingerprints, num_bits, seed=0):
    """num_fingerprints random fingerprints of num_bits bits, packed 8 bits to a byte: uint8 [N, num_bits / 8]."""
    if num_bits % 8 or num_bits < 8:
        raise ValueError('the bit length must be a positive multiple of 8, got %d' % num_bits)
    if num_fingerprints < 2:
        raise ValueError('the bottom line needs at least 2 fingerprints, got %d' % num_fingerprints)
    return np.random.RandomState(seed).randint(0, 256, size=(num_fingerprints, num_bits // 8), dtype=np.uint8)


def min_pairwise_hamming(codes, block=None):
    """The smallest Hamming distance between two different rows of packed codes uint8 [N, d / 8].

    Each block of rows is searched, for its 2 nearest rows, among itself and the rows after it:
    every pair is seen once (half the N^2 of searching the whole set for every row), and a row
    itself (distance 0, the least possible) takes one of the two places, so the second distance is
    the row's nearest other row in that range: exact, duplicates included (they give 0, found by a
    sort before any search). block: rows per search (default N / 16: 53% of the N^2 comparisons).
    """
    import faiss  # pylint: disable=import-outside-toplevel
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if len(np.unique(codes.view(np.dtype((np.void, codes.shape[1]))))) < len(codes):
        return 0  # short lengths at large N spare the search
    block = block or -(-len(codes) // 16)
    best = codes.shape[1] * 8
    for begin in range(0, len(codes) - 1, block):
        index = faiss.IndexBinaryFlat(codes.shape[1] * 8)
        index.add(codes[begin:])
        distances, _ = index.search(codes[begin:begin + block], 2)
        best = min(best, int(distances[:, 1].min()))
    return best


def bottom_line(num_bits, num_fingerprints=1000000, seed=0):
    """The largest bit overlap among num_fingerprints random num_bits-bit fingerprints, as a fraction of num_bits."""
    distance = min_pairwise_hamming(random_fingerprints(num_fingerprints, num_bits, seed))
    return (num_bits - distance) / num_bits


def capacity_log10(num_bits, bit_accuracy):
    """log10 of 2^(num_bits * bit_accuracy), the paper's count of distinct fingerprints.

    128 bits at 0.991 give 38.2 (the paper writes 1e36 for the same expression).
    """
    return num_bits * bit_accuracy * math.log10(2)
