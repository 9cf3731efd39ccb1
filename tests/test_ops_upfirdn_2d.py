"""upfirdn_2d and the resampling ops built on it, against numpy references of StyleGAN2's semantics."""

import numpy as np
import pytest
import scipy.signal
import tensorflow as tf

from dnnlib.tflib.ops.conv2d import conv2d
from dnnlib.tflib.ops.fused_bias_act import fused_bias_act
from dnnlib.tflib.ops.upfirdn_2d import (conv_downsample_2d, downsample_2d, filter_2d, upfirdn_2d, upsample_2d,
                                         upsample_conv_2d)

tf.compat.v1.disable_eager_execution()


def upfirdn_ref(x, k, upx=1, upy=1, downx=1, downy=1, padx0=0, padx1=0, pady0=0, pady1=0):
    """x [N, H, W, C]: insert zeros, pad or crop, convolve each channel with k, decimate."""
    n, h, w, c = x.shape
    u = np.zeros([n, h * upy, w * upx, c])
    for i in range(h):
        for j in range(w):
            u[:, i * upy, j * upx] = x[:, i, j]
    u = np.pad(u, [(0, 0), (max(pady0, 0), max(pady1, 0)), (max(padx0, 0), max(padx1, 0)), (0, 0)])
    u = u[:, max(-pady0, 0):u.shape[1] - max(-pady1, 0), max(-padx0, 0):u.shape[2] - max(-padx1, 0)]
    y = np.stack([np.stack([scipy.signal.convolve2d(u[b, :, :, ch], k, mode='valid') for ch in range(c)], axis=-1)
                  for b in range(n)])
    return y[:, ::downy, ::downx]


def fir(k, scale=1):
    """StyleGAN2's 2-D filter for the 1-D taps k: the outer product normalised to sum `scale`."""
    k = np.outer(k, k)
    return k / k.sum() * scale


def transposed_conv_ref(x, f, factor):
    """tf.nn.conv2d_transpose(x, f, strides=factor, padding='VALID') by its definition:
    each input pixel adds itself times f ([kh, kw, out, in]) at `factor` times its position."""
    n, h, w, _ = x.shape
    kh, kw, out_c, _ = f.shape
    y = np.zeros([n, (h - 1) * factor + kh, (w - 1) * factor + kw, out_c])
    for i in range(h):
        for j in range(w):
            y[:, i * factor:i * factor + kh, j * factor:j * factor + kw] += np.einsum('nc,abdc->nabd', x[:, i, j], f)
    return y


def upsample_conv_ref(x, w, k, factor):
    """StyleGAN2's upsample_conv_2d: a transposed conv with w flipped and its
    channel axes swapped, then the FIR filter (times factor^2) with its padding.
    StyleGAN2 pads p // 2 + 1 at the end, which is p // 2 + factor - 1 for its
    factor 2; the latter keeps the documented H * factor output for any factor."""
    k = fir(k, factor ** 2)
    p = (k.shape[0] - factor) - (w.shape[0] - 1)
    y = transposed_conv_ref(x, w[::-1, ::-1].transpose(0, 1, 3, 2), factor)
    pad0, pad1 = (p + 1) // 2 + factor - 1, p // 2 + factor - 1
    return upfirdn_ref(y, k, padx0=pad0, padx1=pad1, pady0=pad0, pady1=pad1)


