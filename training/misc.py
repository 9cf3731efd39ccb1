"""Network pickles: the file format shared by training, metrics and generation.

Loading is safe by default: see dnnlib/tflib/network_files.py. Pickles are read
without running anything they carry, and every network is rebuilt by this
project's build functions (training/networks_stylegan2.py); the source
embedded in a pickle is executed only with trust_source=True.
"""

import os
import pickle

import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib import network_files
import training.networks_stylegan2  # noqa: F401  (registers the build functions that safe loading uses)


def load_pkl(path_or_url, trust_source=False):
    """The object of a network pickle (or .npz weights file), its networks built; ValueError/OSError on bad input.

    URLs are downloaded once and cached (see dnnlib.util.open_url).
    """
    tflib.init_tf()
    if not dnnlib.util.is_url(path_or_url) and not os.path.isfile(path_or_url):
        raise FileNotFoundError('network pickle not found: %s' % path_or_url)
    return network_files.load(path_or_url, trust_source=trust_source)


def save_pkl(obj, path):
    """Pickle `obj` to `path` atomically (a temporary file renamed into place)."""
    dnnlib.util.atomic_write_bytes(path, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def load_networks(path_or_url, trust_source=False):
    """(E, G, D, Gs) from a training pickle; (None, None, None, Gs) from a pickle holding one generator.

    Every front loads networks through this function; see load_pkl for trust_source.
    """
    obj = load_pkl(path_or_url, trust_source=trust_source)
    if isinstance(obj, tflib.Network):
        return None, None, None, obj
    if isinstance(obj, (tuple, list)) and len(obj) in (3, 4) and all(
            net is None or isinstance(net, tflib.Network) for net in obj) and isinstance(obj[-1], tflib.Network):
        return tuple(obj) if len(obj) == 4 else (None,) + tuple(obj)  # 3: StyleGAN2's (G, D, Gs)
    raise ValueError('%s holds %s, not networks (E, G, D, Gs)' % (path_or_url, _what(obj)))


def _what(obj):
    if isinstance(obj, (tuple, list)):
        return 'a %s of %d: %s' % (type(obj).__name__, len(obj), ', '.join(type(item).__name__ for item in obj[:5]))
    return type(obj).__name__
