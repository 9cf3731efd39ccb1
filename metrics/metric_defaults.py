"""The metrics known by name (run_metrics.py --metrics, run_training.py --metrics)."""

import dnnlib
from dnnlib import EasyDict
from metrics.metric_base import MetricError

_ACCURACY = 'metrics.fingerprint_accuracy.FingerprintAccuracy'
_FID = 'metrics.frechet_inception_distance.FID'
_FID_ACCURACY = 'metrics.frechet_inception_distance.FIDFingerprintAccuracy'
_SHARE = 'metrics.fingerprint_share.FingerprintShare'
_ROBUSTNESS = 'metrics.robustness.Robustness'

metric_defaults = EasyDict((args.name, args) for args in [
    EasyDict(name='watermark_accuracy_1k', func_name=_ACCURACY, num_images=1000),
    EasyDict(name='watermark_accuracy_10k', func_name=_ACCURACY, num_images=10000),
    EasyDict(name='watermark_accuracy_30k', func_name=_ACCURACY, num_images=30000),
    EasyDict(name='watermark_accuracy_trainset_1k', func_name=_ACCURACY, num_images=1000, training_fingerprints=True),
    EasyDict(name='watermark_accuracy_trainset_30k', func_name=_ACCURACY, num_images=30000,
             training_fingerprints=True),
    EasyDict(name='fid_watermark_accuracy_30k', func_name=_FID_ACCURACY, num_images=30000),
    EasyDict(name='fid_watermark_accuracy_1k', func_name=_FID_ACCURACY, num_images=1000),
    EasyDict(name='fingerprint_share_1k', func_name=_SHARE, num_images=1000),
    EasyDict(name='robustness_1k', func_name=_ROBUSTNESS, num_images=1000),
    EasyDict(name='robustness_64', func_name=_ROBUSTNESS, num_images=64),
    EasyDict(name='fid50k', func_name=_FID, num_images=50000),
    EasyDict(name='fid30k', func_name=_FID, num_images=30000),
    EasyDict(name='fid1k', func_name=_FID, num_images=1000),
])


def get_metric_kwargs(names):
    """Copies of the registry entries of the given metric names (a list or a comma-separated string)."""
    if isinstance(names, str):
        names = [name.strip() for name in names.split(',') if name.strip()]
    unknown = [name for name in names if name not in metric_defaults]
    if unknown:
        raise MetricError('unknown metric %s (known: %s)' % (', '.join(unknown), ', '.join(metric_defaults)))
    return [EasyDict(metric_defaults[name]) for name in names]


def check_feature_network(metric_kwargs, inception=None):
    """For metrics that need the Inception network: check it can be had and record where it comes from."""
    from metrics import frechet_inception_distance  # pylint: disable=import-outside-toplevel
    needing = [kwargs for kwargs in metric_kwargs
               if dnnlib.util.get_obj_by_name(kwargs.func_name).uses_feature_network]
    if needing:
        source = frechet_inception_distance.inception_source(inception)
        frechet_inception_distance.check_feature_network(source)
        for kwargs in needing:
            kwargs.inception = source


def set_training_fingerprints(metric_kwargs, set_size, seed):
    """Tell the metrics that read a run's training fingerprints which set that run drew (its size and seed)."""
    for kwargs in metric_kwargs:
        if kwargs.get('training_fingerprints'):
            kwargs.fingerprint_set = (int(set_size), int(seed))


def fingerprint_metrics(metric_kwargs):
    """The names of the metrics that need a fingerprinting generator."""
    return [kwargs.name for kwargs in metric_kwargs
            if dnnlib.util.get_obj_by_name(kwargs.func_name).needs_fingerprint]
