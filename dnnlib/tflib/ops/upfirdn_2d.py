"""Upsampling, FIR filtering and downsampling of 2-D images (StyleGAN2's
upfirdn_2d and the resampling ops built on it), in plain TensorFlow.

There is no compiled kernel: `impl` ('cuda' or 'ref') is accepted for the
callers' sake and the same TF code runs for both. Everything runs NHWC;
NCHW inputs are transposed in and out once per call.
"""

import numpy as np
import tensorflow as tf

from .. import precision
from .conv2d import conv2d, dim, run_grouped, run_nhwc, static_dim

_IMPLS = ('cuda', 'ref')


def upfirdn_2d(x, k, upx=1, upy=1, downx=1, downy=1, padx0=0, padx1=0, pady0=0, pady1=0, impl='cuda'):
    """Upsample, pad, FIR-filter and downsample a batch of 2-D images.

    x is [majorDim, inH, inW, minorDim]. In order: insert up-1 zeros after
    every pixel, zero-pad by the pad amounts (negative amounts crop),
    convolve (a true convolution, not a correlation) with the 2-D filter k
    over the valid region, then keep every down-th pixel. The output is
    [majorDim, (inH*upy + pady0 + pady1 - kH) // downy + 1,
    (inW*upx + padx0 + padx1 - kW) // downx + 1, minorDim].
    """
    assert impl in _IMPLS, impl
    x = tf.convert_to_tensor(x)
    k = np.asarray(k, dtype=np.float64)
    assert x.shape.rank == 4 and k.ndim == 2
    x = _insert_zeros(x, upx, upy)
    x = _pad(x, pady0, pady1, padx0, padx1)
    return _filter(x, k[::-1, ::-1], downx, downy)


def _insert_zeros(x, upx, upy):
    if upx == upy == 1:
        return x
    n, h, w, c = [dim(x, i) for i in range(4)]
    x = tf.reshape(x, [n, h, 1, w, 1, c])
    x = tf.pad(x, [[0, 0], [0, 0], [0, upy - 1], [0, 0], [0, upx - 1], [0, 0]])
    return tf.reshape(x, [n, h * upy, w * upx, c])


def _pad(x, y0, y1, x0, x1):
    """Zero-pads the H and W axes of an NHWC tensor; negative amounts crop."""
    if max(y0, y1, x0, x1) > 0:
        x = tf.pad(x, [[0, 0], [max(y0, 0), max(y1, 0)], [max(x0, 0), max(x1, 0)], [0, 0]])
    if min(y0, y1, x0, x1) < 0:
        h, w = dim(x, 1), dim(x, 2)
        x = x[:, max(-y0, 0):h - max(-y1, 0), max(-x0, 0):w - max(-x1, 0), :]
    return x


def _filter(x, k, downx, downy):
    """Correlates every channel with k over the valid region, keeping every down-th pixel."""
    factors = _separable_factors(k)
    if downx == downy == 1 and factors is not None:
        # Two 1-D passes cost kH + kW instead of kH * kW multiply-adds per pixel.
        ky, kx = factors
        return _depthwise(_depthwise(x, ky[:, np.newaxis], 1), kx[np.newaxis, :], 1)
    if downx == downy:
        # A strided filter computes only the pixels that are kept.
        return _depthwise(x, k, downx)
    return _depthwise(x, k, 1)[:, ::downy, ::downx, :]


def _separable_factors(k):
    """(ky, kx) with k == outer(ky, kx), or None when k is not separable."""
    u, s, vt = np.linalg.svd(k)
    ky, kx = u[:, 0] * s[0], vt[0]
    if np.allclose(np.outer(ky, kx), k, rtol=0, atol=1e-9 * np.abs(k).max()):
        return ky, kx
    return None


def _depthwise(x, k, stride):
    channels = static_dim(x, 3)
    if channels is None:
        f = tf.tile(tf.constant(k[:, :, np.newaxis, np.newaxis], dtype=x.dtype), [1, 1, dim(x, 3), 1])
    else:  # a constant, not a tile op run at every step
        f = tf.constant(np.tile(k[:, :, np.newaxis, np.newaxis], [1, 1, channels, 1]), dtype=x.dtype)
    return tf.nn.depthwise_conv2d(x, f, [1, stride, stride, 1], 'VALID')


def _setup_kernel(k, factor=None):
    """The 2-D filter for k (None: a box of `factor` taps; 1-D: separable), normalised to sum 1."""
    if k is None:
        k = [1] * factor
    k = np.asarray(k, dtype=np.float64)
    if k.ndim == 1:
        k = np.outer(k, k)
    assert k.ndim == 2 and k.shape[0] == k.shape[1], k.shape
    return k / np.sum(k)


def _simple(x, k, up=1, down=1, pad0=0, pad1=0, impl='cuda'):
    """upfirdn_2d of an NHWC tensor with the same settings for both axes."""
    return upfirdn_2d(x, k, upx=up, upy=up, downx=down, downy=down,
                      padx0=pad0, padx1=pad1, pady0=pad0, pady1=pad1, impl=impl)


