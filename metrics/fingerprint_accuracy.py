"""Fingerprint bit accuracy: how well the decoder E reads back the fingerprint Gs
was given, on images of fresh random z and fresh random fingerprints
c ~ Bernoulli(0.5)^d, with the p-value of the hypothesis that the decoder only
guesses (each bit right with probability 1/2, d independent trials).

The `_trainset_` metrics read fingerprints drawn from a run's fixed training set
instead (run_training.py --fingerprint-set-size, paper Table 2): the set is drawn
from the run's seed, so it is drawn again here from the set size and seed the
front passes in (`fingerprint_set`)."""

import math

import numpy as np
import tensorflow as tf

from metrics import metric_base
from metrics.metric_base import FINGERPRINT_INPUT, MetricError
from training.loss import FingerprintSampler


def log_binomial_tail(num_correct, num_bits):
    """log P[X >= num_correct] for X ~ Binomial(num_bits, 1/2), the binomial terms summed in log
    space, so it stays exact where the probability itself underflows (-inf for an empty tail)."""
    n, k = int(num_bits), int(num_correct)
    if k <= 0:
        return 0.0
    if k > n:
        return -math.inf
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in range(k, n + 1)]
    top = max(log_terms)
    return min(0.0, top + math.log(math.fsum(math.exp(t - top) for t in log_terms)) - n * math.log(2))


def binomial_p_value(num_correct, num_bits):
    """P[X >= num_correct] for X ~ Binomial(num_bits, 1/2): the chance of getting at least
    num_correct of num_bits bits right by guessing.

    Exact up to float rounding at any size (127 of 128 gives 129 / 2**128 = 3.79e-37); the
    result underflows to 0 only below 1e-308, i.e. beyond about a thousand bits.
    """
    return math.exp(log_binomial_tail(num_correct, num_bits))


def fingerprint_p_value(bit_accuracy, num_bits):
    """p-value of a mean bit accuracy on num_bits-bit fingerprints: P[X >= round(accuracy * num_bits)]."""
    return binomial_p_value(math.floor(bit_accuracy * num_bits + 0.5), num_bits)


def check_fingerprint_networks(E, Gs):
    """The fingerprint length, after checking that Gs takes a fingerprint and E decodes one as long."""
    if FINGERPRINT_INPUT not in Gs.input_names:
        raise MetricError('generator %r has no fingerprint input (%s): fingerprint accuracy needs a '
                          'fingerprinting generator' % (Gs.name, FINGERPRINT_INPUT))
    if E is None:
        raise MetricError('no fingerprint decoder E: the network pickle holds only a generator')
    num_bits = Gs.input_shapes[Gs.input_names.index(FINGERPRINT_INPUT)][1]
    decoded_bits = E.output_shapes[-1][-1] if E.num_outputs >= 2 else None
    if decoded_bits != num_bits:
        raise MetricError('decoder %r reads %s fingerprint bits but generator %r writes %d'
                          % (E.name, decoded_bits, Gs.name, num_bits))
    return num_bits


def bit_agreement_tf(E, images, labels, fingerprints):
    """Per image: the share of fingerprint bits E reads right (a bit is 1 where its logit > 0)
    and whether it reads all of them right."""
    logits = E.get_output_for(images, labels, return_as_list=True)[-1]
    correct = tf.equal(logits > 0, fingerprints > 0.5)
    return {'bit_accuracy': tf.reduce_mean(tf.cast(correct, tf.float32), axis=1),
            'all_bits_correct': tf.reduce_all(correct, axis=1)}


class FingerprintAccuracy(metric_base.MetricBase):
    """Reports <name>_watermark_bit_accuracy (mean over images of the share of bits read
    right), <name>_watermark_instance_accuracy (share of images with every bit right) and
    <name>_watermark_p_value (fingerprint_p_value of the bit accuracy).

    training_fingerprints: read fingerprints of a run's training set, fingerprint_set =
    (set size, seed) as the run's --fingerprint-set-size and --seed (size 0: fresh ones)."""

    needs_fingerprint = True

    def __init__(self, name, num_images, minibatch_per_gpu=8, training_fingerprints=False, fingerprint_set=None):
        super().__init__(name, num_images, minibatch_per_gpu)
        if training_fingerprints and fingerprint_set is None:
            raise MetricError('metric %s reads a run\'s training fingerprints: give the run\'s '
                              '--fingerprint-set-size and --seed' % name)
        self.fingerprint_set = tuple(fingerprint_set) if training_fingerprints else (0, 0)

    def _random_inputs_tf(self, Gs, minibatch_size):
        inputs = super()._random_inputs_tf(Gs, minibatch_size)
        set_size, seed = self.fingerprint_set
        if set_size and FINGERPRINT_INPUT in inputs:
            num_bits = int(inputs[FINGERPRINT_INPUT].shape[1])
            inputs[FINGERPRINT_INPUT] = FingerprintSampler(num_bits, set_size, seed).sample(minibatch_size)
        return inputs

    def _evaluate(self, E, Gs, Gs_kwargs, num_gpus):
        num_bits = check_fingerprint_networks(E, Gs)
        self._report_fingerprint_results(self._run_on_generated(E, Gs, Gs_kwargs, num_gpus), num_bits)

    def _tower_outputs(self, E, images, labels, fingerprints):
        return bit_agreement_tf(E, images, labels, fingerprints)

    def _report_fingerprint_results(self, generated, num_bits):
        bit_accuracy = float(np.mean(generated['bit_accuracy'], dtype=np.float64))
        self._report_result(bit_accuracy, suffix='_watermark_bit_accuracy')
        self._report_result(np.mean(generated['all_bits_correct']), suffix='_watermark_instance_accuracy')
        self._report_result(fingerprint_p_value(bit_accuracy, num_bits), suffix='_watermark_p_value', fmt='%-10.3e')
