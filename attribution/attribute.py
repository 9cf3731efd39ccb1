"""Attributing images: read each file, decode its fingerprint with E, look it up among the issued copies.

Files are read by a thread pool one minibatch ahead of the decoder, so reading overlaps
E.run. An image of another size is centre-cropped to a square and resized (Lanczos) as
`dataset_tool.py create_from_images` does, and the record says so. A file that cannot
be used gets an error record of its own; the other files are attributed all the same.

The false-attribution bound of a match with m of d bits agreeing is
N * P[X >= m], X ~ Binomial(d, 1/2): the chance that the bits decoded from an image no
issued copy made (each bit a fair coin, as for a real image) agree with one of the N
issued fingerprints this well (a union bound over the copies).
"""

import collections
import concurrent.futures
import math
import os

import numpy as np
import PIL.Image

from attribution import hamming
from metrics.fingerprint_accuracy import log_binomial_tail
from training.dataset import images_to_float_np
from training.dataset_tool_lib import fit_square, to_8bit

READ_THREADS = 2
# PIL modes read as images: bilevel, grey (8/16/32-bit integer), palette, RGB, with or without alpha.
ACCEPTED_MODES = ('1', 'L', 'LA', 'La', 'P', 'PA', 'RGB', 'RGBA', 'RGBa', 'RGBX', 'I', 'I;16', 'I;16L', 'I;16B')

Record = collections.namedtuple('Record', ['file', 'error', 'note', 'copy', 'distance', 'bit_accuracy',
                                           'log10_bound'])


class ImageError(Exception):
    """A file that cannot be attributed, reported as one line."""


def expand_inputs(paths):
    """Files named directly, and the non-hidden files under each directory (recursively, sorted)."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
                files += [os.path.join(root, name) for name in sorted(names) if not name.startswith('.')]
        else:
            files.append(path)
    return files


def read_image(path, resolution, channels):
    """(uint8 [C, H, W] at the decoder's size, note or None); ImageError naming what is wrong."""
    try:
        with PIL.Image.open(path) as image:
            if image.mode not in ACCEPTED_MODES:
                raise ImageError('unsupported image mode %s' % image.mode)
            image.load()
            image = to_8bit(image, channels)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError('file not found')
    except IsADirectoryError:
        raise ImageError('is a directory')
    except PIL.UnidentifiedImageError:
        raise ImageError('not an image file')
    except (OSError, ValueError, SyntaxError) as exc:  # PIL's ways of reporting a damaged file
        raise ImageError('cannot read the image (%s)' % (str(exc) or type(exc).__name__))
    note = None
    if image.size != (resolution, resolution):
        width, height = image.size
        note = '%s from %dx%d to %dx%d' % ('resized' if width == height else 'cropped and resized',
                                          width, height, resolution, resolution)
        image = fit_square(image, resolution)
    array = np.asarray(image, np.uint8)
    return (array[np.newaxis] if array.ndim == 2 else array.transpose(2, 0, 1)), note


def decoder_shape(E):
    """(channels, resolution) of the images the decoder reads."""
    _, channels, height, width = E.input_shapes[0]
    return channels, height


def decode_bits(E, images):
    """Fingerprint bits (uint8 0/1 [n, d]) read by E from uint8 NCHW images: bit = logit > 0."""
    logits = E.run(images_to_float_np(images), None, return_as_list=True)[-1]
    return (logits > 0).astype(np.uint8)


def decode_files(E, files, batch_size):
    """Yields, per minibatch of files, a list of (file, bits or None, note, error) in order; reading
    runs one minibatch ahead of E."""
    channels, resolution = decoder_shape(E)
    chunks = [files[i:i + batch_size] for i in range(0, len(files), batch_size)]
    with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:
        def submit(chunk):
            return [pool.submit(read_image, path, resolution, channels) for path in chunk]

        pending = submit(chunks[0]) if chunks else []
        for index, chunk in enumerate(chunks):
            futures, pending = pending, (submit(chunks[index + 1]) if index + 1 < len(chunks) else [])
            results = []
            for future in futures:
                try:
                    results.append(future.result() + (None,))
                except ImageError as exc:
                    results.append((None, None, str(exc)))
            good = [image for image, _, _ in results if image is not None]
            bits = iter(decode_bits(E, np.stack(good)) if good else [])
            yield [(path, (next(bits) if image is not None else None), note, error)
                   for path, (image, note, error) in zip(chunk, results)]


def log10_false_match_bound(matched, num_bits, num_copies):
    """log10 of min(1, N * P[X >= matched]), X ~ Binomial(num_bits, 1/2)."""
    if num_copies < 1:
        return -math.inf
    return min(0.0, (log_binomial_tail(matched, num_bits) + math.log(num_copies)) / math.log(10))


def format_probability(log10_p):
    """'3.1e-33' from log10 of a probability, also below the float range."""
    if log10_p == -math.inf:
        return '0'
    exponent = math.floor(log10_p)
    mantissa = 10 ** (log10_p - exponent)
    if mantissa >= 9.95:
        mantissa, exponent = 1.0, exponent + 1
    return '%.1fe%+03d' % (mantissa, exponent) if exponent < -3 else '%.4f' % (10 ** log10_p)


def load_index(store, registry_path):
    """The Hamming index of the registry's copies: read from `<registry>.index` when it was built
    from the registry as it is now, else built from the registry and saved there."""
    model = store.model
    key = store.version() + (model.num_bits, model.threshold)
    path = registry_path + '.index'
    index = hamming.HammingIndex.load(path, key)
    if index is None:
        ids, codes = store.fingerprints()
        index = hamming.HammingIndex(codes, ids, model.num_bits, model.threshold)
        index.save(path, key)
    return index


def match(index, bits):
    """Per row of decoded bits [n, d]: (copy id, distance) of the issued copy within the index's
    radius, or (None, None). Copies are issued 2t+1 bits apart, so at most one lies within t."""
    return [(int(ids[0]), int(distances[0])) if len(ids) else (None, None)
            for ids, distances in index.search(hamming.pack(bits))]


def attribute_files(E, files, index, store, batch_size):
    """Yields one Record per file, in order."""
    num_bits, num_copies = index.num_bits, len(index)
    for chunk in decode_files(E, files, batch_size):
        decoded = [bits for _, bits, _, _ in chunk if bits is not None]
        matches = iter(match(index, np.stack(decoded)) if decoded else [])
        for path, bits, note, error in chunk:
            if error is not None:
                yield Record(path, error, note, None, None, None, None)
                continue
            copy_id, distance = next(matches)
            if copy_id is None:
                yield Record(path, None, note, None, None, None, None)
                continue
            matched = num_bits - distance
            yield Record(path, None, note, store.get(copy_id), distance, matched / num_bits,
                         log10_false_match_bound(matched, num_bits, num_copies))
