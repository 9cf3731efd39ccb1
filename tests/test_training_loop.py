"""Training loop and run_training.py on a tiny configuration: outputs, resume, divergence, errors."""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import run_training
from training import dataset_tool_lib, training_loop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ['--config=config-e-Gskip-Dresnet', '--num-gpus=1', '--watermark-size=4', '--res-modulated-range=4-8',
        '--fmap-base=64', '--fmap-max=16', '--latent-size=8', '--dlatent-size=8', '--minibatch=4', '--metrics=none']


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    dataset_tool_lib.create_demo(str(root / 'demo8'), num_images=64, resolution=8, seed=0)
    return str(root)


def _config(data_dir, result_dir, *extra):
    args = run_training.build_parser().parse_args(['--data-dir', data_dir, '--dataset', 'demo8',
                                                   '--result-dir', result_dir] + TINY + list(extra))
    return run_training.make_config(args)[1]


def test_tiny_run_writes_every_output(tf_session, data_dir, tmp_path, capsys):
    config = _config(data_dir, str(tmp_path), '--total-kimg=0.064', '--kimg-per-tick=0.032', '--snapshot-ticks=1',
                     '--metrics=watermark_accuracy_1k')
    final = training_loop.training_loop(run_dir=str(tmp_path), **config)
    ticks = [line for line in capsys.readouterr().out.splitlines() if line.startswith('tick ')]
    assert len(ticks) == 2 and all(re.search(r' bit_acc [01]\.\d{4}$', line) for line in ticks)
    names = set(os.listdir(tmp_path))
    for kind in ('fakes-arbitrary', 'fakes-latents-same', 'fakes-watermarks-same'):
        assert kind + '-init.png' in names and kind + '-000000.png' in names
    assert {'reals.png', 'network-snapshot-000000.pkl', 'network-snapshot-000000.json', 'network-final.pkl',
            'network-final.json'} <= names
    assert training_loop.load_progress(final)['cur_nimg'] == 64  # resuming from the final network continues at 64
    assert glob.glob(str(tmp_path / 'events.out.tfevents.*'))
    assert final == str(tmp_path / 'network-final.pkl')
    with open(tmp_path / 'network-snapshot-000000.json') as f:
        assert json.load(f)['cur_nimg'] == 64
    assert not [n for n in names if n.startswith('.tmp')]
    with open(tmp_path / 'metric-watermark_accuracy_1k.txt') as f:
        lines = f.read().splitlines()
    assert len(lines) == 2  # one per snapshot
    assert lines[0].startswith('network-snapshot-000000') and 'watermark_accuracy_1k_watermark_bit_accuracy' in lines[0]


def test_healthy_start_prints_no_error_level_line(data_dir, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}  # as a user's shell has it
    result = _run(['--data-dir', data_dir, '--dataset', 'demo8', '--result-dir', str(tmp_path), '--total-kimg=0.008',
                   '--kimg-per-tick=0.004'] + TINY, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = (result.stdout + result.stderr).splitlines()
    assert [line for line in lines if line.startswith('tick ')]
    assert not [line for line in lines if re.match(r'^[EF]\d{4} ', line) or 'error' in line.lower()], result.stderr


def test_non_finite_loss_stops_with_a_clear_error(tf_session, data_dir, tmp_path):
    config = _config(data_dir, str(tmp_path), '--total-kimg=0.064', '--kimg-per-tick=0.016',
                     '--watermarkCls-weight=nan')
    with pytest.raises(training_loop.TrainingDiverged, match='NaN or infinite'):
        training_loop.training_loop(run_dir=str(tmp_path), **config)
    assert not glob.glob(str(tmp_path / 'network-final.pkl'))


def test_progress_from_authors_snapshot_name(tmp_path):
    path = tmp_path / 'network-snapshot-004032.pkl'
    assert training_loop.load_progress(str(path))['cur_nimg'] == 4032000


def _run(args, **kwargs):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'run_training.py')] + args, capture_output=True,
                          text=True, cwd=ROOT, **kwargs)


def test_cli_errors_are_one_line(data_dir, tmp_path):
    for extra, message in ((['--dataset=missing'], 'data set not found'),
                           (['--dataset=demo8', '--config=config-f'], 'unknown --config'),
                           (['--dataset=demo8', '--metrics=nonexistent_metric'], 'nonexistent_metric'),
                           (['--dataset=demo8', '--resume-pkl=nowhere.pkl'], 'not found')):
        args = ['--data-dir', data_dir, '--result-dir', str(tmp_path)] + [a for a in TINY if not a.startswith('--metrics')]
        result = _run(args + extra)
        assert result.returncode != 0
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0], result.stderr
    assert not os.listdir(tmp_path)


