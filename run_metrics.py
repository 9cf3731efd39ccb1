"""Evaluate metrics on a network pickle (ours or the authors' (E, G, D, Gs), or any
StyleGAN2 generator pickle for FID).

Each call makes a run directory <result-dir>/<id>-run-metrics/ holding log.txt and
one metric-<name>.txt per metric with a line of results.
"""

import argparse
import functools
import os

from dnnlib import cli

cli.import_tensorflow()

import dnnlib  # noqa: E402  (after TensorFlow is imported quietly)
import dnnlib.tflib as tflib  # noqa: E402
from metrics import frechet_inception_distance  # noqa: E402
from metrics import metric_base  # noqa: E402
from metrics import metric_defaults  # noqa: E402
from metrics import robustness  # noqa: E402
from metrics import robustness_report  # noqa: E402
from training import dataset  # noqa: E402

_USER_ERRORS = (metric_base.MetricError, robustness_report.ReportError, OSError, ValueError)


_fail = functools.partial(cli.fail, 'run_metrics')


def _positive_int(text):
    if not str(text).isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError('%r is not a positive integer' % text)
    return int(text)


def build_parser():
    parser = cli.ArgumentParser(error_name='run_metrics',
        prog='run_metrics.py',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Metrics: %s.\n\nFingerprint accuracy metrics (watermark_accuracy_*) need no data set, nor do '
               'robustness metrics (robustness_*: bit accuracy under crop, blur, JPEG, noise and their '
               'combination; they write robustness-<metric>.csv, .png and -ranges.txt into the run directory). '
               'FID metrics need '
               '--dataset and the Inception-v3 feature network inception_v3_features.pkl: --inception, else '
               '$%s, else a download from %s kept in $DNNLIB_CACHE_DIR (default ~/.cache/dnnlib).\n\n'
               'Example: python run_metrics.py --data-dir=datasets --dataset=celeba_align_png_cropped_30k '
               '--network=models/celeba_align_png_cropped_30k_128x128.pkl --metrics=fid_watermark_accuracy_30k'
               % (', '.join(metric_defaults.metric_defaults), frechet_inception_distance.INCEPTION_ENV,
                  frechet_inception_distance.INCEPTION_URL))
    parser.add_argument('--network', dest='network_pkl', required=True, metavar='PKL',
                        help='network pickle: a path or URL; several separated by commas are evaluated in turn '
                             'into one run directory (robustness metrics then plot them together)')
    cli.add_trust_flag(parser)
    parser.add_argument('--metrics', default='fid_watermark_accuracy_30k', metavar='LIST',
                        help='comma-separated metric names (default: %(default)s)')
    parser.add_argument('--data-dir', default=None, metavar='DIR', help='folder holding the data sets')
    parser.add_argument('--dataset', default=None, metavar='NAME',
                        help='data set directory under --data-dir, for the real images of FID')
    parser.add_argument('--mirror-augment', type=cli.parse_bool, nargs='?', const=True, default=False, metavar='BOOL',
                        help='mirror the real images at random, as in training (default: %(default)s)')
    parser.add_argument('--num-gpus', type=_positive_int, default=1, metavar='N',
                        help='towers to run on: GPUs, or logical CPU devices without a GPU (default: %(default)s)')
    parser.add_argument('--fingerprint-set-size', type=int, default=None, metavar='N',
                        help='for the watermark_accuracy_trainset_* metrics: the --fingerprint-set-size the network '
                             'was trained with (0: fresh fingerprints)')
    parser.add_argument('--seed', type=int, default=1000, metavar='N',
                        help='for the watermark_accuracy_trainset_* metrics: the --seed the network was trained with '
                             '(default: %(default)s, as run_training.py)')
    tflib.precision.add_argument(parser)
    parser.add_argument('--result-dir', default='results', metavar='DIR',
                        help='folder of the run directories (default: %(default)s)')
    parser.add_argument('--inception', default=None, metavar='PKL',
                        help='local inception_v3_features.pkl for FID (default: $%s, else the download cache)'
                             % frechet_inception_distance.INCEPTION_ENV)
    return parser


