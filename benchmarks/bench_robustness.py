"""Time the robustness sweep (metrics/robustness.py) at the paper's config (128x128, fmap_base 8192,
128-bit fingerprint; random weights): generation, decoding, each perturbation alone, and the whole
sweep (perturb + decode at every grid point) in images per second.

    python benchmarks/bench_robustness.py [--resolution 128] [--images 16] [--batch 8] [--repeats 2]
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine  # noqa: E402  (first: it imports TensorFlow quietly)
import paper_config  # noqa: E402
import tensorflow as tf  # noqa: E402

import dnnlib.tflib as tflib  # noqa: E402
from metrics import robustness  # noqa: E402


def best_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.time()
        function()
        times.append(time.time() - start)
    return min(times)


def main():
    machine.print_header()
    parser = paper_config.parser(__doc__, repeats=2)
    parser.add_argument('--images', type=int, default=16)
    parser.add_argument('--batch', type=int, default=8)
    args = parser.parse_args()
    Gs = paper_config.generator(args)
    E = tflib.Network('E', func_name='training.networks_stylegan2.E_stylegan2_watermark', resolution=args.resolution,
                      fmap_base=args.fmap_base, latent_size=512, watermark_size=args.watermark_size)
    rnd = np.random.RandomState(0)
    z = rnd.randn(args.images, 512).astype(np.float32)
    c = rnd.randint(0, 2, (args.images, args.watermark_size)).astype(np.float32)
    Gs.run(z[:args.batch], None, c[:args.batch])
    generate = best_time(lambda: Gs.run(z, None, c, minibatch_size=args.batch), args.repeats)
    images = Gs.run(z, None, c, minibatch_size=args.batch)
    labels = np.zeros([args.images, 0], np.float32)
    E.run(images[:args.batch], labels[:args.batch])
    decode = best_time(lambda: E.run(images, labels, minibatch_size=args.batch), args.repeats)
    print('%dx%d, fmap_base %d, %d-bit fingerprint, %d images, batch %d (best of %d)'
          % (args.resolution, args.resolution, args.fmap_base, args.watermark_size, args.images, args.batch,
             args.repeats))
    print('%-28s %8.1f img/s' % ('generation (Gs)', args.images / generate))
    print('%-28s %8.1f img/s' % ('decoding (E)', args.images / decode))

    placeholder = tf.compat.v1.placeholder(tf.float32, [None] + list(images.shape[1:]))
    strength = tf.compat.v1.placeholder(tf.float32, [])
    metric = robustness.Robustness('bench', args.images, minibatch_per_gpu=args.batch)
    generated = dict(images=images, fingerprints=c)
    total_points, total_sweep = 0, 0.0
    for kind in robustness.KINDS:
        grid = [s for s, _ in robustness.strength_grid(kind, args.resolution)]
        middle = grid[len(grid) // 2]
        out = robustness.perturb_tf(placeholder, kind, strength, tf.constant([0, 0]))

        def perturb_all(out=out, middle=middle):
            for begin in range(0, args.images, args.batch):
                tflib.run(out, {placeholder: images[begin:begin + args.batch], strength: middle})

        perturb_all()
        alone = best_time(perturb_all, args.repeats)
        metric.accuracy_after(E, generated, kind, middle)
        sweep = best_time(lambda kind=kind, grid=grid: [metric.accuracy_after(E, generated, kind, s) for s in grid],
                          args.repeats)
        total_points += len(grid)
        total_sweep += sweep
        print('%-28s %8.1f img/s   sweep of %2d strengths (perturb + decode): %6.1f img/s, perturbation %3.0f%% of it'
              % ('%s at %g alone' % (kind, middle), args.images / alone, len(grid), args.images * len(grid) / sweep,
                 100 * alone * len(grid) / sweep))
    per_image = total_sweep / args.images + generate / args.images
    print('whole sweep: %d strengths, %.1f decoded img/s; one generated image costs %.2f s, so robustness_1k '
          'takes about %.0f min' % (total_points, args.images * total_points / total_sweep, per_image,
                                    1000 * per_image / 60))


if __name__ == '__main__':
    main()
