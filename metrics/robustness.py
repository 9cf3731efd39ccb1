"""Robustness of the fingerprint (paper §4.5, Figure 5): bit accuracy after the
images are cropped and resized back, blurred, JPEG-compressed, noised, or given a
random combination of these, over a grid of strengths.

Images (fresh random z and fingerprints) are generated once; every perturbation
and strength is applied to those same images, which are then decoded by E. The
perturbations are real image operations: a centre crop of whole pixels resized
back with bilinear sampling (half-pixel centres, as Pillow and tf.image.resize
do it), a Gaussian blur with edge pixels repeated at the borders, a libjpeg
round trip of 8-bit pixels, and additive Gaussian noise. Strengths mean what
they mean in training (training/perturbations.py): crop side in pixels (training
gives it as a fraction of the side), blur kernel size in pixels with
sigma = size / 6, JPEG quality, noise std on the [-1, 1] pixel scale.

Crop sides and blur kernels of the grid are the paper's 128-pixel axes scaled to
the generator's resolution. The identity strengths (crop side = resolution, blur
kernel 0, noise std 0, combination level 0) decode the generated images
unchanged, so they equal the plain bit accuracy; JPEG has no identity strength.
"""

import math
import os
import time

import numpy as np
import tensorflow as tf

import dnnlib
import dnnlib.tflib as tflib
from metrics import metric_base
from metrics import robustness_report
from metrics.fingerprint_accuracy import bit_agreement_tf, check_fingerprint_networks, fingerprint_p_value
from metrics.metric_base import MetricError
from training import perturbations

tfv1 = tf.compat.v1

KINDS = ('crop', 'blur', 'jpeg', 'noise', 'combo')
PAPER_RESOLUTION = 128

# Strength grids on the paper's axes (Figure 5) at 128x128, weakest first. Crop sides
# and blur kernels are scaled to the generator's resolution (see strength_grid).
PAPER_GRIDS = {
    'crop': (128, 112, 96, 80, 64, 48, 32),                  # side of the kept centre square, pixels
    'blur': (0, 3, 5, 7, 9, 11, 15, 19, 23, 31),             # Gaussian kernel size, pixels (sigma = size / 6)
    'jpeg': (100, 95, 90, 80, 70, 50, 30, 10),               # JPEG quality
    'noise': (0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8),        # std on the [-1, 1] scale
    'combo': (0, 0.25, 0.5, 0.75, 1, 1.25, 1.5),             # share of each working range, see combination_tf
}
SCALED_WITH_RESOLUTION = ('crop', 'blur')

# The paper's working ranges at 128x128 (its text, §4.5): the edge that level 1 of the combination reaches.
PAPER_RANGE_EDGES = {'crop': 60, 'blur': 7, 'jpeg': 80, 'noise': 0.4}


def check_kind(kind):
    if kind not in KINDS:
        raise MetricError('unknown perturbation %r (known: %s)' % (kind, ', '.join(KINDS)))


def strength_grid(kind, resolution):
    """The strengths of `kind` measured at `resolution`, weakest first: [(strength, strength at 128 px)].

    Crop sides are whole pixels (at least 2); grid points that round to the same side count once.
    """
    check_kind(kind)
    scale = resolution / PAPER_RESOLUTION if kind in SCALED_WITH_RESOLUTION else 1.0
    grid = []
    for paper_strength in PAPER_GRIDS[kind]:
        strength = paper_strength * scale
        if kind == 'crop':
            strength = max(2, int(round(strength)))
        if all(strength != s for s, _ in grid):
            grid.append((strength, strength / scale))
    return grid


def check_strength(kind, strength, resolution):
    """A one-line error for a strength `kind` cannot take at `resolution`."""
    check_kind(kind)
    valid = {'crop': (1, resolution), 'blur': (0, float(resolution)), 'jpeg': (1, 100), 'noise': (0, math.inf),
             'combo': (0, 1.5)}[kind]
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise MetricError('%s strength %r is not a number' % (kind, strength)) from None
    if not valid[0] <= value <= valid[1] or (kind in ('crop', 'jpeg') and value != int(value)):
        raise MetricError('%s strength %r is outside %s%s' % (kind, strength, '%g-%g' % valid,
                                                               ' (whole numbers)' if kind in ('crop', 'jpeg') else ''))
    return value


def blur_radius(resolution):
    """Taps each side of the blur kernel: enough for 3 sigma at the largest kernel of the grid."""
    return int(math.ceil(max(s for s, _ in strength_grid('blur', resolution)) / 2))


# ----------------------------------------------------------------------------
# The perturbations, on NCHW float images in [-1, 1], strength a scalar tensor.

def centre_crop_tf(images, side):
    """Keep the centre square of `side` whole pixels and resize it back to the full size
    (bilinear, half-pixel centres: what Pillow's crop + resize(BILINEAR) computes)."""
    size = int(images.shape[2])
    side = tf.cast(side, tf.int32)
    offset = (size - side) // 2
    kept = tf.transpose(images, [0, 2, 3, 1])[:, offset:offset + side, offset:offset + side, :]
    out = tf.transpose(tf.image.resize(kept, [size, size], method='bilinear'), [0, 3, 1, 2])
    out.set_shape(images.shape)
    return out


