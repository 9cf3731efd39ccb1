"""Plot robustness sweeps of several runs together (paper Figure 5) and print their working ranges.

Each CSV is a robustness-<metric>.csv written by run_metrics.py --metrics=robustness_*; FIDs found in
the metric-*.txt files beside a CSV go into the panel titles. Writes <out>.png and <out>-ranges.txt.

Example: python plot_robustness.py results/00001-run-metrics/robustness-robustness_1k.csv \\
             results/00002-run-metrics/robustness-robustness_1k.csv --labels original,immunised-crop --out robustness
"""

import argparse
import functools

from dnnlib import cli
from metrics import robustness_report

_fail = functools.partial(cli.fail, 'plot_robustness')


def build_parser():
    parser = cli.ArgumentParser(error_name='plot_robustness', prog='plot_robustness.py', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('csv', nargs='+', metavar='CSV', help='robustness CSV files')
    cli.add_labels_flag(parser, 'network (in the order they appear in the CSVs) for the legend and table',
                       'the network names')
    parser.add_argument('--out', default='robustness', metavar='PREFIX',
                        help='output path without extension (default: %(default)s)')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        robustness_report.write_report(args.csv, args.out, args.labels)
    except (robustness_report.ReportError, OSError) as exc:
        _fail(exc)


if __name__ == '__main__':
    main()
