"""Safe loading: hostile pickles run nothing and are refused in one line; weights-only loading equals the
trusted path; inspect reads without building; .npz weights round-trip without pickle."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import authors_pickle
from dnnlib.tflib import network, network_files, tfutil
from training import misc, networks_stylegan2

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Canary:
    """Pickles to a call that writes a file: what a hostile pickle stream does."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, ('echo pwned > %s' % self.path,))


def _canary_source(path):
    return 'open(%r, "w").write("pwned")\n' % path + authors_pickle.SOURCE


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('hostile')
    canary = folder / 'canary'
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        nets = authors_pickle.our_networks()
        misc.save_pkl(nets, str(folder / 'ours.pkl'))
        E = nets[0]
        e_state = dict(E.__getstate__(), build_module_src=_canary_source(str(canary)))

    def write(name, obj):
        (folder / name).write_bytes(pickle.dumps(obj, protocol=4))
        return str(folder / name)

    def network(**changes):
        state = dict(e_state, **changes)
        obj = authors_pickle.state_object(state['name'], state['build_func_name'], state['static_kwargs'],
                                          state['variables'])
        obj.__getstate__ = lambda: state
        return obj

    return dict(
        folder=folder, canary=str(canary), ours=str(folder / 'ours.pkl'),
        reduce=write('reduce.pkl', (_Canary(str(canary)), None, None, None)),
        known_source=write('known_source.pkl', network()),
        unknown_source=write('unknown_source.pkl', network(build_func_name='E_evil')),
        mismatch=write('mismatch.pkl', network(static_kwargs=dict(e_state['static_kwargs'], watermark_size=5))),
        text=str(_text_file(folder)))


def _text_file(folder):
    path = folder / 'notes.pkl'
    path.write_text('garbage\n')
    return path


def _load(path, trust=False):
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        return misc.load_pkl(path, trust_source=trust)


def test_pickle_stream_calling_a_function_is_refused(files):
    for trust in (False, True):  # trust concerns the embedded source only; the stream is always restricted
        with pytest.raises(network_files.UnsafePickleError, match=r'posix\.system|os\.system'):
            _load(files['reduce'], trust)
    assert not os.path.exists(files['canary'])


def test_embedded_source_runs_only_when_trusted(files):
    net = _load(files['known_source'])  # a known build function: rebuilt by our code, the source never runs
    assert net.name == 'E' and not os.path.exists(files['canary'])
    with pytest.raises(network_files.UntrustedSourceError, match='E_evil.*not run'):
        _load(files['unknown_source'])
    assert not os.path.exists(files['canary'])
    with pytest.raises(Exception):
        _load(files['unknown_source'], trust=True)  # the source runs (and then has no E_evil to build)
    assert open(files['canary']).read() == 'pwned'  # so the test above would have seen it
    os.remove(files['canary'])


def test_variables_that_do_not_match_the_kwargs_are_refused(files):
    with pytest.raises(ValueError, match=r'does not match.*Output/weight has shape \[16, 12\], the build makes '
                                         r'\[16, 13\]'):
        _load(files['mismatch'])


def test_weights_only_equals_trusted_for_our_snapshot(files):
    rnd = np.random.RandomState(0)
    z, c = rnd.randn(8, 8).astype(np.float32), rnd.randint(0, 2, (8, 4)).astype(np.float32)
    images = rnd.randn(8, 3, 8, 8).astype(np.float32)
    outputs = []
    for trust in (True, False):
        with tf.Graph().as_default(), tfutil.create_session().as_default():
            E, G, D, Gs = misc.load_networks(files['ours'], trust_source=trust)
            outputs.append([Gs.run(z, None, c, randomize_noise=False), *E.run(images, None), D.run(images, None)])
    for trusted, safe in zip(*outputs):
        assert np.abs(trusted - safe).max() <= 1e-5
    # The trusted load ran the pickled source, which registers its build functions too: the safe path
    # must still rebuild with this project's code, and inspect must still recognise it.
    assert network.known_build_func('G_main_watermark') is networks_stylegan2.G_main_watermark
    assert all(entry['rebuilt_by_this_project'] for _, entry in network_files.describe(files['ours']) if entry)


def _cli(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, 'run_generator.py')] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


@pytest.mark.parametrize('key,message', [
    ('reduce', 'never holds; refused'), ('unknown_source', 'which this project does not provide'),
    ('mismatch', 'does not match'), ('text', 'is not a network pickle, or it is truncated')])
def test_fronts_refuse_in_one_line(files, key, message):
    result = _cli('generate-images', '--network', files[key], '--seeds', '0', '--result-dir', files['folder'] / 'r')
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and message in lines[0], result.stderr
    assert files[key] in lines[0]
    assert not os.path.exists(files['canary'])


def test_inspect_runs_nothing_and_names_the_source(files):
    result = _cli('inspect', '--network', files['unknown_source'])
    assert result.returncode == 0, result.stderr
    assert "'E' built by E_evil (only its embedded source can build it)" in result.stdout
    assert "not this project's current source" in result.stdout and 'Output/weight' in result.stdout
    assert not os.path.exists(files['canary'])
    ours = _cli('inspect', '--network', files['ours'])
    assert "equal to this project's training.networks_stylegan2" in ours.stdout
    assert 'component synthesis' in ours.stdout and 'G_main_watermark' in ours.stdout


def test_npz_export_round_trip(files, tmp_path):
    out = tmp_path / 'weights.npz'
    result = _cli('export', '--network', files['ours'], '--output', out)
    assert result.returncode == 0, result.stderr
    with np.load(str(out), allow_pickle=False) as data:
        assert '1/G_mapping/Dense0/weight' in data.files
    rnd = np.random.RandomState(3)
    z, c = rnd.randn(4, 8).astype(np.float32), rnd.randint(0, 2, (4, 4)).astype(np.float32)
    images = []
    for path in (files['ours'], str(out)):
        with tf.Graph().as_default(), tfutil.create_session().as_default():
            images.append(misc.load_networks(path)[3].run(z, None, c, randomize_noise=False))
    np.testing.assert_array_equal(images[0], images[1])
    bad = _cli('export', '--network', files['ours'], '--output', tmp_path / 'weights.pkl')
    assert bad.returncode == 1 and 'must name a .npz file' in bad.stderr
