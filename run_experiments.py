"""Reproduce the paper's Tables 1, 2, 4 and Figure 4: train the runs an experiment needs, then
write <experiment>.md and .csv (and figure4.png) beside them, with the paper's numbers.

Each run is an ordinary run_training.py run in <result-dir>/<scale>/<run>/. Calling the same
command again skips finished runs (network-final.pkl), resumes killed ones from their latest
snapshot, evaluates metrics a finished run lacks (FID once the Inception network is there) with
run_metrics.py, and rewrites the tables: cpu-scale tables fill in over several sessions.
--export=DIR copies the finished runs' records (no pickles) to DIR and writes the tables there
too: a folder small enough to keep under version control, from which --report-only
--result-dir=DIR writes the same tables again on any machine.

  python run_experiments.py --list
  python run_experiments.py table1 --scale=cpu --dry-run
  python run_experiments.py table1 --scale=cpu --jobs=2     # two runs at once, one per core
  python run_experiments.py all --scale=cpu --jobs=2        # every experiment's runs in one queue
  python run_experiments.py figure4 --scale=paper --data-dir=datasets
  python run_experiments.py table1 --report-only --export=docs/experiments
"""

import argparse
import functools
import os
import shlex
import signal
import subprocess
import sys
import time

from dnnlib import cli
from dnnlib import util
from training import experiment_report
from training import experiments

_fail = functools.partial(cli.fail, 'run_experiments')


