"""Plain and grouped 2-D convolution that runs forward and backward on CPU.

TF's CPU kernels reject NCHW convolutions and have no gradient for grouped
convolutions, so everything here runs NHWC internally. A grouped
convolution is split into one ordinary convolution per group, or, when the
group count is only known at run time, computed from image patches by
batched matmul (see benchmarks/bench_ops.py for the timings behind these
choices).
"""

import tensorflow as tf

from .. import precision


def static_dim(x, i):
    """Size of axis i of x as a Python int, or None when unknown.

    Works under TF1 shape semantics (TensorShape items are Dimensions), which
    the pickled network source of the authors needs while it builds.
    """
    return tf.compat.v1.dimension_value(x.shape[i])


def dim(x, i):
    """Size of axis i of x: a Python int when static, else a scalar tensor."""
    size = static_dim(x, i)
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

    x is NHWC with G * inC channels, G static, and w is [kh, kw, inC, G * outC];
    group g pairs channels [g*inC, (g+1)*inC) of x with outputs
    [g*outC, (g+1)*outC) of w. G == 1 is a plain call.
    """
    groups = _num_groups(x, w)
    assert groups is not None, 'the channel count of x must be static'
    if groups == 1:
        return fn(x, w)
    parts = zip(tf.split(x, groups, axis=3), tf.split(w, groups, axis=3))
    return tf.concat([fn(xg, wg) for xg, wg in parts], axis=3)


def _num_groups(x, w):
    """G for x with G * inC channels (NHWC); None when only known at run time."""
    in_c = static_dim(w, 2)
    assert in_c is not None, 'the input channels of w must be static'
    x_c = static_dim(x, 3)
    if x_c is None:
        return None
    assert x_c % in_c == 0, (x.shape, w.shape)
    return x_c // in_c


def _grouped_conv_by_patches(x, w, strides, padding):
    """Grouped NHWC convolution whose group count is only known at run time.

    Gathers each output pixel's input patch, then multiplies the patches of
    all groups with their weights in one batched matmul; unlike a loop over
    the groups, this builds no control flow.
    """
    kh, kw, in_c = static_dim(w, 0), static_dim(w, 1), static_dim(w, 2)
    groups = tf.shape(x)[3] // in_c
    p = tf.image.extract_patches(x, [1, kh, kw, 1], strides, [1, 1, 1, 1], padding)
    n, oh, ow = dim(p, 0), dim(p, 1), dim(p, 2)
    # A patch is laid out (kh, kw, G, inC); bring the groups to the front.
    p = tf.transpose(tf.reshape(p, [-1, kh * kw, groups, in_c]), [2, 0, 1, 3])
    p = tf.reshape(p, [groups, -1, kh * kw * in_c])
    wg = tf.transpose(tf.reshape(w, [kh * kw, in_c, groups, -1]), [2, 0, 1, 3])
    wg = tf.reshape(wg, [groups, kh * kw * in_c, -1])
    y = tf.transpose(tf.matmul(p, wg), [1, 0, 2])
    return tf.reshape(y, [n, oh, ow, -1])


def _nhwc_strides(strides, data_format):
    """NHWC 4-list of strides from an int, an (h, w) pair, or a TF1-style 4-list in data_format order."""
    if isinstance(strides, int):
        return [1, strides, strides, 1]
    strides = list(strides)
    if len(strides) == 2:
        return [1] + strides + [1]
    assert len(strides) == 4, strides
    if data_format == 'NCHW':
        strides = [strides[i] for i in (0, 2, 3, 1)]
    assert strides[0] == strides[3] == 1, strides
    return strides


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
    strides = _nhwc_strides(strides, data_format)
    assert padding in ('SAME', 'VALID'), padding

    def conv(y):
        if _num_groups(y, w) is None:
            return _grouped_conv_by_patches(y, w, strides, padding)
        return run_grouped(lambda yg, wg: precision.apply(
            lambda a, b: tf.nn.conv2d(a, b, strides, padding, data_format='NHWC'), yg, wg), y, w)

    return run_nhwc(conv, x, data_format)
