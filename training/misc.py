"""Network pickles: the file format shared by training, metrics and generation."""

import os
import pickle

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
