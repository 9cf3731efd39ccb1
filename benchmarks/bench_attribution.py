"""Time the attribution side: the Hamming index, the registry, attributing PNG files, issuing copies.

    python benchmarks/bench_attribution.py [--sizes 1000000,10000000] [--queries 20000] [--only index]

Index: exact radius-t search (128 bits, t = 6) over random fingerprints, a batch of
queries half near an issued fingerprint (up to t+2 bits flipped) and half random, against
the numpy brute force on a subset of the queries (answers compared). Registry: bulk insert
of the largest size, size on disk. Attribute: PNG files at the paper's 128x128 config
(random weights) through run_attribution's pipeline against E.run alone on the same images
in memory. Issue: copies per second into a fresh registry, without and with baking.
`--only index` times the index alone.
"""

import os
import resource
import sys
import tempfile
import time

import numpy as np
import PIL.Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine  # noqa: E402  (first: it imports TensorFlow quietly)
import paper_config  # noqa: E402
import dnnlib.tflib as tflib  # noqa: E402
from attribution import attribute, hamming, issue  # noqa: E402
from attribution.registry import Model, SQLiteStore  # noqa: E402
from training import bake  # noqa: E402

NUM_BITS, RADIUS = 128, 6


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_index(size, num_queries, num_brute):
    rng = np.random.default_rng(size)
    codes = np.frombuffer(rng.bytes(size * NUM_BITS // 8), np.uint8).reshape(size, NUM_BITS // 8)
    ids = np.arange(1, size + 1, dtype=np.int64)
    queries = codes[rng.integers(0, size, num_queries)].copy()
    bits = hamming.unpack(queries[:num_queries // 2], NUM_BITS)
    for row in bits:
        row[rng.choice(NUM_BITS, rng.integers(0, RADIUS + 3), replace=False)] ^= 1
    queries[:num_queries // 2] = hamming.pack(bits)
    queries[num_queries // 2:] = np.frombuffer(rng.bytes(queries[num_queries // 2:].size), np.uint8).reshape(-1, 16)
    rss = max_rss_mb()
    start = time.perf_counter()
    index = hamming.HammingIndex(codes, ids, NUM_BITS, RADIUS)
    build = time.perf_counter() - start
    memory = max_rss_mb() - rss
    start = time.perf_counter()
    results = index.search(queries)
    query_rate = num_queries / (time.perf_counter() - start)
    subset = np.concatenate([queries[:num_brute // 2], queries[-num_brute // 2:]])
    start = time.perf_counter()
    expected = hamming.brute_force_search(codes, subset, RADIUS)
    brute_rate = len(subset) / (time.perf_counter() - start)
    checked = results[:num_brute // 2] + results[-num_brute // 2:]
    same = all(np.array_equal(found_ids, ids[rows][np.lexsort((ids[rows], d))]) and np.array_equal(found, np.sort(d))
               for (found_ids, found), (rows, d) in zip(checked, expected))
    print('index %9d fingerprints (%s): build %.1f s, +%.0f MB resident; %.0f queries/s (batch of %d), '
          'numpy brute force %.1f queries/s, answers identical on %d queries: %s'
          % (size, index.kind, build, memory, query_rate, num_queries, brute_rate, len(subset), same))
    return codes


def bench_registry(codes):
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(__file__))) as folder:
        path = os.path.join(folder, 'registry.sqlite')
        store = SQLiteStore(path, Model('0' * 64, NUM_BITS, RADIUS), create=True)
        start = time.perf_counter()
        with store.write_lock():
            store.add_many(('owner-%d' % i for i in range(len(codes))), codes, time.time())
        insert = time.perf_counter() - start
        store.close()
        size = sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))
        print('registry %d copies: bulk insert %.1f s, %.0f MB on disk (%.0f bytes per copy)'
              % (len(codes), insert, size / 2 ** 20, size / len(codes)))


def bench_attribute(args, num_images, batch):
    E = tflib.Network('E', func_name='training.networks_stylegan2.E_stylegan2_watermark', resolution=args.resolution,
                      fmap_base=args.fmap_base, latent_size=512, watermark_size=NUM_BITS)
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (num_images, 3, args.resolution, args.resolution)).astype(np.uint8)
    attribute.decode_bits(E, images[:batch])  # builds the graph
    start = time.perf_counter()
    for i in range(0, num_images, batch):
        attribute.decode_bits(E, images[i:i + batch])
    alone = num_images / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for i, image in enumerate(images):
            files.append(os.path.join(folder, '%04d.png' % i))
            PIL.Image.fromarray(image.transpose(1, 2, 0)).save(files[-1])
        store = SQLiteStore(os.path.join(folder, 'r.sqlite'), Model('0' * 64, NUM_BITS, RADIUS), create=True)
        list(issue.issue_copies(store, 'bench', 100))
        index = attribute.load_index(store, os.path.join(folder, 'r.sqlite'))
        start = time.perf_counter()
        count = sum(1 for _ in attribute.attribute_files(E, files, index, store, batch))
        end_to_end = count / (time.perf_counter() - start)
        store.close()
    print('attribute %d PNG files %dx%d, batch %d: %.2f images/s end to end, E.run alone %.2f images/s (%.0f%%)'
          % (num_images, args.resolution, args.resolution, batch, end_to_end, alone, 100 * end_to_end / alone))


def bench_issue(args, plain_copies, baked_copies):
    Gs = paper_config.generator(args)
    baker = bake.Baker(Gs)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(os.path.join(folder, 'r.sqlite'), Model('0' * 64, NUM_BITS, RADIUS), create=True)
        start = time.perf_counter()
        list(issue.issue_copies(store, 'plain', plain_copies))
        plain = plain_copies / (time.perf_counter() - start)
        list(issue.issue_copies(store, 'warm-up', 1, baker=baker, bake_dir=os.path.join(folder, 'baked')))
        start = time.perf_counter()
        list(issue.issue_copies(store, 'baked', baked_copies, baker=baker, bake_dir=os.path.join(folder, 'baked')))
        baked = baked_copies / (time.perf_counter() - start)
        store.close()
    print('issue: %.0f copies/s without baking (%d copies), %.1f copies/s baked and written at %dx%d (%d copies)'
          % (plain, plain_copies, baked, args.resolution, args.resolution, baked_copies))


def main():
    parser = paper_config.parser(__doc__, repeats=1)
    parser.add_argument('--sizes', default='1000000,10000000')
    parser.add_argument('--queries', type=int, default=20000)
    parser.add_argument('--brute-queries', type=int, default=20)
    parser.add_argument('--images', type=int, default=64)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--only', choices=['index'], help='time only the Hamming index')
    args = parser.parse_args()
    machine.print_header()
    codes = None
    for size in [int(s) for s in args.sizes.split(',')]:
        codes = bench_index(size, args.queries, args.brute_queries)
        sys.stdout.flush()
    if args.only == 'index':
        return
    bench_registry(codes)
    del codes
    tflib.init_tf({'rnd.np_random_seed': 0})
    bench_attribute(args, args.images, args.batch)
    bench_issue(args, 200, 10)


if __name__ == '__main__':
    main()
