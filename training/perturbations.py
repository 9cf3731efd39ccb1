"""Image perturbations for immunisation (paper §4.5): during training, generated
images pass through a random perturbation of random strength before the
decoder reads them, so that it learns to read through it.

All functions take and return NCHW float images in [-1, 1] and are built into
the graph. Crop, blur and noise are differentiable; JPEG is a real codec round
trip (8-bit pixels, libjpeg), which has no gradient, so its gradient is passed
straight through (the decoder still learns from the compressed pixels, the
generator from the uncompressed ones). metrics/robustness.py measures with the
same strengths; docs/metrics.md says where the two differ.
"""

import numpy as np
import tensorflow as tf

tfv1 = tf.compat.v1

KINDS = ('crop', 'blur', 'jpeg', 'noise', 'combo')

# Strength ranges (lo, hi) per kind, the paper's robust working ranges.
DEFAULT_RANGES = {
    'crop': (0.47, 1.0),   # side of the kept square, as a fraction of the image (60/128 .. 1)
    'blur': (0.0, 7.0),    # Gaussian kernel size in pixels (sigma = size / 6)
    'jpeg': (80.0, 100.0),  # JPEG quality
    'noise': (0.0, 0.4),   # std of additive Gaussian noise on the [-1, 1] scale
}


def _uniform(n, lo, hi):
    return tf.random.uniform([n], lo, hi)


def random_crop(images, lo, hi):
    """Crop a random square (side = fraction in [lo, hi]) at a random place, resize back."""
    n = tf.shape(images)[0]
    side = _uniform(n, lo, hi)
    return crop_and_resize(images, side, tf.random.uniform([n]) * (1 - side), tf.random.uniform([n]) * (1 - side))


def crop_and_resize(images, side, y0, x0):
    """Per image, the square of side `side` (a fraction of the image) whose top left corner is at
    (y0, x0) (fractions too), resized back to the full size by bilinear sampling."""
    n = tf.shape(images)[0]
    size = int(images.shape[2])
    boxes = tf.stack([y0, x0, y0 + side, x0 + side], axis=1)
    nhwc = tf.transpose(images, [0, 2, 3, 1])
    out = tf.image.crop_and_resize(nhwc, boxes, tf.range(n), [size, size])
    return tf.transpose(out, [0, 3, 1, 2])


def gaussian_blur(images, lo, hi, max_radius=4):
    """Blur each image with a Gaussian of random kernel size in [lo, hi] pixels (sigma = size / 6)."""
    n = tf.shape(images)[0]
    channels = int(images.shape[1])
    sigma = tf.maximum(_uniform(n, lo, hi) / 6.0, 1e-3)                      # [N]
    taps = tf.range(-max_radius, max_radius + 1, dtype=tf.float32)          # [K]
    kernel = tf.exp(-0.5 * tf.square(taps[np.newaxis, :] / sigma[:, np.newaxis]))
    kernel /= tf.reduce_sum(kernel, axis=1, keepdims=True)                  # [N, K]
    # Per-image kernels: fold the batch into channels and run a depthwise conv per axis.
    x = tf.reshape(tf.transpose(images, [2, 3, 0, 1]), [1, int(images.shape[2]), int(images.shape[3]), -1])
    k = tf.reshape(tf.tile(kernel[:, np.newaxis, :], [1, channels, 1]), [-1, 2 * max_radius + 1])  # [N*C, K]
    k_t = tf.transpose(k)                                                    # [K, N*C]
    x = tf.nn.depthwise_conv2d(x, k_t[:, np.newaxis, :, np.newaxis], [1, 1, 1, 1], 'SAME')
    x = tf.nn.depthwise_conv2d(x, k_t[np.newaxis, :, :, np.newaxis], [1, 1, 1, 1], 'SAME')
    x = tf.reshape(x, [int(images.shape[2]), int(images.shape[3]), n, channels])
    return tf.transpose(x, [2, 3, 0, 1])


def jpeg_compress(images, lo, hi):
    """JPEG-compress each image at a random quality in [lo, hi]; gradient passes straight through."""
    quality = tf.cast(tf.round(_uniform(tf.shape(images)[0], lo, hi)), tf.int32)
    return images + tf.stop_gradient(jpeg_round_trip(images, quality) - images)


def jpeg_round_trip(images, quality):
    """Each image saved as 8-bit pixels, JPEG-encoded at its quality (int32 [N], 1-100) with
    libjpeg and decoded again: a real codec round trip, not an approximation."""
    channels = int(images.shape[1])
    pixels = tf.cast(tf.clip_by_value(tf.round(tf.transpose(images, [0, 2, 3, 1]) * 127.5 + 127.5), 0, 255), tf.uint8)

    def round_trip(args):
        image, q = args
        encoded = tf.raw_ops.EncodeJpegVariableQuality(images=image, quality=q)
        return tf.io.decode_jpeg(encoded, channels=channels, dct_method='INTEGER_ACCURATE')

    decoded = tf.map_fn(round_trip, (pixels, quality), fn_output_signature=tf.uint8)
    out = tf.transpose(tf.cast(decoded, tf.float32), [0, 3, 1, 2]) / 127.5 - 1.0
    out.set_shape(images.shape)
    return out


def additive_noise(images, lo, hi):
    std = _uniform(tf.shape(images)[0], lo, hi)
    return images + tf.random.normal(tf.shape(images)) * std[:, np.newaxis, np.newaxis, np.newaxis]


_FUNCS = {'crop': random_crop, 'blur': gaussian_blur, 'jpeg': jpeg_compress, 'noise': additive_noise}


def perturb(images, kind, ranges=None):
    """Apply perturbation `kind` ('crop', 'blur', 'jpeg', 'noise' or 'combo') with strengths from `ranges`.

    'combo' applies each of the four, in that order, to a random half of the minibatch.
    """
    if kind not in KINDS:
        raise ValueError('unknown perturbation %r (choose from %s)' % (kind, ', '.join(KINDS)))
    ranges = dict(DEFAULT_RANGES, **(ranges or {}))
    if kind != 'combo':
        return _FUNCS[kind](images, *ranges[kind])
    for name in ('crop', 'blur', 'jpeg', 'noise'):
        chosen = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < 0.5
        images = tf.where(tf.broadcast_to(chosen, tf.shape(images)), _FUNCS[name](images, *ranges[name]), images)
    return images


def parse_range(text):
    """'0.5-1.0' -> (0.5, 1.0)."""
    try:
        lo, hi = (float(v) for v in str(text).split('-'))
    except ValueError:
        raise ValueError('a range looks like LO-HI, e.g. 0.5-1.0; got %r' % text) from None
    if lo > hi:
        raise ValueError('range %r has LO > HI' % text)
    return lo, hi
