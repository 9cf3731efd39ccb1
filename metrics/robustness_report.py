"""The robustness sweep's files: its CSV (one row per network, perturbation and
strength), the working ranges (strengths at which bit accuracy stays >= 0.75),
and the Figure 5 style plot (a panel per perturbation, a line per network).

No TensorFlow here: plot_robustness.py uses this on CSVs alone.
"""

import csv
import glob
import io
import os

import dnnlib

ACCEPTED_ACCURACY = 0.75
COLUMNS = ('network', 'perturbation', 'strength', 'paper_strength', 'bit_accuracy', 'p_value', 'num_images',
           'resolution', 'num_bits')
PANELS = (  # kind, axis label, whether the axis runs from strong to weak (drawn reversed)
    ('crop', 'crop size (px at 128x128)', True),
    ('blur', 'Gaussian blur kernel size (px at 128x128)', False),
    ('jpeg', 'JPEG quality', True),
    ('noise', 'Gaussian noise std ([-1, 1] scale)', False),
    ('combo', 'combination level (1 = edge of the paper\'s ranges)', False),
)
# The paper's working ranges (§4.5; blur and JPEG for the original model, crop and noise immunised).
PAPER_RANGES = {'crop': (60, 128), 'blur': (0, 7), 'jpeg': (80, 100), 'noise': (0, 0.4)}


class ReportError(Exception):
    """A CSV that cannot be read as a robustness sweep; its message is the whole report."""


def append_rows(path, rows):
    """Add rows (dicts with COLUMNS) to the CSV at path, writing the whole file anew atomically."""
    previous = read_rows([path]) if os.path.isfile(path) else []
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, lineterminator='\n')
    writer.writeheader()
    for row in previous + list(rows):
        writer.writerow({key: ('%.6g' % row[key] if isinstance(row[key], float) else row[key]) for key in COLUMNS})
    dnnlib.util.atomic_write_bytes(path, text.getvalue().encode('utf-8'))


def read_rows(paths):
    """The rows of the CSVs, in file order, with numbers as floats."""
    rows = []
    for path in paths:
        try:
            with open(path, newline='', encoding='utf-8') as f:
                reader = csv.DictReader(f)
                missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
                if missing:
                    raise ReportError('%s is not a robustness CSV (no column %s)' % (path, ', '.join(missing)))
                for line, row in enumerate(reader, start=2):
                    try:
                        rows.append(dict(row, **{key: float(row[key]) for key in COLUMNS[2:]}))
                    except (TypeError, ValueError):
                        raise ReportError('%s line %d: a value that is not a number' % (path, line)) from None
        except OSError as exc:
            raise ReportError('cannot read %s: %s' % (path, exc.strerror or exc)) from None
    return rows


def networks_in(rows):
    return list(dict.fromkeys(row['network'] for row in rows))


def curve(rows, network, kind):
    """[(paper_strength, strength, bit_accuracy)] of one network and perturbation, weakest first
    (the order the sweep measured them in; the last evaluation of a network counts)."""
    points = [row for row in rows if row['network'] == network and row['perturbation'] == kind]
    last = {}
    for row in points:
        last[row['strength']] = (row['paper_strength'], row['strength'], row['bit_accuracy'])
    return list(last.values())


def working_range(points):
    """(weakest, strongest) strengths of the run of grid points, from the weakest on, whose accuracy is
    >= 0.75, as (paper_strength pair, strength pair); None when the weakest already fails."""
    passed = []
    for point in points:
        if point[2] < ACCEPTED_ACCURACY:
            break
        passed.append(point)
    if not passed:
        return None
    return (passed[0][0], passed[-1][0]), (passed[0][1], passed[-1][1])


def _span(pair):
    lo, hi = sorted(pair)
    return '%g-%g' % (lo, hi)


