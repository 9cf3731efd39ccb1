"""The experiment driver on fake run directories: planning, skip/resume, tables, the bottom line, the front."""

import csv
import itertools
import json
import os
import signal
import sys

import numpy as np
import pytest

import run_experiments
import run_training
from metrics import fingerprint_capacity
from training import experiment_report, experiments


def _touch(path, text=''):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def _metric_line(network, metric, **values):
    return '%-30s time 1s         ' % network + ' '.join('%s%s %s' % (metric, suffix, value)
                                                          for suffix, value in values.items()) + '\n'


@pytest.fixture
def fake_runs(tmp_path):
    """cpu-scale runs: 'ours' finished (with metric files), 'variant-I' killed twice, the rest never started."""
    root = tmp_path / 'results'
    ours = str(root / 'cpu' / 'ours' / '00000-stylegan2-demo32')
    _touch(os.path.join(ours, 'network-final.pkl'))
    _touch(os.path.join(ours, 'metric-watermark_accuracy_1k.txt'),
           _metric_line('network-snapshot-000235', 'watermark_accuracy_1k', _watermark_bit_accuracy='0.9000')
           + _metric_line('network-snapshot-000240', 'watermark_accuracy_1k', _watermark_bit_accuracy='0.9680',
                          _watermark_instance_accuracy='0.4000', _watermark_p_value='3.1e-08'))
    _touch(os.path.join(ours, 'metric-watermark_accuracy_trainset_1k.txt'),
           _metric_line('network-snapshot-000240', 'watermark_accuracy_trainset_1k', _watermark_bit_accuracy='0.9710'))
    _touch(os.path.join(ours, 'metric-fingerprint_share_1k.txt'),
           _metric_line('network-snapshot-000240', 'fingerprint_share_1k', _fingerprint_share='0.3900'))
    variant = root / 'cpu' / 'variant-I'
    _touch(str(variant / '00000-stylegan2-demo32' / 'network-snapshot-000005.pkl'))
    _touch(str(variant / '00000-stylegan2-demo32' / 'network-snapshot-000005.json'), json.dumps({'cur_nimg': 5000}))
    _touch(str(variant / '00001-stylegan2-demo32' / 'network-snapshot-000010.pkl'))  # no .json: kimg from the name
    _touch(str(variant / '00001-stylegan2-demo32' / 'log.txt'))
    return str(root)


def _by_name(runs):
    return {run.name: run for run in runs}


def test_plan_skips_finished_resumes_killed_and_starts_the_rest(fake_runs):
    runs = _by_name(experiments.plan('table1', 'cpu', fake_runs, data_dir='DATA'))
    assert list(runs) == ['stylegan2', 'ours', 'variant-I', 'variant-II', 'variant-III']
    assert runs['ours'].state['status'] == 'done' and runs['ours'].command is None
    variant = runs['variant-I']
    assert variant.state['status'] == 'resume' and variant.state['kimg'] == 10
    assert variant.command[-1] == '--resume-pkl=' + os.path.join(variant.root, '00001-stylegan2-demo32',
                                                                 'network-snapshot-000010.pkl')
    assert '--variant=I' in variant.command and '--seed=1000' in variant.command
    assert '--result-dir=' + os.path.join(fake_runs, 'cpu', 'variant-I') in variant.command
    fresh = runs['variant-III'].command
    assert runs['variant-III'].state['status'] == 'start' and not any(f.startswith('--resume-pkl') for f in fresh)
    for flag in ('--dataset=demo32', '--data-dir=DATA', '--watermark-size=32', '--fmap-base=512', '--gamma=0.1',
                 '--decoupleL2-weight=2', '--total-kimg=300', '--consistency-target-share=0.4',
                 '--consistency-late-target-share=0.1',
                 '--metrics=watermark_accuracy_1k,watermark_accuracy_trainset_1k,fingerprint_share_1k'):
        assert flag in fresh
    plain = runs['stylegan2'].command
    assert '--no-fingerprint' in plain and '--metrics=none' in plain
    assert not [f for f in plain if f.startswith(('--watermark', '--res-modulated', '--decoupleL2', '--consistency'))]