def gaussian_blur_tf(images, kernel_size, radius):
    """Separable Gaussian blur, sigma = kernel_size / 6, over 2 * radius + 1 taps; the edge pixels
    are repeated past the borders (as Pillow does), so flat images stay flat."""
    channels, height, width = (int(d) for d in images.shape[1:])
    sigma = tf.maximum(tf.cast(kernel_size, tf.float32) / 6.0, 1e-3)  # at 1e-3 the outer taps are exactly 0
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps / sigma))
    kernel /= tf.reduce_sum(kernel)
    rows = tf.clip_by_value(tf.range(-radius, height + radius), 0, height - 1)
    cols = tf.clip_by_value(tf.range(-radius, width + radius), 0, width - 1)
    padded = tf.gather(tf.gather(images, rows, axis=2), cols, axis=3)
    x = tf.reshape(padded, [-1, height + 2 * radius, width + 2 * radius, 1])
    x = tf.nn.conv2d(x, tf.reshape(kernel, [-1, 1, 1, 1]), 1, 'VALID')
    x = tf.nn.conv2d(x, tf.reshape(kernel, [1, -1, 1, 1]), 1, 'VALID')
    return tf.reshape(x, [-1, channels, height, width])


def jpeg_tf(images, quality):
    return perturbations.jpeg_round_trip(images, tf.fill([tf.shape(images)[0]], tf.cast(quality, tf.int32)))


def noise_tf(images, std, seed):
    """Add N(0, std^2) per pixel; the same seed gives the same noise pattern at every std."""
    return images + tf.cast(std, tf.float32) * tf.random.stateless_normal(tf.shape(images), seed)


def combination_tf(images, level, seed, resolution):
    """The random combination at `level`: each image gets each of crop, blur, JPEG and noise (in that
    order, as in training) with probability 1/2, at `level` times the way from no perturbation to the
    edge of the paper's working range (level 1: crop side 60, kernel 7, quality 80, std 0.4 at 128 px).
    Level 0 changes nothing."""
    level = tf.cast(level, tf.float32)
    scale = resolution / PAPER_RESOLUTION
    side = tf.maximum(2.0, tf.round(resolution - level * (resolution - PAPER_RANGE_EDGES['crop'] * scale)))
    steps = [
        lambda x: centre_crop_tf(x, side),
        lambda x: gaussian_blur_tf(x, level * PAPER_RANGE_EDGES['blur'] * scale, blur_radius(resolution)),
        lambda x: jpeg_tf(x, tf.round(100.0 - level * (100 - PAPER_RANGE_EDGES['jpeg']))),
        lambda x: noise_tf(x, level * PAPER_RANGE_EDGES['noise'], seed),
    ]
    chosen = tf.random.stateless_uniform([len(steps), tf.shape(images)[0]], seed + [0, 1]) < 0.5
    chosen = tf.logical_and(chosen, level > 0)
    for index, step in enumerate(steps):
        images = tf.where(chosen[index][:, np.newaxis, np.newaxis, np.newaxis], step(images), images)
    return images


def perturb_tf(images, kind, strength, seed):
    """Perturbation `kind` at `strength` (a scalar tensor); seed: int32 [2] for noise and the combination."""
    check_kind(kind)
    resolution = int(images.shape[2])
    if kind == 'crop':
        return centre_crop_tf(images, strength)
    if kind == 'blur':
        return gaussian_blur_tf(images, strength, blur_radius(resolution))
    if kind == 'jpeg':
        return jpeg_tf(images, strength)
    if kind == 'noise':
        return noise_tf(images, strength, seed)
    return combination_tf(images, strength, seed, resolution)


# ----------------------------------------------------------------------------

def sweep_rows(clean_accuracy, accuracy_after, resolution, num_bits, network, num_images, kinds=KINDS,
               kind_done=None):
    """Rows of a robustness CSV: the clean read, then accuracy_after(kind, strength) at every point of each
    kind's grid (kind_done(kind) after each kind), each with its p-value and what was read. One sweep for
    any decoder: ours in the metric, Artificial GAN Fingerprints' [59] in baselines/."""
    rows = [dict(perturbation='none', strength=0, paper_strength=0, bit_accuracy=clean_accuracy)]
    for kind in kinds:
        for strength, paper_strength in strength_grid(kind, resolution):
            rows.append(dict(perturbation=kind, strength=strength, paper_strength=paper_strength,
                             bit_accuracy=accuracy_after(kind, strength)))
        if kind_done is not None:
            kind_done(kind)
    for row in rows:
        row.update(network=network, p_value=fingerprint_p_value(row['bit_accuracy'], num_bits),
                   num_images=num_images, resolution=resolution, num_bits=num_bits)
    return rows


