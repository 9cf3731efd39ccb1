"""Train a fingerprinted StyleGAN2 (config-e) with its fingerprint decoder.

Example (the paper's CelebA run on 2 GPUs):

  python run_training.py --data-dir=datasets --config=config-e-Gskip-Dresnet --num-gpus=2 \\
      --dataset=celeba_align_png_cropped_30k --result-dir=results/celeba_align_png_cropped_30k \\
      --watermark-size=128 --res-modulated-range=4-128

A small run on the embedded demo data set, on a CPU (README, Quick start; made on first use):

  python run_training.py --data-dir=DATA --dataset=demo32 --result-dir=RESULTS --config=config-e-Gskip-Dresnet \\
      --num-gpus=1 --watermark-size=32 --res-modulated-range=4-32 --fmap-base=512 --fmap-max=64 \\
      --latent-size=128 --dlatent-size=128 --minibatch=8 --watermarkCls-weight=10 --mapping-lrmul=1 \\
      --mapping-layers=2 --gamma=0.1 --G-smoothing-kimg=2 --decoupleL2-weight=2 --consistency-target-share=0.4 \\
      --consistency-start-accuracy=0.8 --consistency-late-target-share=0.1 --consistency-late-kimg=240 \\
      --total-kimg=300 --kimg-per-tick=1 --snapshot-ticks=5 --metrics=watermark_accuracy_1k,fingerprint_share_1k
"""

import argparse
import os
import re
import sys

from dnnlib import cli

cli.import_tensorflow()

import dnnlib  # noqa: E402
from dnnlib.tflib import precision  # noqa: E402
from dnnlib.util import EasyDict  # noqa: E402

CONFIG_RE = re.compile(r'^config-e(?:-G(orig|skip|resnet)-D(orig|skip|resnet))?$')
NETS = 'training.networks_stylegan2.'


def _metric_list(text):
    return [name for name in str(text).split(',') if name.strip() and name.strip().lower() != 'none']


