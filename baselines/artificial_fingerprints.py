"""Artificial GAN Fingerprints: a learnt steganography encoder marks every training image
with one data set fingerprint; a GAN trained on the marked images should then carry the
fingerprint into what it generates, where the matching decoder reads it back.

The encoder follows StegaStamp: the fingerprint bits pass through a dense layer to one
image-sized channel, which is concatenated to the image; a U-Net (stride-2 convolutions
down, nearest upsampling and convolutions up, skip connections at every level) returns a
residual that is added to the image. The decoder is a stack of stride-2 3x3 convolutions
and two dense layers giving one logit per bit (a bit is read as 1 where its logit > 0).
Both are `tflib.Network` build functions, NHWC inside, images NCHW in [-1, 1] outside;
their pickle is the tuple (encoder, decoder), loaded safely like every network pickle.

Training minimises BCE(bits) + lambda * mean squared image difference over random
fingerprints, with Adam. lambda stays 0 until the decoder's bit accuracy (mean over the
last minibatches) reaches 0.95, then rises linearly to its maximum (10) over a number of
steps (3000 in the paper). The decoder sees each encoded image as the data set will store
it, rounded to 8 bits (straight-through: the gradient passes as if unrounded), so it learns
to read the stored images rather than the float ones.
"""

import collections
import itertools
import math
import os
import time

import numpy as np
import tensorflow as tf

import dnnlib.tflib as tflib
from dnnlib.tflib.ops.conv2d import conv2d
from dnnlib.tflib.ops.upfirdn_2d import upsample_2d
from metrics import robustness, robustness_report
from metrics.fingerprint_accuracy import fingerprint_p_value
from training import bake
from training import dataset as dataset_lib
from training import dataset_tool_lib as lib
from training import loss as loss_lib
from training import misc
from training.networks_stylegan2 import apply_bias_act, dense_layer, get_weight

tfv1 = tf.compat.v1

FINGERPRINT_FILE = 'fingerprint.txt'  # written into a fingerprinted data set's directory
BUILD_FUNCS = ('artificial_fingerprint_encoder', 'artificial_fingerprint_decoder')


class ArtificialFingerprintError(lib.DatasetToolError):
    """Unusable input (model file, data set, fingerprint), reported as one line."""


# ----------------------------------------------------------------------------
# Networks.

def _levels(resolution, levels):
    """Stride-2 stages actually used: at most `levels`, stopping at 4x4."""
    resolution_log2 = int(np.log2(resolution))
    if resolution != 2 ** resolution_log2 or resolution < 4:
        raise ValueError('resolution must be a power of two >= 4, got %r' % resolution)
    return max(0, min(levels, resolution_log2 - 2))


def _width(level, fmap_base, fmap_max):
    return min(fmap_base << level, fmap_max)


def _conv(x, fmaps, kernel=3, stride=1, act='lrelu'):
    w = get_weight([kernel, kernel, int(x.shape[-1]), fmaps])
    return apply_bias_act(conv2d(x, w, strides=stride, padding='SAME', data_format='NHWC'), act=act)


def artificial_fingerprint_encoder(images_in, fingerprints_in, resolution=32, num_channels=3, fingerprint_size=64,
                                   fmap_base=32, fmap_max=256, levels=4, **_kwargs):
    """(images NCHW [-1, 1], bits {0, 1}) -> fingerprinted images NCHW, the input plus a learnt residual."""
    images_in.set_shape([None, num_channels, resolution, resolution])
    fingerprints_in.set_shape([None, fingerprint_size])
    depth = _levels(resolution, levels)
    images = tf.transpose(images_in, [0, 2, 3, 1])
    with tfv1.variable_scope('FingerprintDense'):
        # Centred bits, so a 0 bit moves the channel as much as a 1 bit.
        plane = apply_bias_act(dense_layer(fingerprints_in * 2 - 1, resolution * resolution))
    x = tf.concat([images, tf.reshape(plane, [-1, resolution, resolution, 1])], axis=3)
    skips = []
    for level in range(depth + 1):
        with tfv1.variable_scope('Down%d' % level):
            x = _conv(x, _width(level, fmap_base, fmap_max), stride=1 if level == 0 else 2)
        skips.append(x)
    for level in range(depth - 1, -1, -1):
        with tfv1.variable_scope('Up%d' % level):
            with tfv1.variable_scope('Conv0'):
                x = _conv(upsample_2d(x, data_format='NHWC'), _width(level, fmap_base, fmap_max))
            with tfv1.variable_scope('Conv1'):
                x = _conv(tf.concat([x, skips[level]], axis=3), _width(level, fmap_base, fmap_max))
    with tfv1.variable_scope('Residual'):
        residual = _conv(x, num_channels, kernel=1, act='linear')
    return tf.identity(images_in + tf.transpose(residual, [0, 3, 1, 2]), name='images_out')


