"""Tests for metrics/fingerprint_accuracy.py: p-values and bit accuracy."""

import math

import pytest
import scipy.stats
import tensorflow as tf

import dnnlib.tflib as tflib
from metrics.fingerprint_accuracy import FingerprintAccuracy, binomial_p_value, fingerprint_p_value
from metrics.metric_base import MetricError
from training import misc
from test_metric_base import TINY_G, tiny_decoder, tiny_generator

NUM_BITS = 4
RESOLUTION = 8


def writing_generator(latents_in, labels_in, watermark_in, **_kwargs):
    """Writes the fingerprint as -1/+1 into the first pixels of channel 0, zeros elsewhere."""
    latents_in.set_shape([None, 8])
    labels_in.set_shape([None, 0])
    watermark_in.set_shape([None, NUM_BITS])
    rest = tf.zeros([tf.shape(watermark_in)[0], 3 * RESOLUTION * RESOLUTION - NUM_BITS])
    pixels = tf.concat([watermark_in * 2 - 1, rest], axis=1)
    return tf.reshape(pixels, [-1, 3, RESOLUTION, RESOLUTION], name='images_out')


def reading_decoder(images_in, labels_in, sign=1.0, **_kwargs):
    """Reads those pixels back as logits (sign=-1: reads every bit inverted)."""
    images_in.set_shape([None, 3, RESOLUTION, RESOLUTION])
    labels_in.set_shape([None, 0])
    pixels = tf.reshape(images_in, [-1, 3 * RESOLUTION * RESOLUTION])
    return tf.identity(pixels[:, :8], name='latents_out'), tf.identity(sign * pixels[:, :NUM_BITS], name='logits')


def exact_pair(sign=1.0):
    return (tflib.Network('E', func_name=reading_decoder, sign=sign),
            tflib.Network('Gs', func_name=writing_generator))


def exact_tail(k, n):
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n


def test_p_value_of_127_of_128_bits():
    p = binomial_p_value(127, 128)
    assert p == pytest.approx(129 / 2 ** 128, rel=1e-12)
    assert 3.7e-37 < p < 1e-36
    assert binomial_p_value(128, 128) == pytest.approx(2.0 ** -128, rel=1e-12)
    assert fingerprint_p_value(0.991, 128) == p  # the paper's accuracy rounds to 127 bits


@pytest.mark.parametrize('n', [1, 2, 7, 16, 33, 128])
def test_p_value_matches_exact_and_scipy(n):
    for k in range(n + 1):
        p = binomial_p_value(k, n)
        assert p == pytest.approx(exact_tail(k, n), rel=1e-11)
        assert p == pytest.approx(scipy.stats.binom.sf(k - 1, n, 0.5), rel=1e-9, abs=1e-300)
    assert binomial_p_value(0, n) == 1.0 and binomial_p_value(-3, n) == 1.0
    assert binomial_p_value(n + 1, n) == 0.0


def test_p_value_of_accuracy_rounds_to_whole_bits():
    assert fingerprint_p_value(0.5, 16) == pytest.approx(exact_tail(8, 16), rel=1e-12)
    assert fingerprint_p_value(0.53, 16) == pytest.approx(exact_tail(8, 16), rel=1e-12)
    assert fingerprint_p_value(0.97, 16) == pytest.approx(exact_tail(16, 16), rel=1e-12)


def test_decoder_that_reads_every_bit(tf_session):
    E, Gs = exact_pair()
    metric = FingerprintAccuracy('acc', num_images=21, minibatch_per_gpu=4)
    results = metric.run_networks(E, Gs, 'net', num_gpus=2, log_results=False)
    assert results == {'acc_watermark_bit_accuracy': 1.0, 'acc_watermark_instance_accuracy': 1.0,
                       'acc_watermark_p_value': 2.0 ** -NUM_BITS}


def test_decoder_that_reads_every_bit_inverted(tf_session):
    E, Gs = exact_pair(sign=-1.0)
    results = FingerprintAccuracy('acc', num_images=16).run_networks(E, Gs, 'net', log_results=False)
    assert results == {'acc_watermark_bit_accuracy': 0.0, 'acc_watermark_instance_accuracy': 0.0,
                       'acc_watermark_p_value': 1.0}


