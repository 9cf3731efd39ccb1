"""Creating, inspecting and extracting data sets in the StyleGAN2 multi-resolution
TFRecord layout (see training/dataset.py for the layout); dataset_tool.py is the
command-line front of these functions.

Every writer stages its output in a temporary sibling directory and renames it into
place only when complete, so an interrupted or failed run leaves nothing that looks
like a finished data set. TensorFlow is imported only where records are read or
written: it takes seconds to load, and argument errors should be reported at once.
"""

import gzip
import io
import itertools
import math
import os
import pickle
import shutil
import sys
import tempfile
import time

import numpy as np
import PIL.Image

from training.images import png_bytes, save_image_grid

SHUFFLE_SEED = 123  # StyleGAN2's fixed seed for shuffled data sets
MIN_RESOLUTION = 4
PROGRESS_INTERVAL = 1000  # images between progress lines
REPORT_NAMES = 5  # skipped files named in the final report
CELEBA_CROP = 128
CLASS_COUNT = 10  # CIFAR-10 and MNIST
MNIST_PAD = 2  # 28x28 digits padded to 32x32


class DatasetToolError(Exception):
    """A problem with the user's input or output paths, reported as one line."""


# ---------------------------------------------------------------------------
# Output directories and record writing.

def check_resolution(resolution, context=None):
    if resolution < MIN_RESOLUTION or resolution & (resolution - 1):
        message = 'resolution %d is not a power of two >= %d' % (resolution, MIN_RESOLUTION)
        raise DatasetToolError('%s: %s' % (context, message) if context else message)


def check_output_dir(path):
    """Refuses an output path that exists as anything but an empty directory."""
    if not os.path.exists(path):
        return
    if not os.path.isdir(path):
        raise DatasetToolError('%s exists and is not a directory' % path)
    entries = os.listdir(path)
    if any(entry.endswith('.tfrecords') for entry in entries):
        raise DatasetToolError('%s already holds a data set' % path)
    if entries:
        raise DatasetToolError('%s exists and is not empty' % path)


class StagedDirectory:
    """A directory filled under a temporary sibling name and renamed into place by commit()."""

    def __init__(self, final_dir):
        check_output_dir(final_dir)
        self.final_dir = os.path.normpath(final_dir)
        parent = os.path.dirname(os.path.abspath(self.final_dir))
        os.makedirs(parent, exist_ok=True)
        prefix = '%s.tmp-%d-' % (os.path.basename(self.final_dir), os.getpid())
        self.path = tempfile.mkdtemp(prefix=prefix, dir=parent)
        # mkdtemp makes the directory private; give it the permissions of an ordinary mkdir.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.path, 0o777 & ~umask)

    def commit(self):
        # rename() replaces an empty directory atomically and fails on a non-empty one.
        try:
            os.rename(self.path, self.final_dir)
        except OSError:
            raise DatasetToolError('%s was filled by someone else meanwhile; the new output was discarded' % self.final_dir)

    def discard(self):
        shutil.rmtree(self.path, ignore_errors=True)


def reduce_2x2(image):
    """2x2 box-filter reduction of a uint8 CHW image, rounded to uint8 like StyleGAN2."""
    x = image.astype(np.float32)
    x = (x[:, 0::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 0::2] + x[:, 1::2, 1::2]) * 0.25
    return np.rint(x).clip(0, 255).astype(np.uint8)


def resolution_pyramid(image):
    """The image, then each stored lower resolution down to 4x4, each reduced from the one above."""
    levels = [image]
    while levels[-1].shape[1] > MIN_RESOLUTION:
        levels.append(reduce_2x2(levels[-1]))
    return levels


def check_image(image):
    """Refuses a first image that the layout cannot hold: it fixes the data set's shape."""
    if image.dtype != np.uint8 or image.ndim != 3:
        raise DatasetToolError('images must be uint8 CHW arrays, found %s %s' % (image.dtype, list(image.shape)))
    channels, height, width = image.shape
    if channels not in (1, 3):
        raise DatasetToolError('images must have 1 or 3 channels, found %d' % channels)
    if height != width:
        raise DatasetToolError('images must be square, found %dx%d' % (width, height))
    check_resolution(height)


