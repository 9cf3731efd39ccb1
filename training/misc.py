"""Network pickles and image grids: the file formats shared by training, metrics and generation."""

import io
import os
import pickle

import numpy as np
import PIL.Image

import dnnlib
import dnnlib.tflib as tflib


def load_pkl(path_or_url):
    """Load a network pickle from a path or URL (downloads are cached, see dnnlib.util.open_url)."""
    tflib.init_tf()
    if not dnnlib.util.is_url(path_or_url) and not os.path.isfile(path_or_url):
        raise FileNotFoundError('network pickle not found: %s' % path_or_url)
    with dnnlib.util.open_url(path_or_url) as f:
        try:
            return pickle.load(f, encoding='latin1')
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as exc:
            raise ValueError('%s is not a readable network pickle (%s)' % (path_or_url, exc)) from exc


def save_pkl(obj, path):
    """Pickle `obj` to `path` atomically (a temporary file renamed into place)."""
    dnnlib.util.atomic_write_bytes(path, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def load_networks(path_or_url):
    """(E, G, D, Gs) from a training pickle; (None, None, None, Gs) from a pickle holding one generator."""
    obj = load_pkl(path_or_url)
    if isinstance(obj, tflib.Network):
        return None, None, None, obj
    if isinstance(obj, (tuple, list)) and len(obj) == 4:
        return tuple(obj)
    if isinstance(obj, (tuple, list)) and len(obj) == 3:  # StyleGAN2's (G, D, Gs)
        return (None,) + tuple(obj)
    raise ValueError('%s holds %s, not (E, G, D, Gs) networks' % (path_or_url, type(obj).__name__))


def create_image_grid(images, grid_size=None):
    """Tile images [N, C, H, W] into one [C, rows*H, cols*W]; grid_size = (cols, rows), default near-square."""
    images = np.asarray(images)
    num, channels, height, width = images.shape
    if grid_size is None:
        cols = int(np.ceil(np.sqrt(num)))
        grid_size = (cols, int(np.ceil(num / cols)))
    cols, rows = grid_size
    grid = np.zeros([channels, rows * height, cols * width], dtype=images.dtype)
    for index in range(min(num, cols * rows)):
        row, col = divmod(index, cols)
        grid[:, row * height:(row + 1) * height, col * width:(col + 1) * width] = images[index]
    return grid


def image_to_uint8(image, drange):
    """Map an array in drange = (lo, hi) to uint8 [0, 255], rounding and clipping."""
    lo, hi = drange
    scale = 255 / (hi - lo)
    return np.rint((np.asarray(image, np.float32) - lo) * scale).clip(0, 255).astype(np.uint8)


def png_bytes(image_chw):
    """PNG encoding of a uint8 [C, H, W] image (C = 1 or 3)."""
    buffer = io.BytesIO()
    array = image_chw[0] if image_chw.shape[0] == 1 else image_chw.transpose(1, 2, 0)
    PIL.Image.fromarray(array).save(buffer, 'PNG')
    return buffer.getvalue()


def save_image(image_chw, path, drange=(0, 255)):
    """Save one [C, H, W] image as PNG atomically."""
    dnnlib.util.atomic_write_bytes(path, png_bytes(image_to_uint8(image_chw, drange)))


def save_image_grid(images, path, drange=(0, 255), grid_size=None):
    """Save images [N, C, H, W] as one PNG grid, atomically."""
    save_image(create_image_grid(images, grid_size), path, drange)
