"""CPU timings behind the mechanisms chosen in dnnlib/tflib/ops, next to the alternatives.

    python benchmarks/bench_ops.py [--reps 5]

For each candidate: forward, forward + backward, and a second-order gradient
(the gradient of a squared input gradient, as R1 and path-length
regularisation compute), in milliseconds. "(ours)" marks what the ops use.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine  # noqa: E402

tf = machine.tf

from dnnlib.tflib.ops.conv2d import conv2d  # noqa: E402
from dnnlib.tflib.ops.upfirdn_2d import downsample_2d, filter_2d, upsample_2d, upsample_conv_2d  # noqa: E402

FIR = [1, 3, 3, 1]


def time_ms(sess, fetches, reps):
    for _ in range(2):
        sess.run(fetches)
    start = time.perf_counter()
    for _ in range(reps):
        sess.run(fetches)
    return (time.perf_counter() - start) / reps * 1e3


def bench(title, candidates, x_shape, w_shape, reps):
    """candidates: (name, fn(x, w) -> y) with x, w float32 variables (w None when w_shape is)."""
    print('\n%s\n  x %s, w %s' % (title, x_shape, w_shape))
    print('  %-58s %9s %9s %9s' % ('', 'fwd', 'fwd+bwd', '2nd-ord'))
    rng = np.random.RandomState(0)
    x_value = rng.randn(*x_shape).astype(np.float32)
    w_value = None if w_shape is None else rng.randn(*w_shape).astype(np.float32)
    for name, fn in candidates:
        with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
            x = tf.Variable(x_value)
            w = None if w_value is None else tf.Variable(w_value)
            params = [v for v in (x, w) if v is not None]
            y = fn(x, w)
            grads = tf.gradients(tf.reduce_sum(tf.square(y)), params)
            dx = tf.gradients(tf.reduce_sum(y * tf.sin(y)), x)[0]
            grads2 = tf.gradients(tf.reduce_sum(tf.square(dx)), params)
            sess.run(tf.compat.v1.global_variables_initializer())
            times = [time_ms(sess, fetches, reps) for fetches in (y, grads, grads2)]
        print('  %-58s %9.2f %9.2f %9.2f' % ((name,) + tuple(times)))


def unknown_channels(x):
    """x with its channel count hidden from the graph, as in a minibatch folded into the channels."""
    return tf.compat.v1.placeholder_with_default(x, x.shape[:3].concatenate([None]))


def grouped_conv_candidates(groups):
    def map_fn(x, w):
        xs = tf.stack(tf.split(x, groups, axis=3))
        ws = tf.stack(tf.split(w, groups, axis=3))
        ys = tf.map_fn(lambda xw: tf.nn.conv2d(xw[0], xw[1], 1, 'SAME'), (xs, ws), fn_output_signature=tf.float32)
        return tf.concat(tf.unstack(ys), axis=3)

    def block_diagonal(x, w):
        kh, kw, in_c, out_c = w.shape
        wg = tf.reshape(w, [kh, kw, in_c, groups, out_c // groups])
        wd = tf.einsum('abigo,gh->abgiho', wg, tf.eye(groups))
        return tf.nn.conv2d(x, tf.reshape(wd, [kh, kw, groups * in_c, out_c]), 1, 'SAME')

    def depthwise_then_sum(x, w):
        kh, kw, in_c, out_c = w.shape
        wg = tf.transpose(tf.reshape(w, [kh, kw, in_c, groups, out_c // groups]), [0, 1, 3, 2, 4])
        y = tf.nn.depthwise_conv2d(x, tf.reshape(wg, [kh, kw, groups * in_c, out_c // groups]), [1, 1, 1, 1], 'SAME')
        n, h, wd, _ = y.shape
        return tf.reshape(tf.reduce_sum(tf.reshape(y, [n, h, wd, groups, in_c, -1]), axis=4), [n, h, wd, out_c])

    return [
        ('split into per-group conv2d (ours, static G)', lambda x, w: conv2d(x, w, data_format='NHWC')),
        ('patches + batched matmul (ours, run-time G)',
         lambda x, w: conv2d(unknown_channels(x), w, data_format='NHWC')),
        ('tf.map_fn over the groups', map_fn),
        ('dense conv2d with block-diagonal weights', block_diagonal),
        ('depthwise conv2d, then sum over inputs', depthwise_then_sum),
    ]


def transposed_conv_candidates(factor):
    def conv2d_transpose(x, w):
        n, h, wd, _ = x.shape
        kh, kw, _, out_c = w.shape
        out_shape = [n, (h - 1) * factor + kh, (wd - 1) * factor + kw, out_c]
        wt = tf.transpose(w[::-1, ::-1], [0, 1, 3, 2])
        return tf.nn.conv2d_transpose(x, wt, out_shape, [1, factor, factor, 1], 'VALID')

    def zero_insertion(x, w):
        n, h, wd, c = x.shape
        kh, kw = w.shape[:2]
        u = tf.reshape(tf.pad(tf.reshape(x, [n, h, 1, wd, 1, c]),
                              [[0, 0], [0, 0], [0, factor - 1], [0, 0], [0, factor - 1], [0, 0]]),
                       [n, h * factor, wd * factor, c])
        u = tf.pad(u, [[0, 0], [kh - 1, kh - factor], [kw - 1, kw - factor], [0, 0]])
        return tf.nn.conv2d(u, w, 1, 'VALID')

    return [('tf.nn.conv2d_transpose (ours, in upsample_conv_2d)', conv2d_transpose),
            ('zero insertion + tf.nn.conv2d', zero_insertion)]


def grouped_upsample_conv_candidates():
    return [
        ('static G: per-group conv2d_transpose (ours)',
         lambda x, w: upsample_conv_2d(x, w, FIR, data_format='NHWC')),
        ('run-time G: zero insertion + patches conv (ours)',
         lambda x, w: upsample_conv_2d(unknown_channels(x), w, FIR, data_format='NHWC')),
    ]


def fir_candidates():
    k = np.outer(FIR, FIR) / np.sum(FIR) ** 2

    def depthwise(x):
        f = tf.tile(tf.constant(k[:, :, None, None], tf.float32), [1, 1, x.shape[3], 1])
        return tf.nn.depthwise_conv2d(tf.pad(x, [[0, 0], [2, 1], [2, 1], [0, 0]]), f, [1, 1, 1, 1], 'VALID')

    def one_channel_conv2d(x):
        n, h, w, c = x.shape
        y = tf.transpose(tf.pad(x, [[0, 0], [2, 1], [2, 1], [0, 0]]), [0, 3, 1, 2])
        y = tf.reshape(y, [n * c, h + 3, w + 3, 1])
        y = tf.nn.conv2d(y, tf.constant(k[:, :, None, None], tf.float32), 1, 'VALID')
        return tf.transpose(tf.reshape(y, [n, c, h, w]), [0, 2, 3, 1])

    def transposed_depthwise(x):
        n, h, w, c = x.shape
        f = tf.tile(tf.constant(4 * k[:, :, None, None], tf.float32), [1, 1, c, 1])
        y = tf.nn.depthwise_conv2d_backprop_input([n, 2 * h + 2, 2 * w + 2, c], f, x, [1, 2, 2, 1], 'VALID')
        return y[:, 1:-1, 1:-1, :]

    return {
        'filter': [('filter_2d: two separable 1-D depthwise passes (ours)',
                    lambda x, w: filter_2d(x, FIR, data_format='NHWC')),
                   ('one 2-D depthwise conv', lambda x, w: depthwise(x)),
                   ('1-channel conv2d over N*C images (StyleGAN2 ref)', lambda x, w: one_channel_conv2d(x))],
        'down': [('downsample_2d: strided 2-D depthwise (ours)',
                  lambda x, w: downsample_2d(x, FIR, data_format='NHWC')),
                 ('2-D depthwise, then keep every 2nd pixel', lambda x, w: depthwise(x)[:, ::2, ::2, :])],
        'up': [('upsample_2d: zero insertion + separable depthwise (ours)',
                lambda x, w: upsample_2d(x, FIR, data_format='NHWC')),
               ('transposed depthwise conv', lambda x, w: transposed_depthwise(x))],
    }


def main():
    machine.print_header()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--reps', type=int, default=5)
    reps = parser.parse_args().reps
    tf.compat.v1.disable_eager_execution()

    bench('Grouped 3x3 conv, G=8, 64 -> 64 channels per group, 16x16',
          grouped_conv_candidates(8), [1, 16, 16, 8 * 64], [3, 3, 64, 8 * 64], reps)
    bench('Grouped 3x3 conv, G=4, 512 -> 512 channels per group, 8x8',
          grouped_conv_candidates(4), [1, 8, 8, 4 * 512], [3, 3, 512, 4 * 512], reps)
    bench('Stride-2 transposed 3x3 conv (upsample_conv_2d before its FIR), 64 -> 64 channels, 16x16 -> 33x33',
          transposed_conv_candidates(2), [4, 16, 16, 64], [3, 3, 64, 64], reps)
    bench('Stride-2 transposed 3x3 conv, 128 -> 128 channels, 64x64 -> 129x129',
          transposed_conv_candidates(2), [4, 64, 64, 128], [3, 3, 128, 128], reps)
    bench('Grouped upsample_conv_2d, G=4, 64 -> 64 channels per group, 16x16 -> 32x32',
          grouped_upsample_conv_candidates(), [1, 16, 16, 4 * 64], [3, 3, 64, 4 * 64], reps)
    firs = fir_candidates()
    bench('FIR [1,3,3,1] filter, 128 channels, 32x32', firs['filter'], [4, 32, 32, 128], None, reps)
    bench('FIR [1,3,3,1] 2x downsampling, 128 channels, 32x32', firs['down'], [4, 32, 32, 128], None, reps)
    bench('FIR [1,3,3,1] 2x upsampling, 128 channels, 32x32', firs['up'], [4, 32, 32, 128], None, reps)


if __name__ == '__main__':
    main()