def write_dataset(tfrecord_dir, images, labels=None, source=None, extra_files=None):
    """Writes uint8 CHW images (an iterable, all of one shape) as a data set directory.

    `labels` (optional) holds one row per image. `source` names the input in the
    error raised when `images` yields nothing. `extra_files` ({file name: text})
    are written into the directory with the records, so they appear together.
    Returns the number of images written.
    """
    import tensorflow as tf  # here rather than at the top: see the module docstring

    staging = StagedDirectory(tfrecord_dir)
    name = os.path.basename(staging.final_dir)
    writers = []
    count = 0
    shape = None
    start = time.time()
    try:
        for image in images:
            if shape is None:
                shape = image.shape
                check_image(image)
                for level in range(int(math.log2(shape[1])), 1, -1):
                    path = os.path.join(staging.path, '%s-r%02d.tfrecords' % (name, level))
                    writers.append(tf.io.TFRecordWriter(path))
            elif image.shape != shape:
                raise DatasetToolError('image %d has shape %s, the first had %s' % (count, list(image.shape), list(shape)))
            for writer, level_image in zip(writers, resolution_pyramid(image)):
                writer.write(_records().serialize_image_record(level_image))
            count += 1
            if count % PROGRESS_INTERVAL == 0:
                print('%d images, %.0f images/s' % (count, count / (time.time() - start)), flush=True)
        if count == 0:
            raise DatasetToolError('no readable image in %s' % (source or 'the input'))
        for writer in writers:
            writer.close()
        if labels is not None:
            if len(labels) != count:
                raise DatasetToolError('%d label rows for %d images' % (len(labels), count))
            with open(os.path.join(staging.path, '%s-rxx.labels' % name), 'wb') as file:
                np.save(file, np.asarray(labels, dtype=np.float32))
        for file_name, text in (extra_files or {}).items():
            with open(os.path.join(staging.path, file_name), 'w') as file:
                file.write(text)
        staging.commit()
    except BaseException:
        for writer in writers:
            writer.close()
        staging.discard()
        raise
    print('Wrote %d images of %dx%d, %d channel(s), to %s in %.1f s' % (
        count, shape[2], shape[1], shape[0], staging.final_dir, time.time() - start))
    return count


# ---------------------------------------------------------------------------
# Image files.

class SkippedFiles:
    """Inputs that could not be used, with the reason, for the report at the end."""

    def __init__(self):
        self.entries = []

    def add(self, name, reason):
        self.entries.append((name, reason))

    def summary(self):
        return '%d file(s) skipped' % len(self.entries)

    def report(self):
        if not self.entries:
            return
        print('Skipped %d unreadable or unusable file(s):' % len(self.entries), file=sys.stderr)
        for name, reason in self.entries[:REPORT_NAMES]:
            print('  %s: %s' % (name, reason), file=sys.stderr)
        if len(self.entries) > REPORT_NAMES:
            print('  ... and %d more' % (len(self.entries) - REPORT_NAMES), file=sys.stderr)


def list_files(directory):
    """Paths of the non-hidden files under `directory`, recursively, sorted."""
    if not os.path.isdir(directory):
        raise DatasetToolError('input directory not found: %s' % directory)
    paths = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        paths += [os.path.join(root, f) for f in files if not f.startswith('.')]
    if not paths:
        raise DatasetToolError('no files in %s' % directory)
    return sorted(paths)


def is_grayscale(image):
    return image.getbands()[0] in ('1', 'L', 'I', 'F')


def probe_image(path):
    """Opens an image file's header and checks its integrity as far as cheaply possible.

    Returns (is_grayscale, (width, height)) or raises: PIL signals malformed files
    with many exception types, so callers treat any exception as an unusable file.
    """
    with PIL.Image.open(path) as image:
        info = is_grayscale(image), image.size
        image.verify()
    return info


def select_images(paths, count, skipped, source, check=None):
    """The first `count` (all if None) paths that probe as images, as (path, grayscale, size).

    `check(size)` may return a reason to refuse an image of that size. Raises when no
    file of `source` qualifies.
    """
    print('Checking the image files in %s' % source, flush=True)
    selected = []
    for path in paths:
        if count is not None and len(selected) == count:
            break
        try:
            grayscale, size = probe_image(path)
        except Exception as error:  # any decoder failure means "not a usable image"
            skipped.add(path, str(error) or type(error).__name__)
            continue
        reason = check(size) if check else None
        if reason:
            skipped.add(path, reason)
        else:
            selected.append((path, grayscale, size))
    if not selected:
        raise DatasetToolError('no readable image in %s (%s)' % (source, skipped.summary()))
    return selected