def test_terminated_run_writes_a_snapshot_and_resumes_at_the_right_kimg(data_dir, tmp_path):
    results = tmp_path / 'results'
    args = ['--data-dir', data_dir, '--dataset', 'demo8', '--result-dir', str(results), '--total-kimg=100',
            '--kimg-per-tick=1', '--snapshot-ticks=1'] + TINY
    with open(tmp_path / 'out.txt', 'w') as out:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'run_training.py')] + args, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not glob.glob(str(results / '*' / 'network-snapshot-000001.json')):
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # as a scheduler stops a job: the run writes a snapshot and exits
        returncode = proc.wait(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    output = (tmp_path / 'out.txt').read_text()
    assert returncode == 130 and 'Interrupted by SIGTERM at' in output, output[-2000:]
    saved = output.split('Saved ')[-1].splitlines()[0]
    assert os.path.isfile(saved) and os.path.isfile(saved[:-len('.pkl')] + '.json')
    result = _run(['--data-dir', data_dir, '--dataset', 'demo8', '--result-dir', str(results), '--total-kimg=2',
                   '--kimg-per-tick=1', '--snapshot-ticks=1',
                   '--resume-pkl', glob.glob(str(results / '*' / 'network-snapshot-000001.pkl'))[0]] + TINY,
                  timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    ticks = [line for line in result.stdout.splitlines() if line.startswith('tick ')]
    assert ticks and ticks[0].split()[1:4:2] == ['2', '2.0'], ticks
    resumed = sorted(glob.glob(str(results / '*')))[-1]
    assert os.path.isfile(os.path.join(resumed, 'network-snapshot-000002.pkl'))


def test_learning_flags_reach_the_networks_and_the_loop(tmp_path):
    defaults = _config(str(tmp_path), str(tmp_path))
    assert defaults['G_args'].mapping_layers == 8 and defaults['E_args'].lrmul == 1.0
    assert defaults['G_smoothing_kimg'] == 10.0 and defaults['G_args'].mapping_lrmul == 0.01
    config = _config(str(tmp_path), str(tmp_path), '--mapping-layers=2', '--decoder-lrmul=3', '--G-smoothing-kimg=2',
                     '--mapping-lrmul=1')
    assert config['G_args'].mapping_layers == 2 and config['E_args'].lrmul == 3.0
    assert config['G_smoothing_kimg'] == 2.0 and config['G_args'].mapping_lrmul == 1.0
    assert defaults['G_loss_args'].diversity_weight == 0.0
    config = _config(str(tmp_path), str(tmp_path), '--diversity-weight=10', '--diversity-floor=0.3')
    assert config['G_loss_args'].diversity_weight == 10.0 and config['G_loss_args'].diversity_floor == 0.3
    with pytest.raises(ValueError, match='at least 2 images per device'):
        _config(str(tmp_path), str(tmp_path), '--diversity-weight=10', '--minibatch=2', '--num-gpus=2')
    assert defaults['consistency_initial_weight'] == 0.0
    config = _config(str(tmp_path), str(tmp_path), '--consistency-start-accuracy=0.8', '--consistency-initial-weight=2')
    assert config['consistency_initial_weight'] == 2.0
    with pytest.raises(ValueError, match='needs --consistency-start-accuracy'):
        _config(str(tmp_path), str(tmp_path), '--consistency-initial-weight=2')
    config = _config(str(tmp_path), str(tmp_path), '--consistency-late-weight=40', '--consistency-late-kimg=240')
    assert config['consistency_late_weight'] == 40.0 and config['consistency_late_kimg'] == 240.0
    with pytest.raises(ValueError, match='go together'):
        _config(str(tmp_path), str(tmp_path), '--consistency-late-weight=40')


def test_diversity_floor_trains_and_logs_z_change(tf_session, data_dir, tmp_path):
    config = _config(data_dir, str(tmp_path), '--total-kimg=0.016', '--kimg-per-tick=0.008', '--diversity-weight=10')
    training_loop.training_loop(run_dir=str(tmp_path), **config)
    changes = [value.simple_value for path in glob.glob(str(tmp_path / 'events.out.tfevents.*'))
               for event in tf.compat.v1.train.summary_iterator(path) for value in event.summary.value
               if value.tag == 'Loss/G/z_change']
    assert changes and all(change > 0 for change in changes)


def test_plain_stylegan2_trains_without_fingerprint_or_decoder(tf_session, data_dir, tmp_path, capsys):
    config = _config(data_dir, str(tmp_path), '--no-fingerprint', '--res-modulated-range=', '--total-kimg=0.016',
                     '--kimg-per-tick=0.008', '--snapshot-ticks=1')
    assert config['E_args'] is None and config['G_args'].func_name.endswith('.G_main')
    final = training_loop.training_loop(run_dir=str(tmp_path), **config)
    ticks = [line for line in capsys.readouterr().out.splitlines() if line.startswith('tick ')]
    assert ticks and not [line for line in ticks if 'bit_acc' in line]  # no decoder, nothing to read
    assert all(line == line.rstrip() for line in ticks)
    names = set(os.listdir(tmp_path))
    assert 'fakes-arbitrary-000000.png' in names and 'fakes-latents-same-init.png' not in names
    from training import misc
    E, _G, D, Gs = misc.load_networks(final)
    assert E is None and D is not None and Gs.input_names == ['latents_in', 'labels_in']


def test_plain_stylegan2_refuses_fingerprint_options(tmp_path):
    for extra, message in ((['--variant=I'], '--variant'), (['--fingerprint-set-size=10'], '--fingerprint-set-size'),
                           (['--metrics=watermark_accuracy_1k'], 'needs a fingerprint')):
        with pytest.raises(ValueError, match=message):
            _config(str(tmp_path), str(tmp_path), '--no-fingerprint', '--res-modulated-range=', *extra)
