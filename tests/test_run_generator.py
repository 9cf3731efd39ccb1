"""run_generator.py: images per seed, fingerprint grids, and baking, on training and baked pickles."""

import os
import pickle
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

import run_generator
from dnnlib.tflib import tfutil
from test_bake import make_plain_generator, make_training_networks
from training import bake, misc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, 'run_generator.py')] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=300)


def _image(path):
    return np.asarray(PIL.Image.open(path), np.int32)


def _seed_images(run_dir):
    return {name: _image(os.path.join(run_dir, name)) for name in sorted(os.listdir(run_dir)) if name.endswith('.png')}


@pytest.fixture(scope='module')
def pickles(tmp_path_factory):
    """train.pkl (E, G, D, Gs), gs.pkl (Gs alone), plain.pkl (StyleGAN2 without a fingerprint)."""
    folder = tmp_path_factory.mktemp('pickles')
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        tf.compat.v1.set_random_seed(1)
        nets = make_training_networks()
        misc.save_pkl(nets, str(folder / 'train.pkl'))
        misc.save_pkl(nets[3], str(folder / 'gs.pkl'))
        misc.save_pkl(make_plain_generator(), str(folder / 'plain.pkl'))
    return folder


def test_generate_images_one_png_per_seed(pickles, tmp_path):
    result = _cli('generate-images', '--network', pickles / 'train.pkl', '--seeds', '0-4', '--batch', 2,
                  '--truncation-psi', 0.5, '--result-dir', tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / '00000-generate-images'
    images = _seed_images(run_dir)
    assert sorted(images) == ['seed%04d.png' % s for s in range(5)]
    assert all(image.shape == (16, 16, 3) for image in images.values())
    assert len({image.tobytes() for image in images.values()}) == 5
    assert 'seeds 4..4 (5/5)' in result.stdout and (run_dir / 'log.txt').is_file()


def test_identical_latent_and_watermark(tf_session, pickles, tmp_path):
    def run(name, *flags):
        run_generator.main(['generate-images', '--network', str(pickles / 'gs.pkl'), '--seeds', '7,3,5',
                            '--result-dir', str(tmp_path / name)] + list(flags))
        return list(_seed_images(next((tmp_path / name).iterdir())).values())

    both = run('both', '--identical-latent', 'True', '--identical-watermark', 'yes')
    assert all(np.array_equal(image, both[0]) for image in both)
    same_z = run('z', '--identical-latent', '1', '--identical-watermark', 'no')
    assert not np.array_equal(same_z[0], same_z[1])  # only the fingerprint differs, and it shows
    assert np.array_equal(same_z[2], both[0])  # seed 7 (listed first, saved last) draws the same either way


def test_bake_then_use_the_copy_in_both_commands(tf_session, pickles, tmp_path):
    baked_pkl = tmp_path / 'baked.pkl'
    result = _cli('bake', '--network', pickles / 'train.pkl', '--watermark-seed', 2, '--output', baked_pkl, '--verify')
    assert result.returncode == 0, result.stderr
    bits = bake.fingerprint_to_string(bake.fingerprint_from_seed(2, 8))
    assert bits in result.stdout and 'Verify: max' in result.stdout
    with open(baked_pkl, 'rb') as f:
        baked = pickle.load(f)
    assert baked.input_names == ['latents_in', 'labels_in'] and baked.static_kwargs.watermark_bits == bits
    assert not [name for name in baked.vars if 'mapping' in name or '/mod_' in name]

    # Row 2 of the source's grid (fingerprint seed 2) is the baked copy's grid.
    run_generator.main(['generate-grid', '--network', str(pickles / 'train.pkl'), '--latent-seeds', '0-3',
                        '--watermark-seeds', '0-2', '--output', str(tmp_path / 'source.png')])
    run_generator.main(['generate-grid', '--network', str(baked_pkl), '--latent-seeds', '0-3',
                        '--result-dir', str(tmp_path / 'res')])
    source = _image(tmp_path / 'source.png')
    copy = _image(tmp_path / 'res' / '00000-generate-grid' / 'grid.png')
    assert source.shape == (3 * 16, 4 * 16, 3) and copy.shape == (16, 4 * 16, 3)
    assert np.abs(source[32:] - copy).max() <= 1
    assert np.abs(source[:16] - copy).max() > 1

    run_generator.main(['generate-images', '--network', str(baked_pkl), '--seeds', '0-2',
                        '--result-dir', str(tmp_path / 'res')])
    images = _seed_images(tmp_path / 'res' / '00001-generate-images')
    assert sorted(images) == ['seed0000.png', 'seed0001.png', 'seed0002.png']


def test_bake_from_a_single_generator_with_given_bits(tf_session, pickles, tmp_path):
    run_generator.main(['bake', '--network', str(pickles / 'gs.pkl'), '--watermark', '10110001',
                        '--output', str(tmp_path / 'baked.pkl')])
    assert misc.load_networks(str(tmp_path / 'baked.pkl'))[3].static_kwargs.watermark_bits == '10110001'


def test_bake_error_is_one_line_in_a_subprocess(tmp_path):
    result = _cli('bake', '--network', tmp_path / 'missing.pkl', '--watermark', '0101', '--output', tmp_path / 'o.pkl')
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    expected = 'run_generator.py bake: error: network pickle not found: %s' % (tmp_path / 'missing.pkl')
    assert result.stderr.strip() == expected
    assert not os.path.exists(tmp_path / 'o.pkl')


@pytest.mark.parametrize('network,bits,message', [
    ('gs.pkl', '0101', 'the fingerprint must have 8 bits, got 4'),
    ('gs.pkl', '0101 101', "the fingerprint may only contain 0 and 1, got ' '"),
    ('plain.pkl', '01010101', "network 'Gs' has no fingerprint input"),
    ('missing.pkl', '01010101', 'network pickle not found'),
    ('gs.pkl', '01010101', '--output is the source pickle'),
])
def test_bake_errors(tf_session, pickles, tmp_path, capsys, network, bits, message):
    output = pickles / network if message.startswith('--output') else tmp_path / 'o.pkl'
    with pytest.raises(SystemExit) as exit_info:
        run_generator.main(['bake', '--network', str(pickles / network), '--watermark', bits, '--output', str(output)])
    assert exit_info.value.code == 1
    stderr = capsys.readouterr().err.strip()
    assert stderr.startswith('run_generator.py bake: error: ' + message) and '\n' not in stderr
    assert not os.path.exists(tmp_path / 'o.pkl')


@pytest.mark.parametrize('args,message', [
    (['generate-images', '--network', 'x.pkl', '--seeds', '1-b'], "argument --seeds: not a number or range"),
    (['generate-images', '--network', 'x.pkl', '--seeds', '1', '--identical-latent', 'maybe'], "'maybe' is not"),
    (['generate-grid', '--network', 'x.pkl', '--latent-seeds', '0-1', '--batch', '0'], "'0' is not a positive"),
    (['bake', '--network', 'x.pkl', '--output', 'o.pkl'], 'one of the arguments --watermark --watermark-seed'),
    ([], 'missing command'),
])
def test_argument_errors_are_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        run_generator.main(args)
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err.strip()
    assert message in stderr and '\n' not in stderr
