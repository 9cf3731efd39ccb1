"""Time Gs.run at the paper's config (128x128, fmap_base 8192, 128-bit fingerprint) on this machine.

    python benchmarks/bench_gs_run.py [--resolution 128] [--batch 8] [--repeats 3]
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine  # noqa: E402
import paper_config  # noqa: E402


def main():
    machine.print_header()
    parser = paper_config.parser(__doc__, repeats=3)
    parser.add_argument('--batch', type=int, default=8)
    args = parser.parse_args()
    Gs = paper_config.generator(args)
    rnd = np.random.RandomState(0)
    z = rnd.randn(args.batch, 512).astype(np.float32)
    c = rnd.randint(0, 2, (args.batch, args.watermark_size)).astype(np.float32)
    Gs.run(z, None, c)  # build and warm up
    times = []
    for _ in range(args.repeats):
        start = time.time()
        Gs.run(z, None, c)
        times.append(time.time() - start)
    best = min(times)
    print('Gs.run %dx%d, fmap_base %d, %d-bit fingerprint, batch %d: %.2f s per batch (best of %d), %.2f img/s'
          % (args.resolution, args.resolution, args.fmap_base, args.watermark_size, args.batch, best, args.repeats,
             args.batch / best))


if __name__ == '__main__':
    main()