def artificial_fingerprint_decoder(images_in, resolution=32, num_channels=3, fingerprint_size=64, fmap_base=32,
                                   fmap_max=256, levels=4, dense_size=256, **_kwargs):
    """Images NCHW [-1, 1] -> one logit per fingerprint bit [N, fingerprint_size]."""
    images_in.set_shape([None, num_channels, resolution, resolution])
    x = tf.transpose(images_in, [0, 2, 3, 1])
    for level in range(_levels(resolution, levels) + 1):
        with tfv1.variable_scope('Conv%d' % level):
            x = _conv(x, _width(level, fmap_base, fmap_max), stride=1 if level == 0 else 2)
    with tfv1.variable_scope('Dense'):
        x = apply_bias_act(dense_layer(x, dense_size), act='lrelu')
    with tfv1.variable_scope('Output'):
        x = apply_bias_act(dense_layer(x, fingerprint_size))
    return tf.identity(x, name='fingerprint_logits_out')


# Their pickles load without running the pickles' embedded source.
tflib.network.register_build_funcs(artificial_fingerprint_encoder, artificial_fingerprint_decoder)


def build_networks(**kwargs):
    """A fresh (encoder, decoder) pair in the default session; kwargs: resolution, num_channels,
    fingerprint_size, fmap_base, fmap_max, levels (both) and dense_size (decoder)."""
    encoder = tflib.Network('AGF_encoder', func_name=artificial_fingerprint_encoder, **kwargs)
    decoder = tflib.Network('AGF_decoder', func_name=artificial_fingerprint_decoder, **kwargs)
    return encoder, decoder


def as_stored(images):
    """Images as an 8-bit data set stores them: clipped to [-1, 1] (no gradient beyond, so nothing rewards
    pushing pixels out of range) and rounded to 8 bits (gradient as if unrounded)."""
    clipped = tf.clip_by_value(images, -1, 1)
    stored = tf.floor((clipped + 1) * 127.5 + 0.5) / 127.5 - 1
    return clipped + tf.stop_gradient(stored - clipped)


# ----------------------------------------------------------------------------
# Training.

class ReconstructionWeight:
    """lambda of the image term: 0 until the mean bit accuracy of the last `window` minibatches first
    reaches `start_accuracy`, then linear from 0 to `max_weight` over `ramp_steps` steps, then constant."""

    def __init__(self, max_weight=10.0, start_accuracy=0.95, ramp_steps=3000, window=10):
        self.max_weight = max_weight
        self.start_accuracy = start_accuracy
        self.ramp_steps = ramp_steps
        self.recent = collections.deque(maxlen=window)
        self.start_step = None

    def observe(self, step, bit_accuracy):
        """Records the bit accuracy of the minibatch of `step`; the ramp starts after the step that reaches it."""
        self.recent.append(bit_accuracy)
        if self.start_step is None and np.mean(self.recent) >= self.start_accuracy:
            self.start_step = step + 1

    def value(self, step):
        if self.start_step is None or step < self.start_step:
            return 0.0
        if self.ramp_steps <= 0:
            return float(self.max_weight)
        return float(self.max_weight) * min(1.0, (step - self.start_step) / self.ramp_steps)


def training_graph(encoder, decoder, images, fingerprints, reconstruction_weight):
    """Loss terms and bit accuracy for float images NCHW and bits; the loss to minimise is 'loss'."""
    marked = encoder.get_output_for(images, fingerprints)
    logits = decoder.get_output_for(as_stored(marked))
    bce = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=fingerprints, logits=logits))
    l2 = tf.reduce_mean(tf.square(marked - images))
    return dict(loss=bce + reconstruction_weight * l2, bce=bce, l2=l2,
                bit_accuracy=tf.reduce_mean(loss_lib.bit_accuracy(logits, fingerprints)))


