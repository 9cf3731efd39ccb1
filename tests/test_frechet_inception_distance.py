"""Tests for metrics/frechet_inception_distance.py, with a small stand-in for the
Inception feature network, and for the NCHW pooling of dnnlib/tflib/tf1_compat.py
that such networks use."""

import os
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

import dnnlib.tflib as tflib
from dnnlib.tflib import tf1_compat
from metrics import frechet_inception_distance as fid_module
from metrics.frechet_inception_distance import FID, FIDFingerprintAccuracy, feature_statistics, frechet_distance
from metrics.metric_base import MetricError
from training import dataset
from training import dataset_tool_lib
from training import misc
from test_fingerprint_accuracy import exact_pair
from test_metric_base import tiny_generator

# Source in the TF 1.x idiom of the real feature network's pickle: NCHW pooling.
STANDIN_SOURCE = '''
import tensorflow as tf


def pooled_features(images_in, resolution=8, **_kwargs):
    """Per-channel mean and maximum of uint8-range NCHW images: [N, 6]."""
    images_in.set_shape([None, 3, resolution, resolution])
    window = [1, 1, resolution, resolution]
    mean = tf.nn.avg_pool(images_in, ksize=window, strides=window, padding='VALID', data_format='NCHW')
    peak = tf.nn.max_pool(images_in, ksize=window, strides=window, padding='VALID', data_format='NCHW')
    return tf.reshape(tf.concat([mean, peak], axis=1), [-1, 6], name='features')
'''


def standin_feature_network():
    """The stand-in network, made from its pickled state as unpickling makes it."""
    network = object.__new__(tflib.Network)
    network.__setstate__(dict(version=4, name='Inception', static_kwargs=dict(resolution=8), components={},
                              build_module_src=STANDIN_SOURCE, build_func_name='pooled_features', variables=[]))
    return network


def save_standin_feature_pickle(path):
    misc.save_pkl(standin_feature_network(), path)
    return path


def standin_features(images):
    """What the stand-in computes, in numpy, for uint8 NCHW images."""
    images = np.asarray(images, np.float64)
    return np.concatenate([images.mean(axis=(2, 3)), images.max(axis=(2, 3))], axis=1)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    dataset_tool_lib.create_demo(str(root / 'demo8'), num_images=64, resolution=8)
    return str(root)


@pytest.fixture
def inception_pkl(tf_session, tmp_path):
    return save_standin_feature_pickle(str(tmp_path / 'standin.pkl'))


def zero_generator():
    """Every weight zero: every image is exactly 0, i.e. 128 in uint8."""
    Gs = tiny_generator()
    tflib.set_vars({var: np.zeros(var.shape.as_list(), np.float32) for var in Gs.vars.values()})
    return Gs


def run_fid(metric, Gs, data_dir, run_dir, E=None, **kwargs):
    return metric.run_networks(E, Gs, 'net', run_dir=run_dir, data_dir=data_dir,
                               dataset_args=dict(tfrecord_dir='demo8'), **kwargs)


# ----------------------------------------------------------------------------
# The distance.

def test_distance_of_a_feature_set_to_itself_is_zero():
    features = np.random.RandomState(0).randn(500, 16) @ np.random.RandomState(1).randn(16, 16)
    mu, sigma = feature_statistics(features)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8 * np.trace(sigma)


@pytest.mark.parametrize('scale, shift', [(2.0, 0.0), (0.5, 3.0), (1.0, -1.5), (3.0, 0.25)])
def test_distance_to_a_scaled_and_shifted_set(scale, shift):
    rng = np.random.RandomState(2)
    features = rng.randn(400, 8) @ rng.randn(8, 8) + rng.randn(8)
    mu, sigma = feature_statistics(features)
    mu2, sigma2 = feature_statistics(scale * features + shift)
    expected = np.square(shift + (scale - 1) * mu).sum() + (1 + scale ** 2 - 2 * scale) * np.trace(sigma)
    assert frechet_distance(mu, sigma, mu2, sigma2) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_distance_between_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.square(mu1 - mu2).sum() + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(10.0 + 4.0 + 1.0)