def build_parser():
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_argument_group('the authors\' flags')
    group.add_argument('--data-dir', required=True, help='folder that holds the data set folders')
    group.add_argument('--dataset', required=True, help='data set folder inside --data-dir (dataset_tool.py output)')
    group.add_argument('--result-dir', default='results', help='parent folder of run directories (default: %(default)s)')
    group.add_argument('--config', default='config-e-Gskip-Dresnet',
                       help='config-e[-G{orig,skip,resnet}-D{orig,skip,resnet}] (default: %(default)s); the D '
                            'architecture applies to the decoder too')
    group.add_argument('--num-gpus', type=int, default=1,
                       help='devices to train on: GPUs, or logical CPU devices when there is no GPU (default: 1)')
    group.add_argument('--total-kimg', type=float, default=88000, help='training length in thousands of real images shown')
    group.add_argument('--gamma', type=float, default=None, help='R1 weight (default: 100, config-e)')
    group.add_argument('--mirror-augment', type=cli.parse_bool, default=False, help='random horizontal flips of reals')
    group.add_argument('--metrics', type=_metric_list, default='fid_watermark_accuracy_30k',
                       help='comma-separated metrics at every network snapshot, or none (default: %(default)s; '
                            'FID needs the Inception network, see docs/metrics.md)')
    group.add_argument('--inception', default=None,
                       help='local inception_v3_features.pkl for FID (default: $INCEPTION_PKL or the download cache)')
    group.add_argument('--resume-pkl', default=None, help='snapshot to continue from (networks and progress)')
    cli.add_trust_flag(group, '--resume-pkl')
    group.add_argument('--watermark-size', type=int, default=128, help='fingerprint length in bits (default: 128)')
    group.add_argument('--decoupleL2-weight', type=float, default=2.0, help='consistency loss weight, lambda_4')
    group.add_argument('--latentsRecL2-weight', type=float, default=1.0, help='latent reconstruction weight, lambda_2')
    group.add_argument('--watermarkCls-weight', type=float, default=2.0, help='fingerprint cross-entropy weight, lambda_3')
    group.add_argument('--res-modulated-range', default=None,
                       help='resolutions whose convs the fingerprint modulates, e.g. 4-128 (default: all)')

    group = parser.add_argument_group('size and schedule')
    precision.add_argument(group, training=True)
    group.add_argument('--minibatch', type=int, default=None, help='images per step (default: 8 per device)')
    group.add_argument('--minibatch-gpu', type=int, default=None,
                       help='images per device per round; smaller than minibatch/num-gpus accumulates gradients')
    group.add_argument('--fmap-base', type=int, default=8192, help='feature map base (config-e: 8192)')
    group.add_argument('--fmap-max', type=int, default=512, help='most feature maps in a layer (default: 512)')
    group.add_argument('--latent-size', type=int, default=512, help='size of z (default: 512)')
    group.add_argument('--dlatent-size', type=int, default=512, help='width of the mapping network and of w')
    group.add_argument('--lrate', type=float, default=0.002, help='Adam learning rate for G, decoder and D')
    group.add_argument('--mapping-lrmul', type=float, default=0.01,
                       help='learning-rate multiplier of the fingerprint mapping network (default: 0.01, StyleGAN2)')
    group.add_argument('--decoder-lrmul', type=float, default=1.0,
                       help='learning-rate multiplier of the decoder (default: 1, as G and D)')
    group.add_argument('--mapping-layers', type=int, default=8,
                       help='dense layers of the fingerprint mapping network (default: 8)')
    group.add_argument('--G-smoothing-kimg', type=float, default=10.0,
                       help='half-life of Gs, the moving average of G, in kimg (default: 10)')
    group.add_argument('--kimg-per-tick', type=float, default=4, help='kimg between progress lines (default: 4)')
    group.add_argument('--snapshot-ticks', type=int, default=10, help='ticks between snapshots and metrics')
    group.add_argument('--seed', type=int, default=1000, help='random seed (default: 1000)')

    group = parser.add_argument_group('fingerprint experiments')
    group.add_argument('--no-fingerprint', action='store_true',
                       help='train the plain StyleGAN2 generator (G_main: z through the mapping network, a learned '
                            'constant, no fingerprint, no decoder), the baseline of paper Table 1')
    group.add_argument('--variant', default=None, choices=['I', 'II', 'III'],
                       help='architectural variant of paper Table 1 (default: the paper\'s design)')
    group.add_argument('--fingerprint-set-size', type=int, default=0,
                       help='draw training fingerprints from a fixed set of N (paper Table 2); 0 = fresh each time')
    group.add_argument('--consistency-start-accuracy', type=float, default=None,
                       help='keep the consistency weight at 0 until the decoder\'s bit accuracy reaches this, then '
                            'ramp it up (default: the full weight from the start, as the paper); with '
                            '--consistency-target-share: the weight may rise above its start from then on')
    group.add_argument('--consistency-ramp-kimg', type=float, default=0.0,
                       help='kimg over which the consistency weight ramps up (default: 0, at once)')
    group.add_argument('--consistency-initial-weight', type=float, default=0.0,
                       help='consistency weight until --consistency-start-accuracy is reached (default: 0)')
    group.add_argument('--consistency-late-weight', type=float, default=None,
                       help='consistency weight from --consistency-late-kimg on: a second raise once the bits are '
                            'read, which makes the copies look alike (default: off)')
    group.add_argument('--consistency-late-kimg', type=float, default=None,
                       help='kimg from which --consistency-late-weight or --consistency-late-target-share applies')
    group.add_argument('--consistency-target-share', type=float, default=None,
                       help='steer the consistency weight by the fingerprint share of Gs, measured every tick on '
                            'fixed pairs: it starts at --decoupleL2-weight, falls while the share is below this target '
                            'and rises while above, but not above its start until the bits reach '
                            '--consistency-start-accuracy or --consistency-late-kimg comes (default: off, a fixed '
                            'schedule)')
    group.add_argument('--consistency-late-target-share', type=float, default=None,
                       help='with --consistency-target-share: from --consistency-late-kimg on, steer the weight up '
                            'or down to this share, which makes the copies look alike')
    group.add_argument('--diversity-weight', type=float, default=0.0,
                       help='weight of the z-diversity floor: G is penalised when images that differ only in z '
                            'differ by less than --diversity-floor (default: 0, off, as the paper)')
    group.add_argument('--diversity-floor', type=float, default=0.25,
                       help='mean squared difference of pixels clipped to [-1, 1] that z must make (default: %(default)s)')
    group.add_argument('--perturb', default=None, choices=['crop', 'blur', 'jpeg', 'noise', 'combo'],
                       help='immunisation: perturb generated images before the decoder reads them')
    group.add_argument('--crop-range', default=None, help='kept square side as a fraction, LO-HI (default: 0.47-1.0)')
    group.add_argument('--blur-range', default=None, help='Gaussian kernel size in pixels, LO-HI (default: 0-7)')
    group.add_argument('--jpeg-range', default=None, help='JPEG quality, LO-HI (default: 80-100)')
    group.add_argument('--noise-range', default=None, help='noise std on the [-1,1] scale, LO-HI (default: 0-0.4)')
    return parser