def train(tfrecord_dir, steps=2000, minibatch_size=64, fingerprint_size=64, fmap_base=32, fmap_max=256, levels=4,
          dense_size=256, learning_rate=1e-3, max_weight=10.0, start_accuracy=0.95, ramp_steps=3000, seed=0,
          progress_interval=100, max_images=None):
    """Trains an (encoder, decoder) pair on random fingerprints over a data set's top resolution.

    Prints a progress line every `progress_interval` steps. Returns (encoder, decoder, summary).
    """
    tflib.init_tf({'rnd.np_random_seed': seed})
    tfv1.set_random_seed(seed)  # also when a session existed already and init_tf did nothing
    try:
        data = dataset_lib.TFRecordDataset(tfrecord_dir, max_images=max_images)
    except (OSError, ValueError) as error:
        raise ArtificialFingerprintError(str(error))
    channels, resolution = data.shape[0], data.shape[1]
    encoder, decoder = build_networks(resolution=resolution, num_channels=channels, fingerprint_size=fingerprint_size,
                                      fmap_base=fmap_base, fmap_max=fmap_max, levels=levels, dense_size=dense_size)
    weight_in = tfv1.placeholder(tf.float32, [], name='reconstruction_weight')
    images, _ = data.get_minibatch_tf()
    fingerprints = loss_lib.FingerprintSampler(fingerprint_size).sample(minibatch_size)
    terms = training_graph(encoder, decoder, dataset_lib.images_to_float(images), fingerprints, weight_in)
    optimizer = tfv1.train.AdamOptimizer(learning_rate, name='AGF_Adam')
    train_op = optimizer.minimize(terms['loss'], var_list=list(encoder.trainables.values()) +
                                  list(decoder.trainables.values()))
    tflib.init_uninitialized_vars()
    data.configure(minibatch_size)

    weight = ReconstructionWeight(max_weight, start_accuracy, ramp_steps)
    print('Training the encoder and decoder: %dx%d, %d channel(s), %d images in %s; %d bits, %d steps of %d' % (
        resolution, resolution, channels, data.num_images, tfrecord_dir, fingerprint_size, steps, minibatch_size))
    start = tick = time.time()
    tick_step = 0
    reported = {}
    for step in range(steps):
        weight_now = weight.value(step)
        _, reported = tflib.run([train_op, terms], {weight_in: weight_now})
        weight.observe(step, reported['bit_accuracy'])
        done = step + 1
        if done % progress_interval == 0 or done == steps:
            print('step %6d  images %8d  bce %.4f  l2 %.5f  bit accuracy %.3f  lambda %5.2f  %.1f ms/step' % (
                done, done * minibatch_size, reported['bce'], reported['l2'], reported['bit_accuracy'], weight_now,
                (time.time() - tick) * 1000 / (done - tick_step)), flush=True)
            tick, tick_step = time.time(), done
    summary = dict(steps=steps, images=steps * minibatch_size, seconds=time.time() - start,
                   bit_accuracy=float(np.mean(weight.recent)), l2=float(reported.get('l2', math.nan)),
                   ramp_start_step=weight.start_step, final_weight=weight.value(steps))
    return encoder, decoder, summary


# ----------------------------------------------------------------------------
# Model files and fingerprints.

def save_model(encoder, decoder, path):
    misc.save_pkl((encoder, decoder), path)


def load_model(path):
    """(encoder, decoder) from a file written by save_model (or its .npz export), loaded safely."""
    try:
        networks = misc.load_pkl(path)
    except (OSError, ValueError) as error:
        raise ArtificialFingerprintError(str(error))
    names = tuple(getattr(net, '_build_func_name', None) for net in networks) \
        if isinstance(networks, (tuple, list)) else None
    if names != BUILD_FUNCS:
        raise ArtificialFingerprintError('%s does not hold an artificial-fingerprint encoder and decoder' % path)
    return tuple(networks)


def model_fingerprint(num_bits, seed=None, fingerprint=None):
    """The data set fingerprint: the bit string given, else the bits drawn from the seed (float32 {0, 1})."""
    if fingerprint is not None:
        try:
            return bake.parse_fingerprint(fingerprint, num_bits)
        except ValueError as error:
            raise ArtificialFingerprintError(str(error))
    if seed is None:
        raise ArtificialFingerprintError('give the fingerprint as --seed or --fingerprint')
    return bake.fingerprint_from_seed(seed, num_bits)


def _batches(images, batch_size):
    iterator = iter(images)
    while True:
        batch = list(itertools.islice(iterator, batch_size))
        if not batch:
            return
        yield np.stack(batch)