def to_8bit(image, channels):
    """Converts a PIL image to mode 'L' (channels 1) or 'RGB', scaling 16-bit values down."""
    if image.mode.startswith('I'):
        # PIL clips 16-bit values when converting to 8 bits; scale them instead.
        image = PIL.Image.fromarray(np.rint(np.asarray(image, dtype=np.float64) / 257).clip(0, 255).astype(np.uint8))
    return image.convert('L' if channels == 1 else 'RGB')


def decode_image(file, channels, name, skipped):
    """Decodes an image file (path or file object) as 'L' or 'RGB', or records it as skipped and returns None."""
    try:
        with PIL.Image.open(file) as image:
            image.load()
            return to_8bit(image, channels)
    except Exception as error:  # any decoder failure means "not a usable image"
        skipped.add(name, str(error) or type(error).__name__)
        return None


def to_chw(image):
    array = np.asarray(image, dtype=np.uint8)
    return array[np.newaxis] if array.ndim == 2 else array.transpose(2, 0, 1)


def fit_square(image, resolution):
    """Centre-crops a PIL image to a square and resizes it to resolution x resolution (Lanczos)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side != resolution:
        image = image.resize((resolution, resolution), PIL.Image.LANCZOS)
    return image


def create_from_images(tfrecord_dir, image_dir, shuffle=True, num_images=None, resolution=None):
    """Data set from the image files under image_dir (recursively, sorted by path).

    Images are centre-cropped to squares and resized to `resolution` (default: the
    first usable image's cropped size). The data set is grayscale if every selected
    image is, RGB otherwise. `shuffle` permutes the file order with a fixed seed;
    `num_images` keeps the first usable ones in that order.
    """
    check_output_dir(tfrecord_dir)
    if resolution is not None:
        check_resolution(resolution)
    paths = list_files(image_dir)
    if shuffle:
        np.random.RandomState(SHUFFLE_SEED).shuffle(paths)
    skipped = SkippedFiles()
    selected = select_images(paths, num_images, skipped, image_dir)
    channels = 1 if all(grayscale for _, grayscale, _ in selected) else 3
    if resolution is None:
        resolution = min(selected[0][2])
        check_resolution(resolution, '%s (cropped to a square; choose --resolution)' % selected[0][0])

    def images():
        for path, _, _ in selected:
            image = decode_image(path, channels, path, skipped)
            if image is not None:
                yield to_chw(fit_square(image, resolution))

    write_dataset(tfrecord_dir, images(), source=image_dir)
    skipped.report()


def create_celeba(tfrecord_dir, celeba_dir, num_images=None, cx=89, cy=121, shuffle=True):
    """Data set of 128x128 crops centred at (cx, cy) of aligned CelebA images (178x218).

    Takes the first `num_images` usable files in sorted order; `shuffle` then permutes
    their order with a fixed seed, as the authors' tool does by default.
    """
    check_output_dir(tfrecord_dir)
    half = CELEBA_CROP // 2
    box = (cx - half, cy - half, cx + half, cy + half)

    def check_size(size):
        if box[0] < 0 or box[1] < 0 or box[2] > size[0] or box[3] > size[1]:
            return 'the %dx%d crop at (%d, %d) does not fit in %dx%d' % (CELEBA_CROP, CELEBA_CROP, cx, cy, size[0], size[1])
        return None

    skipped = SkippedFiles()
    selected = select_images(list_files(celeba_dir), num_images, skipped, celeba_dir, check_size)
    order = np.random.RandomState(SHUFFLE_SEED).permutation(len(selected)) if shuffle else range(len(selected))

    def images():
        for index in order:
            path = selected[index][0]
            image = decode_image(path, 3, path, skipped)
            if image is not None:
                yield to_chw(image.crop(box))

    write_dataset(tfrecord_dir, images(), source=celeba_dir)
    skipped.report()


def create_lsun(tfrecord_dir, lmdb_dir, resolution=256, max_images=None):
    """Data set from one LSUN category's LMDB database, centre-cropped and resized."""
    check_output_dir(tfrecord_dir)
    check_resolution(resolution)
    try:
        import lmdb
    except ImportError:
        raise DatasetToolError('create_lsun needs the lmdb package: pip install lmdb')
    if not os.path.isdir(lmdb_dir):
        raise DatasetToolError('LMDB directory not found: %s' % lmdb_dir)
    skipped = SkippedFiles()

    def images():
        count = 0
        try:
            environment = lmdb.open(lmdb_dir, readonly=True, lock=False)
        except lmdb.Error as error:
            raise DatasetToolError('cannot open LMDB database %s: %s' % (lmdb_dir, error))
        with environment, environment.begin(write=False) as transaction:
            for key, value in transaction.cursor():
                if count == max_images:
                    return
                image = decode_image(io.BytesIO(value), 3, key.decode(errors='replace'), skipped)
                if image is not None:
                    count += 1
                    yield to_chw(fit_square(image, resolution))

    write_dataset(tfrecord_dir, images(), source=lmdb_dir)
    skipped.report()


# ---------------------------------------------------------------------------
# CIFAR-10 and MNIST.

class _ArrayUnpickler(pickle.Unpickler):
    """Loads pickles made of builtins and numpy arrays only, so a crafted file cannot run code."""

    ALLOWED = {
        ('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode'),
        ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
        ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError('unexpected object %s.%s' % (module, name))
        return super().find_class(module, name)


def one_hot(labels, path):
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= CLASS_COUNT):
        raise DatasetToolError('%s: labels outside 0..%d' % (path, CLASS_COUNT - 1))
    return np.eye(CLASS_COUNT, dtype=np.float32)[labels]


def write_shuffled(tfrecord_dir, images, labels, source):
    """Writes in-memory images with one-hot labels in StyleGAN2's shuffled order."""
    order = np.random.RandomState(SHUFFLE_SEED).permutation(len(images))
    write_dataset(tfrecord_dir, (images[i] for i in order), labels[order], source)


def load_cifar10_batch(path):
    try:
        with open(path, 'rb') as file:
            batch = _ArrayUnpickler(file, encoding='latin1').load()
        data = np.asarray(batch['data'], dtype=np.uint8)
        labels = np.asarray(batch['labels'], dtype=np.int64)
    except FileNotFoundError:
        raise DatasetToolError('CIFAR-10 batch not found: %s' % path)
    except Exception as error:  # unpickling reports malformed files with many exception types
        raise DatasetToolError('%s is not a CIFAR-10 python batch: %s' % (path, error))
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (data.shape[0],):
        raise DatasetToolError('%s: expected N x 3072 pixels and N labels' % path)
    return data.reshape(-1, 3, 32, 32), one_hot(labels, path)


def create_cifar10(tfrecord_dir, cifar10_dir):
    """Data set from the CIFAR-10 python batches data_batch_1..5, with one-hot labels."""
    check_output_dir(tfrecord_dir)
    if not os.path.isdir(cifar10_dir):
        raise DatasetToolError('input directory not found: %s' % cifar10_dir)
    batches = [load_cifar10_batch(os.path.join(cifar10_dir, 'data_batch_%d' % i)) for i in range(1, 6)]
    images = np.concatenate([images for images, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    write_shuffled(tfrecord_dir, images, labels, cifar10_dir)


def read_idx(path, expected_dims):
    """Reads a gzip-compressed IDX file of unsigned bytes with `expected_dims` dimensions."""
    try:
        with gzip.open(path, 'rb') as file:
            content = file.read()
    except FileNotFoundError:
        raise DatasetToolError('MNIST file not found: %s' % path)
    except (OSError, EOFError) as error:
        raise DatasetToolError('%s: %s' % (path, error))
    header_size = 4 + 4 * expected_dims
    if len(content) < header_size or content[:3] != b'\0\0\x08' or content[3] != expected_dims:
        raise DatasetToolError('%s is not an IDX file of %d-D unsigned bytes' % (path, expected_dims))
    shape = tuple(int(d) for d in np.frombuffer(content, '>u4', expected_dims, offset=4))
    data = np.frombuffer(content, np.uint8, offset=header_size)
    if data.size != int(np.prod(shape)):
        raise DatasetToolError('%s holds %d bytes for shape %s' % (path, data.size, list(shape)))
    return data.reshape(shape)


def create_mnist(tfrecord_dir, mnist_dir):
    """Data set from MNIST's training files, digits padded to 32x32, with one-hot labels."""
    check_output_dir(tfrecord_dir)
    if not os.path.isdir(mnist_dir):
        raise DatasetToolError('input directory not found: %s' % mnist_dir)
    images_path = os.path.join(mnist_dir, 'train-images-idx3-ubyte.gz')
    labels_path = os.path.join(mnist_dir, 'train-labels-idx1-ubyte.gz')
    images = read_idx(images_path, 3)
    labels = read_idx(labels_path, 1)
    if images.shape[1:] != (28, 28) or len(labels) != len(images):
        raise DatasetToolError('%s and %s: expected N 28x28 digits and N labels' % (images_path, labels_path))
    pad = MNIST_PAD
    images = np.pad(images, [(0, 0), (pad, pad), (pad, pad)])[:, np.newaxis]
    write_shuffled(tfrecord_dir, images, one_hot(labels, labels_path), mnist_dir)


# ---------------------------------------------------------------------------
# Procedural demo data set.

DEMO_MAX_SHAPES = 4
DEMO_CHUNK_PIXELS = 1 << 20  # pixels rendered at once: large enough for numpy, small enough for the cache


def _draw_demo_parameters(rng, count):
    """Random parameters of `count` demo images: (scene, shapes), arrays indexed by image first.

    Every image has a two-colour gradient background with a smooth texture and 1 to
    DEMO_MAX_SHAPES shapes; `shapes` arrays are [count, DEMO_MAX_SHAPES, ...].
    """
    slots = (count, DEMO_MAX_SHAPES)
    scene = dict(
        colours=rng.uniform(0, 1, size=(count, 2, 3)),
        gradient_angle=rng.uniform(0, 2 * np.pi, size=count),
        texture=rng.normal(0, 0.12, size=(count, 4, 4, 3)),
        shape_count=rng.randint(1, DEMO_MAX_SHAPES + 1, size=count),
    )
    shapes = dict(
        kind=rng.randint(0, len(_SHAPE_DISTANCES), size=slots),
        centre=rng.uniform(0.15, 0.85, size=slots + (2,)),
        size=rng.uniform(0.08, 0.3, size=slots),
        angle=rng.uniform(0, 2 * np.pi, size=slots),
        aspect=rng.uniform(0.35, 1.0, size=slots),
        colour=rng.uniform(0, 1, size=slots + (3,)),
        stripe_period=rng.uniform(0.06, 0.12, size=slots),  # image widths: >= 2 pixels at 32x32
    )
    as_float32 = lambda params: {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in params.items()}
    return as_float32(scene), as_float32(shapes)


# Each shape is described by its signed distance (negative inside, in image widths) from
# offsets (dx, dy) to its centre; coverage of a pixel follows from the distance, which
# antialiases edges without rendering at a higher resolution.

def _column(values):
    return values[:, None, None]


def _rotated(dx, dy, angle):
    c, s = _column(np.cos(angle)), _column(np.sin(angle))
    return dx * c + dy * s, dy * c - dx * s


def _circle_distance(dx, dy, p):
    return np.sqrt(dx ** 2 + dy ** 2) - _column(p['size'])


def _rectangle_distance(dx, dy, p):
    u, v = _rotated(dx, dy, p['angle'])
    r = _column(p['size'])
    return np.maximum(np.abs(u) - r, np.abs(v) - r * _column(p['aspect']))


def _triangle_distance(dx, dy, p):
    # Vertices at 120-degree steps on a circle squashed by `aspect`, in counter-clockwise
    # order, so the inside lies left of every edge.
    r = _column(p['size']) * 1.3
    corners = [(np.cos(a) * r, np.sin(a) * r * _column(p['aspect']))
               for a in (_column(p['angle']) + k * 2 * np.pi / 3 for k in range(3))]
    distance = None
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1]):
        outside = ((y1 - y0) * (dx - x0) - (x1 - x0) * (dy - y0)) / np.hypot(x1 - x0, y1 - y0)
        distance = outside if distance is None else np.maximum(distance, outside)
    return distance


def _stripes_distance(dx, dy, p):
    # A rectangle cut into bands along its rotated u axis, every other band kept.
    u, _ = _rotated(dx, dy, p['angle'])
    period = _column(p['stripe_period'])
    band = (np.abs(u / period % 1 - 0.25) - 0.25) * period
    return np.maximum(_rectangle_distance(dx, dy, p), band)


_SHAPE_DISTANCES = (_circle_distance, _rectangle_distance, _triangle_distance, _stripes_distance)


def _interpolation_matrix(size, points):
    """[size, points] weights that linearly interpolate `points` samples to `size` pixels."""
    position = (np.arange(size) + 0.5) / size * (points - 1)
    return np.maximum(0, 1 - np.abs(position[:, None] - np.arange(points)[None, :]))


def _render_demo_chunk(scene, shapes, side):
    """Renders the images described by parameter arrays as float32 [N, side, side, 3] in [0, 1]."""
    coords = (np.arange(side, dtype=np.float32) + 0.5) / side
    x, y = coords[None, None, :], coords[None, :, None]
    angle = scene['gradient_angle']
    ramp = ((x - 0.5) * _column(np.cos(angle)) + (y - 0.5) * _column(np.sin(angle))) / np.float32(np.sqrt(2)) + 0.5
    low, high = scene['colours'][:, 0, None, None, :], scene['colours'][:, 1, None, None, :]
    images = low + (high - low) * ramp[..., None]
    blend = _interpolation_matrix(side, scene['texture'].shape[1]).astype(np.float32)
    images += np.einsum('ya,nabc,xb->nyxc', blend, scene['texture'], blend, optimize=True)
    for slot in range(DEMO_MAX_SHAPES):
        present = scene['shape_count'] > slot
        coverage = np.zeros(images.shape[:3], np.float32)
        for kind, distance_function in enumerate(_SHAPE_DISTANCES):
            chosen = np.flatnonzero(present & (shapes['kind'][:, slot] == kind))
            shape = {key: value[chosen, slot] for key, value in shapes.items()}
            dx = x - _column(shape['centre'][:, 0])
            dy = y - _column(shape['centre'][:, 1])
            coverage[chosen] = np.clip(0.5 - distance_function(dx, dy, shape) * side, 0, 1)
        images += coverage[..., None] * (shapes['colour'][:, slot, None, None, :] - images)
    return np.clip(images, 0, 1)


def render_demo_images(num_images, resolution, seed):
    """Yields `num_images` procedural RGB images (uint8 CHW): shapes over textured gradients.

    Deterministic for a seed; rendered with numpy a chunk of images at a time.
    """
    scene, shapes = _draw_demo_parameters(np.random.RandomState(seed), num_images)
    chunk = max(1, DEMO_CHUNK_PIXELS // (resolution * resolution))
    for begin in range(0, num_images, chunk):
        part = lambda params: {key: value[begin:begin + chunk] for key, value in params.items()}
        images = _render_demo_chunk(part(scene), part(shapes), resolution)
        yield from np.rint(images * 255).astype(np.uint8).transpose(0, 3, 1, 2)


def create_demo(tfrecord_dir, num_images=4000, resolution=32, seed=0):
    """Procedural data set made locally: needs no download, identical for identical arguments."""
    check_output_dir(tfrecord_dir)
    check_resolution(resolution)
    if num_images < 1:
        raise DatasetToolError('--num_images must be at least 1')
    write_dataset(tfrecord_dir, render_demo_images(num_images, resolution, seed), source='the demo generator')


# ---------------------------------------------------------------------------
# Reading data sets.

def _records():
    """training.dataset, imported on first use because it loads TensorFlow, which takes seconds."""
    from training import dataset
    return dataset


def open_dataset_dir(tfrecord_dir):
    """(record files by log2 resolution, labels array or None) of a data set directory."""
    records = _records()
    files = records.list_record_files(tfrecord_dir)
    label_file = records.find_label_file(tfrecord_dir)
    return files, records.load_labels(label_file) if label_file else None


def read_top_images(files):
    return _records().read_images(files[max(files)].path)


def read_png_dir(image_dir, num_images=None, channels=3):
    """Yields the PNG files of a directory (sorted, recursively) as uint8 CHW arrays of `channels` channels."""
    paths = [path for path in list_files(image_dir) if path.lower().endswith('.png')]
    if not paths:
        raise DatasetToolError('no PNG files in %s' % image_dir)
    for path in paths[:num_images]:
        try:
            with PIL.Image.open(path) as image:
                array = to_chw(to_8bit(image, channels))
        except OSError as error:
            raise DatasetToolError('%s: unreadable image (%s)' % (path, error))
        yield array


def read_images_from(source, num_images=None, channels=3):
    """An iterator over the top-resolution images of a data set directory, or else over the PNG files of
    the directory (as `channels` channels): what generated images are evaluated from."""
    if not os.path.isdir(source):
        raise DatasetToolError('directory not found: %s' % source)
    if any(name.endswith('.tfrecords') for name in os.listdir(source)):
        return itertools.islice(read_top_images(open_dataset_dir(source)[0]), num_images)
    return read_png_dir(source, num_images, channels)


def info(tfrecord_dir):
    """Prints each stored resolution with its file and image count, the channels and the labels."""
    files, labels = open_dataset_dir(tfrecord_dir)
    counts = {}
    print('Data set %s' % tfrecord_dir)
    for level in sorted(files, reverse=True):
        path, shape = files[level]
        counts[level] = _records().count_records(path)
        print('  %4dx%-4d  %8d images  %s' % (shape[2], shape[1], counts[level], os.path.basename(path)))
    print('Channels: %d' % files[max(files)].shape[0])
    if labels is None:
        print('Labels: none')
    else:
        print('Labels: %d per image, %d rows' % (labels.shape[1], labels.shape[0]))
    if len(set(counts.values())) > 1:
        print('Warning: the resolutions hold different numbers of images', file=sys.stderr)
    return counts


def extract(tfrecord_dir, output_dir):
    """Writes the top-resolution images as output_dir/img%08d.png."""
    files, _ = open_dataset_dir(tfrecord_dir)
    staging = StagedDirectory(output_dir)
    try:
        count = 0
        for count, image in enumerate(read_top_images(files), 1):
            with open(os.path.join(staging.path, 'img%08d.png' % (count - 1)), 'wb') as file:
                file.write(png_bytes(image))
            if count % PROGRESS_INTERVAL == 0:
                print('%d images' % count, flush=True)
        staging.commit()
    except BaseException:
        staging.discard()
        raise
    print('Extracted %d images to %s' % (count, staging.final_dir))
    return count


def compare(tfrecord_dir_a, tfrecord_dir_b, ignore_labels=False):
    """Counts identical and different top-resolution images (and labels) of two data sets, in order."""
    files_a, labels_a = open_dataset_dir(tfrecord_dir_a)
    files_b, labels_b = open_dataset_dir(tfrecord_dir_b)
    counts = dict(identical_images=0, different_images=0, images_a=0, images_b=0)
    for image_a, image_b in itertools.zip_longest(read_top_images(files_a), read_top_images(files_b)):
        counts['images_a'] += image_a is not None
        counts['images_b'] += image_b is not None
        if image_a is not None and image_b is not None:
            same = image_a.shape == image_b.shape and np.array_equal(image_a, image_b)
            counts['identical_images' if same else 'different_images'] += 1
    print('Images: %d identical, %d different (%d in %s, %d in %s)' % (
        counts['identical_images'], counts['different_images'],
        counts['images_a'], tfrecord_dir_a, counts['images_b'], tfrecord_dir_b))
    if not ignore_labels:
        if labels_a is None or labels_b is None:
            print('Labels: %s' % ('none in either' if labels_a is None and labels_b is None else 'only one data set has labels'))
        else:
            rows = min(len(labels_a), len(labels_b))
            if labels_a.shape[1] == labels_b.shape[1]:
                identical = int(np.all(labels_a[:rows] == labels_b[:rows], axis=1).sum())
            else:
                identical = 0
            counts.update(identical_labels=identical, different_labels=rows - identical)
            print('Labels: %d identical, %d different' % (identical, rows - identical))
    return counts


def display(tfrecord_dir, num_images=16, output=None):
    """Prints a summary line for each of the first images; with `output`, saves them as a PNG grid."""
    files, labels = open_dataset_dir(tfrecord_dir)
    shown = []
    for index, image in enumerate(read_top_images(files)):
        if index == num_images:
            break
        label = '' if labels is None else '  label %s' % np.round(labels[index], 3).tolist()
        print('image %d: %s, min %d, mean %.1f, max %d%s' % (
            index, 'x'.join(map(str, image.shape)), image.min(), image.mean(), image.max(), label))
        shown.append(image)
    if output is not None:
        save_image_grid(np.stack(shown), output)
        print('Wrote a grid of %d images to %s' % (len(shown), output))
    return len(shown)
