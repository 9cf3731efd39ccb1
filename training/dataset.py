"""Reading the multi-resolution TFRecord data sets written by dataset_tool.py.

A data set is a directory of `<name>-rNN.tfrecords` files, one per power-of-two
resolution 2**NN; each record is a `tf.train.Example` with the features `shape`
(int64 [C, H, W]) and `data` (the uint8 pixels in CHW order). An optional
`<name>-rxx.labels` file holds a numpy array with one row of labels per record.

`TFRecordDataset` streams one resolution into a TensorFlow graph (graph mode,
`tf.compat.v1`); the module-level helpers read records with plain Python for the
command-line tool and the tests.
"""

import collections
import glob
import os
import struct

import numpy as np
import tensorflow as tf

import dnnlib

# Header of one TFRecord: payload length (uint64) and its masked CRC (uint32); the
# payload is followed by its own CRC (uint32).
_RECORD_HEADER = struct.Struct('<QI')
_RECORD_FOOTER_SIZE = 4

# The prefetch buffer holds whole minibatches; a handful keeps the consumer fed
# without a background thread filling gigabytes on a small machine.
MAX_PREFETCH_MINIBATCHES = 4

_record_count_cache = {}

RecordFile = collections.namedtuple('RecordFile', ['path', 'shape'])


def _record_payloads(path, read_payload):
    """Yields each record's payload (bytes), or None per record when read_payload is False."""
    file_size = os.path.getsize(path)
    with open(path, 'rb') as file:
        position = 0
        while position < file_size:
            header = file.read(_RECORD_HEADER.size)
            if len(header) < _RECORD_HEADER.size:
                raise ValueError('%s: truncated record file' % path)
            length, _ = _RECORD_HEADER.unpack(header)
            position += _RECORD_HEADER.size + length + _RECORD_FOOTER_SIZE
            if position > file_size:
                raise ValueError('%s: truncated record file' % path)
            if read_payload:
                yield file.read(length)
                file.seek(_RECORD_FOOTER_SIZE, os.SEEK_CUR)
            else:
                file.seek(position)
                yield None


def count_records(path):
    """Number of records in a TFRecord file, counted from the record headers once per file version."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _record_count_cache:
        _record_count_cache[key] = sum(1 for _ in _record_payloads(path, read_payload=False))
    return _record_count_cache[key]


def serialize_image_record(image):
    """Serializes a uint8 CHW image as a tf.train.Example with features `shape` and `data`."""
    return tf.train.Example(features=tf.train.Features(feature={
        'shape': tf.train.Feature(int64_list=tf.train.Int64List(value=image.shape)),
        'data': tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
    })).SerializeToString()


def parse_image_record(payload):
    """Decodes one serialized tf.train.Example into a uint8 CHW array."""
    features = tf.train.Example.FromString(payload).features.feature
    shape = list(features['shape'].int64_list.value)
    data = features['data'].bytes_list.value[0]
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def read_images(path):
    """Yields the images of a TFRecord file in order, as uint8 CHW arrays."""
    for payload in _record_payloads(path, read_payload=True):
        yield parse_image_record(payload)


def list_record_files(tfrecord_dir):
    """Maps log2(resolution) to the RecordFile (path, [C, H, W]) holding that resolution.

    The resolution comes from each file's first record rather than its name, so a
    renamed data set directory still loads.
    """
    if not os.path.isdir(tfrecord_dir):
        raise FileNotFoundError('data set directory not found: %s' % tfrecord_dir)
    files = {}
    for path in sorted(glob.glob(os.path.join(tfrecord_dir, '*.tfrecords'))):
        first_payload = next(_record_payloads(path, read_payload=True), None)
        if first_payload is None:
            raise ValueError('%s holds no records' % path)
        shape = list(parse_image_record(first_payload).shape)
        resolution_log2 = shape[1].bit_length() - 1
        if resolution_log2 in files:
            raise ValueError('%s and %s both hold %dx%d images' % (files[resolution_log2].path, path, shape[1], shape[2]))
        files[resolution_log2] = RecordFile(path, shape)
    if not files:
        raise ValueError('no .tfrecords files in %s' % tfrecord_dir)
    return files


def find_label_file(tfrecord_dir):
    """Path of the data set's .labels file, or None."""
    candidates = sorted(glob.glob(os.path.join(tfrecord_dir, '*.labels')))
    return candidates[0] if candidates else None


