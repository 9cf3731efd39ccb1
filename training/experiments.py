"""The paper's experiments (Tables 1, 2, 4 and Figure 4) as sets of ordinary run_training.py runs.

Each experiment is a list of rows; each row is one training run, named by what it changes
from the scale's base command ('ours', 'variant-I', 'fpset-1k', 'res-16', 'bits-64', ...).
Runs with the same name are the same run whichever experiment asks for them ('ours' is
Table 1's "Ours", Table 2's "on the fly", Table 4's "all layers"). A run lives in
<result-dir>/<scale>/<run name>/ for the default seed and in <run name>-seed<N>/ for any
other, where run_training.py makes one numbered run directory per start (a resumed run gets
a new one). Every fingerprinted run measures the same metrics at its snapshots, so any
experiment can read them; the numbers are the last line of metric-<name>.txt in the run
directory that holds network-final.pkl (the final snapshot's evaluation), or of a later
run_metrics.py evaluation under <run>/eval/. With several seeds a table row gives the
median and range over the seeds whose run has the number.

A finished run's text records (flags, logs, metric files; export_records) are about 150 kB: kept
under version control, they outlive the machine that trained the run, and a result directory of
them is read like one with the pickles (a run is finished when its directory holds
network-final.pkl or the network-final.json written after it).

No TensorFlow here: planning and reporting stay fast; training and evaluation are subprocesses.
"""

import glob
import json
import os
import re
import shutil
import sys

import dnnlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ----------------------------------------------------------------------------
# Scales: the base command of every run, and which registered metric plays each role.

_QUICK_START = [  # README "Quick start": the settings that learn at CPU scale ("Learning on a CPU")
    ('--config', 'config-e-Gskip-Dresnet'), ('--num-gpus', '1'), ('--fmap-base', '512'), ('--fmap-max', '64'),
    ('--latent-size', '128'), ('--dlatent-size', '128'), ('--minibatch', '8'), ('--mapping-lrmul', '1'),
    ('--mapping-layers', '2'), ('--gamma', '0.1'), ('--G-smoothing-kimg', '2'), ('--total-kimg', '300'),
    ('--kimg-per-tick', '1'), ('--snapshot-ticks', '5')]
_QUICK_START_FINGERPRINT = [  # the consistency weight steered by the measured share ("Steering the consistency weight")
    ('--watermarkCls-weight', '10'), ('--decoupleL2-weight', '2'), ('--consistency-target-share', '0.4'),
    ('--consistency-start-accuracy', '0.8'), ('--consistency-late-target-share', '0.1'),
    ('--consistency-late-kimg', '240')]

_PAPER = [  # paper Section 4 and Appendix A, the authors' README command: 2 GPUs, batch 32, 400 epochs of 30k images
    ('--config', 'config-e-Gskip-Dresnet'), ('--num-gpus', '2'), ('--minibatch', '32'), ('--total-kimg', '12000'),
    ('--snapshot-ticks', '50')]
_PAPER_FINGERPRINT = [('--watermarkCls-weight', '2'), ('--decoupleL2-weight', '2'), ('--latentsRecL2-weight', '1')]

SCALES = {
    'paper': dnnlib.EasyDict(
        dataset='celeba_align_png_cropped_30k', resolution=128, num_bits=128, common=_PAPER,
        fingerprint=_PAPER_FINGERPRINT, about='the paper\'s CelebA 128 configuration, for GPUs',
        metrics=dict(acc='watermark_accuracy_30k', trainset='watermark_accuracy_trainset_30k', fid='fid30k',
                     share='fingerprint_share_1k')),
    'cpu': dnnlib.EasyDict(
        dataset='demo32', resolution=32, num_bits=32, common=_QUICK_START, fingerprint=_QUICK_START_FINGERPRINT,
        about='the README quick start on demo32, its consistency weight steered by the fingerprint share '
              '(75–100 minutes per run on one core)',
        metrics=dict(acc='watermark_accuracy_1k', trainset='watermark_accuracy_trainset_1k', fid='fid1k',
                     share='fingerprint_share_1k')),
}

