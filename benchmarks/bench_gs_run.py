"""Time Gs.run at the paper's config (128x128, fmap_base 8192, 128-bit fingerprint) on this machine.

    python benchmarks/bench_gs_run.py [--resolution 128] [--batch 8] [--repeats 3]
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dnnlib.tflib as tflib  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--resolution', type=int, default=128)
    parser.add_argument('--fmap-base', type=int, default=8192)
    parser.add_argument('--watermark-size', type=int, default=128)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()

    tflib.init_tf({'rnd.np_random_seed': 0})
    Gs = tflib.Network('Gs', func_name='training.networks_stylegan2.G_main_watermark', resolution=args.resolution,
                       fmap_base=args.fmap_base, latent_size=512, watermark_size=args.watermark_size,
                       res_modulated_range='4-%d' % args.resolution)
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