def ranges_table(rows):
    """The working ranges of every network as a text table, the paper's beneath."""
    kinds = [kind for kind, _, _ in PANELS]
    networks = networks_in(rows)
    width = max([len(n) for n in networks] + [24])
    lines = ['Working ranges (bit accuracy >= %.2f): strengths at 128x128 [and at the model\'s resolution]'
             % ACCEPTED_ACCURACY,
             '%-*s %6s %7s' % (width, 'network', 'res', 'clean') + ''.join(' %-17s' % kind for kind in kinds)]
    for network in networks:
        clean = curve(rows, network, 'none')
        resolution = next(row['resolution'] for row in rows if row['network'] == network)
        cells = []
        for kind in kinds:
            found = working_range(curve(rows, network, kind))
            if found is None:
                cells.append('none')
            elif kind in ('crop', 'blur') and resolution != 128:
                cells.append('%s [%s]' % (_span(found[0]), _span(found[1])))
            else:
                cells.append(_span(found[0]))
        lines.append('%-*s %6d %7s' % (width, network, resolution, '%.4f' % clean[-1][2] if clean else '-')
                     + ''.join(' %-17s' % cell for cell in cells))
    lines.append('%-*s %6d %7s' % (width, 'paper (CelebA, §4.5)', 128, '0.991')
                 + ''.join(' %-17s' % (_span(PAPER_RANGES[kind]) if kind in PAPER_RANGES else 'the above')
                           for kind in kinds))
    return '\n'.join(line.rstrip() for line in lines) + '\n'


def find_fids(folder):
    """{network: FID} from the metric-*.txt result lines in folder (the last FID of each network)."""
    fids = {}
    for path in sorted(glob.glob(os.path.join(folder, 'metric-*.txt'))):
        with open(path, encoding='utf-8') as f:
            for line in f:
                fields = line.split()  # network, 'time', a duration of one or more words, then name value pairs
                for key, value in zip(fields[2:], fields[3:]):
                    if key.endswith('_fid') or key in ('fid50k', 'fid1k'):
                        try:
                            fids[fields[0]] = float(value)
                        except ValueError:
                            pass
    return fids


def plot_png(rows, fids=None):
    """The PNG bytes of the figure: a panel per perturbation, bit accuracy against strength, a line
    per network, the 0.75 acceptance line and the paper's working range shaded."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    from matplotlib import pyplot  # pylint: disable=import-outside-toplevel

    fids = fids or {}
    networks = networks_in(rows)
    figure, axes = pyplot.subplots(1, len(PANELS), figsize=(4.0 * len(PANELS), 3.8), sharey=True)
    for axis, (kind, label, reversed_axis) in zip(axes, PANELS):
        for network in networks:
            points = curve(rows, network, kind)
            if points:
                axis.plot([p[0] for p in points], [p[2] for p in points], marker='o', markersize=4, label=network)
        axis.axhline(ACCEPTED_ACCURACY, color='gray', linestyle='--', linewidth=1)
        axis.axvspan(*(PAPER_RANGES.get(kind) or (0, 1)), color='green', alpha=0.08)
        if reversed_axis:
            axis.invert_xaxis()
        title = kind
        with_fid = [network for network in networks if network in fids]
        if with_fid:
            title += '\nFID ' + ', '.join('%.1f' % fids[network] for network in with_fid)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel(label, fontsize=8)
        axis.set_ylim(0.4, 1.02)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel('bit accuracy')
    figure.suptitle('Fingerprint bit accuracy under perturbations (dashed: accepted %.2f; shaded: the paper\'s '
                    'working range)' % ACCEPTED_ACCURACY, fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc='lower center', ncol=max(1, min(len(labels), 4)), fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 0.94))
    return dnnlib.util.figure_png_bytes(figure, dpi=80)


def write_report(csv_paths, prefix, labels=None):
    """<prefix>.png and <prefix>-ranges.txt from the CSVs (FIDs from metric files beside them); prints
    the table and returns it. labels: one name per network, in the order the networks first appear
    in the CSVs (one per CSV when each holds one run, e.g. 'original', 'immunised: crop'), in place
    of the network names."""
    parts = [(read_rows([path]), find_fids(os.path.dirname(os.path.abspath(path)))) for path in csv_paths]
    networks = [(index, name) for index, (part, _) in enumerate(parts)
                for name in dict.fromkeys(row['network'] for row in part)]
    if labels is not None and len(labels) != len(networks):
        raise ReportError('%d labels for %d networks in %d CSV file(s)' % (len(labels), len(networks), len(csv_paths)))
    names = dict(zip(networks, labels)) if labels is not None else {key: key[1] for key in networks}
    rows = []
    fids = {}
    for index, (part, found) in enumerate(parts):
        rows += [dict(row, network=names[index, row['network']]) for row in part]
        fids.update({names[index, name]: fid for name, fid in found.items() if (index, name) in names})
    if not rows:
        raise ReportError('no measurements in %s' % ', '.join(csv_paths))
    table = ranges_table(rows)
    dnnlib.util.atomic_write_bytes(prefix + '.png', plot_png(rows, fids))
    dnnlib.util.atomic_write_bytes(prefix + '-ranges.txt', table.encode('utf-8'))
    print(table, end='')
    return table