def filter_2d(x, k, gain=1, data_format='NCHW', impl='cuda'):
    """Filters each channel with the FIR filter k (normalised, times gain), keeping the size."""
    k = _setup_kernel(k) * gain
    p = k.shape[0] - 1
    return run_nhwc(lambda y: _simple(y, k, pad0=(p + 1) // 2, pad1=p // 2, impl=impl), x, data_format)


def upsample_2d(x, k=None, factor=2, gain=1, data_format='NCHW', impl='cuda'):
    """Upsamples by an integer factor with the FIR filter k: [N, C, H, W] -> [N, C, H*factor, W*factor]."""
    assert isinstance(factor, int) and factor >= 1
    k = _setup_kernel(k, factor) * (gain * factor ** 2)
    p = k.shape[0] - factor
    return run_nhwc(lambda y: _simple(y, k, up=factor, pad0=(p + 1) // 2 + factor - 1, pad1=p // 2, impl=impl),
                    x, data_format)


def downsample_2d(x, k=None, factor=2, gain=1, data_format='NCHW', impl='cuda'):
    """Downsamples by an integer factor with the FIR filter k: [N, C, H, W] -> [N, C, H//factor, W//factor]."""
    assert isinstance(factor, int) and factor >= 1
    k = _setup_kernel(k, factor) * gain
    p = k.shape[0] - factor
    return run_nhwc(lambda y: _simple(y, k, down=factor, pad0=(p + 1) // 2, pad1=p // 2, impl=impl),
                    x, data_format)


def _conv_size(w):
    """Spatial size of square HWIO weights w."""
    size = static_dim(w, 0)
    assert w.shape.rank == 4 and size is not None and size == static_dim(w, 1), w.shape
    return size


def upsample_conv_2d(x, w, k=None, factor=2, gain=1, data_format='NCHW', impl='cuda'):
    """Upsampling by `factor`, convolution with w and FIR filtering in one op.

    Equals conv2d(upsample_2d(x, k), w) away from the borders, and
    StyleGAN2's upsample_conv_2d for factor 2;
    [N, G*inC, H, W] -> [N, G*outC, H*factor, W*factor] for w of shape
    [kh, kh, inC, G*outC] (G > 1 means a grouped convolution).
    """
    assert isinstance(factor, int) and factor >= 1
    x = tf.convert_to_tensor(x)
    w = tf.convert_to_tensor(w, dtype=x.dtype)
    size = _conv_size(w)
    k = _setup_kernel(k, factor) * (gain * factor ** 2)
    p = (k.shape[0] - factor) - (size - 1)

    def transposed_conv(xg, wg):
        out_shape = [dim(xg, 0), (dim(xg, 1) - 1) * factor + size, (dim(xg, 2) - 1) * factor + size, dim(wg, 3)]
        # conv2d_transpose scatters each pixel times its filter; with w flipped and
        # its channel axes swapped, that is w correlated with the zero-upsampled
        # input, as in StyleGAN2. tf.reverse, not wg[::-1, ::-1]: a negative-stride
        # slice of 512x512 weights takes ten times as long.
        wt = tf.transpose(tf.reverse(wg, [0, 1]), [0, 1, 3, 2])
        return precision.apply(lambda a, b: tf.nn.conv2d_transpose(a, b, out_shape, strides=[1, factor, factor, 1],
                                                                   padding='VALID'), xg, wt)

    def run(y):
        if static_dim(y, 3) is None:
            # The group count is only known at run time: correlate the
            # zero-upsampled input, padded for a full correlation, with w.
            y = _pad(_insert_zeros(y, factor, factor), size - 1, size - factor, size - 1, size - factor)
            y = conv2d(y, w, padding='VALID', data_format='NHWC')
        else:
            y = run_grouped(transposed_conv, y, w)
        # StyleGAN2 ends with pad p // 2 + 1: the same for factor 2, its only
        # use, but one pixel short per extra factor, contrary to its documented shape.
        return _simple(y, k, pad0=(p + 1) // 2 + factor - 1, pad1=p // 2 + factor - 1, impl=impl)

    return run_nhwc(run, x, data_format)


def conv_downsample_2d(x, w, k=None, factor=2, gain=1, data_format='NCHW', impl='cuda'):
    """FIR filtering, convolution with w and downsampling by `factor` in one op.

    [N, G*inC, H, W] -> [N, G*outC, H//factor, W//factor] for w of shape
    [kh, kh, inC, G*outC] (G > 1 means a grouped convolution).
    """
    assert isinstance(factor, int) and factor >= 1
    x = tf.convert_to_tensor(x)
    w = tf.convert_to_tensor(w, dtype=x.dtype)
    size = _conv_size(w)
    k = _setup_kernel(k, factor) * gain
    p = (k.shape[0] - factor) + (size - 1)

    def run(y):
        y = _simple(y, k, pad0=(p + 1) // 2, pad1=p // 2, impl=impl)
        return conv2d(y, w, strides=factor, padding='VALID', data_format='NHWC')

    return run_nhwc(run, x, data_format)