def _check_shape(shape, network, source):
    expected = network.input_shapes[0][1:]
    if list(shape) != expected:
        raise ArtificialFingerprintError('%s holds %s images, the model takes %s (channels x height x width)' % (
            source, 'x'.join(map(str, shape)), 'x'.join(map(str, expected))))


def fingerprint_images(encoder, images, bits, batch_size=64):
    """Yields uint8 CHW images (from an iterable of them) with the fingerprint `bits` embedded."""
    for batch in _batches(images, batch_size):
        marked = encoder.run(dataset_lib.images_to_float_np(batch), np.tile(bits, (len(batch), 1)),
                             output_transform=dict(func=tflib.convert_images_to_uint8))
        yield from marked


def decode_bits(decoder, images, batch_size=64):
    """Yields the bits (uint8 {0, 1}) the decoder reads from each uint8 CHW image of an iterable."""
    for batch in _batches(images, batch_size):
        yield from (decoder.run(dataset_lib.images_to_float_np(batch)) > 0).astype(np.uint8)


def robustness_rows(decoder, images, bits, network, batch_size=64, clean_accuracy=None):
    """The decoder's bit accuracy on uint8 NCHW images after every perturbation of the robustness
    metric's grid (metrics/robustness.py, the same operations and strengths as for our decoder):
    rows of a robustness CSV, so that plot_robustness.py draws [59] beside ours. The clean images are
    decoded unless their accuracy is given.

    Minibatch b uses noise seed [b, 0], so a strength sweep sees one noise pattern."""
    x = tfv1.placeholder(tf.float32, [None] + list(images.shape[1:]))
    strength = tfv1.placeholder(tf.float32, [])
    seed = tfv1.placeholder(tf.int32, [2])
    resolution, num_bits = images.shape[-1], len(bits)
    floats = [dataset_lib.images_to_float_np(images[begin:begin + batch_size])
              for begin in range(0, len(images), batch_size)]

    def accuracy(read_tf, feed):
        read = np.concatenate([tflib.run(read_tf, {x: batch, seed: [index, 0], **feed})
                               for index, batch in enumerate(floats)])
        return float(np.mean(read == (bits > 0.5), dtype=np.float64))

    reads = {}

    def accuracy_after(kind, value):
        if kind not in reads:
            reads[kind] = decoder.get_output_for(robustness.perturb_tf(x, kind, strength, seed)) > 0
        return accuracy(reads[kind], {strength: value})

    if clean_accuracy is None:
        clean_accuracy = accuracy(decoder.get_output_for(x) > 0, {})
    return robustness.sweep_rows(clean_accuracy, accuracy_after, resolution, num_bits, network, len(images))


# ----------------------------------------------------------------------------
# Command-line fronts (dataset_tool.py train_agf, create_agf, eval_agf).

def train_agf(model, tfrecord_dir, steps=2000, minibatch=64, bits=64, fmap_base=32, fmap_max=256, levels=4,
              dense_size=256, lrate=1e-3, max_weight=10.0, start_accuracy=0.95, ramp_steps=3000, seed=0,
              progress_interval=100, num_images=None):
    """Trains an encoder and decoder on a data set and writes them to the model file."""
    if os.path.isdir(model):
        raise ArtificialFingerprintError('%s is a directory, not a model file name' % model)
    encoder, decoder, summary = train(tfrecord_dir, steps=steps, minibatch_size=minibatch, fingerprint_size=bits,
                                      fmap_base=fmap_base, fmap_max=fmap_max, levels=levels, dense_size=dense_size,
                                      learning_rate=lrate, max_weight=max_weight, start_accuracy=start_accuracy,
                                      ramp_steps=ramp_steps, seed=seed, progress_interval=progress_interval,
                                      max_images=num_images)
    save_model(encoder, decoder, model)
    ramp = 'never started' if summary['ramp_start_step'] is None else 'started at step %d' % summary['ramp_start_step']
    print('Wrote %s: %d steps (%d images) in %.0f s; bit accuracy %.3f over the last minibatches, l2 %.5f, '
          'lambda ramp %s, lambda now %.2f' % (model, summary['steps'], summary['images'], summary['seconds'],
                                               summary['bit_accuracy'], summary['l2'], ramp, summary['final_weight']))
    return summary


