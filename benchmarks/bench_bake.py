"""Time baking fingerprinted generator copies at the paper's config (128x128, fmap_base 8192, 128 bits).

    python benchmarks/bench_bake.py [--resolution 128] [--repeats 10]

The generator has random weights (baking does the same work for any weights). The
one-time set-up (reading the variables, building the baked network) is timed once;
then, per copy and fingerprint: the mapping run plus the numpy folding ("fold"), that
plus loading the weights into the baked network ("bake"), and that plus writing the
pickle ("bake + write").
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dnnlib.tflib as tflib  # noqa: E402
from training import bake, misc  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--resolution', type=int, default=128)
    parser.add_argument('--fmap-base', type=int, default=8192)
    parser.add_argument('--watermark-size', type=int, default=128)
    parser.add_argument('--repeats', type=int, default=10)
    args = parser.parse_args()

    tflib.init_tf({'rnd.np_random_seed': 0})
    Gs = tflib.Network('Gs', func_name='training.networks_stylegan2.G_main_watermark', resolution=args.resolution,
                       fmap_base=args.fmap_base, latent_size=512, watermark_size=args.watermark_size,
                       res_modulated_range='4-%d' % args.resolution)
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
