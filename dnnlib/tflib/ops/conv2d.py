"""Plain and grouped 2-D convolution that runs forward and backward on CPU.

TF's CPU kernels reject NCHW convolutions and have no gradient for grouped
convolutions, so everything here runs NHWC internally and grouped
convolutions are split into one ordinary convolution per group
(see benchmarks/bench_ops.py for the timings behind that choice).
"""

import tensorflow as tf


def dim(x, i):
    """Size of axis i of x: a Python int when static, else a scalar tensor."""
    size = x.shape[i]
    return size if size is not None else tf.shape(x)[i]


def run_nhwc(fn, x, data_format):
    """Applies fn (NHWC in, NHWC out) to x given in data_format."""
    if data_format == 'NHWC':
        return fn(x)
    assert data_format == 'NCHW', data_format
    y = fn(tf.transpose(x, [0, 2, 3, 1]))
    return tf.transpose(y, [0, 3, 1, 2])


def run_grouped(fn, x, w):
    """Applies fn(x_g, w_g) group by group and concatenates the outputs.

    x is NHWC with G * inC channels and w is [kh, kw, inC, G * outC]; group g
    pairs channels [g*inC, (g+1)*inC) of x with outputs [g*outC, (g+1)*outC)
    of w. G == 1 is a plain call.
    """
    in_c = w.shape[2]
    assert in_c is not None, 'the input channels of w must be static'
    c = x.shape[3]
    if c is not None:
        assert c % in_c == 0, (c, in_c)
        groups = c // in_c
        if groups == 1:
            return fn(x, w)
        parts = zip(tf.split(x, groups, axis=3), tf.split(w, groups, axis=3))
        return tf.concat([fn(xg, wg) for xg, wg in parts], axis=3)

    # The group count is only known at run time (e.g. a minibatch folded into
    # the channels), so loop over the groups in the graph.
    n, h, wd = dim(x, 0), dim(x, 1), dim(x, 2)
    groups = tf.shape(x)[3] // in_c
    xs = tf.transpose(tf.reshape(x, [n, h, wd, groups, in_c]), [3, 0, 1, 2, 4])
    ws = tf.transpose(tf.reshape(w, [dim(w, 0), dim(w, 1), in_c, groups, -1]), [3, 0, 1, 2, 4])
    ys = tf.map_fn(lambda xw: fn(*xw), (xs, ws), fn_output_signature=x.dtype)
    ys = tf.transpose(ys, [1, 2, 3, 0, 4])
    return tf.reshape(ys, [n, dim(ys, 1), dim(ys, 2), -1])


def _strides_hw(strides, data_format):
    """(stride_h, stride_w) from an int, a pair, or a TF1-style 4-list."""
    if isinstance(strides, int):
        return strides, strides
    strides = list(strides)
    if len(strides) == 2:
        return tuple(strides)
    assert len(strides) == 4, strides
    if data_format == 'NCHW':
        n, c, sh, sw = strides
    else:
        n, sh, sw, c = strides
    assert n == c == 1, strides
    return sh, sw


def _only(name, *candidates):
    given = [v for v in candidates if v is not None]
    assert len(given) == 1, 'conv2d() needs exactly one %s argument' % name
    return given[0]


def conv2d(x=None, w=None, strides=1, padding='SAME', data_format='NCHW', *, input=None, filters=None, filter=None):
    """2-D convolution (cross-correlation, like tf.nn.conv2d) with HWIO weights.

    Also stands in for tf.nn.conv2d, so the input may be passed as `input`
    and the weights as `filters` (TF2) or `filter` (TF1). When x has G times
    as many channels as w has inputs, this is a grouped convolution with G
    groups and w is [kh, kw, inC, G * outC].
    """
    x = tf.convert_to_tensor(_only('input', x, input))
    w = tf.convert_to_tensor(_only('filter', w, filters, filter), dtype=x.dtype)
    sh, sw = _strides_hw(strides, data_format)

    def conv(xg, wg):
        return tf.nn.conv2d(xg, wg, strides=[1, sh, sw, 1], padding=padding, data_format='NHWC')

    return run_nhwc(lambda y: run_grouped(conv, y, w), x, data_format)