def create_agf(tfrecord_dir, source_dir, model, seed=None, fingerprint=None, num_images=None, minibatch=64):
    """Writes a copy of a data set (labels kept) whose images all carry one fingerprint, and the fingerprint
    as FINGERPRINT_FILE in the new directory; prints how much the images changed (RMS, PSNR)."""
    lib.check_output_dir(tfrecord_dir)
    encoder, _ = load_model(model)
    bits = model_fingerprint(encoder.input_shapes[1][1], seed, fingerprint)
    files, labels = lib.open_dataset_dir(source_dir)
    _check_shape(files[max(files)].shape, encoder, source_dir)
    if labels is not None and num_images is not None:
        labels = labels[:num_images]
    squared_error = [0.0, 0]  # sum of squared differences in 8-bit levels, pixel count

    def marked_images():
        originals, copies = itertools.tee(itertools.islice(lib.read_top_images(files), num_images))
        for original, marked in zip(originals, fingerprint_images(encoder, copies, bits, minibatch)):
            squared_error[0] += float(np.sum(np.square(marked.astype(np.float64) - original)))
            squared_error[1] += original.size
            yield marked

    text = bake.fingerprint_to_string(bits)
    count = lib.write_dataset(tfrecord_dir, marked_images(), labels=labels, source=source_dir,
                              extra_files={FINGERPRINT_FILE: text + '\n'})
    mse = squared_error[0] / squared_error[1]
    psnr = 10 * math.log10(255 ** 2 / mse) if mse > 0 else math.inf
    print('Fingerprint %s (%d bits) in %d images: RMS change %.2f of 255 levels, PSNR %.1f dB; written to %s' % (
        text, len(bits), count, math.sqrt(mse), psnr, os.path.join(tfrecord_dir, FINGERPRINT_FILE)))
    return dict(images=count, fingerprint=text, rms=math.sqrt(mse), psnr=psnr)


def stored_fingerprint(source):
    """The fingerprint text that create_agf wrote into a data set directory, or None."""
    path = os.path.join(source, FINGERPRINT_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as file:
        return file.read().strip()


def eval_agf(source, model, seed=None, fingerprint=None, num_images=None, minibatch=64, robustness_csv=None):
    """Decodes a data set or a directory of PNGs and prints the bit accuracy against the fingerprint
    (default: the one stored in the data set directory) with its p-value; with `robustness_csv` (a CSV
    path), also the bit accuracy after each perturbation of the robustness grid, added to that CSV."""
    if robustness_csv and not os.path.isdir(os.path.dirname(os.path.abspath(robustness_csv))):
        raise ArtificialFingerprintError('directory of --robustness_csv not found: %s' % robustness_csv)
    _, decoder = load_model(model)
    num_bits = decoder.output_shapes[0][1]
    if seed is None and fingerprint is None:
        fingerprint = stored_fingerprint(source) if os.path.isdir(source) else None
        if fingerprint is None:
            raise ArtificialFingerprintError('%s holds no %s: give the fingerprint as --seed or --fingerprint' % (
                source, FINGERPRINT_FILE))
    bits = model_fingerprint(num_bits, seed, fingerprint)
    images = lib.read_images_from(source, num_images, channels=decoder.input_shapes[0][1])
    first = next(images, None)
    if first is None:
        raise ArtificialFingerprintError('no images in %s' % source)
    _check_shape(first.shape, decoder, source)
    start = time.time()
    images = itertools.chain([first], images)
    if robustness_csv:
        images = list(images)  # decoded again under every perturbation; otherwise streamed
    read = np.stack(list(decode_bits(decoder, images, minibatch)))
    correct = read == bits.astype(np.uint8)
    bit_accuracy = float(np.mean(correct))
    stats = dict(images=len(read), bit_accuracy=bit_accuracy, all_bits_correct=float(np.mean(np.all(correct, axis=1))),
                 p_value=fingerprint_p_value(bit_accuracy, num_bits), seconds=time.time() - start)
    print('%d images: bit accuracy %.4f, all %d bits right in %.3f of them, p-value %.3g (chance of that accuracy '
          'by guessing); %.1f ms per image' % (stats['images'], bit_accuracy, num_bits, stats['all_bits_correct'],
                                               stats['p_value'], stats['seconds'] * 1000 / stats['images']))
    if robustness_csv:
        rows = robustness_rows(decoder, np.stack(images), bits, 'agf:%s' % os.path.basename(model), minibatch,
                               clean_accuracy=bit_accuracy)
        robustness_report.append_rows(robustness_csv, rows)
        print('Robustness: %d perturbation strengths on %d images added to %s (plot_robustness.py draws them)' % (
            len(rows) - 1, len(images), robustness_csv))
    return stats