def load_labels(label_file):
    """Loads a .labels file as a float32 [N, label_size] array."""
    labels = np.load(label_file)
    if labels.ndim == 1:
        labels = labels[:, np.newaxis]
    if labels.ndim != 2:
        raise ValueError('%s: expected a 2-D label array, found shape %s' % (label_file, list(labels.shape)))
    return labels.astype(np.float32)


def random_mirror(images):
    """Flips each NCHW image horizontally with probability 1/2."""
    flip = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < 0.5
    return tf.where(flip, tf.reverse(images, axis=[3]), images)


def images_to_float_np(images):
    """NumPy twin of images_to_float for images fed from memory: uint8 [0, 255] -> float32 [-1, 1]."""
    return images.astype(np.float32) / 127.5 - 1


def images_to_float(images, mirror_augment=False):
    """Maps uint8 NCHW images in [0, 255] to float32 in [-1, 1], optionally mirrored at random."""
    images = tf.cast(images, tf.float32) / 127.5 - 1.0
    return random_mirror(images) if mirror_augment else images


class TFRecordDataset:
    """Streams one resolution of a data set directory through a tf.data pipeline.

    Graph ops are created in the default graph at construction; `configure()` and
    `get_minibatch_np()` run them in the default session.
    """

    def __init__(self, tfrecord_dir, resolution=None, label_file=None, max_label_size=0, max_images=None,
                 repeat=True, shuffle_mb=4096, prefetch_mb=2048, buffer_mb=256, num_threads=2, mirror_augment=False):
        self.tfrecord_dir = tfrecord_dir
        self.name = os.path.basename(os.path.normpath(tfrecord_dir))
        files = list_record_files(tfrecord_dir)
        if resolution is None:
            self.resolution_log2 = max(files)
        else:
            self.resolution_log2 = int(resolution).bit_length() - 1
            if 2 ** self.resolution_log2 != resolution or self.resolution_log2 not in files:
                available = ', '.join(str(2 ** r) for r in sorted(files))
                raise ValueError('%s has no %s-pixel records (available: %s)' % (tfrecord_dir, resolution, available))
        self.record_file, self.shape = files[self.resolution_log2]
        self.resolution = self.shape[1]
        self.dtype = 'uint8'
        self.dynamic_range = [0, 255]
        self.num_images = count_records(self.record_file)
        if max_images is not None:
            self.num_images = min(self.num_images, max_images)
        if self.num_images < 1:
            raise ValueError('%s: no images selected' % tfrecord_dir)

        self._labels = self._read_labels(label_file, max_label_size)
        self.label_size = self._labels.shape[1]
        self.label_dtype = 'float32'
        self.mirror_augment = mirror_augment

        self._bytes_per_image = int(np.prod(self.shape))
        self._prefetch_bytes = prefetch_mb << 20
        self._split_counts = set()
        self._configured = None
        self._np_minibatch = None
        with tf.name_scope('Dataset'), tf.device('/cpu:0'):
            self._minibatch_in = tf.compat.v1.placeholder(tf.int64, shape=[], name='minibatch_in')
            self._prefetch_in = tf.compat.v1.placeholder(tf.int64, shape=[], name='prefetch_in')
            self._tf_labels = tf.constant(self._labels, name='labels')
            shuffle_images = min((shuffle_mb << 20) // self._bytes_per_image, self.num_images)
            read_buffer = min(buffer_mb << 20, os.path.getsize(self.record_file))
            pipeline = tf.data.Dataset.zip((
                tf.data.TFRecordDataset(self.record_file, buffer_size=read_buffer),
                tf.data.Dataset.range(self.num_images)))
            if shuffle_images > 1:
                pipeline = pipeline.shuffle(shuffle_images)
            if repeat:
                pipeline = pipeline.repeat()
            # Parsing whole minibatches costs far less per image than parsing records one by one.
            pipeline = pipeline.batch(self._minibatch_in)
            pipeline = pipeline.map(self._parse_minibatch, num_parallel_calls=num_threads)
            pipeline = pipeline.prefetch(self._prefetch_in)
            self._iterator = tf.compat.v1.data.make_initializable_iterator(pipeline)

    def _read_labels(self, label_file, max_label_size):
        """Labels of the selected images as float32 [num_images, label_size] (label_size may be 0)."""
        if label_file is None:
            label_file = find_label_file(self.tfrecord_dir)
        if label_file is None:
            return np.zeros([self.num_images, 0], np.float32)
        labels = load_labels(label_file)
        if labels.shape[0] < self.num_images:
            raise ValueError('%s holds %d label rows for %d images' % (label_file, labels.shape[0], self.num_images))
        if max_label_size != 'full':
            labels = labels[:, :max_label_size]
        return np.ascontiguousarray(labels[:self.num_images])

    def _parse_minibatch(self, records, indices):
        data = tf.io.parse_example(records, {'data': tf.io.FixedLenFeature([], tf.string)})['data']
        images = tf.reshape(tf.io.decode_raw(data, tf.uint8), [-1] + self.shape)
        return images, tf.gather(self._tf_labels, indices)

    def configure(self, minibatch_size, lod=0):
        """Sets the minibatch size of the pipeline (restarting it when the size changes).

        `lod` is StyleGAN2's level of detail for progressive growing, which config-e
        does not use; only 0 is accepted (pick another stored resolution with
        `resolution=` instead).
        """
        if lod != 0:
            raise ValueError('lod=%s requested: only lod=0 is streamed; use resolution= to read a lower resolution' % lod)
        for num_splits in self._split_counts:
            if minibatch_size % num_splits:
                raise ValueError('minibatch size %d does not split into %d equal parts' % (minibatch_size, num_splits))
        session = tf.compat.v1.get_default_session()
        if session is None:
            raise RuntimeError('TFRecordDataset.configure() needs a default tf.compat.v1.Session')
        if self._configured != (session, minibatch_size):
            batch_bytes = self._bytes_per_image * minibatch_size
            prefetch = int(np.clip(self._prefetch_bytes // batch_bytes, 1, MAX_PREFETCH_MINIBATCHES))
            session.run(self._iterator.initializer, {self._minibatch_in: minibatch_size, self._prefetch_in: prefetch})
            self._configured = (session, minibatch_size)

    def get_minibatch_tf(self):
        """Tensors (images uint8 [N, C, H, W], labels float32 [N, label_size]) of the next minibatch."""
        with tf.name_scope('Dataset'), tf.device('/cpu:0'):
            images, labels = self._iterator.get_next()
            if self.mirror_augment:
                images = random_mirror(images)
            return images, labels

    def get_minibatch_split_tf(self, num_splits):
        """One minibatch as `num_splits` equal (images, labels) parts, e.g. one per device."""
        self._split_counts.add(num_splits)
        images, labels = self.get_minibatch_tf()
        return list(zip(tf.split(images, num_splits), tf.split(labels, num_splits)))

    def get_minibatch_np(self, minibatch_size, lod=0):
        """The next minibatch as numpy arrays; raises tf.errors.OutOfRangeError at the end when repeat=False."""
        self.configure(minibatch_size, lod)
        if self._np_minibatch is None:
            self._np_minibatch = self.get_minibatch_tf()
        return tf.compat.v1.get_default_session().run(self._np_minibatch)

    def get_random_labels_tf(self, minibatch_size):
        """Labels of images drawn at random, float32 [minibatch_size, label_size]."""
        indices = tf.random.uniform([minibatch_size], 0, self.num_images, dtype=tf.int32)
        return tf.gather(self._tf_labels, indices)

    def get_random_labels_np(self, minibatch_size):
        return self._labels[np.random.randint(self.num_images, size=[minibatch_size])]


def load_dataset(class_name=None, data_dir=None, verbose=False, **kwargs):
    """Creates a data set object; `tfrecord_dir` is taken relative to `data_dir` when given."""
    kwargs = dict(kwargs)
    if data_dir is not None and 'tfrecord_dir' in kwargs:
        kwargs['tfrecord_dir'] = os.path.join(data_dir, kwargs['tfrecord_dir'])
    dataset_class = TFRecordDataset if class_name is None else dnnlib.util.get_obj_by_name(class_name)
    if verbose:
        print('Streaming data using %s...' % dataset_class.__name__)
    dataset = dataset_class(**kwargs)
    if verbose:
        print('Dataset shape = %s' % dataset.shape)
        print('Dynamic range = %s' % dataset.dynamic_range)
        print('Label size    = %d' % dataset.label_size)
        print('Images        = %d' % dataset.num_images)
    return dataset
