"""dataset_tool.py: record layout, image sources, robustness and the reading commands."""

import gzip
import io
import os
import pickle
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

from training import dataset
from training import dataset_tool_lib as lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_tool(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    return subprocess.run([sys.executable, os.path.join(REPO, 'dataset_tool.py')] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def save_image(path, array, **options):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    PIL.Image.fromarray(array).save(path, **options)


def random_images(count, size, channels=3, seed=0):
    shape = (count, size, size, channels) if channels == 3 else (count, size, size)
    return np.random.RandomState(seed).randint(0, 256, size=shape, dtype=np.uint8)


def levels(tfrecord_dir):
    """All stored resolutions of a data set: {log2 resolution: [C, H, W] images}."""
    return {level: list(dataset.read_images(record.path))
            for level, record in dataset.list_record_files(str(tfrecord_dir)).items()}


def test_images_to_records_to_extract_is_bit_exact(tmp_path):
    originals = random_images(5, 16)
    for index, image in enumerate(originals):
        save_image(str(tmp_path / 'in' / ('%02d.png' % index)), image)
    target = tmp_path / 'set'
    target.mkdir()  # an existing empty directory is replaced
    lib.create_from_images(str(target), str(tmp_path / 'in'), shuffle=False)
    lib.extract(str(target), str(tmp_path / 'out'))
    extracted = sorted(os.listdir(tmp_path / 'out'))
    assert extracted == ['img%08d.png' % i for i in range(5)]
    for name, image in zip(extracted, originals):
        assert np.array_equal(np.asarray(PIL.Image.open(tmp_path / 'out' / name)), image)
    assert sorted(os.listdir(tmp_path)) == ['in', 'out', 'set']


def test_every_lower_resolution_is_the_box_filter_reduction_of_the_one_above(tmp_path):
    images = random_images(3, 32, channels=3, seed=1)
    lib.write_dataset(str(tmp_path / 'set'), (image.transpose(2, 0, 1) for image in images))
    stored = levels(tmp_path / 'set')
    assert sorted(stored) == [2, 3, 4, 5]
    assert sorted(os.listdir(tmp_path / 'set')) == ['set-r%02d.tfrecords' % level for level in (2, 3, 4, 5)]
    for level in (5, 4, 3):
        for above, below in zip(stored[level], stored[level - 1]):
            x = above.astype(np.float32)
            expected = np.rint((x[:, 0::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 0::2] + x[:, 1::2, 1::2]) * 0.25)
            assert below.dtype == np.uint8 and np.array_equal(below, expected.clip(0, 255).astype(np.uint8))


def test_mixed_folder_keeps_every_good_image_and_reports_bad_files(tmp_path):
    source = tmp_path / 'in'
    rgb = random_images(2, 16, seed=2)
    gray = random_images(1, 16, channels=1, seed=3)[0]
    wide = random_images(1, 32, seed=4)[0][:16]  # 32 wide, 16 high
    save_image(str(source / 'a.png'), rgb[0])
    save_image(str(source / 'sub' / 'b.png'), rgb[1])
    save_image(str(source / 'c_gray.png'), gray)
    save_image(str(source / 'd_wide.jpg'), wide, quality=95)
    good_png = (source / 'a.png').read_bytes()
    (source / 'e_corrupt.png').write_bytes(good_png[:len(good_png) // 2])
    (source / 'f_text.png').write_text('not an image')
    (source / 'notes.txt').write_text('hello')

    result = run_tool('create_from_images', tmp_path / 'set', source, '--shuffle', '0')
    assert result.returncode == 0, result.stderr
    assert 'e_corrupt.png' in result.stderr and 'f_text.png' in result.stderr and 'notes.txt' in result.stderr
    assert 'Skipped 3' in result.stderr

    stored = levels(tmp_path / 'set')[4]
    with PIL.Image.open(source / 'd_wide.jpg') as jpeg:
        cropped = np.asarray(jpeg.convert('RGB'))[:, 8:24]
    expected = [rgb[0], np.stack([gray] * 3, axis=-1), cropped, rgb[1]]  # sorted paths: a, c, d, sub/b
    assert len(stored) == len(expected)
    for image, want in zip(stored, expected):
        assert np.array_equal(image.transpose(1, 2, 0), want)


def test_all_grayscale_folder_makes_a_one_channel_data_set(tmp_path):
    for index, image in enumerate(random_images(2, 8, channels=1, seed=5)):
        save_image(str(tmp_path / 'in' / ('%d.png' % index)), image)
    lib.create_from_images(str(tmp_path / 'set'), str(tmp_path / 'in'), resolution=4)
    assert dataset.list_record_files(str(tmp_path / 'set'))[2].shape == [1, 4, 4]


def test_shuffle_and_num_images_pick_usable_images(tmp_path):
    images = random_images(6, 8, seed=6)
    for index, image in enumerate(images):
        save_image(str(tmp_path / 'in' / ('%d.png' % index)), image)
    (tmp_path / 'in' / '0.png').write_text('broken')
    lib.create_from_images(str(tmp_path / 'first'), str(tmp_path / 'in'), shuffle=False, num_images=3)
    assert [im.transpose(1, 2, 0).tobytes() for im in levels(tmp_path / 'first')[3]] == \
        [im.tobytes() for im in images[1:4]]
    lib.create_from_images(str(tmp_path / 'shuffled'), str(tmp_path / 'in'), shuffle=True, num_images=3)
    shuffled = [im.transpose(1, 2, 0).tobytes() for im in levels(tmp_path / 'shuffled')[3]]
    assert len(shuffled) == 3 and set(shuffled) <= {im.tobytes() for im in images[1:]}


def write_nothing(tmp_path):
    (tmp_path / 'empty').mkdir()
    return ['create_from_images', tmp_path / 'set', tmp_path / 'empty']


def write_unreadable(tmp_path):
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'x.png').write_text('no')
    (tmp_path / 'bad' / 'y.jpg').write_bytes(b'\xff\xd8\xff')
    return ['create_from_images', tmp_path / 'set', tmp_path / 'bad']


def write_missing_input(tmp_path):
    return ['create_from_images', tmp_path / 'set', tmp_path / 'missing']


def write_bad_resolution(tmp_path):
    save_image(str(tmp_path / 'in' / 'a.png'), random_images(1, 8)[0])
    return ['create_from_images', tmp_path / 'set', tmp_path / 'in', '--resolution', '24']


def write_non_power_of_two_images(tmp_path):
    save_image(str(tmp_path / 'in' / 'a.png'), random_images(1, 24)[0])
    return ['create_from_images', tmp_path / 'set', tmp_path / 'in']


def write_existing_data_set(tmp_path):
    save_image(str(tmp_path / 'in' / 'a.png'), random_images(1, 8)[0])
    (tmp_path / 'set').mkdir()
    (tmp_path / 'set' / 'set-r03.tfrecords').write_bytes(b'old')
    return ['create_from_images', tmp_path / 'set', tmp_path / 'in']


def write_demo_bad_resolution(tmp_path):
    return ['create_demo', tmp_path / 'set', '--resolution', '2']


def write_cifar_missing_batches(tmp_path):
    (tmp_path / 'cifar').mkdir()
    return ['create_cifar10', tmp_path / 'set', tmp_path / 'cifar']


@pytest.mark.parametrize('make_case', [
    write_nothing, write_unreadable, write_missing_input, write_bad_resolution, write_non_power_of_two_images,
    write_existing_data_set, write_demo_bad_resolution, write_cifar_missing_batches])
def test_error_prints_one_line_and_leaves_nothing_behind(tmp_path, make_case):
    args = make_case(tmp_path)
    before = {path: path.read_bytes() if path.is_file() else None for path in tmp_path.rglob('*')}
    result = run_tool(*args)
    assert result.returncode in (1, 2)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith('dataset_tool: error: '), result.stderr
    after = {path: path.read_bytes() if path.is_file() else None for path in tmp_path.rglob('*')}
    assert after == before


def test_interrupted_write_leaves_nothing_behind(tmp_path):
    def interrupted():
        yield np.zeros([3, 8, 8], np.uint8)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lib.write_dataset(str(tmp_path / 'set'), interrupted())
    assert os.listdir(tmp_path) == []


def test_create_demo_is_deterministic(tmp_path):
    for name, seed in (('a', 7), ('b', 7), ('c', 8)):
        lib.create_demo(str(tmp_path / name), num_images=12, resolution=16, seed=seed)

    def record_bytes(name):
        return [(tmp_path / name / ('%s-r%02d.tfrecords' % (name, level))).read_bytes() for level in (2, 3, 4)]

    assert record_bytes('a') == record_bytes('b')
    assert record_bytes('a')[-1] != record_bytes('c')[-1]
    images = np.stack(levels(tmp_path / 'a')[4])
    assert images.shape == (12, 3, 16, 16) and images.std() > 20


def test_create_celeba_crops_128_pixels_centred_at_89_121(tmp_path):
    y, x = np.mgrid[0:218, 0:178]
    for index in range(3):
        pattern = np.stack([x, y, np.full_like(x, index)], axis=-1).astype(np.uint8)
        save_image(str(tmp_path / 'celeba' / ('%06d.png' % index)), pattern)
    save_image(str(tmp_path / 'celeba' / '000000_small.png'), np.zeros([100, 100, 3], np.uint8))
    lib.create_celeba(str(tmp_path / 'set'), str(tmp_path / 'celeba'), num_images=2, shuffle=False)
    stored = levels(tmp_path / 'set')[7]
    assert len(stored) == 2
    for index, image in enumerate(stored):
        assert image.shape == (3, 128, 128)
        assert np.array_equal(image[0], np.broadcast_to(np.arange(25, 153), (128, 128)))
        assert np.array_equal(image[1], np.broadcast_to(np.arange(57, 185)[:, None], (128, 128)))
        assert np.all(image[2] == index)


def one_hot(labels):
    return np.eye(10, dtype=np.float32)[labels]


def test_create_cifar10_from_python_batches(tmp_path):
    images = random_images(10, 32, seed=8).transpose(0, 3, 1, 2)
    labels = np.arange(10) % 10
    (tmp_path / 'cifar').mkdir()
    for batch in range(5):
        part = slice(2 * batch, 2 * batch + 2)
        content = {'data': images[part].reshape(2, -1), 'labels': labels[part].tolist()}
        (tmp_path / 'cifar' / ('data_batch_%d' % (batch + 1))).write_bytes(pickle.dumps(content, protocol=2))
    lib.create_cifar10(str(tmp_path / 'set'), str(tmp_path / 'cifar'))
    order = np.random.RandomState(123).permutation(10)
    assert np.array_equal(np.stack(levels(tmp_path / 'set')[5]), images[order])
    assert np.array_equal(np.load(tmp_path / 'set' / 'set-rxx.labels'), one_hot(labels[order]))


def test_cifar10_batches_cannot_run_code(tmp_path):
    (tmp_path / 'cifar').mkdir()
    for batch in range(1, 6):
        (tmp_path / 'cifar' / ('data_batch_%d' % batch)).write_bytes(pickle.dumps({'data': os.getcwd}))
    with pytest.raises(lib.DatasetToolError, match='not a CIFAR-10 python batch'):
        lib.create_cifar10(str(tmp_path / 'set'), str(tmp_path / 'cifar'))


def idx_bytes(array):
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, '>u4').tobytes()
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_create_mnist_pads_digits_to_32_pixels(tmp_path):
    digits = random_images(4, 28, channels=1, seed=9)
    labels = np.array([3, 1, 4, 1])
    (tmp_path / 'mnist').mkdir()
    (tmp_path / 'mnist' / 'train-images-idx3-ubyte.gz').write_bytes(idx_bytes(digits))
    (tmp_path / 'mnist' / 'train-labels-idx1-ubyte.gz').write_bytes(idx_bytes(labels))
    lib.create_mnist(str(tmp_path / 'set'), str(tmp_path / 'mnist'))
    order = np.random.RandomState(123).permutation(4)
    stored = np.stack(levels(tmp_path / 'set')[5])
    assert stored.shape == (4, 1, 32, 32)
    assert np.array_equal(stored[:, 0, 2:30, 2:30], digits[order]) and stored[:, :, :2].max() == 0
    assert np.array_equal(np.load(tmp_path / 'set' / 'set-rxx.labels'), one_hot(labels[order]))


def test_create_lsun_from_lmdb(tmp_path, capsys):
    lmdb = pytest.importorskip('lmdb')
    entries = []
    for index, image in enumerate(random_images(2, 16, seed=10)):
        buffer = io.BytesIO()
        PIL.Image.fromarray(np.concatenate([image, image[:, :8]], axis=1)).save(buffer, 'PNG')  # 24x16
        entries.append((b'img%d' % index, buffer.getvalue()))
    entries.insert(1, (b'broken', b'garbage'))
    with lmdb.open(str(tmp_path / 'lmdb'), map_size=1 << 24) as environment, environment.begin(write=True) as txn:
        for key, value in entries:
            txn.put(key, value)
    lib.create_lsun(str(tmp_path / 'set'), str(tmp_path / 'lmdb'), resolution=8)
    assert [image.shape for image in levels(tmp_path / 'set')[3]] == [(3, 8, 8)] * 2
    assert 'broken' in capsys.readouterr().err


def test_create_lsun_without_lmdb_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'lmdb', None)
    with pytest.raises(lib.DatasetToolError, match='pip install lmdb'):
        lib.create_lsun(str(tmp_path / 'set'), str(tmp_path))


def test_info_compare_and_display(tmp_path, capsys):
    lib.create_demo(str(tmp_path / 'a'), num_images=6, resolution=8, seed=1)
    lib.create_demo(str(tmp_path / 'b'), num_images=6, resolution=8, seed=1)
    lib.create_demo(str(tmp_path / 'c'), num_images=5, resolution=8, seed=2)
    assert lib.info(str(tmp_path / 'a')) == {3: 6, 2: 6}
    same = lib.compare(str(tmp_path / 'a'), str(tmp_path / 'b'))
    assert same['identical_images'] == 6 and same['different_images'] == 0
    other = lib.compare(str(tmp_path / 'a'), str(tmp_path / 'c'))
    assert (other['identical_images'], other['different_images'], other['images_a'], other['images_b']) == (0, 5, 6, 5)
    assert lib.display(str(tmp_path / 'a'), num_images=4, output=str(tmp_path / 'grid.png')) == 4
    assert PIL.Image.open(tmp_path / 'grid.png').size == (16, 16)
    output = capsys.readouterr().out
    assert 'image 3: 3x8x8' in output and '8x8' in output and 'Channels: 3' in output