class Robustness(metric_base.MetricBase):
    """Reports <name>_watermark_bit_accuracy and _watermark_p_value on the unperturbed images, then
    <name>_<kind>_<strength> (bit accuracy) for every point of the grid. With a run directory, every
    point (with its p-value) is also added to robustness-<name>.csv there (robustness_report.py
    turns it into the plot and the working-range table)."""

    def __init__(self, name, num_images, minibatch_per_gpu=8, kinds=KINDS):
        super().__init__(name, num_images, minibatch_per_gpu)
        for kind in kinds:
            check_kind(kind)
        self.kinds = tuple(kinds)

    def csv_path(self, run_dir):
        return os.path.join(run_dir, 'robustness-%s.csv' % self.name)

    def _evaluate(self, E, Gs, Gs_kwargs, num_gpus):
        num_bits = check_fingerprint_networks(E, Gs)
        generated = self._run_on_generated(E, Gs, Gs_kwargs, num_gpus)
        clean = float(np.mean(generated['bit_accuracy'], dtype=np.float64))
        self._report_result(clean, suffix='_watermark_bit_accuracy')
        self._report_result(fingerprint_p_value(clean, num_bits), suffix='_watermark_p_value', fmt='%-10.3e')

        def kind_done(kind):
            if time.time() - self._progress_time >= metric_base.PROGRESS_INTERVAL_SEC:
                self._progress_time = time.time()
                print('%s: %s done' % (self.name, kind), flush=True)

        rows = sweep_rows(clean, lambda kind, strength: self.accuracy_after(E, generated, kind, strength, num_gpus),
                          self._context.resolution, num_bits, self._network_name, self.num_images, self.kinds,
                          kind_done)
        for row in rows[1:]:
            self._report_result(row['bit_accuracy'], suffix='_%s_%g' % (row['perturbation'], row['strength']))
        if self._context.run_dir is not None:
            robustness_report.append_rows(self.csv_path(self._context.run_dir), rows)

    def _tower_outputs(self, E, images, labels, fingerprints):
        outputs = dict(bit_agreement_tf(E, images, labels, fingerprints), images=images, fingerprints=fingerprints)
        if labels is not None:
            outputs['labels'] = labels
        return outputs

    def accuracy_after(self, E, generated, kind, strength, num_gpus=1):
        """Mean bit accuracy of E on generated['images'] after perturbation `kind` at `strength`.

        generated: arrays 'images' (NCHW in [-1, 1]), 'fingerprints' and optionally 'labels'.
        Minibatch b on tower t uses seed [b, t], so a strength sweep sees one noise pattern."""
        images = generated['images']
        check_strength(kind, strength, int(images.shape[-1]))
        labels = generated.get('labels')
        if labels is None:
            labels = np.zeros([len(images), 0], np.float32)
        towers = self._cached(('perturbed', kind, E, num_gpus, images.shape[1:], labels.shape[1:]),
                              lambda: self._build_perturbed(E, kind, images.shape[1:], labels.shape[1:],
                                                            generated['fingerprints'].shape[1:], num_gpus))
        step = self.minibatch_per_gpu
        parts = []
        for batch, begin in enumerate(range(0, len(images), step * num_gpus)):
            fetches, feed = [], {}
            for tower, tower_begin in enumerate(range(begin, min(begin + step * num_gpus, len(images)), step)):
                part = slice(tower_begin, tower_begin + step)
                t = towers[tower]
                feed.update({t.images: images[part], t.labels: labels[part],
                             t.fingerprints: generated['fingerprints'][part], t.strength: strength,
                             t.seed: [batch, tower]})
                fetches.append(t.bit_accuracy)
            parts.extend(tflib.run(fetches, feed))
        return float(np.mean(np.concatenate(parts), dtype=np.float64))

    @staticmethod
    def _build_perturbed(E, kind, image_shape, label_shape, fingerprint_shape, num_gpus):
        towers = []
        for tower in range(num_gpus):
            with tf.device(tflib.tower_device(tower)):
                t = dnnlib.EasyDict(images=tfv1.placeholder(tf.float32, [None] + list(image_shape)),
                                    labels=tfv1.placeholder(tf.float32, [None] + list(label_shape)),
                                    fingerprints=tfv1.placeholder(tf.float32, [None] + list(fingerprint_shape)),
                                    strength=tfv1.placeholder(tf.float32, []), seed=tfv1.placeholder(tf.int32, [2]))
                perturbed = perturb_tf(t.images, kind, t.strength, t.seed)
                t.bit_accuracy = bit_agreement_tf(E, perturbed, t.labels, t.fingerprints)['bit_accuracy']
                towers.append(t)
        return towers

    def write_report(self, run_dir):
        """The plot and working-range table of every network in this run directory's CSV."""
        return robustness_report.write_report([self.csv_path(run_dir)],
                                              os.path.join(run_dir, 'robustness-%s' % self.name))
