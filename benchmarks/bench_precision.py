"""float32 against bfloat16 convolutions, side by side in one process (A B A B), on this machine.

    python benchmarks/bench_precision.py [--resolution 128] [--batch 8] [--repeats 3]
    python benchmarks/bench_precision.py --network network-snapshot-NNNNNN.pkl [--num-images 1024]

Prints, per precision: the machine's peak (a 4096x4096 matmul), the GFLOP/s of a
stack of 3x3 convolutions (512 -> 512 channels at 32x32, batch 8) through the
project's conv op, Gs.run and E.run at the paper's config (random weights), and
how far the bfloat16 outputs are from float32 ones. Medians over the repeats;
the ratio is bf16 / fp32 speed. With --network, instead: how well a trained
model's bfloat16 images and decoded bits agree with its float32 ones.
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine  # noqa: E402
import paper_config  # noqa: E402

tf = machine.tf

import dnnlib.tflib as tflib  # noqa: E402
from dnnlib.tflib import precision  # noqa: E402
from dnnlib.tflib.ops.conv2d import conv2d  # noqa: E402
from training import misc  # noqa: E402

PRECISIONS = ('fp32', 'bf16')


def matmul_case(size=4096):
    """Peak: one size x size matmul per precision, in GFLOP per call."""
    rnd = np.random.RandomState(0)
    a = tf.Variable(rnd.randn(size, size).astype(np.float32))
    b = tf.Variable(rnd.randn(size, size).astype(np.float32))
    ops = {'fp32': tf.reduce_sum(tf.matmul(a, b)),
           'bf16': tf.reduce_sum(tf.cast(tf.matmul(tf.cast(a, tf.bfloat16), tf.cast(b, tf.bfloat16)), tf.float32))}
    tflib.init_uninitialized_vars([a, b])
    return {p: (lambda op=op: tflib.run(op)) for p, op in ops.items()}, 2 * size ** 3 / 1e9


def conv_case(layers=4, channels=512, size=32, batch=8):
    """Convolutions through dnnlib.tflib.ops.conv2d, built once per precision, in GFLOP per call."""
    rnd = np.random.RandomState(1)
    x = tf.Variable(rnd.randn(batch, size, size, channels).astype(np.float32))
    ws = [tf.Variable((rnd.randn(3, 3, channels, channels) / np.sqrt(9 * channels)).astype(np.float32))
          for _ in range(layers)]
    ops = {}
    for p in PRECISIONS:
        with precision.scope(p):
            y = x
            for w in ws:
                y = tf.nn.leaky_relu(conv2d(y, w, data_format='NHWC'), 0.2)
            ops[p] = tf.reduce_sum(y)
    tflib.init_uninitialized_vars([x] + ws)
    return {p: (lambda op=op: tflib.run(op)) for p, op in ops.items()}, 2 * layers * batch * size ** 2 * 9 * channels ** 2 / 1e9


def network_case(net, inputs):
    """net.run per precision (a clone with the same weights builds the bfloat16 graph); also the outputs."""
    nets = {'fp32': net, 'bf16': net.clone(net.name + '_bf16')}
    outputs = {}
    for p in PRECISIONS:
        with precision.scope(p):
            outputs[p] = nets[p].run(*inputs)  # builds the run graph in this precision
    return {p: (lambda n=nets[p]: n.run(*inputs)) for p in PRECISIONS}, outputs


def interleaved(runs, repeats):
    """Median seconds per call for each precision, timed A B A B after a warm-up call."""
    times = {p: [] for p in runs}
    for p in runs:
        runs[p]()
    for _ in range(repeats):
        for p, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[p].append(time.perf_counter() - start)
    return {p: float(np.median(t)) for p, t in times.items()}


def report(name, seconds, unit_fn, unit):
    a, b = seconds['fp32'], seconds['bf16']
    print('%-44s fp32 %8.1f %s   bf16 %8.1f %s   bf16/fp32 %.2fx' % (name, unit_fn(a), unit, unit_fn(b), unit, a / b),
          flush=True)


def trained_agreement(network_pkl, num_images, batch):
    """Gs then E, all float32 against all bfloat16, on fresh z and fingerprints (seed 0)."""
    E, _G, _D, Gs = misc.load_networks(network_pkl)
    rnd = np.random.RandomState(0)
    z = rnd.randn(num_images, Gs.input_shapes[0][1]).astype(np.float32)
    c = rnd.randint(0, 2, (num_images, Gs.input_shapes[2][1])).astype(np.float32)
    images, bits = {}, {}
    for p, (gs, e) in {'fp32': (Gs, E), 'bf16': (Gs.clone('Gs_bf16'), E.clone('E_bf16'))}.items():
        with precision.scope(p):
            images[p] = gs.run(z, None, c, minibatch_size=batch)
            bits[p] = e.run(np.clip(images[p], -1, 1), None, minibatch_size=batch, return_as_list=True)[-1] > 0
        print('%s: bit accuracy %.4f on %d images' % (p, np.mean(bits[p] == (c > 0)), num_images))
    diff = np.abs(images['bf16'] - images['fp32'])
    print('images, bf16 - fp32 ([-1, 1] scale): mean |d| %.4f, max |d| %.4f' % (diff.mean(), diff.max()))
    print('decoded bits, bf16 pipeline against fp32 pipeline: %.5f agree (%d of %d differ)'
          % (np.mean(bits['bf16'] == bits['fp32']), np.sum(bits['bf16'] != bits['fp32']), bits['fp32'].size))


def main():
    machine.print_header()
    parser = paper_config.parser(__doc__, repeats=3)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--network', default=None, help='a trained pickle: measure agreement instead of speed')
    parser.add_argument('--num-images', type=int, default=1024, help='images for --network (default: 1024)')
    args = parser.parse_args()
    if args.network:
        trained_agreement(args.network, args.num_images, max(args.batch, 32))
        return
    Gs = paper_config.generator(args)
    E = paper_config.decoder(args)

    runs, peak_gflop = matmul_case()
    peak = interleaved(runs, args.repeats)
    report('peak: 4096x4096 matmul', peak, lambda s: peak_gflop / s, 'GFLOP/s')
    runs, conv_gflop = conv_case()
    conv = interleaved(runs, args.repeats)
    report('4 convs 3x3 512->512, 32x32, batch 8', conv, lambda s: conv_gflop / s, 'GFLOP/s')
    for p in PRECISIONS:
        print('  %s convs reach %.0f%% of the %s matmul peak' % (p, 100 * (conv_gflop / conv[p]) / (peak_gflop / peak[p]), p))

    rnd = np.random.RandomState(0)
    z = rnd.randn(args.batch, 512).astype(np.float32)
    c = rnd.randint(0, 2, (args.batch, args.watermark_size)).astype(np.float32)
    runs, images = network_case(Gs, (z, None, c))
    report('Gs.run %dx%d, batch %d' % (args.resolution, args.resolution, args.batch),
           interleaved(runs, args.repeats), lambda s: args.batch / s, 'img/s')
    runs, outputs = network_case(E, (np.clip(images['fp32'], -1, 1), None))
    report('E.run %dx%d, batch %d' % (args.resolution, args.resolution, args.batch),
           interleaved(runs, args.repeats), lambda s: args.batch / s, 'img/s')

    diff = np.abs(images['bf16'] - images['fp32'])
    print('Gs images, bf16 - fp32: mean |d| %.4f, max |d| %.4f (fp32 image std %.3f)'
          % (diff.mean(), diff.max(), images['fp32'].std()))
    logits = {p: out[1] if isinstance(out, list) else out[:, 512:] for p, out in outputs.items()}
    agree = np.mean((logits['bf16'] > 0) == (logits['fp32'] > 0))
    print('E fingerprint bits, bf16 against fp32 (random weights): %.4f agree' % agree)


if __name__ == '__main__':
    main()
