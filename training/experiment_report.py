"""Tables (Markdown and CSV), the runs' learning curves and the Figure 4 plot of an experiment, from its
runs' logs and metric files.

Every number names the metric file and network snapshot it was read from (CSV columns
<column>_source); the paper's number stands beside ours. Files are written atomically.
"""

import csv
import io
import json
import os

import numpy as np

import dnnlib
from training import experiments, learning_curves

_MISSING = '—'


def run_status(run):
    state = run.state
    if state['status'] == 'done':
        return 'done'
    if state['status'] == 'resume':
        return 'at %g kimg' % state['kimg']
    return 'not started'


def _format(column, value):
    if value is None:
        return _MISSING
    if isinstance(value, str):
        return value
    if column == 'p_value':
        return '%.2e' % value
    if column == 'fid':
        return '%.2f' % value
    return '%.3f' % value


def _seeds(runs):
    return sorted({run.seed for run in runs})


def _cell(row, column):
    """A table cell: the value, with its range over seeds when more than one seed gave it."""
    text = _format(column, row.get(column))
    if row.get(column + '_n', 0) > 1:
        text += ' (%s–%s)' % (_format(column, row[column + '_min']), _format(column, row[column + '_max']))
    return text


def _run_value(run, scale, column, fid):
    """One run's number for a column, and the metric file and snapshot it came from."""
    role, suffix, _ = experiments.COLUMNS[column]
    if role == 'fid' and not fid:
        return 'not measured', None
    if run.fingerprinted or role == 'fid':
        metric = experiments.SCALES[scale].metrics[role]
        found = experiments.read_metric(run.root, run.state, metric)
        if found is not None and metric + suffix in found['values']:
            return found['values'][metric + suffix], '%s (%s)' % (found['path'], found['network'])
    return None, None


def table_rows(experiment, scale, runs, fid):
    """One dict per table row: label, run, status, run_dir, and per column its value (the median over seeds),
    _min, _max, _n (seeds that gave it), _source (file and snapshot of each) and _paper."""
    spec = experiments.EXPERIMENTS[experiment]
    by_label = {}
    for run in runs:
        for label, paper in run.rows:
            by_label.setdefault(label, (paper, []))[1].append(run)
    several = len(_seeds(runs)) > 1
    rows = []
    for label, (paper, label_runs) in by_label.items():
        # Over several seeds a row names the runs of the seeds it has reached, and the other seeds in one note.
        started = [run for run in label_runs if run.state['status'] != 'start']
        shown = started if several and started else label_runs
        unstarted = [str(run.seed) for run in label_runs if run not in shown]

        def per_seed(text_of):
            return '; '.join(('seed %d: ' % run.seed if several else '') + text_of(run) for run in shown)
        status = per_seed(run_status)
        if unstarted:
            status += '; seed%s %s: not started' % ('s' if len(unstarted) > 1 else '', ', '.join(unstarted))
        row = dict(label=label, run=per_seed(lambda run: run.name), status=status,
                   run_dir=per_seed(lambda run: run.state['run_dir'] or run.root))
        for column in spec.columns:
            found = [(value, source) for value, source in (_run_value(run, scale, column, fid) for run in label_runs)
                     if value is not None]
            numbers = [value for value, _ in found if not isinstance(value, str)]
            row[column] = (float(np.median(numbers)) if numbers else found[0][0] if found else None)
            row[column + '_min'] = min(numbers) if numbers else None
            row[column + '_max'] = max(numbers) if numbers else None
            row[column + '_n'] = len(numbers)
            row[column + '_source'] = '; '.join(source for _, source in found if source) or None
            row[column + '_paper'] = paper.get(column)
        rows.append(row)
    labels = [label for label, _, _, _ in spec.rows(experiments.SCALES[scale])]
    return sorted(rows, key=lambda row: labels.index(row['label']))


