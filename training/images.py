"""Image grids and PNG files (no TensorFlow needed: the data set tool uses them too)."""

import io

import numpy as np
import PIL.Image

import dnnlib


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