def test_plan_of_each_experiment_and_scale():
    table2 = experiments.plan('table2', 'cpu', '/nowhere')
    assert [run.name for run in table2] == ['fpset-10', 'fpset-100', 'fpset-1k', 'fpset-10k', 'fpset-100k', 'ours']
    assert '--fingerprint-set-size=100000' in table2[4].command
    table4 = experiments.plan('table4', 'paper', '/nowhere', fid=True, inception='/x/inception.pkl')
    assert [run.name for run in table4][-2:] == ['res-128', 'ours']
    res8 = table4[1].command
    assert '--res-modulated-range=8-8' in res8 and res8.count([f for f in res8 if f.startswith('--res-mod')][0]) == 1
    for flag in ('--dataset=celeba_align_png_cropped_30k', '--num-gpus=2', '--minibatch=32', '--total-kimg=12000',
                 '--watermark-size=128', '--inception=/x/inception.pkl'):
        assert flag in res8
    assert [f for f in res8 if f.startswith('--metrics=')][0].endswith(',fid30k')
    figure4 = experiments.plan('figure4', 'cpu', '/nowhere')
    assert [run.name for run in figure4] == ['ours', 'bits-64', 'bits-128', 'bits-256', 'bits-512']
    assert '--watermark-size=512' in figure4[-1].command and '--watermark-size=32' not in figure4[-1].command
    with pytest.raises(experiments.ExperimentError, match="unknown experiment 'table3'"):
        experiments.plan('table3', 'cpu', '/nowhere')
    with pytest.raises(experiments.ExperimentError, match="unknown scale 'gpu'"):
        experiments.plan('table1', 'gpu', '/nowhere')


def test_missing_metrics_are_evaluated_on_the_final_network(fake_runs):
    runs = _by_name(experiments.plan('table1', 'cpu', fake_runs, fid=True, data_dir='DATA'))
    command = experiments.missing_metrics(runs['ours'], 'cpu', True, 'DATA')
    assert command[1].endswith('run_metrics.py') and '--metrics=fid1k' in command
    assert '--network=' + runs['ours'].state['snapshot'] in command and '--dataset=demo32' in command
    assert '--seed=1000' in command
    assert experiments.missing_metrics(runs['ours'], 'cpu', False, 'DATA') is None  # all there without FID
    assert experiments.missing_metrics(runs['variant-I'], 'cpu', True, 'DATA') is None  # not finished
    eval_dir = os.path.join(runs['ours'].root, 'eval', '00000-run-metrics')
    _touch(os.path.join(eval_dir, 'metric-fid1k.txt'), _metric_line('network-final', 'fid1k', **{'': '41.25'}))
    assert experiments.missing_metrics(runs['ours'], 'cpu', True, 'DATA') is None
    found = experiments.read_metric(runs['ours'].root, runs['ours'].state, 'fid1k')
    assert found['values'] == {'fid1k': 41.25} and found['network'] == 'network-final'


def test_tables_from_metric_files(fake_runs):
    runs = experiments.plan('table1', 'cpu', fake_runs)
    paths = experiment_report.write_report('table1', 'cpu', runs, os.path.join(fake_runs, 'cpu'), fid=False)
    assert [os.path.basename(p) for p in paths] == ['table1-curves.png', 'table1.csv', 'table1.md']
    with open(paths[1]) as f:
        rows = {row['run']: row for row in csv.DictReader(f)}
    ours = rows['ours']
    assert ours['bit_acc'] == '0.968' and ours['bit_acc_paper'] == '0.991' and ours['p_value'] == '3.1e-08'
    assert ours['share'] == '0.39' and ours['fid'] == 'not measured' and ours['fid_paper'] == '11.5'
    assert ours['bit_acc_source'] == '%s (network-snapshot-000240)' % os.path.join(
        ours['run_dir'], 'metric-watermark_accuracy_1k.txt')
    assert rows['variant-I']['status'] == 'at 10 kimg' and rows['variant-I']['bit_acc'] == ''
    assert rows['stylegan2']['fid_paper'] == '9.37' and rows['stylegan2']['status'] == 'not started'
    with open(paths[2]) as f:
        text = f.read()
    assert 'FID: not measured' in text
    assert '| Ours | 0.968 | 0.991 | 3.10e-08 | < 1e-35 | not measured | 11.50 | 0.390 | — |' in text
    assert '| FID (paper) | fingerprint share |' in text and 'fingerprint share (paper)' not in text  # none given
    table2 = experiment_report.table_rows('table2', 'cpu', experiments.plan('table2', 'cpu', fake_runs), fid=False)
    assert table2[-1]['label'] == 'Sampling on the fly' and table2[-1]['train_acc'] == 0.971
    assert table2[-1]['test_acc'] == 0.968 and table2[0]['test_acc_paper'] == 0.512
    assert table2[-1]['share'] == 0.39  # Tables 2 and 4 give the fidelity beside the bits, as Table 1 does
    table4 = experiment_report.table_rows('table4', 'cpu', experiments.plan('table4', 'cpu', fake_runs), fid=False)
    assert table4[-1]['share'] == 0.39 and table4[-1]['bit_acc'] == 0.968


