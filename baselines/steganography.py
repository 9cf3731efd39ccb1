"""Classic steganography baseline: hide a fixed payload in every training image with
outguess or steghide, then try to read it back from generated images.

The paper reports that such a payload does not survive GAN training (bit accuracy
about 0.53). Both tools are Debian command-line programs, called here on temporary
files. The data set stores pixels, so by default each tool works on a lossless
container (steghide: BMP, outguess: PPM), whose pixels carry the payload exactly;
`container='jpeg'` uses JPEG files instead, which need larger images (a 32x32 JPEG
holds too few usable DCT coefficients for 100 bits) and lose the payload when the
decoded pixels are encoded again.
"""

import itertools
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
import PIL.Image

from training import dataset_tool_lib as lib

TOOLS = ('outguess', 'steghide')
CONTAINERS = {'lossless': {'outguess': '.ppm', 'steghide': '.bmp'}, 'jpeg': {'outguess': '.jpg', 'steghide': '.jpg'}}
DEFAULT_KEY = 'stylegan2-stego'
JPEG_QUALITY = 90
# outguess's walk over a small image can run past its last pixel value and drop the final bits
# of the message (seen at 32x32 and 64x64); padding bytes after the payload take that loss.
OUTGUESS_PADDING = 2
TOOL_TIMEOUT = 60  # seconds; either tool finishes a small image in well under one


class SteganographyError(lib.DatasetToolError):
    """A missing tool or an unusable input, reported as one line."""


def payload_bits(num_bits, seed):
    """The fixed payload: num_bits random bits (0/1, uint8) drawn from seed."""
    if num_bits < 1:
        raise SteganographyError('the payload needs at least 1 bit, got %d' % num_bits)
    return np.random.RandomState(seed).randint(0, 2, size=num_bits).astype(np.uint8)


def check_tool(tool):
    if tool not in TOOLS:
        raise SteganographyError('unknown tool %r, expected one of %s' % (tool, ', '.join(TOOLS)))
    if shutil.which(tool) is None:
        raise SteganographyError('%s not installed (apt-get install %s)' % (tool, tool))


def _suffix(tool, container):
    if container not in CONTAINERS:
        raise SteganographyError('unknown container %r, expected one of %s' % (container, ', '.join(CONTAINERS)))
    return CONTAINERS[container][tool]


