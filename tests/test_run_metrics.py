"""Tests for run_metrics.py: whole runs in a subprocess, argument errors in-process."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

import dnnlib
import dnnlib.tflib as tflib
import run_metrics
from dnnlib.tflib import tfutil
from training import dataset_tool_lib
from training import misc
from test_frechet_inception_distance import save_standin_feature_pickle
from test_metric_base import TINY_G, save_tiny_pickle

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('run_metrics')
    paths = dnnlib.EasyDict(root=str(root), data_dir=str(root / 'data'),
                            network=str(root / 'network-snapshot-000000.pkl'), plain=str(root / 'stylegan2.pkl'),
                            inception=str(root / 'standin.pkl'))
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        save_tiny_pickle(paths.network)
        misc.save_pkl(tflib.Network('Gs', func_name='training.networks_stylegan2.G_main', **TINY_G), paths.plain)
        save_standin_feature_pickle(paths.inception)
    dataset_tool_lib.create_demo(os.path.join(paths.data_dir, 'demo8'), num_images=64, resolution=8)
    return paths


def run_script(args, tmp_path):
    env = dict(os.environ, DNNLIB_CACHE_DIR=str(tmp_path / 'cache'))
    env.pop('INCEPTION_PKL', None)
    return subprocess.run([sys.executable, 'run_metrics.py'] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def one_line_error(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('run_metrics: error: '), err
    return lines[0]


def test_accuracy_and_fid_on_a_pickle(files, tmp_path):
    results = str(tmp_path / 'results')
    proc = run_script(['--network', files.network, '--metrics', 'watermark_accuracy_1k,fid_watermark_accuracy_1k',
                       '--data-dir', files.data_dir, '--dataset', 'demo8', '--inception', files.inception,
                       '--num-gpus', '2', '--mirror-augment', 'false', '--result-dir', results], tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = os.path.join(results, '00000-run-metrics')
    fields = open(os.path.join(run_dir, 'metric-watermark_accuracy_1k.txt')).read().split()
    assert fields[:2] == ['network-snapshot-000000', 'time']
    assert fields[3::2] == ['watermark_accuracy_1k_watermark_bit_accuracy',
                            'watermark_accuracy_1k_watermark_instance_accuracy',
                            'watermark_accuracy_1k_watermark_p_value']
    assert 0.3 < float(fields[4]) < 0.7
    fields = open(os.path.join(run_dir, 'metric-fid_watermark_accuracy_1k.txt')).read().split()
    assert fields[3::2] == ['fid_watermark_accuracy_1k_fid', 'fid_watermark_accuracy_1k_watermark_bit_accuracy',
                            'fid_watermark_accuracy_1k_watermark_instance_accuracy',
                            'fid_watermark_accuracy_1k_watermark_p_value']
    assert float(fields[4]) > 0
    assert 'fid_watermark_accuracy_1k_fid' in open(os.path.join(run_dir, 'log.txt')).read()
    assert len(os.listdir(str(tmp_path / 'cache' / 'metric-cache'))) == 1


def test_generator_without_fingerprint_fails_in_one_line(files, tmp_path):
    # Fingerprint accuracy alone needs no data set: the run gets as far as the generator.
    proc = run_script(['--network', files.plain, '--metrics', 'watermark_accuracy_1k',
                       '--result-dir', str(tmp_path / 'results')], tmp_path)
    assert proc.returncode == 1
    assert 'has no fingerprint input' in one_line_error(proc.stderr)
    assert os.listdir(str(tmp_path / 'results')) == []  # a run that failed on its inputs leaves no folder


def test_file_that_is_not_a_pickle_fails_in_one_line_without_a_run_directory(files, tmp_path):
    text = tmp_path / 'notes.pkl'
    text.write_text('garbage\n')
    proc = run_script(['--network', str(text), '--metrics', 'watermark_accuracy_1k',
                       '--result-dir', str(tmp_path / 'results')], tmp_path)
    assert proc.returncode == 1
    assert '%s is not a network pickle, or it is truncated' % text in one_line_error(proc.stderr)
    assert os.listdir(str(tmp_path / 'results')) == []


def test_robustness_sweep_of_two_pickles_plotted_together(files, tmp_path):
    second = os.path.join(files.root, 'network-snapshot-000004.pkl')
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        save_tiny_pickle(second)
    results = str(tmp_path / 'results')
    proc = run_script(['--network', files.network + ',' + second, '--metrics', 'robustness_64',
                       '--result-dir', results], tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = os.path.join(results, '00000-run-metrics')
    lines = open(os.path.join(run_dir, 'metric-robustness_64.txt')).read().splitlines()
    assert [line.split()[0] for line in lines] == ['network-snapshot-000000', 'network-snapshot-000004']
    assert 'robustness_64_jpeg_80' in lines[0] and 'robustness_64_crop_8' in lines[1]
    ranges = open(os.path.join(run_dir, 'robustness-robustness_64-ranges.txt')).read()
    assert 'network-snapshot-000004' in ranges and ranges in proc.stdout
    assert open(os.path.join(run_dir, 'robustness-robustness_64.png'), 'rb').read(4) == b'\x89PNG'


@pytest.mark.parametrize('args, expected', [
    (['--network', '{root}/absent.pkl', '--metrics', 'watermark_accuracy_1k'], 'network pickle not found'),
    (['--network', '{network}', '--metrics', 'fid_watermark_accuracy_50k'],
     'unknown metric fid_watermark_accuracy_50k'),
    (['--network', '{network}', '--metrics', 'fid1k'], 'fid1k needs real images: give --dataset'),
    (['--network', '{network}', '--metrics', 'fid1k', '--data-dir', '{data_dir}', '--dataset', 'absent'],
     'data set directory not found'),
    (['--network', '{network}', '--metrics', 'fid1k', '--data-dir', '{data_dir}', '--dataset', 'demo8',
      '--inception', '{root}/absent.pkl'], 'INCEPTION_PKL'),
    (['--network', '{network}', '--num-gpus', '0'], "'0' is not a positive integer"),
    (['--network', '{network},{root}/absent.pkl', '--metrics', 'robustness_64'], 'network pickle not found: '),
    (['--metrics', 'fid1k'], 'required: --network'),
    (['--network', '{network}', '--metrics', 'watermark_accuracy_trainset_1k'],
     'watermark_accuracy_trainset_1k reads the training fingerprints of a run: give its --fingerprint-set-size'),
])
def test_argument_errors_are_one_line(files, tmp_path, capsys, args, expected):
    results = str(tmp_path / 'results')
    with pytest.raises(SystemExit) as info:
        run_metrics.main([arg.format(**files) for arg in args] + ['--result-dir', results])
    assert info.value.code != 0
    assert expected in one_line_error(capsys.readouterr().err)
    assert not os.path.exists(results)


def test_help_lists_metrics_and_flags(capsys):
    with pytest.raises(SystemExit) as info:
        run_metrics.main(['--help'])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for word in ('--network', '--metrics', '--dataset', '--data-dir', '--result-dir', '--num-gpus', '--mirror-augment',
                 '--inception', 'fid_watermark_accuracy_30k', 'watermark_accuracy_1k', 'INCEPTION_PKL'):
        assert word in text


def test_pickles_of_the_same_file_name_keep_their_paths_as_names():
    names = run_metrics._network_names  # pylint: disable=protected-access
    assert names(['a/x.pkl', 'b/y.pkl']) == ['x', 'y']
    assert names(['r1/network-final.pkl', 'r2/network-final.pkl']) == ['r1/network-final', 'r2/network-final']