# ----------------------------------------------------------------------------
# Columns: (metric role, result suffix, header).

COLUMNS = {
    'bit_acc': ('acc', '_watermark_bit_accuracy', 'bit acc'),
    'p_value': ('acc', '_watermark_p_value', 'p-value'),
    'fid': ('fid', '', 'FID'),
    'share': ('share', '_fingerprint_share', 'fingerprint share'),
    'colour': ('share', '_colour_shift', 'colour shift (8-bit levels)'),
    'train_acc': ('trainset', '_watermark_bit_accuracy', 'training acc'),
    'test_acc': ('acc', '_watermark_bit_accuracy', 'testing acc'),
}


def _size_name(n):
    return '%dk' % (n // 1000) if n >= 1000 else str(n)


def _table1(scale):
    del scale
    # Paper Table 1, CelebA columns (bit acc, p-value, FID).
    return [
        ('StyleGAN2', 'stylegan2', [('--no-fingerprint', None)], dict(fid=9.37)),
        ('Ours', 'ours', [], dict(bit_acc=0.991, p_value='< 1e-35', fid=11.50)),
        ('Ours Variant I', 'variant-I', [('--variant', 'I')], dict(bit_acc=0.999, p_value='< 1e-37', fid=12.98)),
        ('Ours Variant II', 'variant-II', [('--variant', 'II')], dict(bit_acc=0.987, p_value='< 1e-35', fid=13.86)),
        ('Ours Variant III', 'variant-III', [('--variant', 'III')], dict(bit_acc=0.990, p_value='< 1e-35', fid=22.59)),
    ]


def _table2(scale):
    del scale
    # Paper Table 2 (CelebA): training and testing accuracy by fingerprint set size.
    paper = {10: (1.000, 0.512), 100: (1.000, 0.537), 1000: (1.000, 0.752), 10000: (0.990, 0.988),
             100000: (0.983, 0.981)}
    rows = [(_size_name(n), 'fpset-' + _size_name(n), [('--fingerprint-set-size', str(n))],
             dict(train_acc=train, test_acc=test)) for n, (train, test) in sorted(paper.items())]
    return rows + [('Sampling on the fly', 'ours', [], dict(train_acc=0.991, test_acc=0.991))]


def _table4(scale):
    # Paper Table 4, CelebA columns (128x128 generator): one modulated resolution at a time, then all.
    paper = {4: (0.953, 12.06), 8: (0.981, 12.06), 16: (0.993, 11.90), 32: (0.991, 11.07), 64: (0.972, 10.77),
             128: (0.946, 10.67)}
    rows = []
    for res in (2 ** k for k in range(2, scale.resolution.bit_length())):
        acc, fid = paper[res]
        rows.append(('%dx%d' % (res, res), 'res-%d' % res, [('--res-modulated-range', '%d-%d' % (res, res))],
                     dict(bit_acc=acc, fid=fid)))
    return rows + [('Ours (all layers)', 'ours', [], dict(bit_acc=0.991, fid=11.50))]


FIGURE4_BITS = (32, 64, 128, 256, 512)


def _figure4(scale):
    # Paper Figure 4 gives its curves only as a plot; the text (Section 4.3 (4)) states 0.991 at 128 bits.
    return [('%d bits' % bits, 'ours' if bits == scale.num_bits else 'bits-%d' % bits,
             [] if bits == scale.num_bits else [('--watermark-size', str(bits))],
             dict(bit_acc=0.991) if bits == 128 else {}) for bits in FIGURE4_BITS]


EXPERIMENTS = {
    'table1': dnnlib.EasyDict(rows=_table1, columns=['bit_acc', 'p_value', 'fid', 'share', 'colour'],
                              title='Table 1: fingerprint detection and fidelity; StyleGAN2 and variants I-III'),
    'table2': dnnlib.EasyDict(rows=_table2, columns=['train_acc', 'test_acc', 'share', 'colour'],
                              title='Table 2: scalability, bit accuracy on training and on unseen fingerprints'),
    'table4': dnnlib.EasyDict(rows=_table4, columns=['bit_acc', 'fid', 'share', 'colour'],
                              title='Table 4: the modulated resolution'),
    'figure4': dnnlib.EasyDict(rows=_figure4, columns=['bit_acc'],
                               title='Figure 4: bit accuracy against the bottom line, by fingerprint length'),
}


DEFAULT_SEED = 1000


class ExperimentError(Exception):
    """A bad experiment name, scale or option; its message is the whole report."""


def check_name(experiment, scale):
    if experiment not in EXPERIMENTS:
        raise ExperimentError('unknown experiment %r (known: %s)' % (experiment, ', '.join(EXPERIMENTS)))
    if scale not in SCALES:
        raise ExperimentError('unknown scale %r (known: %s)' % (scale, ', '.join(SCALES)))


# ----------------------------------------------------------------------------
# Runs and their state.

def run_metrics(scale, fingerprinted, fid):
    """The metrics a run evaluates at its snapshots (FID only when the Inception network is at hand)."""
    roles = ['acc', 'trainset', 'share'] if fingerprinted else []
    return [SCALES[scale].metrics[role] for role in roles + (['fid'] if fid else [])]


def run_flags(scale, extra, seed, fid, data_dir, inception=None):
    """The run_training.py flags of one run (without --result-dir and --resume-pkl), as '--name=value' strings."""
    spec = SCALES[scale]
    flags = dict(extra)
    fingerprinted = '--no-fingerprint' not in flags
    pairs = [('--data-dir', data_dir), ('--dataset', spec.dataset)] + list(spec.common)
    if fingerprinted:
        pairs += [('--watermark-size', str(spec.num_bits)),
                  ('--res-modulated-range', '4-%d' % spec.resolution)] + list(spec.fingerprint)
    names = [name for name, _ in pairs]
    pairs = [(name, flags.get(name, value)) for name, value in pairs]
    pairs += [(name, value) for name, value in extra if name not in names]
    metrics = run_metrics(scale, fingerprinted, fid)
    pairs += [('--metrics', ','.join(metrics) or 'none'), ('--seed', str(seed))]
    if fid and inception:
        pairs.append(('--inception', inception))
    return [name if value is None else '%s=%s' % (name, value) for name, value in pairs]


def _snapshot_kimg(pkl):
    """A snapshot's training progress in kimg: from the .json beside it, else from its name."""
    meta = os.path.splitext(pkl)[0] + '.json'
    if os.path.isfile(meta):
        with open(meta) as f:
            return json.load(f)['cur_nimg'] / 1000.0
    return float(re.search(r'snapshot-(\d+)\.pkl$', pkl).group(1))


def _run_dirs(run_root):
    return sorted(d for d in glob.glob(os.path.join(run_root, '[0-9][0-9][0-9][0-9][0-9]-*')) if os.path.isdir(d))


def _finished(run_dir):
    return any(os.path.isfile(os.path.join(run_dir, 'network-final' + ext)) for ext in ('.pkl', '.json'))


def run_state(run_root):
    """What is on disk for one run: {'status': 'done'|'resume'|'start', 'run_dir', 'snapshot', 'kimg'}.

    done: a run directory holds network-final.pkl, or its .json where only the records were kept (the
    latest such directory; 'snapshot' is None without the pickle). resume: the snapshot with the most
    training progress over all run directories of the run.
    """
    run_dirs = _run_dirs(run_root)
    finished = [d for d in run_dirs if _finished(d)]
    if finished:
        final = os.path.join(finished[-1], 'network-final.pkl')
        return dict(status='done', run_dir=finished[-1], snapshot=final if os.path.isfile(final) else None,
                    kimg=None)
    snapshots = [pkl for d in run_dirs for pkl in glob.glob(os.path.join(d, 'network-snapshot-*.pkl'))]
    if snapshots:
        best = max(snapshots, key=lambda pkl: (_snapshot_kimg(pkl), pkl))
        return dict(status='resume', run_dir=os.path.dirname(best), snapshot=best, kimg=_snapshot_kimg(best))
    return dict(status='start', run_dir=None, snapshot=None, kimg=None)


def run_names(experiment, scale):
    """The distinct run names of an experiment, in row order."""
    names = []
    for _, name, _, _ in EXPERIMENTS[experiment].rows(SCALES[scale]):
        if name not in names:
            names.append(name)
    return names


def check_runs(experiment_names, scale, only):
    """Refuses run names (--runs) that none of the experiments has."""
    known = [name for experiment in experiment_names for name in run_names(experiment, scale)]
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        raise ExperimentError('%s %s no run %s (runs: %s)' % (
            ', '.join(experiment_names), 'have' if len(experiment_names) > 1 else 'has', ', '.join(unknown),
            ', '.join(dict.fromkeys(known))))


def run_root(result_dir, scale, name, seed):
    """A run's folder: <scale>/<name> for the default seed, <scale>/<name>-seed<N> for another."""
    return os.path.join(result_dir, scale, name if seed == DEFAULT_SEED else '%s-seed%d' % (name, seed))


def run_curve_dir(run_root_dir):
    """A run's numbered run directories that hold a log, joined by '+' in start order (how
    learning_curves reads a resumed run), or None before its first start."""
    parts = [d for d in _run_dirs(run_root_dir) if os.path.isfile(os.path.join(d, 'log.txt'))]
    return '+'.join(parts) or None


FLAGS_FILE = 'flags.txt'
_PLACE_FLAGS = ('--data-dir', '--metrics', '--inception')  # where the data are and what is measured, not the training


def _flag_items(flags):
    items = {}
    for flag in flags:
        name, _, value = flag.partition('=')
        if name not in _PLACE_FLAGS:
            items[name] = value
    return items


def flag_changes(recorded, planned):
    """How the planned flags differ from the recorded ones, as '--name A -> B' strings (flags that only say
    where the data are or what is measured do not count)."""
    old, new = _flag_items(recorded), _flag_items(planned)
    return ['%s %s -> %s' % (name, old.get(name, '(none)') or '(set)', new.get(name, '(none)') or '(set)')
            for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]


def recorded_flags(run_root_dir):
    """The flags a run was started with (<run root>/flags.txt, one per line), or None for a run without it."""
    path = os.path.join(run_root_dir, FLAGS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return [line for line in f.read().splitlines() if line]


def record_flags(run):
    """Write a run's flags into its root when it first starts, so that a later plan can tell a changed one."""
    if recorded_flags(run.root) is None:
        os.makedirs(run.root, exist_ok=True)
        dnnlib.util.atomic_write_bytes(os.path.join(run.root, FLAGS_FILE), ''.join(f + '\n' for f in run.flags).encode())


def plan(experiment, scale, result_dir, seeds=(DEFAULT_SEED,), fid=False, data_dir='datasets', inception=None,
         only=None):
    """The runs of an experiment: one EasyDict per distinct (run, seed), seed by seed in row order, with its
    state, its flags, the command that advances it (None when done, or when `only` names other runs), the rows
    it fills and `changes`: how its flags differ from those it was started with (flag_changes; empty when they
    agree or were not recorded). Names in `only` are checked by check_runs.
    """
    check_name(experiment, scale)
    runs = {}
    for seed in seeds:
        for label, name, extra, paper in EXPERIMENTS[experiment].rows(SCALES[scale]):
            if (name, seed) not in runs:
                root = run_root(result_dir, scale, name, seed)
                flags = run_flags(scale, extra, seed, fid, data_dir, inception)
                state = run_state(root)
                recorded = recorded_flags(root)
                command = None
                if state['status'] != 'done' and (only is None or name in only):
                    command = [sys.executable, os.path.join(ROOT, 'run_training.py'), '--result-dir=' + root] + flags
                    if state['status'] == 'resume':
                        command.append('--resume-pkl=' + state['snapshot'])
                runs[name, seed] = dnnlib.EasyDict(name=os.path.basename(root), seed=seed, root=root, flags=flags,
                                                   state=state, command=command, rows=[],
                                                   changes=flag_changes(recorded, flags) if recorded else [],
                                                   fingerprinted='--no-fingerprint' not in flags)
            runs[name, seed].rows.append((label, paper))
    return list(runs.values())


def missing_metrics(run, scale, fid, data_dir, inception=None):
    """For a finished run, the run_metrics.py command that evaluates the metrics its files lack, or None.

    This is how FID is added when the Inception network arrives after training; a run kept only as
    records (no network-final.pkl) cannot be evaluated further.
    """
    if run.state['status'] != 'done' or run.state['snapshot'] is None:
        return None
    wanted = run_metrics(scale, run.fingerprinted, fid)
    lacking = [name for name in wanted if read_metric(run.root, run.state, name) is None]
    if not lacking:
        return None
    flags = dict(flag.split('=', 1) if '=' in flag else (flag, None) for flag in run.flags)
    command = [sys.executable, os.path.join(ROOT, 'run_metrics.py'), '--network=' + run.state['snapshot'],
               '--metrics=' + ','.join(lacking), '--result-dir=' + os.path.join(run.root, 'eval'),
               '--data-dir=' + data_dir, '--dataset=' + SCALES[scale].dataset, '--seed=%d' % run.seed,
               '--num-gpus=' + flags['--num-gpus']]
    if any('trainset' in name for name in lacking):
        command.append('--fingerprint-set-size=' + flags.get('--fingerprint-set-size', '0'))
    if fid and inception:
        command.append('--inception=' + inception)
    return command


# Pickles, images and TensorBoard events are large; a snapshot's progress .json serves only to resume from its
# pickle; driver-log.txt repeats log.txt.
_NOT_RECORDS = ('*.pkl', '*.png', 'events.out.tfevents.*', 'network-snapshot-*.json', 'driver-log.txt')


def export_records(run, dest_root):
    """Copy a finished run's records (its folder without pickles, images, TensorBoard events, snapshot progress
    and console copy: flags.txt, log.txt, metric files, network-final.json, eval/) to dest_root,
    replacing an earlier copy whole. Returns whether the run was finished (unfinished runs are not copied)."""
    if run.state['status'] != 'done':
        return False
    staging, previous = dest_root + '.exporting', dest_root + '.replaced'
    for path in (staging, previous):
        shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(run.root, staging, ignore=shutil.ignore_patterns(*_NOT_RECORDS))
    if os.path.exists(dest_root):
        os.rename(dest_root, previous)
    os.rename(staging, dest_root)
    shutil.rmtree(previous, ignore_errors=True)
    return True


# ----------------------------------------------------------------------------
# Metric files.

def parse_metric_line(line):
    """A metric-<name>.txt line -> (network name, {result name: value})."""
    tokens = line.split()
    if not tokens:
        return None, {}
    values = {}
    for key, value in zip(tokens, tokens[1:]):
        if key.startswith(('watermark_', 'fid', 'fingerprint_')):
            try:
                values[key] = float(value)
            except ValueError:
                continue
    return tokens[0], values


def read_metric(run_root, state, metric):
    """The last evaluation of `metric` for a finished run: {'path', 'network', 'values'}, or None.

    Looked for in the run directory with network-final.pkl (the final snapshot's line), then in
    run_metrics.py evaluations under <run>/eval/ (the newest wins).
    """
    if state['status'] != 'done':
        return None
    candidates = [os.path.join(state['run_dir'], 'metric-%s.txt' % metric)]
    candidates += sorted(glob.glob(os.path.join(run_root, 'eval', '[0-9]*', 'metric-%s.txt' % metric)))
    found = None
    for path in candidates:
        if os.path.isfile(path):
            with open(path) as f:
                lines = [line for line in f.read().splitlines() if line.strip()]
            if lines:
                network, values = parse_metric_line(lines[-1])
                found = dict(path=path, network=network, values=values)
    return found