def _save(image, path):
    """Writes a uint8 CHW RGB image to path, in the format its suffix names."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise SteganographyError('steganography needs uint8 RGB CHW images, found %s %s' % (image.dtype, list(image.shape)))
    options = {'quality': JPEG_QUALITY} if path.endswith('.jpg') else {}
    PIL.Image.fromarray(image.transpose(1, 2, 0)).save(path, **options)


def _load(path):
    with PIL.Image.open(path) as image:
        return lib.to_chw(image.convert('RGB'))


def _run(command):
    """Runs a tool; returns (exit status, its last output line) without raising."""
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, 'timed out after %d s' % TOOL_TIMEOUT
    lines = (result.stderr + result.stdout).decode(errors='replace').strip().splitlines()
    return result.returncode, lines[-1] if lines else ''


def _embed_command(tool, key, payload, cover, stego):
    if tool == 'outguess':
        return ['outguess', '-k', key, '-d', payload, cover, stego]
    return ['steghide', 'embed', '-cf', cover, '-ef', payload, '-p', key, '-sf', stego, '-f', '-q']


def _extract_command(tool, key, stego, payload):
    if tool == 'outguess':
        return ['outguess', '-k', key, '-r', stego, payload]
    return ['steghide', 'extract', '-sf', stego, '-p', key, '-xf', payload, '-f', '-q']


def embed(image, bits, tool, key=DEFAULT_KEY, container='lossless'):
    """The uint8 CHW image with the payload bits hidden in it by the tool (as decoded from its output file)."""
    check_tool(tool)
    suffix = _suffix(tool, container)
    with tempfile.TemporaryDirectory(prefix='stego-') as work:
        cover, stego, payload = (os.path.join(work, name) for name in ('cover' + suffix, 'stego' + suffix, 'payload'))
        _save(image, cover)
        with open(payload, 'wb') as file:
            file.write(np.packbits(bits).tobytes() + bytes(OUTGUESS_PADDING if tool == 'outguess' else 0))
        status, message = _run(_embed_command(tool, key, payload, cover, stego))
        if status != 0 or not os.path.isfile(stego):
            raise SteganographyError('%s could not embed %d bits in a %dx%d %s image: %s' % (
                tool, len(bits), image.shape[2], image.shape[1], container, message or 'exit status %d' % status))
        return _load(stego)


def extract(image, num_bits, tool, key=DEFAULT_KEY, container='lossless'):
    """The num_bits payload bits the tool reads from a uint8 CHW image, or None when it finds none."""
    check_tool(tool)
    suffix = _suffix(tool, container)
    with tempfile.TemporaryDirectory(prefix='stego-') as work:
        stego, payload = os.path.join(work, 'stego' + suffix), os.path.join(work, 'payload')
        _save(image, stego)
        status, _ = _run(_extract_command(tool, key, stego, payload))
        if status != 0 or not os.path.isfile(payload):
            return None
        with open(payload, 'rb') as file:
            data = np.frombuffer(file.read(), dtype=np.uint8)
    # outguess has no checksum: from an image without a payload it reads a length and bytes at random.
    if len(data) * 8 < num_bits:
        return None
    return np.unpackbits(data)[:num_bits]


def bit_accuracy(extracted, bits):
    """Fraction of payload bits read correctly; a failed extraction (None) scores 0.5, as random bits would."""
    if extracted is None:
        return 0.5
    return float(np.mean(extracted == bits))


def evaluate(images, bits, tool, key=DEFAULT_KEY, container='lossless'):
    """Extraction statistics over an iterable of uint8 CHW images that should carry `bits`."""
    check_tool(tool)
    accuracies = []
    extracted_accuracies = []
    start = time.time()
    for image in images:
        extracted = extract(image, len(bits), tool, key, container)
        accuracies.append(bit_accuracy(extracted, bits))
        if extracted is not None:
            extracted_accuracies.append(accuracies[-1])
    if not accuracies:
        raise SteganographyError('no images to evaluate')
    return dict(images=len(accuracies),
                extraction_success_rate=len(extracted_accuracies) / len(accuracies),
                bit_accuracy=float(np.mean(accuracies)),
                bit_accuracy_when_extracted=float(np.mean(extracted_accuracies)) if extracted_accuracies else None,
                seconds_per_image=(time.time() - start) / len(accuracies))


def create_stego(tfrecord_dir, source_dir, tool='outguess', bits=100, seed=0, key=DEFAULT_KEY,
                 container='lossless', num_images=None):
    """Writes a copy of a data set (labels kept) whose images all carry the same payload."""
    check_tool(tool)
    payload = payload_bits(bits, seed)
    files, labels = lib.open_dataset_dir(source_dir)
    if files[max(files)].shape[0] != 3:
        raise SteganographyError('%s: steganography needs RGB images, the data set has %d channel(s)' % (
            source_dir, files[max(files)].shape[0]))
    if labels is not None and num_images is not None:
        labels = labels[:num_images]

    images = (embed(image, payload, tool, key, container)
              for image in itertools.islice(lib.read_top_images(files), num_images))
    return lib.write_dataset(tfrecord_dir, images, labels=labels, source=source_dir)


def eval_stego(source, tool='outguess', bits=100, seed=0, key=DEFAULT_KEY, container='lossless', num_images=None):
    """Prints and returns the extraction statistics of a data set directory or a directory of PNGs."""
    images = lib.read_images_from(source, num_images)  # a missing directory is named before a missing tool
    check_tool(tool)
    stats = evaluate(images, payload_bits(bits, seed), tool, key, container)
    extracted = stats['bit_accuracy_when_extracted']
    print('%s, %d images: extraction success rate %.3f, bit accuracy %.4f (failures scored 0.5), %s; '
          '%.3f s per image' % (
              tool, stats['images'], stats['extraction_success_rate'], stats['bit_accuracy'],
              'no payload extracted' if extracted is None else '%.4f over the extracted payloads' % extracted,
              stats['seconds_per_image']))
    return stats
