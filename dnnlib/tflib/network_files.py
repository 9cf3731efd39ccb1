"""Network files from other people: pickles read without running what they carry, and a plain weights format.

`pickle.load` on a StyleGAN2-format network pickle runs code twice: the pickle
stream may call any importable function, and every Network state carries
Python source that `Network.__setstate__` executes. `load` reads the stream
with an unpickler that admits only what a network pickle holds (Network
states, EasyDict, NumPy arrays and dtypes, plain containers) and rebuilds each
network with this project's own build function (`Network.from_state`), so the
embedded source is not executed; it runs only with `trust_source=True`.

`save_npz` writes the same networks as NumPy arrays plus a JSON header (names,
shapes, build functions, keyword arguments); `load` reads such a file back
with `allow_pickle=False`.
"""

import hashlib
import inspect
import io
import json
import pickle
import sys
from collections import OrderedDict

import numpy as np

from .. import util
from . import network as network_lib

NPZ_FORMAT = 'network-weights'
NPZ_VERSION = 1
_HEADER_KEY = '__header__'


class UnsafePickleError(ValueError):
    """A pickle asked for something that a network pickle never holds; nothing of it was run."""


class UntrustedSourceError(ValueError):
    """A network that only its embedded source can build, and trust was not given."""


class PickledNetwork:
    """What the restricted unpickler makes of a pickled Network: its state, nothing built or run."""

    def __setstate__(self, state):
        self.state = state


def _numpy_module(name):
    """numpy's array-pickling module under its NumPy 1 or NumPy 2 name (whichever this NumPy has)."""
    for candidate in ('numpy._core.' + name, 'numpy.core.' + name):
        try:
            __import__(candidate)
            return sys.modules[candidate]
        except ImportError:
            continue
    raise ImportError('numpy.core.' + name)