def build_parser():
    parser = cli.ArgumentParser(prog='run_experiments.py', error_name='run_experiments', description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('experiment', nargs='?', choices=list(experiments.EXPERIMENTS) + ['all'], metavar='EXPERIMENT',
                        help='one of %s, or all (their runs in one queue, then every table)'
                             % ', '.join(experiments.EXPERIMENTS))
    parser.add_argument('--scale', default='cpu', choices=list(experiments.SCALES),
                        help='paper: the paper\'s configurations (GPUs); cpu: the README quick start on demo32 '
                             '(default: %(default)s)')
    parser.add_argument('--list', action='store_true', help='list the experiments and their runs, then exit')
    parser.add_argument('--dry-run', action='store_true', help='print what would run, run nothing, write nothing')
    parser.add_argument('--report-only', action='store_true',
                        help='train and evaluate nothing; write the tables (figure4: computing its bottom line)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at once; with 2 or more each is pinned to its own core (taskset -c N) '
                             '(default: %(default)s, on every core)')
    parser.add_argument('--seed', type=seed_list, default=[experiments.DEFAULT_SEED], metavar='SEED[,SEED...]',
                        help='--seed of the runs; several (comma-separated) run every row once per seed, seed by '
                             'seed, and the tables give median and range (default: %d)' % experiments.DEFAULT_SEED)
    parser.add_argument('--runs', type=lambda text: text.split(','), default=None, metavar='RUN[,RUN...]',
                        help='train only these runs of the experiment (e.g. ours), in the experiment\'s row order; the '
                             'tables still show every row (default: all)')
    parser.add_argument('--result-dir', default=os.path.join('results', 'experiments'),
                        help='parent of the runs and the tables (default: %(default)s)')
    parser.add_argument('--export', default=None, metavar='DIR',
                        help='also copy the finished runs\' records (flags, logs, metric files; no pickles) to '
                             'DIR/<scale>/ and write the tables there from them')
    parser.add_argument('--data-dir', default='datasets',
                        help='folder of the data sets; demo32 is made there on first use (default: %(default)s)')
    parser.add_argument('--inception', default=None,
                        help='inception_v3_features.pkl for FID (default: $INCEPTION_PKL or the download cache; '
                             'without it FID is not measured)')
    parser.add_argument('--bottom-line-n', type=int, default=1000000,
                        help='figure4: random fingerprints behind the bottom line (default: %(default)s, the paper\'s)')
    return parser


def seed_list(text):
    try:
        seeds = [int(part) for part in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError('seeds are integers, comma-separated: %r' % text) from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError('a seed given twice: %r' % text)
    return seeds


def fid_available(inception):
    """Whether the Inception network is at hand without a download (a local file, or the URL already cached)."""
    import dnnlib  # pylint: disable=import-outside-toplevel
    cli.import_tensorflow()
    from metrics import frechet_inception_distance  # pylint: disable=import-outside-toplevel
    source = frechet_inception_distance.inception_source(inception)
    if dnnlib.util.is_url(source):
        return os.path.isfile(dnnlib.util.url_cache_file(source))
    return os.path.isfile(source)


def list_experiments():
    for name, spec in experiments.EXPERIMENTS.items():
        print('%-8s %s' % (name, spec.title))
        for scale in experiments.SCALES:
            print('         %-6s runs: %s' % (scale, ', '.join(experiments.run_names(name, scale))))
    for scale, spec in experiments.SCALES.items():
        print('scale %-6s %s' % (scale, spec.about))


def pinned(command, slot, jobs):
    return ['taskset', '-c', str(slot)] + command if jobs > 1 else command


def demo_command(args):
    """dataset_tool.py create_demo for a missing demo data set (made once, before parallel runs would race for it)."""
    spec = experiments.SCALES[args.scale]
    path = os.path.join(args.data_dir, spec.dataset)
    if not spec.dataset.startswith('demo') or os.path.isdir(path):
        return None
    return [sys.executable, os.path.join(experiments.ROOT, 'dataset_tool.py'), 'create_demo', path,
            '--num_images', '4000', '--resolution', str(spec.resolution)]


def evaluations(runs, args, fid):
    """run_metrics.py tasks for the finished runs that lack metrics."""
    tasks = []
    for run in runs:
        command = experiments.missing_metrics(run, args.scale, fid, args.data_dir, args.inception)
        if command:
            tasks.append((run.name, command, os.path.join(run.root, 'driver-log.txt')))
    return tasks


def run_pool(tasks, jobs):
    """Run (name, command, log path) tasks, at most `jobs` at once, each on its own core when jobs > 1.
    Returns the names of the tasks that failed."""
    pending, running, failed = list(tasks), {}, []
    termination = util.TerminationSignal()
    try:
        while pending or running:
            free = [slot for slot in range(jobs) if slot not in running]
            while pending and free:
                name, command, log_path = pending.pop(0)
                slot = free.pop(0)
                os.makedirs(os.path.dirname(log_path), exist_ok=True)
                with open(log_path, 'a') as log:
                    process = subprocess.Popen(pinned(command, slot, jobs), stdout=log, stderr=subprocess.STDOUT)
                print('started  %-12s%s (log: %s)' % (name, ' on core %d' % slot if jobs > 1 else '', log_path),
                      flush=True)
                running[slot] = (name, process)
            time.sleep(2)
            for slot, (name, process) in list(running.items()):
                if process.poll() is not None:
                    print('finished %-12s exit status %d' % (name, process.returncode), flush=True)
                    if process.returncode:
                        failed.append(name)
                    del running[slot]
    except KeyboardInterrupt as interrupt:
        # Ctrl-C reaches the runs too; a SIGTERM is passed on. They write a snapshot: wait for them, so that
        # the next call resumes from it.
        termination.hold()
        for _, process in running.values():
            if isinstance(interrupt, util.Terminated):
                process.send_signal(signal.SIGTERM)
            process.wait()
        raise
    finally:
        termination.restore()
    return failed


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.list:
        list_experiments()
        return 0
    if args.experiment is None:
        _fail('give an experiment (%s), or --list' % ', '.join(experiments.EXPERIMENTS), 2)
    if args.jobs < 1 or args.jobs > (os.cpu_count() or 1):
        _fail('--jobs must be between 1 and the %d cores of this machine' % (os.cpu_count() or 1), 2)
    if args.bottom_line_n < 2:
        _fail('--bottom-line-n must be at least 2', 2)
    if args.export and os.path.realpath(args.export) == os.path.realpath(args.result_dir):
        _fail('--export must name another folder than --result-dir (%s)' % args.result_dir, 2)
    fid = fid_available(args.inception)
    names = list(experiments.EXPERIMENTS) if args.experiment == 'all' else [args.experiment]

    def planned(experiment, result_dir=args.result_dir):
        return experiments.plan(experiment, args.scale, result_dir, args.seed, fid, args.data_dir,
                                args.inception, args.runs)

    def queue():
        """Every distinct run of the experiments once, in their order."""
        runs = {}
        for experiment in names:
            for run in planned(experiment):
                runs.setdefault(run.root, run)
        return list(runs.values())

    try:
        experiments.check_runs(names, args.scale, args.runs)
    except experiments.ExperimentError as error:
        _fail(str(error), 2)
    runs = queue()
    changed = [run for run in runs if run.changes]
    if changed:
        _fail('%d run(s) were started with other flags than this plan gives them: %s; move their folders away to '
              'train them anew' % (len(changed), '; '.join('%s (%s)' % (run.root, ', '.join(run.changes))
                                                             for run in changed)))
    out_dir = os.path.join(args.result_dir, args.scale)
    train = [(run.name + (' (resuming at %g kimg)' % run.state['kimg'] if run.state['status'] == 'resume' else ''),
              run.command, os.path.join(run.root, 'driver-log.txt')) for run in runs if run.command]
    evaluate = evaluations(runs, args, fid)
    demo = demo_command(args) if train else None

    print('%s at %s scale: %d runs, FID %s' % (args.experiment, args.scale, len(runs),
                                                 'measured' if fid else 'not measured (no Inception network)'))
    if args.dry_run:
        width = max([12] + [len(run.name) for run in runs])
        for run in runs:
            print('%-*s %s' % (width, run.name, experiment_report.run_status(run)))
        if demo:
            print('$ ' + shlex.join(demo))
        for index, (_, command, _) in enumerate(train + evaluate):
            print('$ ' + shlex.join(pinned(command, index % args.jobs, args.jobs)))
        for experiment in names:
            print('tables: %s' % os.path.join(out_dir, experiment + '.{md,csv}'))
        if args.export:
            print('export: %d finished run(s) to %s' % (sum(run.state['status'] == 'done' for run in runs),
                                                       os.path.join(args.export, args.scale)))
        return 0

    failed = []
    if not args.report_only:
        if demo and subprocess.call(demo):
            _fail('could not make the demo data set: %s' % shlex.join(demo))
        for run in runs:
            if run.command:
                experiments.record_flags(run)
        try:
            failed = run_pool(train, args.jobs)
            failed += run_pool(evaluations(queue(), args, fid), args.jobs)
        except KeyboardInterrupt:
            print('Interrupted: the runs stopped at a snapshot; the same command resumes them.', file=sys.stderr)
            return 130
    result_dirs = [args.result_dir]
    if args.export:
        exported = [run.name for run in queue()
                    if experiments.export_records(run, os.path.join(args.export, args.scale, run.name))]
        print('exported %s to %s' % (', '.join(exported) or 'no finished run', os.path.join(args.export, args.scale)))
        result_dirs.append(args.export)
    for experiment in names:
        lines = None
        if experiment == 'figure4':
            lines = experiment_report.bottom_lines([os.path.join(path, 'bottom-line.json') for path in result_dirs],
                                                   args.bottom_line_n)
        for result_dir in result_dirs:
            for path in experiment_report.write_report(experiment, args.scale, planned(experiment, result_dir),
                                                       os.path.join(result_dir, args.scale), fid, lines,
                                                       args.bottom_line_n):
                print('wrote %s' % path)
    if failed:
        _fail('%d run(s) failed: %s (see driver-log.txt in their folders)' % (len(failed), ', '.join(failed)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
