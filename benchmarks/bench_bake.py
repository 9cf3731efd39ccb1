"""Time baking fingerprinted generator copies at the paper's config (128x128, fmap_base 8192, 128 bits).

    python benchmarks/bench_bake.py [--resolution 128] [--repeats 10]

The generator has random weights (baking does the same work for any weights). The
one-time set-up (reading the variables, building the baked network) is timed once;
then, per copy and fingerprint: the mapping run plus the numpy folding ("fold"), that
plus loading the weights into the baked network ("bake"), and that plus writing the
pickle ("bake + write").
"""

import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine  # noqa: E402
import paper_config  # noqa: E402
from training import bake, misc  # noqa: E402


def main():
    machine.print_header()
    args = paper_config.parser(__doc__, repeats=10).parse_args()
    Gs = paper_config.generator(args)
    start = time.perf_counter()
    baker = bake.Baker(Gs)
    setup = time.perf_counter() - start
    num_weights = sum(int(np.prod(baker.network.vars[name].shape.as_list())) for name in baker.folded_names)
    print('%dx%d, fmap_base %d, %d-bit fingerprint: %d modulated convs, %.1f M conv weights folded per copy'
          % (args.resolution, args.resolution, args.fmap_base, args.watermark_size, len(baker.folded_names),
             num_weights / 1e6))
    print('one-time set-up (read variables, build the baked network): %.2f s' % setup)

    rnd = np.random.RandomState(1)
    fingerprints = [rnd.randint(0, 2, args.watermark_size) for _ in range(args.repeats + 1)]
    baker.bake(fingerprints[-1])  # warm-up: builds the mapping network's run graph
    times = {'fold': [], 'bake': [], 'bake + write': []}
    with tempfile.TemporaryDirectory() as tmp:
        for bits in fingerprints[:-1]:
            start = time.perf_counter()
            baker.fold(bits)
            times['fold'].append(time.perf_counter() - start)
            start = time.perf_counter()
            baked = baker.bake(bits)
            times['bake'].append(time.perf_counter() - start)
            misc.save_pkl(baked, os.path.join(tmp, 'baked.pkl'))
            times['bake + write'].append(time.perf_counter() - start)
        size_mb = os.path.getsize(os.path.join(tmp, 'baked.pkl')) / 2 ** 20
    for name, values in times.items():
        ms = np.array(values) * 1e3
        print('%-13s median %7.1f ms   min %7.1f ms   max %7.1f ms   (%d copies)'
              % (name, np.median(ms), ms.min(), ms.max(), len(ms)))
    print('baked pickle: %.0f MiB' % size_mb)


if __name__ == '__main__':
    main()
