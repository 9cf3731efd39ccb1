"""The authors' pickles in every front: a pickle written as their code writes it (TF1 source, their
function names, a G that leaves its inputs unshaped) gives the numbers of our pickle of the same variables."""

import glob
import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

import authors_pickle
import run_generator
from dnnlib.tflib import tfutil
from test_run_metrics import REPO, run_script
from training import dataset_tool_lib, misc


@pytest.fixture(scope='module', params=['resnet', 'skip'])
def pickles(request, tmp_path_factory):
    """authors.pkl and ours.pkl: the same variables, E and D of the given architecture."""
    folder = tmp_path_factory.mktemp('authors-' + request.param)
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        nets = authors_pickle.our_networks(request.param)
        (folder / 'network-snapshot-000000.pkl').write_bytes(authors_pickle.authors_pickle_bytes(nets, request.param))
        misc.save_pkl(nets, str(folder / 'ours.pkl'))
    return dict(authors=str(folder / 'network-snapshot-000000.pkl'), ours=str(folder / 'ours.pkl'),
                folder=folder, architecture=request.param)


def _inputs(count=8, seed=1):
    rnd = np.random.RandomState(seed)
    return (rnd.randn(count, authors_pickle.G_SIZES['latent_size']).astype(np.float32),
            rnd.randint(0, 2, (count, authors_pickle.WATERMARK_SIZE)).astype(np.float32),
            rnd.randn(count, 3, 8, 8).astype(np.float32))


def _outputs(nets):
    E, G, D, Gs = nets
    z, c, images = _inputs()
    return [Gs.run(z, None, c, randomize_noise=False), G.run(z, None, c, randomize_noise=False),
            *E.run(images, None), D.run(images, None)]


@pytest.mark.parametrize('trust', [True, False])
def test_loads_with_shapes_and_our_numbers(tf_session, pickles, trust):
    nets = misc.load_networks(pickles['authors'], trust_source=trust)
    E, G, D, Gs = nets
    assert G.input_shapes == Gs.input_shapes == [[None, 8], [None, 0], [None, 4]]
    assert list(G.components) == ['synthesis', 'mapping']
    source_is_ours = G._build_module_src != authors_pickle.SOURCE  # pylint: disable=protected-access
    assert source_is_ours != trust  # trusted: built by the embedded source; otherwise by ours
    reference = _outputs(misc.load_networks(pickles['ours']))
    for got, want in zip(_outputs(nets), reference):
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
    # The README's call with labels given as None works.
    z, c, _ = _inputs(3)
    assert Gs.run(z, None, c).shape == (3, 3, 8, 8)


def _pngs(folder):
    paths = sorted(glob.glob(os.path.join(folder, '*.png')))
    return {os.path.basename(p): np.asarray(PIL.Image.open(p)) for p in paths}


def test_run_generator_commands_match_our_pickle(tf_session, pickles, tmp_path):
    outputs = {}
    for which in ('authors', 'ours'):
        result_dir = tmp_path / which
        run_generator.main(['generate-images', '--network', pickles[which], '--seeds', '0-3',
                            '--result-dir', str(result_dir)])
        run_generator.main(['generate-grid', '--network', pickles[which], '--latent-seeds', '0-2',
                            '--watermark-seeds', '0-1', '--output', str(result_dir / 'grid.png')])
        run_generator.main(['bake', '--network', pickles[which], '--watermark-seed', '5', '--verify',
                            '--output', str(result_dir / 'baked.pkl')])
        run_generator.main(['generate-images', '--network', str(result_dir / 'baked.pkl'), '--seeds', '0-1',
                            '--result-dir', str(result_dir / 'baked')])
        outputs[which] = dict(images=_pngs(glob.glob(str(result_dir / '*-generate-images'))[0]),
                              grid=_pngs(result_dir)['grid.png'],
                              baked=_pngs(glob.glob(str(result_dir / 'baked' / '*-generate-images'))[0]))
    assert len(outputs['authors']['images']) == 4
    for key in ('images', 'baked'):
        assert outputs['authors'][key].keys() == outputs['ours'][key].keys()
        for name, image in outputs['authors'][key].items():
            assert np.abs(image.astype(int) - outputs['ours'][key][name]).max() <= 1, (key, name)
    assert np.abs(outputs['authors']['grid'].astype(int) - outputs['ours']['grid']).max() <= 1


def _metric_value(result_dir):
    path = glob.glob(os.path.join(result_dir, '*-run-metrics', 'metric-watermark_accuracy_1k.txt'))[0]
    fields = open(path).read().split()
    return float(fields[fields.index('watermark_accuracy_1k_watermark_bit_accuracy') + 1])


def test_run_metrics_matches_our_pickle(pickles, tmp_path):
    values = {}
    for which in ('authors', 'ours'):
        result = run_script(['--network', pickles[which], '--metrics', 'watermark_accuracy_1k',
                             '--result-dir', str(tmp_path / which)], tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        values[which] = _metric_value(str(tmp_path / which))
    assert 0.0 <= values['authors'] <= 1.0
    # Same networks, fresh random inputs per run: an untrained decoder's bits are correlated across
    # images, so two runs of 1k images differ by up to about 0.02 (0.0215 seen).
    assert abs(values['authors'] - values['ours']) < 0.05


def test_resume_from_authors_pickle(pickles, tmp_path):
    if pickles['architecture'] != 'resnet':
        pytest.skip('one resume is enough')
    data_dir = tmp_path / 'data'
    dataset_tool_lib.create_demo(str(data_dir / 'demo8'), num_images=32, resolution=8, seed=0)
    result = subprocess.run(
        [sys.executable, 'run_training.py', '--data-dir', str(data_dir), '--dataset', 'demo8', '--result-dir',
         str(tmp_path / 'results'), '--config=config-e-Gskip-Dresnet', '--watermark-size=4',
         '--res-modulated-range=4-8', '--fmap-base=64', '--fmap-max=16', '--latent-size=8', '--dlatent-size=8',
         '--minibatch=4', '--metrics=none', '--total-kimg=0.02', '--kimg-per-tick=0.01', '--snapshot-ticks=1',
         '--resume-pkl', pickles['authors']], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    final = glob.glob(str(tmp_path / 'results' / '*' / 'network-final.pkl'))
    assert final
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        E, G, D, Gs = misc.load_networks(final[0])
        assert G.input_shapes == [[None, 8], [None, 0], [None, 4]] and E is not None and D is not None