def test_singular_covariances_give_a_real_distance():
    rng = np.random.RandomState(3)
    mu1, sigma1 = feature_statistics(rng.randn(10, 40))
    mu2, sigma2 = feature_statistics(rng.randn(10, 40) + 1)
    value = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert isinstance(value, float) and np.isfinite(value) and value > 0


# ----------------------------------------------------------------------------
# NCHW pooling of TF 1.x network source.

@pytest.mark.parametrize('pool_name', ['max_pool', 'avg_pool'])
@pytest.mark.parametrize('padding', ['VALID', 'SAME'])
def test_nchw_pooling_on_cpu(tf_session, pool_name, padding):
    x = np.random.RandomState(4).randn(2, 3, 7, 6).astype(np.float32)
    legacy_pool = getattr(tf1_compat.tf1.nn, pool_name)
    nhwc_pool = getattr(tf.compat.v1.nn, pool_name)
    with tf.device('/cpu:0'):
        nchw = legacy_pool(x, ksize=[1, 1, 3, 2], strides=[1, 1, 2, 2], padding=padding, data_format='NCHW')
        short_form = legacy_pool(x, [3, 2], [2, 2], padding, data_format='NCHW')
        reference = tf.transpose(nhwc_pool(tf.transpose(x, [0, 2, 3, 1]), [1, 3, 2, 1], [1, 2, 2, 1], padding),
                                 [0, 3, 1, 2])
        nhwc = legacy_pool(tf.transpose(x, [0, 2, 3, 1]), [1, 3, 2, 1], [1, 2, 2, 1], padding)
    nchw, short_form, reference, nhwc = tflib.run([nchw, short_form, reference, nhwc])
    np.testing.assert_allclose(nchw, reference, rtol=1e-6)
    np.testing.assert_allclose(short_form, reference, rtol=1e-6)
    np.testing.assert_allclose(nhwc.transpose(0, 3, 1, 2), reference, rtol=1e-6)


# ----------------------------------------------------------------------------
# The metric, with the stand-in feature network.

def test_fid_of_a_constant_generator_matches_the_closed_form(tf_session, data_dir, inception_pkl, tmp_path,
                                                             monkeypatch):
    monkeypatch.delenv('DNNLIB_CACHE_DIR', raising=False)
    record_file = dataset.list_record_files(os.path.join(data_dir, 'demo8'))[3].path
    mu_real, sigma_real = feature_statistics(standin_features(list(dataset.read_images(record_file))))
    expected = np.square(mu_real - 128).sum() + np.trace(sigma_real)  # the fakes' features are all 128, covariance 0

    calls = []
    compute = FID._real_features  # pylint: disable=protected-access
    monkeypatch.setattr(FID, '_real_features', lambda self, num_gpus: calls.append(num_gpus) or compute(self, num_gpus))
    run_dir = str(tmp_path / 'results' / '00000-run')
    Gs = zero_generator()
    results = run_fid(FID('fid64', num_images=64, minibatch_per_gpu=8, inception=inception_pkl), Gs, data_dir,
                      run_dir, num_gpus=2)
    assert results['fid64'] == pytest.approx(expected, rel=1e-5)
    assert calls == [2]
    cached = os.listdir(str(tmp_path / 'results' / 'metric-cache'))
    assert len(cached) == 1 and cached[0].startswith('demo8-8px-64-')
    with np.load(str(tmp_path / 'results' / 'metric-cache' / cached[0])) as stats:
        np.testing.assert_allclose(stats['mu'], mu_real, rtol=1e-6)
        np.testing.assert_allclose(stats['sigma'], sigma_real, rtol=1e-5, atol=1e-6)

    # The same real statistics serve the next evaluation, and the combined metric.
    again = run_fid(FID('fid64', num_images=64, inception=inception_pkl), Gs, data_dir, run_dir)
    E, _ = exact_pair()
    combined = run_fid(FIDFingerprintAccuracy('both', num_images=64, inception=inception_pkl), Gs, data_dir, run_dir,
                       E=E)
    assert calls == [2]
    assert again['fid64'] == pytest.approx(expected, rel=1e-5)
    assert list(combined) == ['both_fid', 'both_watermark_bit_accuracy', 'both_watermark_instance_accuracy',
                              'both_watermark_p_value']
    assert combined['both_fid'] == pytest.approx(expected, rel=1e-5)

    # Other settings have statistics of their own.
    run_fid(FID('fid64', num_images=64, inception=inception_pkl), Gs, data_dir, run_dir, mirror_augment=True)
    run_fid(FID('fid32', num_images=32, inception=inception_pkl), Gs, data_dir, run_dir)
    assert len(calls) == 3
    # The training loop asks for mirroring in dataset_args.
    FID('fid64', num_images=64, inception=inception_pkl).run_networks(
        None, Gs, 'net', run_dir=run_dir, data_dir=data_dir,
        dataset_args=dict(tfrecord_dir='demo8', mirror_augment=True))
    assert len(calls) == 3
    names = sorted(os.listdir(str(tmp_path / 'results' / 'metric-cache')))
    assert len(names) == 3
    assert [name for name in names if name.startswith('demo8-8px-64-mirror-')]
    assert [name for name in names if name.startswith('demo8-8px-32-')]


