"""training/dataset.py: the tf.data pipeline over data set records, in graph mode."""

import os

import numpy as np
import pytest
import tensorflow as tf

from training import dataset
from training import dataset_tool_lib as lib

tf.compat.v1.disable_eager_execution()

COUNT = 12
SIZE = 8


def make_images(count=COUNT, size=SIZE):
    """Distinct, left-right asymmetric uint8 CHW images: pixel values grow along x."""
    x = np.arange(size, dtype=np.uint8) * 30
    return np.stack([np.broadcast_to(x + i, (3, size, size)) for i in range(count)]).astype(np.uint8)


@pytest.fixture
def labelled_set(tmp_path):
    """A data set of make_images() with 3 labels per image; returns (directory, images, labels)."""
    images = make_images()
    labels = np.random.RandomState(0).uniform(size=(COUNT, 3)).astype(np.float32)
    directory = str(tmp_path / 'tiny')
    lib.write_dataset(directory, iter(images), labels)
    return directory, images, labels


@pytest.fixture
def session():
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        tf.compat.v1.set_random_seed(1)
        yield sess


def test_minibatches_have_the_documented_shapes_types_and_contents(labelled_set, session):
    directory, images, labels = labelled_set
    data = dataset.TFRecordDataset(directory, max_label_size='full', shuffle_mb=0)
    assert (data.name, data.shape, data.resolution, data.resolution_log2) == ('tiny', [3, SIZE, SIZE], SIZE, 3)
    assert (data.dtype, data.dynamic_range, data.label_size, data.label_dtype) == ('uint8', [0, 255], 3, 'float32')
    assert data.num_images == COUNT
    batch_images, batch_labels = data.get_minibatch_tf()
    assert batch_images.shape.as_list() == [None, 3, SIZE, SIZE] and batch_images.dtype == tf.uint8
    assert batch_labels.shape.as_list() == [None, 3] and batch_labels.dtype == tf.float32
    data.configure(5)
    first, first_labels = session.run([batch_images, batch_labels])
    second, _ = session.run([batch_images, batch_labels])
    assert np.array_equal(first, images[:5]) and np.array_equal(first_labels, labels[:5])
    assert np.array_equal(second, images[5:10])


def test_images_to_float_maps_0_255_onto_minus_1_plus_1(session):
    images = tf.constant(np.array([0, 127, 255], np.uint8).reshape(1, 1, 1, 3))
    assert np.allclose(session.run(dataset.images_to_float(images)).ravel(), [-1, 127 / 127.5 - 1, 1])


def test_labels_are_truncated_to_max_label_size(labelled_set, session):
    directory, _, labels = labelled_set
    assert dataset.TFRecordDataset(directory).label_size == 0
    data = dataset.TFRecordDataset(directory, max_label_size=2, shuffle_mb=0)
    assert data.label_size == 2
    assert np.array_equal(data.get_minibatch_np(4)[1], labels[:4, :2])
    random_labels = data.get_random_labels_np(6)
    assert random_labels.shape == (6, 2) and all(any(np.array_equal(r, l) for l in labels[:, :2]) for r in random_labels)
    assert session.run(data.get_random_labels_tf(6)).shape == (6, 2)


def test_mirror_augment_flips_some_images_horizontally(labelled_set, session):
    directory, images, _ = labelled_set
    data = dataset.TFRecordDataset(directory, shuffle_mb=0, mirror_augment=True)
    batch = data.get_minibatch_np(COUNT)[0]
    flipped = [np.array_equal(b, i[:, :, ::-1]) for b, i in zip(batch, images)]
    kept = [np.array_equal(b, i) for b, i in zip(batch, images)]
    assert all(f != k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)

    as_float = session.run(dataset.images_to_float(tf.constant(images), mirror_augment=True))
    expected = images / 127.5 - 1
    flips = [np.allclose(f, e[:, :, ::-1], atol=1e-6) for f, e in zip(as_float, expected)]
    assert all(f or np.allclose(a, e, atol=1e-6) for f, a, e in zip(flips, as_float, expected)) and any(flips)


def test_minibatch_splits_across_devices(labelled_set, session):
    directory, images, labels = labelled_set
    data = dataset.TFRecordDataset(directory, max_label_size='full', shuffle_mb=0)
    parts = data.get_minibatch_split_tf(2)
    data.configure(6)
    (images_a, labels_a), (images_b, labels_b) = session.run(parts)
    assert np.array_equal(images_a, images[:3]) and np.array_equal(images_b, images[3:6])
    assert np.array_equal(labels_b, labels[3:6])
    with pytest.raises(ValueError, match='split'):
        data.configure(5)


def test_one_epoch_without_repeat_is_a_shuffled_permutation(labelled_set, session):
    directory, images, _ = labelled_set
    data = dataset.TFRecordDataset(directory, repeat=False, max_images=10)
    assert data.num_images == 10
    epoch = data.get_minibatch_np(10)[0]
    assert sorted(image.tobytes() for image in epoch) == sorted(image.tobytes() for image in images[:10])
    with pytest.raises(tf.errors.OutOfRangeError):
        data.get_minibatch_np(10)


def test_lower_resolution_is_selectable(labelled_set, session):
    directory, _, _ = labelled_set
    data = dataset.TFRecordDataset(directory, resolution=4, shuffle_mb=0)
    assert data.shape == [3, 4, 4] and data.get_minibatch_np(2)[0].shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match='available: 4, 8'):
        dataset.TFRecordDataset(directory, resolution=16)
    with pytest.raises(ValueError, match='lod'):
        data.configure(2, lod=1)


def test_records_written_by_hand_load_unchanged(tmp_path, session):
    # The documented format, written without dataset_tool: features `shape` and `data` only.
    images = np.random.RandomState(2).randint(0, 256, size=(4, 1, 16, 16)).astype(np.uint8)
    (tmp_path / 'hand').mkdir()
    with tf.io.TFRecordWriter(str(tmp_path / 'hand' / 'whatever-r04.tfrecords')) as writer:
        for image in images:
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                'shape': tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 16, 16])),
                'data': tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
            })).SerializeToString())
    data = dataset.load_dataset(data_dir=str(tmp_path), tfrecord_dir='hand', shuffle_mb=0)
    assert (data.shape, data.num_images, data.label_size) == ([1, 16, 16], 4, 0)
    batch_images, batch_labels = data.get_minibatch_np(4)
    assert np.array_equal(batch_images, images) and batch_labels.shape == (4, 0)


def test_load_dataset_reports_missing_or_empty_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        dataset.load_dataset(data_dir=str(tmp_path), tfrecord_dir='missing')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no .tfrecords'):
        dataset.load_dataset(data_dir=str(tmp_path), tfrecord_dir='empty')
    (tmp_path / 'empty' / 'x-r02.tfrecords').write_bytes(b'')
    with pytest.raises(ValueError, match='holds no records'):
        dataset.load_dataset(tfrecord_dir=str(tmp_path / 'empty'))
    (tmp_path / 'empty' / 'x-r02.tfrecords').write_bytes(b'\x10' + b'\0' * 7)
    with pytest.raises(ValueError, match='truncated'):
        dataset.load_dataset(tfrecord_dir=str(tmp_path / 'empty'))


def test_record_count_is_cached_per_file_version(labelled_set):
    directory, _, _ = labelled_set
    path = dataset.list_record_files(directory)[3].path
    assert dataset.count_records(path) == COUNT
    assert any(key[0] == os.path.abspath(path) for key in dataset._record_count_cache)