def test_untrained_networks_are_at_chance(tf_session):
    E, Gs = tiny_decoder(watermark_size=16), tiny_generator(watermark_size=16)
    results = FingerprintAccuracy('acc', num_images=64, minibatch_per_gpu=16).run_networks(E, Gs, 'net',
                                                                                          log_results=False)
    assert abs(results['acc_watermark_bit_accuracy'] - 0.5) < 0.1
    assert results['acc_watermark_p_value'] > 1e-3


def test_run_on_a_pickle_writes_the_result_line(tf_session, tmp_path):
    pkl = str(tmp_path / 'network-snapshot-000040.pkl')
    E, Gs = exact_pair()
    misc.save_pkl((E, None, None, Gs), pkl)
    # E is built by this test's own function: only its embedded source can rebuild it.
    FingerprintAccuracy('watermark_accuracy_tiny', num_images=8).run(pkl, run_dir=str(tmp_path), trust_source=True)
    fields = (tmp_path / 'metric-watermark_accuracy_tiny.txt').read_text().split()
    assert fields[0] == 'network-snapshot-000040' and fields[1] == 'time'
    assert fields[-6:] == ['watermark_accuracy_tiny_watermark_bit_accuracy', '1.0000',
                           'watermark_accuracy_tiny_watermark_instance_accuracy', '1.0000',
                           'watermark_accuracy_tiny_watermark_p_value', '6.250e-02']


def test_generator_without_fingerprint_input(tf_session):
    E = tiny_decoder()
    plain = tflib.Network('Gs', func_name='training.networks_stylegan2.G_main', **TINY_G)
    with pytest.raises(MetricError, match='no fingerprint input'):
        FingerprintAccuracy('acc', num_images=4).run_networks(E, plain, 'stylegan2', log_results=False)


def test_missing_or_mismatched_decoder(tf_session):
    Gs = tiny_generator(watermark_size=4)
    with pytest.raises(MetricError, match='only a generator'):
        FingerprintAccuracy('acc', num_images=4).run_networks(None, Gs, 'net', log_results=False)
    E = tiny_decoder(watermark_size=8)
    with pytest.raises(MetricError, match='reads 8 fingerprint bits but generator .* writes 4'):
        FingerprintAccuracy('acc', num_images=4).run_networks(E, Gs, 'net', log_results=False)


def constant_decoder(images_in, labels_in, code=(0, 0, 0, 0), **_kwargs):
    """Reads the same fingerprint `code` from every image."""
    images_in.set_shape([None, 3, RESOLUTION, RESOLUTION])
    labels_in.set_shape([None, 0])
    logits = tf.zeros([tf.shape(images_in)[0], 1]) + tf.constant([[2.0 * bit - 1 for bit in code]])
    return tf.zeros([tf.shape(images_in)[0], 8], name='latents_out'), tf.identity(logits, name='logits')


def test_training_set_accuracy_reads_the_runs_own_fingerprints(tf_session):
    from metrics import metric_defaults
    from training.loss import FingerprintSampler
    code = FingerprintSampler(NUM_BITS, set_size=1, seed=7).fixed_set[0]
    E = tflib.Network('E', func_name=constant_decoder, code=tuple(int(bit) for bit in code))
    Gs = tflib.Network('Gs', func_name=writing_generator)
    kwargs = metric_defaults.get_metric_kwargs('watermark_accuracy_trainset_1k')
    metric_defaults.set_training_fingerprints(kwargs, 1, 7)
    assert kwargs[0].fingerprint_set == (1, 7)
    trainset = FingerprintAccuracy('set', num_images=64, training_fingerprints=True, fingerprint_set=(1, 7))
    assert trainset.run_networks(E, Gs, 'net', log_results=False)['set_watermark_bit_accuracy'] == 1.0
    fresh = FingerprintAccuracy('fresh', num_images=256).run_networks(E, Gs, 'net', log_results=False)
    assert 0.3 < fresh['fresh_watermark_bit_accuracy'] < 0.7
    on_the_fly = FingerprintAccuracy('fly', num_images=256, training_fingerprints=True, fingerprint_set=(0, 7))
    assert on_the_fly.run_networks(E, Gs, 'net', log_results=False)['fly_watermark_bit_accuracy'] < 0.7
    with pytest.raises(MetricError, match='--fingerprint-set-size'):
        FingerprintAccuracy('set', num_images=4, training_fingerprints=True)