def _allowed_globals():
    multiarray, numeric = _numpy_module('multiarray'), _numpy_module('numeric')
    allowed = {
        ('dnnlib.tflib.network', 'Network'): PickledNetwork,
        ('dnnlib.util', 'EasyDict'): util.EasyDict,
        ('collections', 'OrderedDict'): OrderedDict,
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): np.dtype,
    }
    # Pickles made under NumPy 1 name numpy.core, under NumPy 2 numpy._core: both mean the same functions.
    for package in ('numpy.core', 'numpy._core'):
        allowed[(package + '.multiarray', '_reconstruct')] = multiarray._reconstruct  # pylint: disable=protected-access
        allowed[(package + '.multiarray', 'scalar')] = multiarray.scalar
        allowed[(package + '.numeric', '_frombuffer')] = numeric._frombuffer  # pylint: disable=protected-access
    allowed.update((('numpy', name), getattr(np, name)) for name in
                   ('float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'bool_'))
    return allowed


class _NetworkUnpickler(pickle.Unpickler):
    allowed = None

    def find_class(self, module, name):
        if _NetworkUnpickler.allowed is None:
            _NetworkUnpickler.allowed = _allowed_globals()
        obj = self.allowed.get((module, name))
        if obj is None:
            raise UnsafePickleError('it asks for %s.%s, which a network pickle never holds; refused, nothing in it '
                                    'was run' % (module, name))
        return obj


def read_pickle(path_or_url):
    """The pickle's objects, with each Network as a PickledNetwork (its state only); nothing is built or run."""
    with util.open_url(path_or_url) as f:
        data = f.read()
    try:
        return _NetworkUnpickler(io.BytesIO(data), encoding='latin1').load()
    except UnsafePickleError as exc:
        raise UnsafePickleError('%s: %s' % (path_or_url, exc)) from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            UnicodeDecodeError, OverflowError, MemoryError) as exc:
        raise ValueError('%s is not a network pickle, or it is truncated (%s: %s)'
                         % (path_or_url, type(exc).__name__, exc)) from exc


def _plain_state(record):
    """A PickledNetwork's state with its components as plain states too."""
    state = dict(record.state)
    state['components'] = {key: _plain_state(comp) for key, comp in (state.get('components') or {}).items()}
    return state


def _check_state(state, where):
    if not isinstance(state, dict) or not {'name', 'build_func_name', 'variables'} <= set(state):
        raise ValueError('%s holds a network state without name, build function or variables' % where)
    for comp in state.get('components', {}).values():
        _check_state(comp, where)


def _build_trusted(record):
    state = dict(record.state)
    state['components'] = {key: _build_trusted(comp) for key, comp in (state.get('components') or {}).items()}
    net = network_lib.Network.__new__(network_lib.Network)
    net.__setstate__(state)
    return net


def build_network(state, where, trust_source=False, record=None):
    """A Network from a plain state: by this project's build function, or (trusted) by its embedded source."""
    if trust_source and record is not None:
        return _build_trusted(record)
    _check_state(state, where)
    if network_lib.known_build_func(state['build_func_name']) is None:
        message = '%s: network %r is built by %s, which this project does not provide' % (
            where, state['name'], state['build_func_name'])
        if record is None:
            raise ValueError(message)
        raise UntrustedSourceError(message + '; its embedded source was not run (inspect the file first, then '
                                   'load it with --trust-pickle-source only if you trust it)')
    try:
        return network_lib.Network.from_state(state)
    except (TypeError, ValueError) as exc:
        raise ValueError('%s: %s' % (where, exc)) from exc


def _map_networks(obj, func):
    """Apply func to every PickledNetwork in the top-level tuple/list (or to a lone one)."""
    if isinstance(obj, PickledNetwork):
        return func(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(func(item) if isinstance(item, PickledNetwork) else item for item in obj)
    return obj


def load(path_or_url, trust_source=False):
    """The networks of a pickle or .npz file, built (see the module doc); ValueError on any problem."""
    if str(path_or_url).lower().endswith('.npz'):
        return load_npz(path_or_url)
    obj = read_pickle(path_or_url)
    return _map_networks(obj, lambda rec: build_network(_plain_state(rec), path_or_url, trust_source, rec))


# ----------------------------------------------------------------------------
# Inspection without building.

def _source_digest(source):
    return hashlib.sha256(source.encode('utf-8')).hexdigest() if isinstance(source, str) else None


def known_source_digests():
    """sha256 of the source of every module that holds a registered build function."""
    modules = {sys.modules[func.__module__] for func in network_lib.registered_build_funcs()}
    return {_source_digest(inspect.getsource(module)): module.__name__ for module in modules}


def describe_state(state, known=None):
    """A plain summary of a network state: what `run_generator.py inspect` prints."""
    known = known_source_digests() if known is None else known
    digest = _source_digest(state.get('build_module_src'))
    variables = [(name, list(np.shape(value))) for name, value in state.get('variables', [])]
    return OrderedDict(
        name=state.get('name'),
        build_func_name=state.get('build_func_name'),
        rebuilt_by_this_project=network_lib.known_build_func(state.get('build_func_name')) is not None,
        static_kwargs=dict(state.get('static_kwargs') or {}),
        source_sha256=digest,
        source_is=known.get(digest),
        num_variables=len(variables),
        num_values=int(sum(np.prod(shape) for _, shape in variables)),
        variables=variables,
        components=OrderedDict((key, describe_state(comp, known))
                               for key, comp in (state.get('components') or {}).items()))


def describe(path_or_url):
    """[(slot, summary or None)] for a pickle or .npz file, read without building or running anything."""
    if str(path_or_url).lower().endswith('.npz'):
        header, _ = _read_npz(path_or_url)
        entries = header['networks']
        return [(slot, None if entry is None else describe_state(_state_from_entry(entry, None)))
                for slot, entry in zip(_slots(len(entries)), entries)]
    obj = read_pickle(path_or_url)
    items = [obj] if isinstance(obj, PickledNetwork) else list(obj) if isinstance(obj, (tuple, list)) else None
    if items is None or not all(item is None or isinstance(item, PickledNetwork) for item in items):
        raise ValueError('%s holds %s, not networks' % (path_or_url, type(obj).__name__))
    return [(slot, None if item is None else describe_state(_plain_state(item)))
            for slot, item in zip(_slots(len(items)), items)]


def _slots(count):
    return {4: ['E', 'G', 'D', 'Gs'], 3: ['G', 'D', 'Gs'], 1: ['network']}.get(count, [str(i) for i in range(count)])


# ----------------------------------------------------------------------------
# Plain weights: .npz with a JSON header.

def _entry(net, prefix, arrays):
    """The JSON header entry of one network; its values go into `arrays` under prefix + local name."""
    state = net.__getstate__()
    for name, value in state['variables']:
        arrays[prefix + name] = value
    try:
        json.dumps(state['static_kwargs'])
    except TypeError as exc:
        raise ValueError('network %r has keyword arguments that JSON cannot hold: %s' % (net.name, exc)) from exc
    return OrderedDict(
        name=state['name'], build_func_name=state['build_func_name'], static_kwargs=state['static_kwargs'],
        variables=[[name, list(np.shape(value))] for name, value in state['variables']],
        components=OrderedDict((key, _entry(comp, prefix + comp.name + '/', arrays))
                               for key, comp in net.components.items()))


def save_npz(networks, path):
    """Write a Network, or a tuple of them (None allowed), as arrays plus a JSON header (atomically)."""
    items = list(networks) if isinstance(networks, (tuple, list)) else [networks]
    arrays = OrderedDict()
    entries = [None if net is None else _entry(net, '%d/' % index, arrays) for index, net in enumerate(items)]
    header = dict(format=NPZ_FORMAT, version=NPZ_VERSION, single=not isinstance(networks, (tuple, list)),
                  networks=entries)
    buffer = io.BytesIO()
    np.savez(buffer, **{_HEADER_KEY: np.array(json.dumps(header))}, **arrays)
    util.atomic_write_bytes(path, buffer.getvalue())


def _read_npz(path):
    try:
        with util.open_url(path) as f:
            data = np.load(io.BytesIO(f.read()), allow_pickle=False)
            arrays = {key: data[key] for key in data.files}
        header = json.loads(str(arrays.pop(_HEADER_KEY)))
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ValueError('%s is not a network weights file (%s)' % (path, exc)) from exc
    if header.get('format') != NPZ_FORMAT or header.get('version') != NPZ_VERSION:
        raise ValueError('%s is not a %s file of version %d' % (path, NPZ_FORMAT, NPZ_VERSION))
    return header, arrays


def _state_from_entry(entry, arrays, prefix=''):
    """A network state from a header entry; without arrays, each variable is a zero view of its shape (no memory)."""
    variables = [(name, np.broadcast_to(np.float32(0), shape) if arrays is None else arrays[prefix + name])
                 for name, shape in entry['variables']]
    components = {key: _state_from_entry(comp, arrays, prefix + comp['name'] + '/')
                  for key, comp in entry['components'].items()}
    return dict(version=4, name=entry['name'], build_func_name=entry['build_func_name'],
                static_kwargs=entry['static_kwargs'], build_module_src=None, variables=variables,
                components=components)


def load_npz(path):
    """The networks of a file written by save_npz, built by this project's build functions."""
    header, arrays = _read_npz(path)
    try:
        nets = [None if entry is None else build_network(_state_from_entry(entry, arrays, '%d/' % index), path)
                for index, entry in enumerate(header['networks'])]
    except KeyError as exc:
        raise ValueError('%s lacks the array %s' % (path, exc)) from exc
    return nets[0] if header.get('single') else tuple(nets)