def conv_downsample_ref(x, w, k, factor):
    """StyleGAN2's conv_downsample_2d: the padded FIR filter, then a stride-factor valid correlation with w."""
    k = fir(k)
    p = (k.shape[0] - factor) + (w.shape[0] - 1)
    y = upfirdn_ref(x, k, padx0=(p + 1) // 2, padx1=p // 2, pady0=(p + 1) // 2, pady1=p // 2)
    return np.stack([
        np.stack([sum(scipy.signal.correlate2d(y[b, :, :, i], w[:, :, i, o], mode='valid') for i in range(w.shape[2]))
                  for o in range(w.shape[3])], axis=-1)[::factor, ::factor]
        for b in range(x.shape[0])])


# (factor, FIR taps, conv size) for the fused resample-and-conv ops.
FUSED_CASES = [(2, [1, 3, 3, 1], 3), (2, None, 1), (3, [1, 2, 1], 3), (2, [1, 3, 3, 1], 4)]


def to_nchw(x):
    return np.transpose(x, [0, 3, 1, 2])


def evaluate(fetches, feed_dict=None):
    with tf.compat.v1.Session() as sess:
        return sess.run(fetches, feed_dict)


def test_upfirdn_ref_by_hand():
    x = np.array([1.0, 2.0]).reshape(1, 1, 2, 1)
    y = upfirdn_ref(x, np.array([[1.0, 10.0]]), upx=2, padx0=1, padx1=0)
    # zeros inserted: [1, 0, 2, 0]; padded: [0, 1, 0, 2, 0]; convolved with [1, 10]: [1, 10, 2, 20]
    np.testing.assert_array_equal(y.ravel(), [1, 10, 2, 20])


@pytest.mark.parametrize('k, up, down, pad', [
    (np.arange(1, 10.0).reshape(3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    (np.arange(1, 9.0).reshape(2, 4), (2, 3), (1, 1), (1, 2, 0, 1)),
    (np.arange(1, 7.0).reshape(3, 2), (1, 1), (2, 2), (-1, 2, 1, -2)),
    (np.outer([1, 2, 1], [1, 3, 3, 1]), (2, 2), (3, 1), (2, 1, 0, 3)),
    (np.outer([1, -2, 4], [1, 2, 3, 5]), (3, 2), (1, 1), (0, 0, 2, -1)),
    (np.arange(16.0).reshape(4, 4) ** 2, (1, 1), (3, 3), (2, 2, 2, 2)),
])
def test_upfirdn_matches_reference(k, up, down, pad):
    x = np.random.RandomState(0).randn(2, 5, 4, 3).astype(np.float32)
    args = dict(upx=up[0], upy=up[1], downx=down[0], downy=down[1],
                padx0=pad[0], padx1=pad[1], pady0=pad[2], pady1=pad[3])
    ref = upfirdn_ref(x, k, **args)
    with tf.Graph().as_default():
        y = upfirdn_2d(x, k, **args)
        assert y.shape == ref.shape
        y = evaluate(y)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-4)


def test_upfirdn_unknown_batch_and_channels():
    x = np.random.RandomState(1).randn(2, 4, 3, 3).astype(np.float32)
    k = fir([1, 3, 3, 1])
    with tf.Graph().as_default():
        xp = tf.compat.v1.placeholder(tf.float32, [None, 4, 3, None])
        y = upfirdn_2d(xp, k, upx=2, upy=2, downx=3, downy=3, padx0=2, padx1=1, pady0=2, pady1=1, impl='ref')
        assert y.shape.as_list() == [None, 3, 2, None]
        y = evaluate(y, {xp: x})
    np.testing.assert_allclose(y, upfirdn_ref(x, k, 2, 2, 3, 3, 2, 1, 2, 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('data_format', ['NCHW', 'NHWC'])
def test_resampling_shapes(data_format):
    def shape(n, c, h, w):
        return [n, c, h, w] if data_format == 'NCHW' else [n, h, w, c]
    with tf.Graph().as_default():
        x = tf.zeros(shape(1, 2, 6, 9))
        assert filter_2d(x, [1, 3, 3, 1], data_format=data_format).shape == shape(1, 2, 6, 9)
        assert upsample_2d(x, data_format=data_format).shape == shape(1, 2, 12, 18)
        assert upsample_2d(x, [1, 3, 3, 1], factor=3, data_format=data_format).shape == shape(1, 2, 18, 27)
        assert downsample_2d(x, [1, 3, 3, 1], data_format=data_format).shape == shape(1, 2, 3, 4)
        assert downsample_2d(x, factor=3, data_format=data_format).shape == shape(1, 2, 2, 3)


def test_box_filters_are_nearest_and_average():
    x = np.random.RandomState(2).randn(1, 2, 4, 6).astype(np.float32)
    with tf.Graph().as_default():
        up, down = evaluate([upsample_2d(x), downsample_2d(x)])
    np.testing.assert_allclose(up, x.repeat(2, axis=2).repeat(2, axis=3), rtol=1e-6)
    np.testing.assert_allclose(down, x.reshape(1, 2, 2, 2, 3, 2).mean(axis=(3, 5)), rtol=1e-5)


def test_constant_images_stay_constant():
    x = np.full([1, 1, 8, 8], 3.0, np.float32)
    with tf.Graph().as_default():
        up, down, filtered = evaluate([upsample_2d(x, [1, 3, 3, 1]), downsample_2d(x, [1, 3, 3, 1]),
                                       filter_2d(x, [1, 2, 1], gain=2)])
    np.testing.assert_allclose(up[..., 2:-2, 2:-2], 3.0, rtol=1e-6)
    np.testing.assert_allclose(down[..., 1:-1, 1:-1], 3.0, rtol=1e-6)
    np.testing.assert_allclose(filtered[..., 1:-1, 1:-1], 6.0, rtol=1e-6)


def test_filter_2d_keeps_impulse_in_place():
    x = np.zeros([1, 1, 5, 5], np.float32)
    x[0, 0, 2, 2] = 1
    with tf.Graph().as_default():
        y = evaluate(filter_2d(x, [1, 2, 1]))
    expected = np.zeros([5, 5])
    expected[1:4, 1:4] = fir([1, 2, 1])
    np.testing.assert_allclose(y[0, 0], expected, rtol=1e-6, atol=1e-7)


def test_upsample_and_downsample_are_aligned():
    # A linear ramp is reproduced exactly (away from the borders) at the pixel
    # centres of the new grid: output pixel m sits at input coordinate
    # (m + 0.5) / 2 - 0.5 when upsampling and 2 * m + 0.5 when downsampling.
    def ramp(i, j):
        return 0.5 * i - 0.3 * j + 1
    n = np.arange(8.0)
    x = ramp(n[:, None], n[None, :])[None, None].astype(np.float32)
    m_up = (np.arange(16.0) + 0.5) / 2 - 0.5
    m_down = 2 * np.arange(4.0) + 0.5
    with tf.Graph().as_default():
        up, down, both = evaluate([upsample_2d(x, [1, 3, 3, 1]), downsample_2d(x, [1, 3, 3, 1]),
                                   downsample_2d(upsample_2d(x, [1, 3, 3, 1]), [1, 3, 3, 1])])
    close = dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(up[0, 0, 2:-2, 2:-2], ramp(m_up[:, None], m_up[None, :])[2:-2, 2:-2], **close)
    np.testing.assert_allclose(down[0, 0, 1:-1, 1:-1], ramp(m_down[:, None], m_down[None, :])[1:-1, 1:-1], **close)
    np.testing.assert_allclose(both[0, 0, 2:-2, 2:-2], x[0, 0, 2:-2, 2:-2], **close)


@pytest.mark.parametrize('factor, k, size', FUSED_CASES)
def test_upsample_conv_matches_stylegan2_reference(factor, k, size):
    rng = np.random.RandomState(3)
    x = rng.randn(2, 3, 4, 2).astype(np.float32)
    w = rng.randn(size, size, 2, 3).astype(np.float32)
    ref = upsample_conv_ref(x, w, [1] * factor if k is None else k, factor)
    assert ref.shape == (2, 3 * factor, 4 * factor, 3)
    with tf.Graph().as_default():
        y = upsample_conv_2d(to_nchw(x), w, k, factor=factor)
        assert y.shape == to_nchw(ref).shape
        y = evaluate(y)
    np.testing.assert_allclose(y, to_nchw(ref), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('factor, k, size', FUSED_CASES)
def test_conv_downsample_matches_stylegan2_reference(factor, k, size):
    rng = np.random.RandomState(4)
    x = rng.randn(2, 6, 7, 2).astype(np.float32)
    w = rng.randn(size, size, 2, 3).astype(np.float32)
    ref = conv_downsample_ref(x, w, [1] * factor if k is None else k, factor)
    assert ref.shape == (2, 6 // factor, 7 // factor, 3)
    with tf.Graph().as_default():
        y = conv_downsample_2d(to_nchw(x), w, k, factor=factor)
        assert y.shape == to_nchw(ref).shape
        y = evaluate(y)
    np.testing.assert_allclose(y, to_nchw(ref), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('factor, k', [(2, [1, 3, 3, 1]), (3, [1, 2, 2, 1])])
def test_fused_ops_equal_resample_and_conv_inside(factor, k):
    # The fused ops differ from resampling and convolving separately only at the borders.
    rng = np.random.RandomState(5)
    x = rng.randn(1, 2, 6, 6).astype(np.float32)
    w = rng.randn(3, 3, 2, 3).astype(np.float32)
    with tf.Graph().as_default():
        fused_up, plain_up, fused_down, plain_down = evaluate([
            upsample_conv_2d(x, w, k, factor), conv2d(upsample_2d(x, k, factor), w),
            conv_downsample_2d(x, w, k, factor), downsample_2d(conv2d(x, w), k, factor)])
    np.testing.assert_allclose(fused_up[..., 1:-1, 1:-1], plain_up[..., 1:-1, 1:-1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fused_down[..., 1:-1, 1:-1], plain_down[..., 1:-1, 1:-1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('op', [upsample_conv_2d, conv_downsample_2d])
@pytest.mark.parametrize('static_channels', [True, False])
def test_grouped_matches_per_group(op, static_channels):
    groups, in_c, out_c = 3, 2, 2
    rng = np.random.RandomState(6)
    x = rng.randn(1, groups * in_c, 4, 4).astype(np.float32)
    w = rng.randn(3, 3, in_c, groups * out_c).astype(np.float32)
    with tf.Graph().as_default():
        xp = tf.compat.v1.placeholder(tf.float32, [1, groups * in_c if static_channels else None, 4, 4])
        grouped = op(xp, w, [1, 3, 3, 1])
        assert grouped.shape[2:] == op(x[:, :in_c], w[..., :out_c], [1, 3, 3, 1]).shape[2:]
        per_group = [op(x[:, g * in_c:(g + 1) * in_c], w[..., g * out_c:(g + 1) * out_c], [1, 3, 3, 1])
                     for g in range(groups)]
        grouped, per_group = evaluate([grouped, per_group], {xp: x})
    np.testing.assert_allclose(grouped, np.concatenate(per_group, axis=1), rtol=1e-5, atol=1e-5)


def test_nchw_equals_nhwc():
    rng = np.random.RandomState(7)
    x = rng.randn(2, 4, 5, 2).astype(np.float32)
    w = rng.randn(3, 3, 2, 3).astype(np.float32)
    ops = [lambda v, df: filter_2d(v, [1, 3, 3, 1], gain=2, data_format=df),
           lambda v, df: upsample_2d(v, [1, 3, 3, 1], data_format=df),
           lambda v, df: downsample_2d(v, [1, 2, 1], data_format=df),
           lambda v, df: upsample_conv_2d(v, w, [1, 3, 3, 1], data_format=df),
           lambda v, df: conv_downsample_2d(v, w, [1, 3, 3, 1], data_format=df)]
    with tf.Graph().as_default():
        nchw, nhwc = evaluate([[op(to_nchw(x), 'NCHW') for op in ops], [op(x, 'NHWC') for op in ops]])
    for a, b in zip(nchw, nhwc):
        np.testing.assert_allclose(a, to_nchw(b), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('k, args', [
    (fir([1, 3, 3, 1]), dict(upx=2, upy=2, padx0=2, padx1=1, pady0=2, pady1=1)),
    (np.arange(1, 7.0).reshape(3, 2), dict(downx=2, downy=2, padx0=-1, padx1=1, pady0=1, pady1=0)),
])
def test_upfirdn_gradient_matches_finite_differences(k, args):
    x = np.random.RandomState(8).randn(1, 3, 4, 2)
    with tf.Graph().as_default(), tf.compat.v1.Session():
        xt = tf.constant(x)
        y = upfirdn_2d(xt, k, **args)
        err = tf.compat.v1.test.compute_gradient_error(xt, x.shape, y, y.shape.as_list(), x_init_value=x)
    assert err < 1e-8


@pytest.mark.parametrize('op', [upsample_conv_2d, conv_downsample_2d])
@pytest.mark.parametrize('static_channels', [True, False])
def test_grouped_gradients_match_finite_differences(op, static_channels):
    groups, in_c, out_c = 2, 1, 1
    rng = np.random.RandomState(9)
    x = rng.randn(1, groups * in_c, 3, 3)
    w = rng.randn(3, 3, in_c, groups * out_c)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        # compute_gradient feeds one input at a time; the other keeps its default.
        xp = tf.compat.v1.placeholder_with_default(x, [1, x.shape[1] if static_channels else None, 3, 3])
        wp = tf.compat.v1.placeholder_with_default(w, w.shape)
        y = op(xp, wp, [1, 3, 3, 1])
        err = tf.compat.v1.test.compute_gradient_error([xp, wp], [x.shape, w.shape], y, sess.run(tf.shape(y)).tolist(),
                                                       x_init_value=[x, w])
        # Path-length and R1 regularisation differentiate through these ops twice.
        dx = tf.gradients(tf.reduce_sum(tf.sin(y)), xp)[0]
        assert None not in tf.gradients(tf.reduce_sum(tf.square(dx)), [xp, wp])
    assert err < 1e-8


def test_ops_build_under_tf1_shape_semantics():
    # The authors' pickled source is built with TF1 shapes (x.shape[i] is a Dimension).
    rng = np.random.RandomState(10)
    x = rng.randn(1, 4, 4, 4).astype(np.float32)
    w = rng.randn(3, 3, 2, 4).astype(np.float32)

    def build(xp):
        return [conv2d(xp, w), filter_2d(xp, [1, 2, 1]), upsample_2d(xp), downsample_2d(xp, [1, 3, 3, 1]),
                upsample_conv_2d(xp, w, [1, 3, 3, 1]), conv_downsample_2d(xp, w, [1, 3, 3, 1]),
                fused_bias_act(xp, tf.ones([4]), act='lrelu')]

    with tf.Graph().as_default():
        static = tf.constant(x)
        dynamic = tf.compat.v1.placeholder_with_default(x, [None, None, 4, 4])
        tf.compat.v1.disable_v2_tensorshape()
        try:
            ys = build(static) + build(dynamic)
        finally:
            tf.compat.v1.enable_v2_tensorshape()
        expected = build(static) * 2
        ys, expected = evaluate([ys, expected])
    for y, e in zip(ys, expected):
        np.testing.assert_allclose(y, e, rtol=1e-5, atol=1e-6)
