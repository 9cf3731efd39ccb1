"""Compare the learning curves of training runs: one plot and one summary line per run.

Reads each run directory's log.txt (tick bit accuracy on the training fingerprints) and
metric-<name>.txt (the snapshot metric on Gs). Writes <out>.png and prints per run: ticks,
median sec/kimg, the first tick at --accuracy and the metric's last and best values.

Example: python plot_training.py RESULTS/00000-stylegan2-demo32-1gpu-config-e-Gskip-Dresnet \\
             RESULTS-bf16/00000-stylegan2-demo32-1gpu-config-e-Gskip-Dresnet --labels fp32,bf16 --out curves

Seeds of one setting: python plot_training.py RESULTS-seed*/0000*-* --out seeds \\
             --over-runs fingerprint_share_1k_fingerprint_share,fingerprint_share_1k_colour_shift
"""

import argparse
import functools

from dnnlib import cli
from training import learning_curves

_fail = functools.partial(cli.fail, 'plot_training')


def build_parser():
    parser = cli.ArgumentParser(error_name='plot_training', prog='plot_training.py', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('run_dirs', nargs='+', metavar='RUN_DIR',
                        help='training run directories; a run continued with --resume-pkl as DIR+RESUMED_DIR')
    cli.add_labels_flag(parser, 'run for the legend', 'the directory names')
    parser.add_argument('--metric', default='watermark_accuracy_1k_watermark_bit_accuracy', metavar='RESULT',
                        help='snapshot metric result to plot (default: %(default)s)')
    parser.add_argument('--over-runs', nargs='?', const='', default=None, metavar='RESULTS',
                        help='the runs are one setting (e.g. its seeds): also print the median and range over them '
                             'of the first tick at --accuracy, --metric and these comma-separated metric results '
                             '(e.g. fingerprint_share_1k_fingerprint_share,fingerprint_share_1k_colour_shift)')
    parser.add_argument('--accuracy', type=float, default=0.95,
                        help='tick bit accuracy whose first tick is reported (default: %(default)s)')
    parser.add_argument('--share-panel', nargs='?', const='fingerprint_share_1k_fingerprint_share', default=None,
                        metavar='RESULT', help='add a panel below with this snapshot metric on a log scale (default '
                                               'when given without a value: %(const)s), beside the target 0.25')
    parser.add_argument('--title', default=None, help='plot title')
    parser.add_argument('--out', default='curves', metavar='PREFIX', help='output path without .png (default: %(default)s)')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    labels = args.labels or [run_dir.rstrip('/').split('/')[-1] for run_dir in args.run_dirs]
    if len(labels) != len(args.run_dirs):
        _fail('%d labels for %d run directories' % (len(labels), len(args.run_dirs)))
    runs = list(zip(labels, args.run_dirs))
    try:
        for label, run_dir in runs:
            print(learning_curves.summary_line(label, run_dir, args.metric, args.accuracy))
        if args.over_runs is not None:
            extra = [result for result in args.over_runs.split(',') if result]
            print(learning_curves.summary_over_runs(args.run_dirs, [args.metric] + extra, args.accuracy))
        learning_curves.plot(runs, args.out + '.png', args.metric, args.title, args.share_panel)
    except (learning_curves.CurveError, OSError) as exc:
        _fail(exc)
    print('Wrote %s.png' % args.out)


if __name__ == '__main__':
    main()