def run_curves(runs):
    """[(label, run directories joined by '+')] of the fingerprinted runs that have started, for their learning
    curves; the label is the run's first row, with its seed when the runs have several."""
    several = len(_seeds(runs)) > 1
    curves = []
    for run in runs:
        curve_dir = experiments.run_curve_dir(run.root)
        if run.fingerprinted and curve_dir:
            curves.append((run.rows[0][0] + (', seed %d' % run.seed if several else ''), curve_dir))
    return curves


def add_bottom_line(rows, bottom_lines):
    """Figure 4's computed columns: the bottom line of the row's bit length and the capacity log10 2^(d * acc)."""
    from metrics import fingerprint_capacity  # pylint: disable=import-outside-toplevel
    for row in rows:
        bits = int(row['label'].split()[0])
        row['bottom_line'] = bottom_lines.get(bits)
        acc = row.get('bit_acc')
        row['capacity_log10'] = (fingerprint_capacity.capacity_log10(bits, acc)
                                 if isinstance(acc, float) else None)
    return rows


def bottom_lines(cache_paths, num_fingerprints, seed=0, bits_list=experiments.FIGURE4_BITS, compute=True):
    """{bits: bottom line} for Figure 4, computed once per (bits, N, seed) and kept in JSON files: every
    cache path (one, or a list) gets the values any of them holds, so an exported result folder keeps them.

    With compute=False only cached values are returned (for --dry-run and quick reports).
    """
    cache_paths = [cache_paths] if isinstance(cache_paths, str) else list(cache_paths)
    held = {}
    for path in cache_paths:
        held[path] = {}
        if os.path.isfile(path):
            with open(path) as f:
                held[path] = json.load(f)
    cache = {key: value for values in held.values() for key, value in values.items()}
    result = {}
    for bits in bits_list:
        key = '%d-%d-%d' % (bits, num_fingerprints, seed)
        if key not in cache and compute:
            from metrics import fingerprint_capacity  # pylint: disable=import-outside-toplevel
            print('Bottom line: %d random %d-bit fingerprints...' % (num_fingerprints, bits), flush=True)
            cache[key] = fingerprint_capacity.bottom_line(bits, num_fingerprints, seed)
            _update_caches(held, cache)  # each length is kept as soon as it is known
        if key in cache:
            result[bits] = cache[key]
    if compute:
        _update_caches(held, cache)
    return result


def _update_caches(held, cache):
    """Write the cache into each file (path -> its contents) that lacks part of it."""
    for path, values in held.items():
        if values != cache:
            dnnlib.util.atomic_write_bytes(path, json.dumps(cache, indent=1, sort_keys=True).encode())
            held[path] = dict(cache)


def _columns(experiment):
    columns = list(experiments.EXPERIMENTS[experiment].columns)
    return columns + (['bottom_line', 'capacity_log10'] if experiment == 'figure4' else [])


def _header(column):
    if column in experiments.COLUMNS:
        return experiments.COLUMNS[column][2]
    return {'bottom_line': 'bottom line', 'capacity_log10': 'log10 capacity'}[column]


def markdown(experiment, scale, rows, fid, notes=()):
    spec = experiments.EXPERIMENTS[experiment]
    headers, keys = ['row'], []
    for column in _columns(experiment):
        headers.append(_header(column))
        keys.append((column, False))
        if column in experiments.COLUMNS and any(row.get(column + '_paper') is not None for row in rows):
            headers.append(_header(column) + ' (paper)')
            keys.append((column, True))
    lines = ['# %s (%s scale)' % (spec.title, scale), '',
             'Scale: %s. Paper numbers: CelebA 128, from the paper; — where it gives none (no column where it '
             'gives none at all).'
             % experiments.SCALES[scale].about]
    if not fid and 'fid' in spec.columns:
        lines.append('FID: not measured (no Inception network: give --inception, or set $INCEPTION_PKL).')
    lines += list(notes) + ['', '| ' + ' | '.join(headers + ['run', 'status']) + ' |',
                            '|' + ' --- |' * (len(headers) + 2)]
    for row in rows:
        cells = [row['label']] + [_format(column, row.get(column + '_paper')) if paper else _cell(row, column)
                                  for column, paper in keys]
        lines.append('| ' + ' | '.join(cells + ['`%s`' % row['run_dir'], row['status']]) + ' |')
    return '\n'.join(lines) + '\n'


