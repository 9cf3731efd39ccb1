"""The consistency weight: the fixed schedule, the share controller, its probe, and both in a tiny run."""

import json
import os

import numpy as np
import pytest

import run_training
from training import consistency, dataset_tool_lib, training_loop
from training.loss import FINGERPRINT_INPUT


def test_consistency_schedule():
    constant = consistency.ConsistencySchedule(2.0)
    assert constant.weight(0) == constant.weight(10 ** 6) == 2.0
    ramp = consistency.ConsistencySchedule(2.0, start_accuracy=0.9, ramp_kimg=4)
    ramp.update(1000, 0.80)
    assert ramp.weight(1000) == 0.0 and ramp.ramp_start_nimg is None
    ramp.update(2000, 0.93)
    assert ramp.ramp_start_nimg == 2000
    assert ramp.weight(4000) == pytest.approx(1.0) and ramp.weight(10000) == 2.0
    ramp.update(3000, 0.5)  # the ramp, once started, does not restart
    assert ramp.ramp_start_nimg == 2000
    resumed = consistency.make_schedule(2.0, ramp.state(), 0.9, 4)
    assert resumed.weight(4000) == ramp.weight(4000)
    raised = consistency.ConsistencySchedule(10.0, start_accuracy=0.8, ramp_kimg=4, initial=2.0)
    assert raised.weight(0) == 2.0
    raised.update(5000, 0.85)
    assert raised.weight(7000) == pytest.approx(6.0) and raised.weight(9000) == 10.0
    late = consistency.ConsistencySchedule(10.0, start_accuracy=0.8, initial=2.0, late_weight=40.0, late_kimg=8)
    assert late.weight(7999) == 2.0 and late.weight(8000) == 40.0  # from late_kimg on, whatever the accuracy
    late.update(1000, 0.9)
    assert late.weight(7999) == 10.0 and late.weight(10 ** 6) == 40.0


def test_share_controller_lowers_early_and_steers_both_ways_late():
    control = consistency.ShareController(2.0, target=0.4, late_target=0.1, late_kimg=10)
    assert control.weight(0) == 2.0
    control.update(1000, 0.6, share=0.8)  # above the target early: the weight may not rise above its start
    assert control.weight(1000) == 2.0
    control.update(2000, 0.6, share=0.1)  # (0.1 / 0.4) ** 0.25 = 0.71, held to one step of 1 / 1.25
    assert control.weight(2000) == pytest.approx(1.6)
    control.update(3000, 0.6, share=0.4 * 0.9 ** 4)  # a small miss, a small step: 0.9
    assert control.weight(3000) == pytest.approx(1.44)
    control.update(4000, 0.6, share=None)  # no measurement, no change
    assert control.weight(4000) == pytest.approx(1.44)
    control.update(10000, 0.9, share=0.4)  # late: four times the late target, so up by one full step
    assert control.weight(10000) == pytest.approx(1.8)
    for _ in range(20):
        control.update(11000, 0.9, share=0.4)
    assert control.weight(11000) > 2.0  # above its start once late
    resumed = consistency.make_schedule(2.0, control.state(), target_share=0.4, late_target_share=0.1, late_kimg=10)
    assert resumed.weight(12000) == control.weight(11000)
    freed = consistency.ShareController(2.0, target=0.4, start_accuracy=0.8)
    freed.update(1000, 0.7, share=0.8)
    assert freed.weight(1000) == 2.0 and freed.free_nimg is None
    freed.update(2000, 0.81, share=0.8)  # the bits are read: the weight may now rise
    assert freed.weight(2000) == pytest.approx(2.0 * 2 ** 0.25) and freed.free_nimg == 2000
    freed.update(3000, 0.5, share=0.8)  # and stays free when the bits dip
    assert freed.weight(3000) == pytest.approx(2.0 * 2 ** 0.5)
    resumed = consistency.make_schedule(2.0, freed.state(), start_accuracy=0.8, target_share=0.4)
    assert resumed.free_nimg == 2000 and resumed.weight(0) == freed.weight(3000)
    floor = consistency.ShareController(0.02, target=1.0)
    for _ in range(50):
        floor.update(1000, 0.5, share=0.0)
    assert floor.weight(1000) == consistency.CONTROL_MIN_WEIGHT
    with pytest.raises(ValueError, match='must be positive'):
        consistency.ShareController(2.0, target=0.0)