def _prepare(args):
    """Check the arguments before a run directory is made; returns the metrics' registry entries."""
    metric_kwargs = metric_defaults.get_metric_kwargs(args.metrics)
    if not metric_kwargs:
        raise metric_base.MetricError('no metric given (--metrics)')
    if args.fingerprint_set_size is not None:
        metric_defaults.set_training_fingerprints(metric_kwargs, args.fingerprint_set_size, args.seed)
    unset = [kwargs.name for kwargs in metric_kwargs
             if kwargs.get('training_fingerprints') and 'fingerprint_set' not in kwargs]
    if unset:
        raise metric_base.MetricError('%s reads the training fingerprints of a run: give its --fingerprint-set-size '
                                      '(and --seed)' % ', '.join(unset))
    for network_pkl in _network_pkls(args):
        if not dnnlib.util.is_url(network_pkl) and not os.path.isfile(network_pkl):
            raise metric_base.MetricError('network pickle not found: %s' % network_pkl)
    if args.dataset is not None:
        dataset.list_record_files(os.path.join(args.data_dir or '', args.dataset))
    else:
        needing = [kwargs.name for kwargs in metric_kwargs
                   if dnnlib.util.get_obj_by_name(kwargs.func_name).needs_dataset]
        if needing:
            raise metric_base.MetricError('%s needs real images: give --dataset (and --data-dir)' % ', '.join(needing))
    metric_defaults.check_feature_network(metric_kwargs, args.inception)
    return metric_kwargs


def _network_pkls(args):
    pkls = [name.strip() for name in args.network_pkl.split(',') if name.strip()]
    if not pkls:
        raise metric_base.MetricError('no network pickle given (--network)')
    return pkls


def _network_names(network_pkls):
    """Result names: file names without .pkl, or the paths so given when two file names are the same
    (e.g. network-final.pkl of two runs), so that their results stay apart."""
    stems = [os.path.splitext(os.path.basename(pkl.rstrip('/')))[0] for pkl in network_pkls]
    if len(set(stems)) == len(stems):
        return stems
    return [os.path.splitext(pkl.rstrip('/'))[0] for pkl in network_pkls]


def run(network_pkls, metric_kwargs, data_dir, dataset_args, mirror_augment, num_gpus, trust_source, precision,
        submit_config):
    """Evaluate the metrics on each pickle into the run directory, then write the robustness plots."""
    tflib.precision.set_precision(tflib.precision.resolve_and_report(precision))
    group = metric_base.MetricGroup(metric_kwargs)
    for network_pkl, network_name in zip(network_pkls, _network_names(network_pkls)):
        group.run(network_pkl, run_dir=submit_config.run_dir, data_dir=data_dir, dataset_args=dataset_args,
                  mirror_augment=mirror_augment, num_gpus=num_gpus, network_name=network_name,
                  trust_source=trust_source)
    for metric in group.metrics:
        if isinstance(metric, robustness.Robustness):
            metric.write_report(submit_config.run_dir)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        metric_kwargs = _prepare(args)
    except _USER_ERRORS as exc:
        _fail(exc)
    tflib.init_tf({'num_cpu_devices': args.num_gpus})
    submit_config = dnnlib.SubmitConfig(result_dir=args.result_dir, run_desc='run-metrics', num_gpus=args.num_gpus)
    dataset_args = None if args.dataset is None else dnnlib.EasyDict(tfrecord_dir=args.dataset)
    try:
        dnnlib.submit_run(submit_config, 'run_metrics.run', network_pkls=_network_pkls(args),
                          metric_kwargs=metric_kwargs, data_dir=args.data_dir, dataset_args=dataset_args,
                          mirror_augment=args.mirror_augment, num_gpus=args.num_gpus,
                          trust_source=args.trust_pickle_source, precision=args.precision)
    except _USER_ERRORS as exc:
        _fail(exc)


if __name__ == '__main__':
    main()
