"""Learning curves of training runs, read from their run directories, and one plot comparing them.

A run directory holds `log.txt` (one line per tick: kimg, sec/kimg and the decoder's bit
accuracy on the training fingerprints) and `metric-<name>.txt` (one line per snapshot,
`network-snapshot-<kimg>` then `<result> <value>` pairs).
"""

import glob
import os
import re

import numpy as np

from dnnlib import util
from training import experiments

_TICK = re.compile(r'^tick\s+\d+\s+kimg\s+(?P<kimg>[\d.]+).*?sec/kimg\s+(?P<sec>[\d.]+)'
                   r'(?:.*?bit_acc\s+(?P<acc>[\d.]+))?')
_SNAPSHOT = re.compile(r'network-snapshot-(\d+)')


class CurveError(Exception):
    """A run directory without what a curve needs; the message names it."""


def _resumed_parts(run_dir):
    """A training continued by --resume-pkl in new run directories is given as DIR+DIR2+...: its parts."""
    return run_dir.split('+')


def _joined(parts):
    """The series of a run's parts, [(first tick kimg or None, [(kimg, ...)])] in order, as one series: where a
    part starts (resumed from a snapshot, or started again) what earlier parts had from there on is dropped."""
    joined = []
    for start, series in parts:
        if start is not None:
            joined = [point for point in joined if point[0] < start]
        joined += series
    return joined


def read_ticks(run_dir):
    """[(kimg, sec/kimg, tick bit accuracy or None)] from <run_dir>/log.txt (of each part of DIR+DIR2), in order."""
    parts = [_read_log_ticks(part) for part in _resumed_parts(run_dir)]
    return _joined([(ticks[0][0] if ticks else None, ticks) for ticks in parts])


def _read_log_ticks(run_dir, first_only=False):
    path = os.path.join(run_dir, 'log.txt')
    if not os.path.isfile(path):
        raise CurveError('%s: no log.txt (not a training run directory?)' % run_dir)
    ticks = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            match = _TICK.match(line)
            if match:
                acc = match.group('acc')
                ticks.append((float(match.group('kimg')), float(match.group('sec')), float(acc) if acc else None))
                if first_only:
                    break
    return ticks


def read_snapshot_metric(run_dir, result):
    """[(kimg, value)] of one metric result (e.g. watermark_accuracy_1k_watermark_bit_accuracy) per snapshot."""
    parts = []
    for part in _resumed_parts(run_dir):
        points = []
        for path in sorted(glob.glob(os.path.join(part, 'metric-*.txt'))):
            with open(path, encoding='utf-8', errors='replace') as f:
                for line in f:
                    network, values = experiments.parse_metric_line(line)
                    snapshot = _SNAPSHOT.search(network or '')
                    if snapshot and result in values:
                        points.append((int(snapshot.group(1)), values[result]))
        ticks = _read_log_ticks(part, first_only=True) if os.path.isfile(os.path.join(part, 'log.txt')) else []
        parts.append((ticks[0][0] if ticks else None, sorted(set(points))))
    return _joined(parts)


def first_reaching(ticks, accuracy):
    """kimg of the first tick whose bit accuracy is at least `accuracy`, None if none is."""
    return next((kimg for kimg, _sec, acc in ticks if acc is not None and acc >= accuracy), None)


def summary_line(label, run_dir, result, accuracy=0.95):
    """One line: median sec/kimg, first tick at `accuracy`, the snapshot metric's last and best values."""
    ticks = read_ticks(run_dir)
    points = read_snapshot_metric(run_dir, result)
    if not ticks:
        raise CurveError('%s: log.txt has no tick lines yet' % run_dir)
    reached = first_reaching(ticks, accuracy)
    text = '%s: %d ticks to %.1f kimg, median %.2f sec/kimg; tick bit accuracy %.2f %s' % (
        label, len(ticks), ticks[-1][0], float(np.median([sec for _, sec, _ in ticks])), accuracy,
        'first at %.1f kimg' % reached if reached is not None else 'not reached')
    if points:
        best = max(points, key=lambda point: point[1])
        text += '; %s %.4f at %d kimg (last), best %.4f at %d' % (result, points[-1][1], points[-1][0], best[1], best[0])
    return text


