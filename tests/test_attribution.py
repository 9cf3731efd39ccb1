"""Issuing copies and attributing images: index exactness, the registry's integrity under bad input,
concurrency and crashes, the command line on good and bad files, and the false-match bound."""

import json
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import scipy.stats
import tensorflow as tf

from attribution import attribute, evaluate, hamming, issue
from attribution.registry import Model, RegistryError, SQLiteStore
from dnnlib.tflib import tfutil
from test_bake import make_training_networks
from training import misc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args, env=None):
    return subprocess.run([sys.executable, os.path.join(REPO, 'run_attribution.py')] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, **(env or {})))


@pytest.fixture(scope='module')
def network(tmp_path_factory):
    path = tmp_path_factory.mktemp('net') / 'train.pkl'
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        tf.compat.v1.set_random_seed(1)
        misc.save_pkl(make_training_networks(), str(path))
    return path


# ----------------------------------------------------------------------------
# The index against brute force.

def _flip(rng, bits, flips):
    bits = bits.copy()
    bits[rng.choice(len(bits), flips, replace=False)] ^= 1
    return bits


def _near_queries(rng, codes, num_bits, count, max_flips):
    """Codes at 0..max_flips flipped bits from random rows, and random codes."""
    bits = hamming.unpack(codes[rng.integers(0, len(codes), count)], num_bits)
    for i in range(count // 2):
        bits[i] = _flip(rng, bits[i], rng.integers(0, max_flips + 1))
    bits[count // 2:] = rng.integers(0, 2, bits[count // 2:].shape)
    return hamming.pack(bits)


def _codes_with_neighbours(rng, num_bits, radius, count):
    """Random codes, with duplicates of one code under other ids and near-duplicates of others
    (1..radius+1 bits apart), so queries find several fingerprints at tied and boundary distances."""
    bits = rng.integers(0, 2, (count, num_bits))
    bits[1] = bits[2] = bits[0]
    for i in range(3, count // 10, 2):
        bits[i + 1] = _flip(rng, bits[i], rng.integers(1, radius + 2))
    return hamming.pack(bits)


def _assert_same_as_brute_force(index, codes, ids, queries, radius):
    """Returns how many hits lay at the radius itself."""
    boundary = 0
    results = index.search(queries)
    assert len(results) == len(queries)
    for (found_ids, found), (rows, distances) in zip(results, hamming.brute_force_search(codes, queries, radius)):
        order = np.lexsort((ids[rows], distances))
        assert np.array_equal(found_ids, ids[rows][order]) and np.array_equal(found, distances[order])
        boundary += int((found == radius).sum())
    return boundary


@pytest.mark.parametrize('num_bits,radius,count,kind', [
    (128, 6, 5000, 'multi'), (128, 0, 2000, 'multi'), (100, 6, 3000, 'multi'), (64, 7, 3000, 'multi'),
    (32, 1, 3000, 'multi'), (20, 1, 2000, 'multi'), (16, 0, 2000, 'multi'),
    (20, 3, 2000, 'flat'), (12, 5, 500, 'flat'), (128, 20, 1000, 'flat')])
def test_index_equals_brute_force(num_bits, radius, count, kind):
    rng = np.random.default_rng(num_bits + radius)
    codes = _codes_with_neighbours(rng, num_bits, radius, count)
    ids = rng.permutation(count * 3)[:count].astype(np.int64) + 1
    index = hamming.HammingIndex(codes, ids, num_bits, radius)
    assert (index.plan is None) == (kind == 'flat') and index.kind.startswith(kind)
    own = hamming.unpack(codes[rng.integers(0, count, 100)], num_bits)
    at_radius = hamming.pack([_flip(rng, bits, flips) for bits in own for flips in (radius, radius + 1)])
    queries = np.concatenate([_near_queries(rng, codes, num_bits, 400, radius + 2), at_radius, codes[:3]])
    assert _assert_same_as_brute_force(index, codes, ids, queries, radius) > 0  # the radius itself was included
    assert [index.search(codes[:1])[0][0].tolist().count(i) for i in ids[:3]] == [1, 1, 1]  # one code, three ids


def test_index_without_bitwise_count(monkeypatch):
    rng = np.random.default_rng(1)
    codes = _codes_with_neighbours(rng, 128, 6, 2000)
    ids = np.arange(2000) + 1
    queries = _near_queries(rng, codes, 128, 200, 8)
    monkeypatch.delattr(np, 'bitwise_count', raising=False)  # numpy < 2: the byte table
    assert _assert_same_as_brute_force(hamming.HammingIndex(codes, ids, 128, 6), codes, ids, queries, 6) > 0


@pytest.mark.parametrize('num_bits,radius', [(128, 6), (12, 5)])
def test_empty_index_and_no_queries(num_bits, radius):
    index = hamming.HammingIndex(np.zeros((0, (num_bits + 7) // 8), np.uint8), np.zeros(0), num_bits, radius)
    assert len(index) == 0
    assert [(a.tolist(), b.tolist()) for a, b in index.search(hamming.pack(np.ones((2, num_bits))))] == [([], [])] * 2
    codes = hamming.pack(np.ones((3, num_bits)))
    assert hamming.HammingIndex(codes, np.arange(3), num_bits, radius).search(codes[:0]) == []


@pytest.mark.parametrize('num_bits,radius', [(128, 6), (12, 5)])
def test_index_save_load_and_staleness(tmp_path, num_bits, radius):
    rng = np.random.default_rng(0)
    codes = _codes_with_neighbours(rng, num_bits, radius, 300)
    ids = np.arange(1, 301) * 7
    index = hamming.HammingIndex(codes, ids, num_bits, radius)
    index.save(str(tmp_path / 'x.index'), (300, 2100, num_bits, radius))
    assert hamming.HammingIndex.load(str(tmp_path / 'x.index'), (301, 2107, num_bits, radius)) is None
    assert hamming.HammingIndex.load(str(tmp_path / 'missing.index'), (300, 2100, num_bits, radius)) is None
    loaded = hamming.HammingIndex.load(str(tmp_path / 'x.index'), (300, 2100, num_bits, radius))
    assert loaded.kind == index.kind and len(loaded) == 300
    queries = _near_queries(rng, codes, num_bits, 100, radius + 2)
    _assert_same_as_brute_force(loaded, codes, ids, queries, radius)
    (tmp_path / 'bad.index').write_bytes(b'garbage')
    assert hamming.HammingIndex.load(str(tmp_path / 'bad.index'), (300, 2100, num_bits, radius)) is None


def test_registry_index_is_rebuilt_when_copies_are_added(tmp_path):
    path = str(tmp_path / 'reg.db')
    store = SQLiteStore(path, Model('ab' * 32, 32, 1), create=True)
    list(issue.issue_copies(store, 'a', 3))
    assert len(attribute.load_index(store, path)) == 3
    list(issue.issue_copies(store, 'b', 2))
    index = attribute.load_index(store, path)
    ids, codes = store.fingerprints()
    assert len(index) == 5 and index.search(codes[4:])[0][0].tolist() == [ids[4]]


# ----------------------------------------------------------------------------
# Issuing.

def test_issued_fingerprints_keep_their_distance_and_a_full_registry_refuses(tmp_path):
    store = SQLiteStore(str(tmp_path / 'reg.db'), Model('ab' * 32, 8, 1), create=True)
    with pytest.raises(issue.IssueError, match='registry is full at threshold 1'):
        list(issue.issue_copies(store, 'a', 100))  # 8 bits, 3 apart: at most 2^8/9 = 28 copies
    ids, codes = store.fingerprints()
    assert 2 <= len(ids) <= 28
    bits = hamming.unpack(codes, 8)
    distances = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    assert distances[~np.eye(len(ids), dtype=bool)].min() >= 3


def test_issue_refuses_bad_input_and_keeps_the_registry(network, tmp_path):
    registry = tmp_path / 'reg.db'
    assert _cli('issue', '--network', network, '--registry', registry, '--owner', 'a', '--count', 2).returncode == 0
    cases = [(['--owner', ' '], 'owner label is empty'),
             (['--owner', 'b', '--threshold', '3'], 'issued for threshold 0'),
             (['--owner', 'b', '--bake-dir', network], 'not a directory')]
    for flags, message in cases:
        result = _cli('issue', '--network', network, '--registry', registry, *flags)
        assert result.returncode != 0 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    store = SQLiteStore(str(registry))
    assert store.version() == (2, 2)


def test_other_pickle_or_bit_length_is_refused(network, tmp_path):
    registry = str(tmp_path / 'reg.db')
    model = issue.registry_model(str(network), 8)
    SQLiteStore(registry, model, create=True).close()
    with pytest.raises(RegistryError, match='belongs to the model with sha256'):
        SQLiteStore(registry, model._replace(sha256='0' * 64))
    with pytest.raises(RegistryError, match='holds 8-bit fingerprints, the network has 16 bits'):
        SQLiteStore(registry, model._replace(num_bits=16))
    other = tmp_path / 'other.pkl'
    other.write_bytes(network.read_bytes() + b'\0')
    result = _cli('attribute', '--network', other, '--registry', registry, network)
    assert result.returncode == 1 and 'belongs to the model' in result.stderr
    (tmp_path / 'junk.db').write_bytes(b'not sqlite at all' * 100)
    with pytest.raises(RegistryError, match='not a usable registry'):
        SQLiteStore(str(tmp_path / 'junk.db'))


ISSUE_WORKER = """
import sys
from attribution import issue
from attribution.registry import Model, SQLiteStore
store = SQLiteStore(sys.argv[1], Model('ab' * 32, 128, 6))
for _ in issue.issue_copies(store, sys.argv[2], 25):
    pass
"""


def test_concurrent_issue_gives_distinct_fingerprints_and_loses_no_row(tmp_path):
    path = str(tmp_path / 'reg.db')
    SQLiteStore(path, Model('ab' * 32, 128, 6), create=True).close()
    workers = [subprocess.Popen([sys.executable, '-c', ISSUE_WORKER, path, 'p%d' % i], cwd=REPO) for i in range(3)]
    assert [worker.wait(120) for worker in workers] == [0, 0, 0]
    store = SQLiteStore(path)
    ids, codes = store.fingerprints()
    assert len(ids) == 75 and len({code.tobytes() for code in codes}) == 75
    assert sorted(c.owner for c in store.copies()).count('p2') == 25


@pytest.mark.parametrize('stage', ['before-commit', 'after-commit', 'after-rename'])
def test_killed_issue_leaves_a_consistent_registry(tf_session, network, tmp_path, stage):
    registry, bake_dir = tmp_path / 'reg.db', tmp_path / 'baked'
    result = _cli('issue', '--network', network, '--registry', registry, '--owner', 'a', '--count', 5,
                  '--bake-dir', bake_dir, env={issue.CRASH_ENV: '%s:3' % stage})
    assert result.returncode == -9  # SIGKILL at the third copy
    # What the next issue does first: finish or discard what the killed one left.
    store = SQLiteStore(str(registry))
    issue.finish_interrupted(store, str(bake_dir))
    copies = list(store.copies())
    files = sorted(os.listdir(bake_dir))
    assert all(copy.state == 'issued' for copy in copies)
    assert files == sorted(os.path.basename(copy.baked_path) for copy in copies)
    assert len(copies) == (2 if stage == 'before-commit' else 3)
    with open(copies[-1].baked_path, 'rb') as f:
        baked = pickle.load(f)
    assert baked.static_kwargs.watermark_bits == ''.join(format(b, '08b') for b in copies[-1].fingerprint)


# ----------------------------------------------------------------------------
# Attributing.

def test_attribute_good_and_bad_files(network, tmp_path):
    """Images decoded to an issued copy's bits are attributed to it; bad files fail one by one."""
    registry = tmp_path / 'reg.db'
    assert _cli('issue', '--network', network, '--registry', registry, '--owner', 'carol', '--count', 3).returncode == 0
    store = SQLiteStore(str(registry))
    with tf.Graph().as_default(), tfutil.create_session().as_default():
        E = misc.load_networks(str(network))[0]
        folder = tmp_path / 'images'
        folder.mkdir()
        rng = np.random.RandomState(0)
        images = rng.randint(0, 256, (6, 3, 16, 16)).astype(np.uint8)
        for i, image in enumerate(images):
            PIL.Image.fromarray(image.transpose(1, 2, 0)).save(folder / ('img%d.png' % i))
        PIL.Image.fromarray(images[0].transpose(1, 2, 0)).resize((32, 32)).save(folder / 'big.png')
        decoded = attribute.decode_bits(E, images)
    (folder / 'text.png').write_text('no image')
    (folder / 'cut.png').write_bytes((folder / 'img0.png').read_bytes()[:200])
    PIL.Image.new('F', (16, 16)).save(folder / 'float.tif')
    # The registry now also holds exactly what img0 decodes to (8 bits, threshold 0), unless one of
    # the three random fingerprints issued above already is that (3 in 256).
    img0_code = hamming.pack(decoded[0])
    img0_id = {copy.fingerprint: copy.id for copy in store.copies()}.get(img0_code.tobytes())
    if img0_id is None:
        with store.write_lock():
            img0_id = store.add('dave', img0_code)
    result = _cli('attribute', '--network', network, '--registry', registry, folder, '--json')
    assert result.returncode == 1
    records = {os.path.basename(r['file']): r for r in map(json.loads, result.stdout.splitlines())}
    assert len(records) == 10
    assert records['img0.png']['copy_id'] == img0_id and records['img0.png']['distance'] == 0
    assert records['img0.png']['false_match'] == pytest.approx(4 / 256)
    assert records['text.png']['error'] == 'not an image file'
    assert 'truncated' in records['cut.png']['error']
    assert records['float.tif']['error'] == 'unsupported image mode F'
    assert records['big.png']['note'] == 'resized from 32x32 to 16x16'
    registered = {copy.fingerprint: copy.id for copy in store.copies()}  # threshold 0: only exact bits match
    for i in range(1, 6):
        assert records['img%d.png' % i]['copy_id'] == registered.get(hamming.pack(decoded[i]).tobytes())
    assert ', 3 failed' in result.stderr


# ----------------------------------------------------------------------------
# The bound.

@pytest.mark.parametrize('num_bits', [8, 32, 128])
def test_false_match_bound_against_scipy(num_bits):
    for matched in range(0, num_bits + 1, max(1, num_bits // 16)):
        for copies in (1, 10, 1000):
            expected = min(1.0, copies * scipy.stats.binom.sf(matched - 1, num_bits, 0.5))
            got = 10 ** attribute.log10_false_match_bound(matched, num_bits, copies)
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert attribute.log10_false_match_bound(1024, 1024, 10) == pytest.approx(math.log10(10) - 1024 * math.log10(2))
    assert attribute.format_probability(attribute.log10_false_match_bound(1024, 1024, 10)) == '5.6e-308'
    assert attribute.format_probability(-400.5) == '3.2e-401'


def test_default_threshold_is_95_percent_of_the_bits():
    assert [issue.default_threshold(d) for d in (8, 32, 64, 128, 256)] == [0, 1, 3, 6, 12]
    with pytest.raises(issue.IssueError, match='below half'):
        issue.check_threshold(16, 32)


# ----------------------------------------------------------------------------
# The Table 3 scores.

def test_table3_scores_count_each_kind_of_error():
    rng = np.random.default_rng(3)
    codes = hamming.pack(rng.integers(0, 2, (2, 32)))
    index = evaluate.CodesIndex(codes, np.array([5, 9]), 32, 1)
    own = hamming.unpack(codes, 32)
    near = own[[0, 0, 0, 0]].copy()
    near[2, :2] ^= 1  # 2 bits off: beyond t = 1, missed
    other = own[[1, 1]].copy()
    real = own[[1, 1, 1]].copy()
    real[1:, 0] ^= 1  # 1 bit from copy 9: a real image wrongly attributed
    real[2, 1:4] ^= 1  # 4 bits off: correctly none
    groups = [(real[:0], None, 'real'), (real[1:], None, 'real'), (near, 5, 'registered'), (other, 9, 'registered'),
              (own[[0]], None, 'unregistered')]
    row = evaluate.score(index, groups)
    assert row['images'] == 9 and row['real_to_copy'] == 1 and row['unregistered_to_copy'] == 1
    assert row['detection_accuracy'] == pytest.approx(6 / 9) and row['attribution_accuracy'] == pytest.approx(6 / 9)
    assert row['registered_within_t'] == pytest.approx(5 / 6) and row['registered_max_distance'] == 2


EXACT_BITS = 16


def writing_generator(latents_in, labels_in, watermark_in, **_kwargs):
    """Writes the fingerprint as black/white pixels at the start of channel 0: it survives 8-bit PNGs."""
    latents_in.set_shape([None, 8])
    labels_in.set_shape([None, 0])
    watermark_in.set_shape([None, EXACT_BITS])
    rest = tf.zeros([tf.shape(watermark_in)[0], 3 * 8 * 8 - EXACT_BITS]) + 0.01 * latents_in[:, :1]
    return tf.reshape(tf.concat([watermark_in * 2 - 1, rest], axis=1), [-1, 3, 8, 8], name='images_out')


def reading_decoder(images_in, labels_in, **_kwargs):
    images_in.set_shape([None, 3, 8, 8])
    labels_in.set_shape([None, 0])
    pixels = tf.reshape(images_in, [-1, 3 * 8 * 8])
    return tf.identity(pixels[:, :8], name='latents_out'), tf.identity(pixels[:, :EXACT_BITS], name='logits')


def exact_model(tmp_path, num_images):
    """(E, Gs, their pickle, an 8x8 demo data set of num_images): a generator that writes every bit, a decoder
    that reads it."""
    from dnnlib import tflib  # pylint: disable=import-outside-toplevel
    from training import dataset_tool_lib  # pylint: disable=import-outside-toplevel
    E = tflib.Network('E', func_name=reading_decoder)
    Gs = tflib.Network('Gs', func_name=writing_generator)
    pkl = str(tmp_path / 'exact.pkl')
    misc.save_pkl((E, None, None, Gs), pkl)
    data_dir = str(tmp_path / 'demo8')
    dataset_tool_lib.create_demo(data_dir, num_images=num_images, resolution=8, seed=0)
    return E, Gs, pkl, data_dir


def test_evaluate_end_to_end_with_a_decoder_that_reads_every_bit(tf_session, tmp_path):
    # Issue, generate as a deployed copy does, quantise to 8 bits, decode, look up and score: a
    # decoder that reads every bit must attribute every generated image to its own copy.
    E, Gs, pkl, data_dir = exact_model(tmp_path, num_images=8)
    rows = evaluate.evaluate(E, Gs, pkl, data_dir, [1, 3], images_per_copy=4, threshold=None, batch_size=4, seed=0,
                             log=lambda message: None)
    assert [(row['world'], row['copies'], row['images']) for row in rows] == [
        ('closed', 1, 8), ('open', 1, 12), ('closed', 3, 16), ('open', 3, 28)]
    for row in rows:
        assert row['registered_within_t'] == 1.0 and row['registered_max_distance'] == 0
        assert row['real_to_copy'] == 0 and row['unregistered_to_copy'] == 0
        assert row['detection_accuracy'] == row['attribution_accuracy'] == 1.0
    table = evaluate.write_outputs(rows, str(tmp_path), 4, 0, EXACT_BITS)
    assert '| open | 3 | 28 | 1.000 | 1.000 | 0 | 0 | 1.000 | 0.0 / 0 |' in table
    assert (tmp_path / 'attribution-table3.csv').read_text().count('\n') == 5


def test_evaluate_scores_the_classifier_on_the_same_images(tf_session, tmp_path):
    # With the classifier [57]: a column more, the open world only up to open_max copies, and real
    # images after the K test images for its training.
    E, Gs, pkl, data_dir = exact_model(tmp_path, num_images=12)
    classifier = dict(train_images=8, open_max=1,
                      train_kwargs=dict(steps=20, minibatch_size=8, fmap_base=32, fmap_max=16))
    rows = evaluate.evaluate(E, Gs, pkl, data_dir, [1, 2], images_per_copy=4, threshold=None, batch_size=4, seed=0,
                             log=lambda message: None, classifier=classifier)
    for row in rows:
        scored = row['world'] == 'closed' or row['copies'] <= 1
        assert (row['classifier_accuracy'] is not None) == scored
        if scored:
            assert 0 <= row['classifier_accuracy'] <= 1 and 0 <= row['classifier_detection_accuracy'] <= 1
    table = evaluate.write_outputs(rows, str(tmp_path), 4, 0, EXACT_BITS)
    assert 'classifier [57]: accuracy (detection)' in table and table.count('not run') == 1
    assert (tmp_path / 'attribution-table3.csv').read_text().splitlines()[0].endswith(
        'classifier_accuracy,classifier_detection_accuracy,classifier_seconds')
    with pytest.raises(ValueError, match='holds 12 images, fewer than the 13 asked for'):
        evaluate.evaluate(E, Gs, pkl, data_dir, [1], images_per_copy=4, threshold=None, batch_size=4, seed=0,
                          log=lambda message: None, classifier=dict(classifier, train_images=9))
