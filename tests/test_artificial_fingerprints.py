"""baselines/artificial_fingerprints.py and its dataset_tool.py commands (train_agf, create_agf, eval_agf)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import dataset_tool
from baselines import artificial_fingerprints as agf
from dnnlib.tflib import network_files, tfutil
from metrics import robustness_report
from training import dataset
from training import dataset_tool_lib as lib
from training import misc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BITS = 16
TINY = dict(fingerprint_size=BITS, fmap_base=8, fmap_max=32, levels=2, dense_size=32)


def run_front(capsys, *args):
    """dataset_tool.py in this process: (exit status, its stdout, its stderr)."""
    capsys.readouterr()
    try:
        dataset_tool.main([str(a) for a in args])
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A tiny encoder/decoder trained on 16x16 demo images, in its own graph and session."""
    root = tmp_path_factory.mktemp('agf')
    lib.create_demo(str(root / 'demo16'), num_images=256, resolution=16)
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        summary = agf.train_agf(str(root / 'model.pkl'), str(root / 'demo16'), steps=300, minibatch=16, bits=BITS,
                                fmap_base=8, fmap_max=32, levels=2, dense_size=32, lrate=3e-3, ramp_steps=100,
                                progress_interval=100)
    return root, summary


def test_shapes_and_levels(tf_session):
    encoder, decoder = agf.build_networks(resolution=16, num_channels=3, **TINY)
    images = np.random.RandomState(0).uniform(-1, 1, [2, 3, 16, 16]).astype(np.float32)
    bits = np.array([[0, 1] * (BITS // 2), [1, 0] * (BITS // 2)], np.float32)
    assert encoder.input_shapes == [[None, 3, 16, 16], [None, BITS]]
    assert encoder.run(images, bits).shape == (2, 3, 16, 16)
    assert decoder.run(images).shape == (2, BITS)
    assert decoder.output_shapes == [[None, BITS]]
    # Widths double per level up to fmap_max; the fingerprint becomes one 16x16 channel.
    assert encoder.vars['FingerprintDense/weight'].shape.as_list() == [BITS, 16 * 16]
    assert encoder.vars['Down0/weight'].shape.as_list() == [3, 3, 4, 8]
    assert encoder.vars['Down2/weight'].shape.as_list() == [3, 3, 16, 32]
    assert encoder.vars['Up0/Conv1/weight'].shape.as_list() == [3, 3, 16, 8]
    assert decoder.vars['Dense/weight'].shape.as_list() == [32 * 4 * 4, 32]
    # Levels stop at 4x4: at 8x8 only one stride-2 level is built.
    small, _ = agf.build_networks(resolution=8, num_channels=1, fingerprint_size=4, fmap_base=4, levels=4)
    assert sorted(name.split('/')[0] for name in small.vars if name.endswith('weight')) == [
        'Down0', 'Down1', 'FingerprintDense', 'Residual', 'Up0', 'Up0']


def test_as_stored_rounds_and_clips_with_a_straight_through_gradient(tf_session):
    x = tf.constant([-1.5, -0.2, 0.0031, 0.7, 1.2])
    stored = agf.as_stored(x)
    gradient = tf.gradients(tf.reduce_sum(stored), x)[0]
    values, grads = tf_session.run([stored, gradient])
    levels = (values + 1) * 127.5
    assert np.allclose(levels, np.round(levels), atol=1e-3) and values.min() == -1 and values.max() == 1
    assert list(grads) == [0, 1, 1, 1, 0]


def test_reconstruction_weight_ramp():
    weight = agf.ReconstructionWeight(max_weight=10, start_accuracy=0.95, ramp_steps=100, window=2)
    for step, accuracy in enumerate([0.5, 0.96, 0.96]):
        assert weight.value(step) == 0
        weight.observe(step, accuracy)
    assert weight.start_step == 3  # the mean of the last two minibatches first reached 0.95 at step 2
    assert [weight.value(s) for s in (3, 53, 103, 500)] == [0, 5, 10, 10]
    weight.observe(4, 0.1)  # once started, the ramp does not stop
    assert weight.value(53) == 5
    assert agf.ReconstructionWeight(ramp_steps=0, window=1).value(0) == 0


def test_training_steps_lower_the_loss(tf_session):
    encoder, decoder = agf.build_networks(resolution=16, num_channels=3, **TINY)
    images = lib.render_demo_images(16, 16, 1)
    images = np.stack(list(images)).astype(np.float32) / 127.5 - 1
    bits = np.random.RandomState(1).randint(0, 2, [16, BITS]).astype(np.float32)
    terms = agf.training_graph(encoder, decoder, tf.constant(images), tf.constant(bits), 1.0)
    step = tf.compat.v1.train.AdamOptimizer(3e-3).minimize(terms['loss'])
    tfutil.init_uninitialized_vars()
    before = tf_session.run(terms)
    for _ in range(30):
        tf_session.run(step)
    after = tf_session.run(terms)
    assert after['loss'] < 0.8 * before['loss'] and after['bce'] < before['bce']


def test_round_trip_reads_the_fingerprint_of_marked_images(trained, tf_session, tmp_path, capsys):
    root, summary = trained
    assert summary['ramp_start_step'] is not None and summary['final_weight'] == 10
    model = root / 'model.pkl'
    assert [entry['rebuilt_by_this_project'] for _, entry in network_files.describe(str(model))] == [True, True]

    status, out, err = run_front(capsys, 'create_agf', tmp_path / 'marked', root / 'demo16', '--model', model, '--seed', 3)
    assert status == 0, err
    assert 'PSNR' in out
    expected = ''.join(str(int(b)) for b in agf.model_fingerprint(BITS, seed=3))
    assert (tmp_path / 'marked' / agf.FINGERPRINT_FILE).read_text() == expected + '\n'
    levels = dataset.list_record_files(str(tmp_path / 'marked'))
    assert sorted(levels) == [2, 3, 4]
    originals = list(dataset.read_images(dataset.list_record_files(str(root / 'demo16'))[4].path))
    marked = list(dataset.read_images(levels[4].path))
    assert len(marked) == 256 and np.mean([np.any(a != b) for a, b in zip(originals, marked)]) > 0.9
    assert np.array_equal(next(dataset.read_images(levels[3].path)), lib.reduce_2x2(marked[0]))

    csv_path = str(tmp_path / 'robustness.csv')
    stats = agf.eval_agf(str(tmp_path / 'marked'), str(model), robustness_csv=csv_path)  # the data set's fingerprint
    assert stats['images'] == 256 and stats['bit_accuracy'] >= 0.9 and stats['p_value'] < 1e-3
    # The robustness grid of our metric, for plot_robustness.py: identity strengths read as the clean images.
    rows = robustness_report.read_rows([csv_path])
    assert {row['perturbation'] for row in rows} == {'none', 'crop', 'blur', 'jpeg', 'noise', 'combo'}
    assert {row['network'] for row in rows} == {'agf:model.pkl'} and all(row['num_images'] == 256 for row in rows)
    accuracy = {(row['perturbation'], row['strength']): row['bit_accuracy'] for row in rows}
    assert accuracy['none', 0] == pytest.approx(stats['bit_accuracy'], abs=1e-6)
    assert accuracy['crop', 16] == accuracy['blur', 0] == accuracy['noise', 0] == accuracy['combo', 0] == accuracy['none', 0]
    assert accuracy['noise', 0.8] < accuracy['none', 0] - 0.1
    assert agf.eval_agf(str(tmp_path / 'marked'), str(model), seed=4)['bit_accuracy'] < 0.8  # another fingerprint
    assert agf.eval_agf(str(root / 'demo16'), str(model), seed=3)['bit_accuracy'] < 0.8  # unmarked images

    lib.extract(str(tmp_path / 'marked'), str(tmp_path / 'pngs'))
    status, out, err = run_front(capsys, 'eval_agf', tmp_path / 'pngs', '--model', model, '--fingerprint', expected,
                                 '--num_images', 32)
    assert status == 0, err
    assert out.startswith('32 images: bit accuracy ')
    assert float(out.split('bit accuracy ')[1].split(',')[0]) >= 0.9


def test_front_errors_are_one_line_and_leave_nothing_behind(trained, tf_session, tmp_path, capsys, monkeypatch):
    root, _ = trained
    model, demo = root / 'model.pkl', root / 'demo16'
    (tmp_path / 'notes.txt').write_text('not a pickle')
    encoder, decoder = agf.load_model(str(model))
    misc.save_pkl((decoder, encoder), str(tmp_path / 'swapped.pkl'))
    lib.create_demo(str(tmp_path / 'demo8'), num_images=4, resolution=8)
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'x').write_text('x')
    (tmp_path / 'pngs').mkdir()
    (tmp_path / 'pngs' / 'readme.txt').write_text('no images here')
    cases = [
        (('create_agf', tmp_path / 'out', demo, '--model', tmp_path / 'missing.pkl', '--seed', 0), 'not found'),
        (('create_agf', tmp_path / 'out', demo, '--model', tmp_path / 'notes.txt', '--seed', 0), 'not a network pickle'),
        (('create_agf', tmp_path / 'out', demo, '--model', tmp_path / 'swapped.pkl', '--seed', 0),
         'does not hold an artificial-fingerprint encoder and decoder'),
        (('create_agf', tmp_path / 'out', demo, '--model', model), 'give the fingerprint as --seed or --fingerprint'),
        (('create_agf', tmp_path / 'out', demo, '--model', model, '--fingerprint', '0101'), 'must have 16 bits, got 4'),
        (('create_agf', tmp_path / 'out', demo, '--model', model, '--fingerprint', '2' * 16), 'only contain 0 and 1'),
        (('create_agf', tmp_path / 'out', tmp_path / 'demo8', '--model', model, '--seed', 0),
         'holds 3x8x8 images, the model takes 3x16x16'),
        (('create_agf', tmp_path / 'full', demo, '--model', model, '--seed', 0), 'exists and is not empty'),
        (('create_agf', tmp_path / 'out', tmp_path / 'nowhere', '--model', model, '--seed', 0), 'not found'),
        (('eval_agf', demo, '--model', model), 'holds no fingerprint.txt'),
        (('eval_agf', tmp_path / 'pngs', '--model', model, '--seed', 0), 'no PNG files'),
        (('eval_agf', tmp_path / 'nowhere', '--model', model, '--seed', 0), 'directory not found'),
        (('eval_agf', demo, '--model', model, '--seed', 0, '--robustness_csv', tmp_path / 'nowhere' / 'r.csv'),
         'directory of --robustness_csv not found'),
        (('train_agf', tmp_path / 'full', demo), 'is a directory, not a model file name'),
        (('train_agf', tmp_path / 'm.pkl', tmp_path / 'nowhere'), 'data set directory not found'),
    ]
    for args, message in cases:
        status, _, err = run_front(capsys, *args)
        assert status == 1 and err.count('\n') == 1 and message in err, (args, err)
    status, _, err = run_front(capsys, 'eval_agf', demo, '--model', model, '--seed', 0, '--fingerprint', '0' * 16)
    assert status == 2 and err.count('\n') == 1 and 'not allowed with argument' in err

    def fail_midway(encoder, images, bits, batch_size):
        yield next(iter(images))
        raise KeyboardInterrupt
    monkeypatch.setattr(agf, 'fingerprint_images', fail_midway)
    status, _, err = run_front(capsys, 'create_agf', tmp_path / 'out', demo, '--model', model, '--seed', 0)
    assert status == 130 and err.strip() == 'dataset_tool: error: interrupted'
    assert sorted(os.listdir(tmp_path)) == ['demo8', 'full', 'notes.txt', 'pngs', 'swapped.pkl']
    assert not os.path.exists(tmp_path / 'm.pkl')

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    result = subprocess.run([sys.executable, os.path.join(REPO, 'dataset_tool.py'), 'eval_agf', str(tmp_path / 'pngs'),
                             '--model', str(tmp_path / 'missing.pkl')], capture_output=True, text=True, env=env,
                            cwd=REPO, timeout=120)
    assert result.returncode == 1 and result.stderr.count('\n') == 1 and 'not found' in result.stderr