def test_combined_metric_reads_fingerprints_of_the_same_images(tf_session, data_dir, inception_pkl, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path / 'cache'))
    E, Gs = exact_pair()
    results = run_fid(FIDFingerprintAccuracy('both', num_images=24, inception=inception_pkl), Gs, data_dir,
                      str(tmp_path / 'results' / '00000-run'), E=E)
    assert results['both_watermark_bit_accuracy'] == 1.0 and results['both_watermark_instance_accuracy'] == 1.0
    assert np.isfinite(results['both_fid']) and results['both_fid'] > 0
    assert len(os.listdir(str(tmp_path / 'cache' / 'metric-cache'))) == 1
    assert not os.path.exists(str(tmp_path / 'results' / 'metric-cache'))


def test_fid_needs_a_data_set(tf_session, inception_pkl):
    with pytest.raises(MetricError, match='needs a data set'):
        FID('fid', num_images=4, inception=inception_pkl).run_networks(None, tiny_generator(), 'net')


def test_missing_feature_network_file(tf_session, data_dir, tmp_path):
    missing = str(tmp_path / 'absent' / 'inception_v3_features.pkl')
    with pytest.raises(MetricError) as info:
        run_fid(FID('fid', num_images=4, inception=missing), tiny_generator(), data_dir, None)
    message = str(info.value)
    assert missing in message and 'INCEPTION_PKL' in message and '--inception' in message and '\n' not in message


def test_offline_download_says_where_to_put_the_file(tmp_path, monkeypatch, capsys):
    def offline(*_args, **_kwargs):
        raise urllib.error.URLError('no network')
    monkeypatch.setattr(urllib.request, 'urlopen', offline)
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path))
    monkeypatch.delenv('INCEPTION_PKL', raising=False)
    source = fid_module.inception_source()
    assert source == fid_module.INCEPTION_URL
    with pytest.raises(MetricError) as info:
        fid_module.check_feature_network(source)
    message = str(info.value)
    assert str(tmp_path) in message and 'inception_v3_features.pkl' in message and 'INCEPTION_PKL' in message
    capsys.readouterr()


def test_inception_source_order(monkeypatch):
    monkeypatch.setenv('INCEPTION_PKL', '/models/inception.pkl')
    assert fid_module.inception_source() == '/models/inception.pkl'
    assert fid_module.inception_source('local.pkl') == 'local.pkl'