def test_several_seeds_plan_a_run_per_seed_and_train_only_the_runs_named(fake_runs):
    runs = experiments.plan('table1', 'cpu', fake_runs, seeds=[1000, 1001], only=['ours', 'variant-I'])
    assert [run.name for run in runs] == ['stylegan2', 'ours', 'variant-I', 'variant-II', 'variant-III',
                                          'stylegan2-seed1001', 'ours-seed1001', 'variant-I-seed1001',
                                          'variant-II-seed1001', 'variant-III-seed1001']
    trained = {run.name: run.command for run in runs if run.command}
    assert sorted(trained) == ['ours-seed1001', 'variant-I', 'variant-I-seed1001']  # ours (seed 1000) is done
    assert '--seed=1001' in trained['ours-seed1001']
    assert '--result-dir=' + os.path.join(fake_runs, 'cpu', 'ours-seed1001') in trained['ours-seed1001']
    with pytest.raises(experiments.ExperimentError, match='table1 has no run fpset-10 '):
        experiments.check_runs(['table1'], 'cpu', ['ours', 'fpset-10'])
    experiments.check_runs(['table1', 'table2'], 'cpu', ['ours', 'fpset-10'])


def test_tables_over_seeds_give_median_and_range(fake_runs):
    second = os.path.join(fake_runs, 'cpu', 'ours-seed1001', '00000-stylegan2-demo32')
    _touch(os.path.join(second, 'network-final.pkl'))
    _touch(os.path.join(second, 'metric-watermark_accuracy_1k.txt'),
           _metric_line('network-final', 'watermark_accuracy_1k', _watermark_bit_accuracy='0.9500'))
    third = os.path.join(fake_runs, 'cpu', 'ours-seed1002', '00000-stylegan2-demo32')
    _touch(os.path.join(third, 'network-snapshot-000100.pkl'))
    runs = experiments.plan('table1', 'cpu', fake_runs, seeds=[1000, 1001, 1002])
    rows = {row['label']: row for row in experiment_report.table_rows('table1', 'cpu', runs, fid=False)}
    ours = rows['Ours']
    assert ours['bit_acc'] == pytest.approx(0.959) and (ours['bit_acc_min'], ours['bit_acc_max']) == (0.95, 0.968)
    assert ours['bit_acc_n'] == 2 and ours['share_n'] == 1 and ours['share'] == 0.39
    assert ours['status'] == 'seed 1000: done; seed 1001: done; seed 1002: at 100 kimg'
    # A row trained on fewer seeds names only those; the rest in one note (none started: every seed).
    assert rows['Ours Variant I']['status'] == 'seed 1000: at 10 kimg; seeds 1001, 1002: not started'
    assert rows['Ours Variant I']['run_dir'].count('seed ') == 1
    assert rows['StyleGAN2']['status'] == 'seed 1000: not started; seed 1001: not started; seed 1002: not started'
    assert ours['bit_acc_source'].count('metric-watermark_accuracy_1k.txt') == 2
    # Learning curves of the fingerprinted runs with a log; a killed and resumed run is one curve.
    _touch(os.path.join(second, 'log.txt'), 'tick 1     kimg 1.0      minibatch 8    time 15s          '
           'sec/tick 14.6    sec/kimg 14.25   maintenance 0.0    mem 0.97  bit_acc 0.5123\n')
    _touch(os.path.join(fake_runs, 'cpu', 'variant-I', '00000-stylegan2-demo32', 'log.txt'))
    variant = os.path.join(fake_runs, 'cpu', 'variant-I')
    assert experiment_report.run_curves(runs) == [
        ('Ours Variant I, seed 1000', os.path.join(variant, '00000-stylegan2-demo32') + '+'
         + os.path.join(variant, '00001-stylegan2-demo32')), ('Ours, seed 1001', second)]
    paths = experiment_report.write_report('table1', 'cpu', runs, os.path.join(fake_runs, 'cpu'), fid=False)
    assert os.path.join(fake_runs, 'cpu', 'table1-curves.png') in paths
    with open([p for p in paths if p.endswith('.md')][0]) as f:
        text = f.read()
    assert 'Seeds 1000, 1001, 1002: median (min–max)' in text
    assert '| Ours | 0.959 (0.950–0.968) | 0.991 |' in text and '| 0.390 | — |' in text