def make_config(args):
    """Everything training_loop needs, from parsed arguments; raises ValueError on inconsistent flags."""
    from training import perturbations  # pylint: disable=import-outside-toplevel
    match = CONFIG_RE.match(args.config)
    if not match:
        raise ValueError('unknown --config %r (use config-e or config-e-G<orig|skip|resnet>-D<orig|skip|resnet>)'
                         % args.config)
    g_arch, d_arch = match.group(1) or 'skip', match.group(2) or 'resnet'
    if args.num_gpus < 1:
        raise ValueError('--num-gpus must be at least 1')
    minibatch = args.minibatch or 8 * args.num_gpus
    _check_consistency(args)
    if args.diversity_weight and (args.diversity_floor <= 0 or (args.minibatch_gpu or minibatch // args.num_gpus) < 2):
        raise ValueError('--diversity-weight needs --diversity-floor > 0 and at least 2 images per device')
    sizes = dict(fmap_base=args.fmap_base, fmap_max=args.fmap_max)
    G_args = EasyDict(func_name=NETS + 'G_main_watermark', latent_size=args.latent_size,
                      dlatent_size=args.dlatent_size, mapping_fmaps=args.dlatent_size, mapping_lrmul=args.mapping_lrmul,
                      mapping_layers=args.mapping_layers,
                      watermark_size=args.watermark_size, architecture=g_arch,
                      res_modulated_range=args.res_modulated_range, variant=args.variant, **sizes)
    D_args = EasyDict(func_name=NETS + 'D_stylegan2', architecture=d_arch, **sizes)
    E_args = EasyDict(func_name=NETS + 'E_stylegan2_watermark', architecture=d_arch, latent_size=args.latent_size,
                      watermark_size=args.watermark_size, lrmul=args.decoder_lrmul, **sizes)
    from metrics import metric_defaults  # pylint: disable=import-outside-toplevel
    metrics = metric_defaults.get_metric_kwargs(args.metrics)
    if args.no_fingerprint:
        _check_plain(args, metrics)
        fingerprint_keys = ('watermark_size', 'res_modulated_range', 'variant')
        G_args = EasyDict({key: value for key, value in G_args.items() if key not in fingerprint_keys},
                          func_name=NETS + 'G_main')
        E_args = None
    ranges = {}
    for kind in ('crop', 'blur', 'jpeg', 'noise'):
        text = getattr(args, kind + '_range')
        if text is not None:
            ranges[kind] = perturbations.parse_range(text)
    G_loss_args = EasyDict(latentsRecL2_weight=args.latentsRecL2_weight, watermarkCls_weight=args.watermarkCls_weight,
                           decoupleL2_weight=args.decoupleL2_weight, diversity_weight=args.diversity_weight,
                           diversity_floor=args.diversity_floor, perturb=args.perturb, perturb_ranges=ranges)
    D_loss_args = EasyDict(gamma=100.0 if args.gamma is None else args.gamma)
    opt_args = EasyDict(beta1=0.0, beta2=0.99, epsilon=1e-8)
    metric_defaults.set_training_fingerprints(metrics, args.fingerprint_set_size, args.seed)
    desc = 'stylegan2-%s-%dgpu-%s' % (os.path.basename(args.dataset.rstrip('/')), args.num_gpus, args.config)
    return desc, dict(
        G_args=G_args, D_args=D_args, E_args=E_args, G_opt_args=opt_args, D_opt_args=opt_args,
        G_loss_args=G_loss_args, D_loss_args=D_loss_args,
        dataset_args=EasyDict(data_dir=args.data_dir, tfrecord_dir=args.dataset, mirror_augment=args.mirror_augment),
        metric_arg_list=metrics, num_gpus=args.num_gpus, minibatch_size=minibatch, minibatch_gpu=args.minibatch_gpu,
        total_kimg=args.total_kimg, lrate=args.lrate, G_smoothing_kimg=args.G_smoothing_kimg,
        kimg_per_tick=args.kimg_per_tick,
        image_snapshot_ticks=args.snapshot_ticks, network_snapshot_ticks=args.snapshot_ticks,
        fingerprint_set_size=args.fingerprint_set_size, consistency_start_accuracy=args.consistency_start_accuracy,
        consistency_ramp_kimg=args.consistency_ramp_kimg, consistency_initial_weight=args.consistency_initial_weight,
        consistency_late_weight=args.consistency_late_weight, consistency_late_kimg=args.consistency_late_kimg or 0.0,
        consistency_target_share=args.consistency_target_share,
        consistency_late_target_share=args.consistency_late_target_share,
        resume_pkl=args.resume_pkl, resume_trust_source=args.trust_pickle_source, seed=args.seed,
        precision=args.precision)


def _check_consistency(args):
    """The consistency options: a fixed schedule or the share controller, each with its late stage."""
    if args.consistency_initial_weight and args.consistency_start_accuracy is None:
        raise ValueError('--consistency-initial-weight needs --consistency-start-accuracy')
    late = [flag for flag, value in (('--consistency-late-weight', args.consistency_late_weight),
                                     ('--consistency-late-target-share', args.consistency_late_target_share))
            if value is not None]
    if len(late) > 1:
        raise ValueError('--consistency-late-weight and --consistency-late-target-share exclude each other')
    if bool(late) != (args.consistency_late_kimg is not None):
        raise ValueError('%s and --consistency-late-kimg go together' % (late[0] if late else 'a late weight or share'))
    if args.consistency_target_share is None:
        if args.consistency_late_target_share is not None:
            raise ValueError('--consistency-late-target-share needs --consistency-target-share')
        return
    scheduled = [flag for flag, value in (('--consistency-initial-weight', args.consistency_initial_weight),
                                          ('--consistency-ramp-kimg', args.consistency_ramp_kimg),
                                          ('--consistency-late-weight', args.consistency_late_weight)) if value]
    if scheduled:
        raise ValueError('--consistency-target-share steers the weight itself: drop %s' % ', '.join(scheduled))
    if min(share for share in (args.consistency_target_share, args.consistency_late_target_share)
           if share is not None) <= 0:
        raise ValueError('a target fingerprint share must be positive')
    if args.no_fingerprint:
        raise ValueError('--no-fingerprint has no fingerprint share to steer by: drop --consistency-target-share')


def _check_plain(args, metrics):
    """--no-fingerprint: refuse the options and metrics that need a fingerprint."""
    options = (('--variant', args.variant), ('--fingerprint-set-size', args.fingerprint_set_size),
               ('--perturb', args.perturb), ('--res-modulated-range', args.res_modulated_range))
    given = [flag for flag, value in options if value]
    if given:
        raise ValueError('--no-fingerprint trains a generator without a fingerprint: drop %s' % ', '.join(given))
    from metrics import metric_defaults  # pylint: disable=import-outside-toplevel
    needing = metric_defaults.fingerprint_metrics(metrics)
    if needing:
        raise ValueError('--no-fingerprint: metric %s needs a fingerprint (FID metrics work)' % ', '.join(needing))


def check_inputs(args, config):
    """Fail fast, before any run directory is made, on what would fail later."""
    from metrics import metric_defaults  # pylint: disable=import-outside-toplevel
    data_path = os.path.join(args.data_dir, args.dataset)
    demo = re.match(r'^demo(\d+)$', os.path.basename(args.dataset.rstrip('/')))
    if demo and not os.path.isdir(data_path):
        from training import dataset_tool_lib  # pylint: disable=import-outside-toplevel
        print('Data set %s not found: making the demo data set (4000 images at %spx)...' % (data_path, demo.group(1)))
        dataset_tool_lib.create_demo(data_path, num_images=4000, resolution=int(demo.group(1)))
    if not os.path.isdir(data_path):
        raise ValueError('data set not found: %s (make one with dataset_tool.py, e.g. '
                         '"python dataset_tool.py create_demo %s")' % (data_path, data_path))
    if args.resume_pkl is not None and not dnnlib.util.is_url(args.resume_pkl) and not os.path.isfile(args.resume_pkl):
        raise ValueError('--resume-pkl not found: %s' % args.resume_pkl)
    metric_defaults.check_feature_network(config['metric_arg_list'], args.inception)


def main(argv=None):
    args = build_parser().parse_args(argv)
    from metrics.metric_base import MetricError  # pylint: disable=import-outside-toplevel
    try:
        desc, config = make_config(args)
        check_inputs(args, config)
    except (ValueError, KeyError, OSError, MetricError) as exc:
        print('run_training.py: error: %s' % (exc.args[0] if exc.args else exc), file=sys.stderr)
        return 2
    submit_config = dnnlib.SubmitConfig(result_dir=args.result_dir, run_desc=desc, num_gpus=args.num_gpus)
    try:
        dnnlib.submit_run(submit_config, 'training.training_loop.training_loop', **config)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # pylint: disable=broad-except
        from training.training_loop import TrainingDiverged  # pylint: disable=import-outside-toplevel
        if isinstance(exc, (TrainingDiverged, ValueError, FileNotFoundError)):
            print('run_training.py: error: %s' % exc, file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == '__main__':
    sys.exit(main())
