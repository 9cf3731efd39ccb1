"""Tests for metrics/fingerprint_share.py: pixel differences under a changed fingerprint or latent."""

import numpy as np
import pytest
import tensorflow as tf

import dnnlib.tflib as tflib
from metrics import metric_defaults
from metrics.fingerprint_share import FingerprintShare
from metrics.metric_base import MetricError
from training import misc
from test_metric_base import TINY_G, tiny_generator

RESOLUTION = 4
PIXELS = 3 * RESOLUTION * RESOLUTION


def mixing_generator(latents_in, labels_in, watermark_in, latent_gain=1.0, fingerprint_gain=1.0,
                     randomize_noise=True, **_kwargs):
    """Pixel 0 is latent_gain * z[0], pixel 1 fingerprint_gain * c[0]; with randomize_noise, pixel 2 is noise."""
    latents_in.set_shape([None, 8])
    labels_in.set_shape([None, 0])
    watermark_in.set_shape([None, 4])
    batch = tf.shape(latents_in)[0]
    noise = tf.random.normal([batch, 1]) if randomize_noise else tf.zeros([batch, 1])
    pixels = tf.concat([latent_gain * latents_in[:, :1], fingerprint_gain * watermark_in[:, :1], noise,
                        tf.zeros([batch, PIXELS - 3])], axis=1)
    return tf.reshape(pixels, [-1, 3, RESOLUTION, RESOLUTION], name='images_out')


def share_of(num_images=2000, **gains):
    Gs = tflib.Network('Gs', func_name=mixing_generator, **gains)
    return FingerprintShare('share', num_images=num_images, minibatch_per_gpu=50).run_networks(
        None, Gs, 'net', num_gpus=2, log_results=False)


def test_colour_shift_in_8bit_levels(tf_session):
    # Only pixel 1 (channel 0 of 16 pixels) follows c[0]: channel 0's mean moves by |c0 - c0'| / 16,
    # E|c0 - c0'| = 1/2, the other channels stay; RMS over 3 channels, 127.5 levels per unit.
    results = share_of(latent_gain=1.0, fingerprint_gain=1.0)
    assert results['share_colour_shift'] == pytest.approx(127.5 * 0.5 / 16 / np.sqrt(3), rel=0.1)
    assert share_of(latent_gain=1.0, fingerprint_gain=0.0)['share_colour_shift'] == 0.0


def test_expected_differences(tf_session):
    # E[(z - z2)^2] = 2 for z ~ N(0, 1); E[(c - c2)^2] = 1/2 for Bernoulli(1/2) bits; noise is fixed.
    results = share_of(latent_gain=1.0, fingerprint_gain=1.0)
    assert results['share_pixel_mse_latent'] == pytest.approx(2.0 / PIXELS, rel=0.1)
    assert results['share_pixel_mse_fingerprint'] == pytest.approx(0.5 / PIXELS, rel=0.1)
    assert results['share_fingerprint_share'] == pytest.approx(0.25, rel=0.15)


def test_share_follows_the_gains(tf_session):
    small = share_of(latent_gain=1.0, fingerprint_gain=0.1)['share_fingerprint_share']
    large = share_of(latent_gain=0.5, fingerprint_gain=2.0)['share_fingerprint_share']
    assert small == pytest.approx(0.0025, rel=0.15)
    assert large == pytest.approx(4.0, rel=0.15)


def test_fingerprint_that_changes_nothing_and_latent_that_changes_nothing(tf_session):
    unmarked = share_of(num_images=100, fingerprint_gain=0.0)
    assert unmarked['share_pixel_mse_fingerprint'] == 0.0 and unmarked['share_fingerprint_share'] == 0.0
    collapsed = share_of(num_images=100, latent_gain=0.0)
    assert collapsed['share_pixel_mse_latent'] == 0.0 and collapsed['share_fingerprint_share'] == np.inf


def test_registry_entry_on_a_pickle(tf_session, tmp_path):
    pkl = str(tmp_path / 'network-snapshot-000010.pkl')
    misc.save_pkl((None, None, None, tiny_generator()), pkl)
    kwargs = metric_defaults.get_metric_kwargs('fingerprint_share_1k')[0]
    kwargs.num_images = 32
    metric = FingerprintShare(**{key: value for key, value in kwargs.items() if key != 'func_name'})
    results = metric.run(pkl, run_dir=str(tmp_path))
    assert list(results) == ['fingerprint_share_1k_pixel_mse_fingerprint', 'fingerprint_share_1k_pixel_mse_latent',
                             'fingerprint_share_1k_fingerprint_share', 'fingerprint_share_1k_colour_shift']
    assert all(value > 0 for value in results.values())
    fields = (tmp_path / 'metric-fingerprint_share_1k.txt').read_text().split()
    assert fields[0] == 'network-snapshot-000010' and fields[-2] == 'fingerprint_share_1k_colour_shift'


def test_generator_without_fingerprint_input(tf_session):
    plain = tflib.Network('Gs', func_name='training.networks_stylegan2.G_main', **TINY_G)
    with pytest.raises(MetricError, match='no watermark_in input'):
        FingerprintShare('share', num_images=4).run_networks(None, plain, 'stylegan2', log_results=False)
