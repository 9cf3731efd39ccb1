"""conv2d: NHWC/NCHW, grouped (static and run-time group count) and the tf.nn.conv2d call forms."""

import numpy as np
import pytest
import tensorflow as tf

from dnnlib.tflib.ops.conv2d import conv2d

tf.compat.v1.disable_eager_execution()


def conv_ref(x, w, stride=1, padding='SAME'):
    """NHWC cross-correlation with HWIO weights, summing one product per filter tap."""
    kh, kw = w.shape[:2]
    if padding == 'SAME':
        # TF's SAME: ceil(size / stride) outputs, the odd padding pixel at the end.
        pads = []
        for size, k in zip(x.shape[1:3], (kh, kw)):
            total = max((-(-size // stride) - 1) * stride + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    oh = (x.shape[1] - kh) // stride + 1
    ow = (x.shape[2] - kw) // stride + 1
    y = np.zeros([x.shape[0], oh, ow, w.shape[3]])
    for a in range(kh):
        for b in range(kw):
            window = x[:, a:a + (oh - 1) * stride + 1:stride, b:b + (ow - 1) * stride + 1:stride]
            y += np.einsum('nhwi,io->nhwo', window, w[a, b])
    return y


def to_nchw(x):
    return np.transpose(x, [0, 3, 1, 2])


def test_conv_ref_by_hand():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    w = np.zeros([3, 3, 1, 1])
    w[0, 2] = 1  # picks the pixel up and to the right
    expected = np.array([[0, 0, 0], [1, 2, 0], [4, 5, 0]])
    np.testing.assert_array_equal(conv_ref(x, w)[0, :, :, 0], expected)


@pytest.mark.parametrize('stride, padding, shape', [
    (1, 'SAME', [2, 5, 4, 3]), (2, 'SAME', [2, 5, 4, 3]), (1, 'VALID', [1, 5, 6, 3]), (2, 'VALID', [1, 6, 5, 3])])
def test_nhwc_and_nchw_match_reference(stride, padding, shape):
    rng = np.random.RandomState(0)
    x = rng.randn(*shape).astype(np.float32)
    w = rng.randn(3, 2, 3, 4).astype(np.float32)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        nhwc = conv2d(x, w, strides=stride, padding=padding, data_format='NHWC')
        nchw = conv2d(to_nchw(x), w, strides=stride, padding=padding, data_format='NCHW')
        ref = conv_ref(x, w, stride, padding)
        assert nhwc.shape == ref.shape and nchw.shape == to_nchw(ref).shape
        nhwc, nchw = sess.run([nhwc, nchw])
    np.testing.assert_allclose(nhwc, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(nchw, to_nchw(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('static_channels', [True, False])
@pytest.mark.parametrize('stride, padding', [(1, 'SAME'), (2, 'SAME'), (2, 'VALID')])
def test_grouped_matches_per_group(static_channels, stride, padding):
    groups, in_c, out_c = 3, 2, 2
    rng = np.random.RandomState(1)
    x = rng.randn(2, 5, 5, groups * in_c).astype(np.float32)
    w = rng.randn(3, 3, in_c, groups * out_c).astype(np.float32)
    ref = np.concatenate([conv_ref(x[..., g * in_c:(g + 1) * in_c], w[..., g * out_c:(g + 1) * out_c], stride, padding)
                          for g in range(groups)], axis=3)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        xp = tf.compat.v1.placeholder(tf.float32, [2, 5, 5, groups * in_c if static_channels else None])
        nhwc = conv2d(xp, w, strides=stride, padding=padding, data_format='NHWC')
        nchw = conv2d(tf.transpose(xp, [0, 3, 1, 2]), w, strides=stride, padding=padding, data_format='NCHW')
        assert nhwc.shape[:3] == ref.shape[:3]
        nhwc, nchw = sess.run([nhwc, nchw], {xp: x})
    np.testing.assert_allclose(nhwc, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(nchw, to_nchw(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('static_channels', [True, False])
def test_grouped_gradients_match_finite_differences(static_channels):
    groups, in_c, out_c = 2, 2, 1
    rng = np.random.RandomState(2)
    x = rng.randn(1, groups * in_c, 3, 3)
    w = rng.randn(3, 3, in_c, groups * out_c)
    with tf.Graph().as_default(), tf.compat.v1.Session():
        # compute_gradient feeds one input at a time; the other keeps its default.
        xp = tf.compat.v1.placeholder_with_default(x, [1, x.shape[1] if static_channels else None, 3, 3])
        wp = tf.compat.v1.placeholder_with_default(w, w.shape)
        y = conv2d(xp, wp)
        err = tf.compat.v1.test.compute_gradient_error([xp, wp], [x.shape, w.shape], y, [1, groups * out_c, 3, 3],
                                                       x_init_value=[x, w])
        # Path-length regularisation differentiates through the convolution twice.
        dx = tf.gradients(tf.reduce_sum(tf.sin(y)), xp)[0]
        assert None not in tf.gradients(tf.reduce_sum(tf.square(dx)), [xp, wp])
    assert err < 1e-8


def test_tf_nn_conv2d_call_forms():
    rng = np.random.RandomState(3)
    x = rng.randn(1, 2, 4, 4).astype(np.float32)
    w = rng.randn(3, 3, 2, 3).astype(np.float32)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        ys = [
            conv2d(x, w, data_format='NCHW', strides=[1, 1, 1, 1], padding='SAME'),
            conv2d(input=x, filters=w, strides=[1, 1, 1, 1], padding='SAME', data_format='NCHW'),
            conv2d(input=x, filter=w, strides=[1, 1, 1, 1], padding='SAME', data_format='NCHW'),
            conv2d(x, filter=w, strides=1, padding='SAME', data_format='NCHW'),
            conv2d(x, w, [1, 1, 1, 1], 'SAME', 'NCHW'),
            conv2d(x, w),
        ]
        strided = [conv2d(x, w, strides=[1, 1, 2, 2], data_format='NCHW'),
                   conv2d(x.transpose(0, 2, 3, 1), w, strides=[1, 2, 2, 1], data_format='NHWC')]
        ys, strided = sess.run([ys, strided])
    ref = to_nchw(conv_ref(x.transpose(0, 2, 3, 1), w))
    for y in ys:
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(strided[0], to_nchw(strided[1]), rtol=1e-6)
    np.testing.assert_allclose(strided[1], conv_ref(x.transpose(0, 2, 3, 1), w, stride=2), rtol=1e-5, atol=1e-5)


def test_needs_exactly_one_input_and_filter():
    x = np.zeros([1, 1, 3, 3], np.float32)
    w = np.zeros([1, 1, 1, 1], np.float32)
    with tf.Graph().as_default():
        with pytest.raises(AssertionError):
            conv2d(x, w, filter=w)
        with pytest.raises(AssertionError):
            conv2d(x, input=x, filters=w)
