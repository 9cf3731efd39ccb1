"""Fréchet Inception Distance (FID) between generated and real images, alone or
together with the fingerprint bit accuracy measured on the same generated images.

Features are the 2048-d pool features of StyleGAN2's Inception-v3 network
(`inception_v3_features.pkl`: uint8-range NCHW images in, [N, 2048] out). It is
read from the `inception` kwarg (run_metrics.py --inception), else from the
file named by $INCEPTION_PKL, else downloaded from INCEPTION_URL into the
dnnlib download cache. Any network pickle of that form serves as feature network.
"""

import contextlib
import hashlib
import io
import os
import warnings

import numpy as np
import scipy.linalg
import tensorflow as tf

import dnnlib
import dnnlib.tflib as tflib
from metrics import metric_base
from metrics.fingerprint_accuracy import FingerprintAccuracy, check_fingerprint_networks
from metrics.metric_base import MetricError
from training import misc

INCEPTION_URL = 'https://nvlabs-fi-cdn.nvidia.com/stylegan/networks/metrics/inception_v3_features.pkl'
INCEPTION_ENV = 'INCEPTION_PKL'


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2):
    |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))."""
    mean_term = np.square(np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)).sum()
    with warnings.catch_warnings():
        # Covariances of fewer images than features are singular; their product still has the root we need.
        warnings.simplefilter('ignore', scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(np.dot(sigma1, sigma2))
    # Rounding makes the root of a (near-)singular product slightly complex; the imaginary part is noise.
    return float(mean_term + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(np.real(root)))


def feature_statistics(features):
    """Mean and covariance (unbiased) of feature rows [N, D]."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def inception_source(inception=None):
    """Where the feature network comes from: the argument, $INCEPTION_PKL, or INCEPTION_URL."""
    return inception or os.environ.get(INCEPTION_ENV) or INCEPTION_URL


@contextlib.contextmanager
def _feature_network_errors():
    try:
        yield
    except (OSError, ValueError) as exc:
        raise MetricError('cannot load the Inception-v3 feature network: %s; a local copy of '
                          'inception_v3_features.pkl can be given with --inception or the environment variable %s'
                          % (exc, INCEPTION_ENV)) from exc


def check_feature_network(source):
    """Make sure the feature network file is readable (downloading it into the cache if it is a URL)."""
    with _feature_network_errors(), dnnlib.util.open_url(source):
        pass


def load_feature_network(source):
    with _feature_network_errors():
        # NVIDIA's feature network is built by its own embedded source (no build function here can make it),
        # so this one file is loaded trusted: it comes from the published URL or the user's own copy of it.
        network = misc.load_pkl(source, trust_source=True)
    if not isinstance(network, tflib.Network) or network.num_inputs != 1:
        raise MetricError('%s does not hold a feature network (one network, images in, features out)' % source)
    return network


def network_digest(network):
    """MD5 of a network's variable names and values: identifies the features cached statistics came from."""
    md5 = hashlib.md5()
    for name, value in zip(network.vars, tflib.run(list(network.vars.values()))):
        md5.update(name.encode('utf-8'))
        md5.update(np.ascontiguousarray(value).tobytes())
    return md5.hexdigest()


def feature_input(images_uint8):
    """Feature networks take uint8-range pixel values; feed them as float32 so any build function accepts them."""
    return tf.cast(images_uint8, tf.float32)


class FID(metric_base.MetricBase):
    """FID over num_images generated and num_images real images (a smaller data set is cycled).
    Real statistics are computed once per data set, resolution, image count, mirroring and
    feature network, and kept in the metric cache directory. Reports <name><fid_suffix>."""

    needs_dataset = True
    uses_feature_network = True
    fid_suffix = ''

    def __init__(self, name, num_images, minibatch_per_gpu=8, inception=None):
        super().__init__(name, num_images, minibatch_per_gpu)
        self.inception = inception

    def _evaluate(self, E, Gs, Gs_kwargs, num_gpus):
        self._report_fid(E, Gs, Gs_kwargs, num_gpus)

    def _report_fid(self, E, Gs, Gs_kwargs, num_gpus):
        """Measure and report the FID; return the generated-image outputs for further results."""
        mu_real, sigma_real = self._real_statistics(num_gpus)
        generated = self._run_on_generated(E, Gs, Gs_kwargs, num_gpus)
        mu_fake, sigma_fake = feature_statistics(generated['features'])
        self._report_result(frechet_distance(mu_fake, sigma_fake, mu_real, sigma_real), suffix=self.fid_suffix)
        return generated

    def _tower_outputs(self, E, images, labels, fingerprints):
        return {'features': self._feature_network().get_output_for(
            feature_input(tflib.convert_images_to_uint8(images)))}

    def _feature_network(self):
        source = inception_source(self.inception)
        return self._cached(('feature_network', source), lambda: load_feature_network(source))

    def _real_statistics(self, num_gpus):
        cache_file = self._real_statistics_file()
        if os.path.isfile(cache_file):
            with np.load(cache_file) as stats:
                return stats['mu'], stats['sigma']
        mu, sigma = feature_statistics(self._real_features(num_gpus))
        buffer = io.BytesIO()
        np.savez(buffer, mu=mu, sigma=sigma)
        dnnlib.util.atomic_write_bytes(cache_file, buffer.getvalue())
        return mu, sigma

    def _real_statistics_file(self):
        kwargs = self._dataset_kwargs()
        tfrecord_dir = os.path.abspath(os.path.join(self._context.data_dir or '', kwargs['tfrecord_dir']))
        feature_net = self._feature_network()
        digest = self._cached(('digest', feature_net), lambda: network_digest(feature_net))
        key = repr((tfrecord_dir, sorted(kwargs.items()), self.num_images, digest))
        name = '%s-%dpx-%d%s-%s.npz' % (os.path.basename(tfrecord_dir), kwargs['resolution'], self.num_images,
                                        '-mirror' if kwargs['mirror_augment'] else '',
                                        hashlib.md5(key.encode('utf-8')).hexdigest()[:12])
        return os.path.join(self._cache_dir(), name)

    def _real_features(self, num_gpus):
        """Features of the first num_images real images, [num_images, D]."""
        dataset_obj = self._dataset()
        feature_net = self._feature_network()

        def build():
            towers = []
            for tower, (images, _labels) in enumerate(dataset_obj.get_minibatch_split_tf(num_gpus)):
                with tf.device(tflib.tower_device(tower)):
                    towers.append({'features': feature_net.get_output_for(feature_input(images))})
            return towers

        towers = self._cached(('real_features', dataset_obj, feature_net, num_gpus), build)
        dataset_obj.configure(self.minibatch_per_gpu * num_gpus)
        return self._collect(towers, num_gpus)['features']


class FIDFingerprintAccuracy(FID, FingerprintAccuracy):
    """FID and fingerprint accuracy from one pass over the same generated images (random z,
    random fingerprints): <name>_fid, then FingerprintAccuracy's results."""

    fid_suffix = '_fid'

    def _evaluate(self, E, Gs, Gs_kwargs, num_gpus):
        num_bits = check_fingerprint_networks(E, Gs)
        self._report_fingerprint_results(self._report_fid(E, Gs, Gs_kwargs, num_gpus), num_bits)

    def _tower_outputs(self, E, images, labels, fingerprints):
        outputs = FID._tower_outputs(self, E, images, labels, fingerprints)
        outputs.update(FingerprintAccuracy._tower_outputs(self, E, images, labels, fingerprints))
        return outputs