def csv_text(experiment, rows):
    fields = ['label', 'run', 'status', 'run_dir']
    for column in _columns(experiment):
        fields.append(column)
        if column in experiments.COLUMNS:
            fields += [column + '_min', column + '_max', column + '_n', column + '_paper', column + '_source']
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    for row in rows:
        writer.writerow({key: '' if row.get(key) is None else row.get(key) for key in fields})
    return out.getvalue()


def figure4_png(rows, scale, num_fingerprints):
    """Bit accuracy (red) and the bottom line (blue) by bit length, as the paper's Figure 4: PNG bytes."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    bits = [int(row['label'].split()[0]) for row in rows]

    def series(key):
        points = [(b, row[key]) for b, row in zip(bits, rows) if isinstance(row.get(key), float)]
        return [p[0] for p in points], [p[1] for p in points]

    for key, color, label in (('bit_acc', 'tab:red', 'bit accuracy (%s scale)' % scale),
                              ('bottom_line', 'tab:blue', 'bottom line (%d fingerprints)' % num_fingerprints)):
        xs, ys = series(key)
        ax.plot(xs, ys, 'o-', color=color, label=label)
    xs, ys = series('bit_acc_paper')
    ax.plot(xs, ys, '*', color='tab:red', markersize=11, markerfacecolor='none', label='paper (text, 128 bits)')
    ax.set_xscale('log', base=2)
    ax.set_xticks(list(experiments.FIGURE4_BITS))
    ax.set_xticklabels([str(b) for b in experiments.FIGURE4_BITS])
    ax.set_xlabel('fingerprint bit length')
    ax.set_ylabel('bitwise accuracy')
    ax.set_ylim(0.45, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc='upper left', bbox_to_anchor=(1.02, 1), fontsize=8)  # outside: the points fill the whole range
    fig.tight_layout()
    return dnnlib.util.figure_png_bytes(fig)


def write_report(experiment, scale, runs, out_dir, fid, bottom_line_values=None, num_fingerprints=1000000):
    """Write <out_dir>/<experiment>.md and .csv, <experiment>-curves.png (once a run has a log) and figure4.png;
    returns the paths written."""
    rows = table_rows(experiment, scale, runs, fid)
    notes = []
    if len(_seeds(runs)) > 1:
        notes.append('Seeds %s: median (min–max) over the seeds whose run gave the number.'
                     % ', '.join(str(seed) for seed in _seeds(runs)))
    if experiment == 'figure4':
        rows = add_bottom_line(rows, bottom_line_values or {})
        notes.append('Bottom line: the largest bit overlap between two of %d random fingerprints (exact); '
                     'capacity: log10 2^(d * bit acc).' % num_fingerprints)
    paths = {os.path.join(out_dir, experiment + '.md'): markdown(experiment, scale, rows, fid, notes).encode(),
             os.path.join(out_dir, experiment + '.csv'): csv_text(experiment, rows).encode()}
    if experiment == 'figure4':
        paths[os.path.join(out_dir, 'figure4.png')] = figure4_png(rows, scale, num_fingerprints)
    curves = run_curves(runs)
    if curves:
        title = '%s (%s scale)' % (experiments.EXPERIMENTS[experiment].title.split(':')[0], scale)
        paths[os.path.join(out_dir, experiment + '-curves.png')] = learning_curves.curves_png(
            curves, experiments.SCALES[scale].metrics['acc'] + '_watermark_bit_accuracy', title)
    for path, data in paths.items():
        dnnlib.util.atomic_write_bytes(path, data)
    return sorted(paths)