def test_figure4_report_and_plot(fake_runs):
    runs = experiments.plan('figure4', 'cpu', fake_runs)
    lines = {32: 0.96875, 64: 0.875, 128: 0.7734375}
    paths = experiment_report.write_report('figure4', 'cpu', runs, os.path.join(fake_runs, 'cpu'), False, lines)
    with open([p for p in paths if p.endswith('.csv')][0]) as f:
        rows = list(csv.DictReader(f))
    assert rows[0]['bottom_line'] == '0.96875' and float(rows[0]['capacity_log10']) == pytest.approx(
        32 * 0.968 * np.log10(2))
    assert rows[2]['bit_acc_paper'] == '0.991' and rows[4]['bottom_line'] == ''
    with open([p for p in paths if p.endswith('.png')][0], 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def _brute_force_min_distance(codes):
    bits = np.unpackbits(codes, axis=1)
    return min(int(np.sum(a != b)) for a, b in itertools.combinations(bits, 2))


@pytest.mark.parametrize('num_bits', [8, 16, 32, 64])
def test_bottom_line_against_brute_force(num_bits):
    codes = fingerprint_capacity.random_fingerprints(120, num_bits, seed=num_bits)
    assert fingerprint_capacity.min_pairwise_hamming(codes) == _brute_force_min_distance(codes)
    for block in (1, 7, 119):  # each block against itself and the rows after it: every pair once
        assert fingerprint_capacity.min_pairwise_hamming(codes, block) == _brute_force_min_distance(codes)
    expected = (num_bits - _brute_force_min_distance(codes)) / num_bits
    assert fingerprint_capacity.bottom_line(num_bits, 120, seed=num_bits) == expected


def test_bottom_line_of_duplicates_and_capacity():
    codes = fingerprint_capacity.random_fingerprints(50, 64, seed=1)
    codes[31] = codes[7]
    assert fingerprint_capacity.min_pairwise_hamming(codes) == 0
    assert fingerprint_capacity.capacity_log10(128, 0.991) == pytest.approx(38.19, abs=0.01)
    with pytest.raises(ValueError, match='multiple of 8'):
        fingerprint_capacity.random_fingerprints(10, 12)


def test_bottom_lines_are_cached(tmp_path):
    cache = str(tmp_path / 'bottom-line.json')
    assert experiment_report.bottom_lines(cache, 40, bits_list=(16,), compute=False) == {}
    first = experiment_report.bottom_lines(cache, 40, bits_list=(16, 32))
    with open(cache) as f:
        assert set(json.load(f)) == {'16-40-0', '32-40-0'}
    assert experiment_report.bottom_lines(cache, 40, bits_list=(16, 32), compute=False) == first
    exported = str(tmp_path / 'export' / 'bottom-line.json')
    assert experiment_report.bottom_lines([cache, exported], 40, bits_list=(16, 32)) == first  # nothing recomputed
    with open(exported) as f:
        assert set(json.load(f)) == {'16-40-0', '32-40-0'}


@pytest.mark.parametrize('argv, message', [
    (['table3'], "invalid choice: 'table3'"),
    (['table1', '--scale=gpu'], "invalid choice: 'gpu'"),
    ([], 'give an experiment'),
    (['table1', '--jobs=0'], '--jobs must be between 1'),
    (['table1', '--seed=1000,1000'], 'a seed given twice'),
    (['table1', '--seed=1000,x'], 'seeds are integers'),
    (['table1', '--runs=ours,nope', '--dry-run'], 'table1 has no run nope'),
    (['table1', '--report-only', '--export=results/experiments'], '--export must name another folder than'),
    (['all', '--runs=nope', '--dry-run'], 'table1, table2, table4, figure4 have no run nope'),
])
def test_bad_names_are_refused_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_experiments.main(argv)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith('run_experiments: error: ') and message in lines[0]


def test_dry_run_prints_the_commands_and_writes_nothing(fake_runs, capsys):
    before = sorted(os.walk(fake_runs))
    assert run_experiments.main(['table1', '--scale=cpu', '--dry-run', '--jobs=2', '--result-dir=' + fake_runs,
                                 '--data-dir=' + fake_runs, '--inception=/nonexistent.pkl']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'table1 at cpu scale: 5 runs, FID not measured (no Inception network)'
    assert 'ours         done' in out and 'variant-I    at 10 kimg' in out and 'variant-II   not started' in out
    commands = [line for line in out if line.startswith('$ ')]
    assert 'create_demo' in commands[0]
    training = commands[1:]
    assert len(training) == 4 and [c.split()[1:4] for c in training[:2]] == [['taskset', '-c', '0'],
                                                                            ['taskset', '-c', '1']]
    assert '--resume-pkl=' in [c for c in training if '--variant=I ' in c][0]
    assert sorted(os.walk(fake_runs)) == before


def test_all_queues_every_distinct_run_once_and_writes_every_table(fake_runs, capsys):
    assert run_experiments.main(['all', '--dry-run', '--result-dir=' + fake_runs, '--data-dir=' + fake_runs,
                                 '--inception=/nonexistent.pkl']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'all at cpu scale: 18 runs, FID not measured (no Inception network)'
    assert sum(line.startswith('ours ') for line in out) == 1 and 'bits-512     not started' in out
    assert len([line for line in out if line.startswith('$ ') and 'run_training.py' in line]) == 17
    assert [line for line in out if line.startswith('tables: ')] == [
        'tables: %s' % os.path.join(fake_runs, 'cpu', name + '.{md,csv}')
        for name in ('table1', 'table2', 'table4', 'figure4')]
    assert run_experiments.main(['all', '--report-only', '--result-dir=' + fake_runs, '--data-dir=' + fake_runs,
                                 '--inception=/nonexistent.pkl', '--bottom-line-n=50']) == 0
    for name in ('table1', 'table2', 'table4', 'figure4'):
        assert os.path.isfile(os.path.join(fake_runs, 'cpu', name + '.md'))


def test_a_run_started_with_other_flags_is_refused(fake_runs, capsys):
    variant = _by_name(experiments.plan('table1', 'cpu', fake_runs, data_dir='DATA'))['variant-I']
    assert variant.changes == []  # no flags recorded: nothing to compare
    experiments.record_flags(variant)
    assert experiments.recorded_flags(variant.root) == variant.flags
    recorded = [flag.replace('--gamma=0.1', '--gamma=1') for flag in variant.flags if flag != '--variant=I']
    with open(os.path.join(variant.root, experiments.FLAGS_FILE), 'w') as f:
        f.write('\n'.join(recorded + ['--mirror-augment']) + '\n')
    experiments.record_flags(variant)  # never overwrites what a run was started with
    assert '--gamma=1' in experiments.recorded_flags(variant.root)
    # another data folder or other metrics are not another training
    again = _by_name(experiments.plan('table1', 'cpu', fake_runs, data_dir='ELSEWHERE', fid=True))['variant-I']
    assert again.changes == ['--gamma 1 -> 0.1', '--mirror-augment (set) -> (none)', '--variant (none) -> I']
    with pytest.raises(SystemExit) as exit_info:
        run_experiments.main(['table1', '--dry-run', '--result-dir=' + fake_runs, '--data-dir=' + fake_runs])
    assert exit_info.value.code != 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and 'variant-I (--gamma 1 -> 0.1' in lines[0] and 'move their folders away' in lines[0]


def test_list(capsys):
    assert run_experiments.main(['--list']) == 0
    out = capsys.readouterr().out
    assert 'table2' in out and 'fpset-100k' in out and 'res-128' in out and 'scale cpu' in out


def test_a_terminated_driver_passes_sigterm_on_and_waits(tmp_path):
    marker = tmp_path / 'stopped'
    child = ('import os, signal, sys, time\n'
             'signal.signal(signal.SIGTERM, lambda *_: (open(sys.argv[1], "w").write("x"), sys.exit(3)))\n'
             'os.kill(os.getppid(), signal.SIGTERM)\n'
             'time.sleep(60)\n')
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        run_experiments.run_pool([('run', [sys.executable, '-c', child, str(marker)], str(tmp_path / 'log.txt'))], 1)
    assert marker.read_text() == 'x'  # the run got the SIGTERM, and the pool waited for it
    assert signal.getsignal(signal.SIGTERM) == before


def test_an_interrupted_driver_exits_130_in_one_line(fake_runs, capsys, monkeypatch):
    from dnnlib import util

    def stopped(tasks, jobs):
        del tasks, jobs
        raise util.Terminated()

    monkeypatch.setattr(run_experiments, 'run_pool', stopped)
    monkeypatch.setattr(run_experiments, 'demo_command', lambda args: None)
    assert run_experiments.main(['table1', '--result-dir=' + fake_runs, '--data-dir=' + fake_runs,
                                 '--inception=/nonexistent.pkl']) == 130
    err = capsys.readouterr().err.splitlines()
    assert err == ['Interrupted: the runs stopped at a snapshot; the same command resumes them.']
    # the runs it was about to start now carry the flags they were started with
    assert experiments.recorded_flags(os.path.join(fake_runs, 'cpu', 'variant-II')) is not None
    assert not os.path.exists(os.path.join(fake_runs, 'cpu', 'table1.md'))  # no table from an interrupted queue


def test_exported_records_give_the_same_tables_without_pickles(fake_runs, tmp_path, capsys):
    ours = os.path.join(fake_runs, 'cpu', 'ours', '00000-stylegan2-demo32')
    _touch(os.path.join(ours, 'network-final.json'), json.dumps({'cur_nimg': 240000}))
    _touch(os.path.join(ours, 'log.txt'), 'tick 1\n')
    for name in ('fakes000240.png', 'events.out.tfevents.1.vm', 'network-snapshot-000240.json'):
        _touch(os.path.join(ours, name))
    _touch(os.path.join(fake_runs, 'cpu', 'ours', 'driver-log.txt'), 'console\n')
    export = str(tmp_path / 'records')
    stale = os.path.join(export, 'cpu', 'ours', '00007-stale')
    _touch(os.path.join(stale, 'network-final.json'), '{}')
    assert run_experiments.main(['table1', '--report-only', '--result-dir=' + fake_runs, '--data-dir=' + fake_runs,
                                 '--export=' + export]) == 0
    assert 'exported ours to %s' % os.path.join(export, 'cpu') in capsys.readouterr().out
    kept = sorted(os.path.relpath(os.path.join(d, f), export) for d, _, files in os.walk(export) for f in files)
    assert [path for path in kept if os.sep + 'ours' + os.sep in os.sep + path] == [
        os.path.join('cpu', 'ours', '00000-stylegan2-demo32', name) for name in (
            'log.txt', 'metric-fingerprint_share_1k.txt', 'metric-watermark_accuracy_1k.txt',
            'metric-watermark_accuracy_trainset_1k.txt', 'network-final.json')]  # the stale copy is replaced whole
    assert not os.path.exists(os.path.join(export, 'cpu', 'variant-I'))  # unfinished runs stay behind
    ours_records = _by_name(experiments.plan('table1', 'cpu', export, data_dir='DATA'))['ours']
    assert ours_records.state['status'] == 'done' and ours_records.state['snapshot'] is None
    assert ours_records.command is None
    assert experiments.missing_metrics(ours_records, 'cpu', True, 'DATA') is None  # no pickle to evaluate

    def table(result_dir):
        with open(os.path.join(result_dir, 'cpu', 'table1.csv')) as f:
            return {row['run']: row for row in csv.DictReader(f)}
    here, there = table(fake_runs)['ours'], table(export)['ours']
    for column in ('bit_acc', 'p_value', 'share'):
        assert there[column] == here[column] and there[column + '_source'].startswith(export)


def _readme_quick_start_flags():
    with open(os.path.join(experiments.ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    section = text[text.index('## Quick start'):]
    command = section[section.index('python run_training.py'):]
    return [flag for flag in command[:command.index('\n\n')].replace('\\\n', ' ').split()[2:]
            if not flag.startswith('--result-dir=')]


def test_the_readme_quick_start_is_the_cpu_scale_main_run():
    # The README's quick-start figures are the driver's 'ours' runs over seeds: the two commands must train alike.
    run = _by_name(experiments.plan('table1', 'cpu', 'results', data_dir='DATA'))['ours']
    readme = _readme_quick_start_flags()
    assert '--seed=%d' % experiments.DEFAULT_SEED in run.flags and not any(f.startswith('--seed') for f in readme)
    assert run_training.build_parser().get_default('seed') == experiments.DEFAULT_SEED
    assert experiments.flag_changes([f for f in run.flags if not f.startswith('--seed')], readme) == []