def _median_range(values):
    return '%s (%s-%s)' % tuple(('%.4g' % v) for v in (np.median(values), min(values), max(values)))


def summary_over_runs(run_dirs, results, accuracy=0.95):
    """One line for runs of one setting (e.g. its seeds): median (min-max) of each figure over the runs.

    Figures: the kimg of the first tick at `accuracy` (over the runs that reach it) and the last
    snapshot value of each of `results` (over the runs that have it); a figure no run has is left out.
    """
    reached = [first_reaching(read_ticks(run_dir), accuracy) for run_dir in run_dirs]
    parts = ['over %d runs: tick bit accuracy %.2f first at kimg %s, reached by %d' % (
        len(run_dirs), accuracy, _median_range([k for k in reached if k is not None]) if any(
            k is not None for k in reached) else 'n/a', sum(k is not None for k in reached))]
    for result in results:
        last = [points[-1][1] for points in (read_snapshot_metric(run_dir, result) for run_dir in run_dirs) if points]
        if last:
            parts.append('%s last %s, n=%d' % (result, _median_range(last), len(last)))
    return '; '.join(parts)


def plot(runs, out_png, result, title=None, share_result=None):
    """Writes curves_png(runs, result, title, share_result) to out_png through a temporary file."""
    util.atomic_write_bytes(out_png, curves_png(runs, result, title, share_result))


def curves_png(runs, result, title=None, share_result=None):
    """Tick bit accuracy (thin) and the snapshot metric (markers) against kimg, one colour per run: PNG bytes.

    runs: [(label, run_dir)]. With share_result (a snapshot metric such as
    fingerprint_share_1k_fingerprint_share), a second panel below shows it on a
    log scale, with the fidelity target 0.25: what the bits cost in fidelity.
    """
    import matplotlib  # noqa: E402  (only plotting needs it)
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # noqa: E402

    if share_result:
        fig, (ax, share_ax) = plt.subplots(2, 1, figsize=(8.5, 6.6), dpi=110, sharex=True,
                                           gridspec_kw={'height_ratios': [3, 2]})
    else:
        fig, ax = plt.subplots(figsize=(8.5, 4.2), dpi=110)
    metric = result.replace('_watermark_bit_accuracy', '')
    for index, (label, run_dir) in enumerate(runs):
        colour = 'C%d' % index
        ticks = [(kimg, acc) for kimg, _sec, acc in read_ticks(run_dir) if acc is not None]
        points = read_snapshot_metric(run_dir, result)
        if ticks:  # one legend entry per run: on its snapshot metric, or its ticks until it has one
            ax.plot(*zip(*ticks), color=colour, linewidth=0.8, alpha=0.6, label=None if points else label)
        if points:
            ax.plot(*zip(*points), color=colour, marker='o', markersize=3, linewidth=1.5, label=label)
        shares = [(kimg, value) for kimg, value in read_snapshot_metric(run_dir, share_result)
                  if value > 0] if share_result else []
        if shares:
            share_ax.plot(*zip(*shares), color=colour, marker='o', markersize=2, linewidth=1.2)
    if runs:
        ax.plot([], [], color='grey', linewidth=0.8, alpha=0.6, label='(thin: tick bit accuracy)')
        ax.plot([], [], color='grey', marker='o', markersize=3, linewidth=1.5, label='(markers: %s)' % metric)
    ax.axhline(0.95, color='grey', linestyle=':', linewidth=1)
    ax.set_ylabel('bit accuracy')
    ax.set_ylim(0.45, 1.0)
    ax.grid(alpha=0.3)
    if share_result:
        share_ax.set_yscale('log')
        share_ax.axhline(0.25, color='grey', linestyle=':', linewidth=1)
        share_ax.set_ylabel(share_result.replace('_fingerprint_share', ' share'), fontsize=8)
        share_ax.grid(alpha=0.3, which='both')
        share_ax.set_xlabel('kimg')
    else:
        ax.set_xlabel('kimg')
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return util.figure_png_bytes(fig)