class _FakeGs:
    """Images from z (first two channels) and from c (the third), each by its own gain."""
    input_names = ['latents_in', 'labels_in', FINGERPRINT_INPUT]

    def __init__(self, z_gain, c_gain):
        self.z_gain, self.c_gain = z_gain, c_gain

    def run(self, z, labels, c, **kwargs):
        del labels, kwargs
        images = np.zeros([len(z), 3, 4, 4], np.float32)
        images[:, 0] = self.z_gain * z[:, :1, None]
        images[:, 2] = self.c_gain * c[:, :1, None]
        return images


class _FakeSet:
    def get_random_labels_np(self, num):
        return np.zeros([num, 0], np.float32)


def test_share_probe_measures_fingerprint_against_latent_change():
    probe = consistency.ShareProbe(_FakeSet(), latent_size=3, watermark_size=5, num_pairs=200)
    assert probe.measure(_FakeGs(1.0, 0.0), 16) == 0.0
    balanced = probe.measure(_FakeGs(1.0, 1.0), 16)
    stronger = probe.measure(_FakeGs(1.0, 3.0), 16)
    assert 0.0 < balanced < stronger and stronger == pytest.approx(9 * balanced)
    assert probe.measure(_FakeGs(1.0, 1.0), 16) == balanced  # fixed pairs: the same network reads the same
    assert probe.measure(_FakeGs(0.0, 1.0), 16) == float('inf')


def _args(*extra):
    return run_training.build_parser().parse_args(['--data-dir', '.', '--dataset', 'demo8'] + list(extra))


def test_controller_flags_are_checked(tmp_path):
    config = run_training.make_config(_args('--consistency-target-share=0.4', '--consistency-late-target-share=0.1',
                                            '--consistency-late-kimg=240'))[1]
    assert config['consistency_target_share'] == 0.4 and config['consistency_late_target_share'] == 0.1
    refused = [(('--consistency-initial-weight=2',), 'needs --consistency-start-accuracy'),
               (('--consistency-late-weight=40',), 'go together'),
               (('--consistency-late-kimg=240',), 'go together'),
               (('--consistency-late-target-share=0.1', '--consistency-late-kimg=240'), 'needs --consistency-target'),
               (('--consistency-target-share=0.4', '--consistency-start-accuracy=0.8', '--consistency-initial-weight=2'),
                'drop --consistency-initial-weight'),
               (('--consistency-target-share=0.4', '--consistency-ramp-kimg=5'), 'drop --consistency-ramp-kimg'),
               (('--consistency-target-share=0.4', '--consistency-late-weight=40', '--consistency-late-kimg=9',
                 '--consistency-late-target-share=0.1'), 'exclude each other'),
               (('--consistency-target-share=0',), 'must be positive'),
               (('--consistency-target-share=0.4', '--consistency-late-target-share=0', '--consistency-late-kimg=9'),
                'must be positive'),
               (('--consistency-target-share=0.4', '--no-fingerprint'), 'no fingerprint share')]
    for flags, message in refused:
        with pytest.raises(ValueError, match=message):
            run_training.make_config(_args(*flags))


def test_controlled_run_logs_share_and_resumes_with_its_weight(tf_session, tmp_path, capsys):
    data_dir = tmp_path / 'data'
    dataset_tool_lib.create_demo(str(data_dir / 'demo8'), num_images=64, resolution=8, seed=0)
    args = run_training.build_parser().parse_args([
        '--data-dir', str(data_dir), '--dataset', 'demo8', '--config=config-e-Gskip-Dresnet', '--watermark-size=4',
        '--res-modulated-range=4-8', '--fmap-base=64', '--fmap-max=16', '--latent-size=8', '--dlatent-size=8',
        '--minibatch=4', '--metrics=none', '--total-kimg=0.048', '--kimg-per-tick=0.016', '--snapshot-ticks=1',
        '--decoupleL2-weight=2', '--consistency-target-share=1e6', '--precision=fp32'])
    run_dir = tmp_path / 'run'
    final = training_loop.training_loop(run_dir=str(run_dir), **run_training.make_config(args)[1])
    ticks = [line for line in capsys.readouterr().out.splitlines() if line.startswith('tick ')]
    assert len(ticks) == 3 and all('share' in line for line in ticks)
    weights = [float(line.split('lambda4')[1].split()[0]) for line in ticks]
    assert weights[0] == 2.0 and weights[1] == pytest.approx(1.6) and weights[2] == pytest.approx(1.28)
    with open(os.path.splitext(final)[0] + '.json') as f:
        assert json.load(f)['consistency_weight'] == pytest.approx(2.0 / 1.25 ** 3)
