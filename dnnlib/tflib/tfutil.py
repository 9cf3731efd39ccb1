"""Session set-up and small graph-mode helpers (TensorFlow 2.x through tf.compat.v1)."""

import contextlib
import os

import numpy as np
import tensorflow as tf

from . import precision as precision_lib

tfv1 = tf.compat.v1

_default_session_context = None

_default_config = {
    'rnd.np_random_seed': None,       # Random seed for NumPy. None = keep as is.
    'rnd.tf_random_seed': 'auto',     # Random seed for TensorFlow. 'auto' = derive from NumPy, None = keep as is.
    'env.TF_CPP_MIN_LOG_LEVEL': '1',  # 0 = print all, 1 = no info, 2 = no warnings, 3 = no errors.
    'graph_options.place_pruned_graph': True,
    'gpu_options.allow_growth': True,
    'allow_soft_placement': True,     # The authors' code pins everything to /gpu:0.
    'num_cpu_devices': 1,             # Logical CPU devices (/cpu:0 ... /cpu:N-1) for multi-tower runs without GPUs.
    'intra_op_parallelism_threads': 0,  # Threads inside one op; 0 = one per core.
    'inter_op_parallelism_threads': 0,  # Ops run at once; 0 = one per core.
    'precision': None,                # Convolutions in 'fp32', 'bf16' or 'auto' (see precision.py); None = keep as is.
}


def run(*args, **kwargs):
    """Run in the default session."""
    assert_tf_initialized()
    return tfv1.get_default_session().run(*args, **kwargs)


def is_tf_expression(x):
    return isinstance(x, (tf.Tensor, tf.Variable, tf.Operation))


def shape_to_list(shape):
    """TensorShape (v1 or v2 behaviour) to a list of ints and Nones; None when even the rank is unknown."""
    shape = tf.TensorShape(shape)
    return shape.as_list() if shape.rank is not None else None


def flatten(x):
    with tfv1.name_scope('Flatten'):
        return tf.reshape(x, [-1])


def log2(x):
    with tfv1.name_scope('Log2'):
        return tf.math.log(x) * np.float32(1.0 / np.log(2.0))


def exp2(x):
    with tfv1.name_scope('Exp2'):
        return tf.exp(x * np.float32(np.log(2.0)))


def lerp(a, b, t):
    """a + (b - a) * t, as a graph expression."""
    with tfv1.name_scope('Lerp'):
        return a + (b - a) * t


def lerp_clip(a, b, t):
    with tfv1.name_scope('LerpClip'):
        return a + (b - a) * tf.clip_by_value(t, 0.0, 1.0)


@contextlib.contextmanager
def absolute_name_scope(scope):
    """Enter a name scope given by its full name, ignoring the surrounding ones."""
    with tfv1.name_scope(scope + '/') as name:
        yield name


@contextlib.contextmanager
def absolute_variable_scope(scope, **kwargs):
    """Enter a variable scope given by its full name, ignoring the surrounding ones."""
    with tfv1.variable_scope(tfv1.VariableScope(name=scope, **kwargs), auxiliary_name_scope=False) as vs:
        yield vs


def _sanitize_tf_config(config_dict=None):
    cfg = dict(_default_config)
    if config_dict is not None:
        unknown = set(config_dict) - set(cfg) - {k for k in config_dict if k.startswith(('gpu_options.', 'graph_options.', 'env.'))}
        if unknown:
            raise ValueError('unknown TensorFlow config key(s): %s' % ', '.join(sorted(unknown)))
        cfg.update(config_dict)
    return cfg


def init_tf(config_dict=None):
    """Switch to graph mode, seed the random generators and create a default session."""
    if tfv1.get_default_session() is not None:
        return
    cfg = _sanitize_tf_config(config_dict)
    for key, value in cfg.items():
        if key.startswith('env.') and value is not None:
            os.environ[key[4:]] = str(value)
    tfv1.disable_eager_execution()
    np_seed = cfg['rnd.np_random_seed']
    if np_seed is not None:
        np.random.seed(np_seed)
    tf_seed = cfg['rnd.tf_random_seed']
    if tf_seed == 'auto':
        tf_seed = np.random.randint(1 << 31)
    if tf_seed is not None:
        tfv1.set_random_seed(tf_seed)
    global _default_session_context  # pylint: disable=global-statement
    _default_session_context = create_session(cfg).as_default()
    _default_session_context.enforce_nesting = False
    _default_session_context.__enter__()  # stays the default session for the rest of the process


def assert_tf_initialized():
    if tfv1.get_default_session() is None:
        raise RuntimeError('No default TensorFlow session found. Please call dnnlib.tflib.init_tf().')


def create_session(config_dict=None):
    """Create a tf.compat.v1.Session from a flat config dict ('gpu_options.allow_growth': True, ...).

    'precision' sets the precision of the graphs built from then on, process-wide.
    """
    cfg = _sanitize_tf_config(config_dict)
    if cfg['precision'] is not None:
        precision_lib.set_precision(precision_lib.choose(cfg['precision'])[0])
    config_proto = tfv1.ConfigProto(allow_soft_placement=bool(cfg['allow_soft_placement']),
                                    device_count={'CPU': int(cfg['num_cpu_devices'])},
                                    intra_op_parallelism_threads=int(cfg['intra_op_parallelism_threads']),
                                    inter_op_parallelism_threads=int(cfg['inter_op_parallelism_threads']))
    for key, value in cfg.items():
        fields = key.split('.')
        if fields[0] in ('rnd', 'env') or len(fields) == 1 or value is None:
            continue
        obj = config_proto
        for field in fields[:-1]:
            obj = getattr(obj, field)
        setattr(obj, fields[-1], value)
    return tfv1.Session(config=config_proto)


def init_uninitialized_vars(target_vars=None):
    """Initialise the given variables (default: all global ones) that are not initialised yet."""
    assert_tf_initialized()
    if target_vars is None:
        target_vars = tfv1.global_variables()
    target_vars = list(target_vars)
    if not target_vars:
        return
    flags = run([tfv1.is_variable_initialized(var) for var in target_vars])
    pending = [var for var, ok in zip(target_vars, flags) if not ok]
    if pending:
        run([var.initializer for var in pending])


def _setter_for(var):
    """A cached placeholder + assign op per variable, so set_vars adds no graph nodes after the first call."""
    # pylint: disable=protected-access
    setter = getattr(var, '_dnnlib_setter', None)
    if setter is None:
        with tf.control_dependencies(None), absolute_name_scope(var.name.split(':')[0] + '_setter'):
            value = tfv1.placeholder(var.dtype, var.shape, name='new_value')
            setter = (value, tfv1.assign(var, value, name='assign'))
        var._dnnlib_setter = setter
    return setter


def set_vars(var_to_value_dict):
    """Assign numpy values to variables: {var: value, ...}."""
    assert_tf_initialized()
    ops = []
    feed = {}
    for var, value in var_to_value_dict.items():
        placeholder, op = _setter_for(var)
        ops.append(op)
        feed[placeholder] = value
    if ops:
        run(ops, feed)


def create_var_with_large_initial_value(initial_value, *args, **kwargs):
    """A variable whose initial value is fed at initialisation instead of stored as a graph constant."""
    assert isinstance(initial_value, np.ndarray)
    zeros = tf.zeros(initial_value.shape, initial_value.dtype)
    var = tf.Variable(zeros, *args, **kwargs)
    set_vars({var: initial_value})
    return var


def convert_images_from_uint8(images, drange=(-1, 1), nhwc_to_nchw=False):
    """uint8 [0, 255] images to float32 in `drange`."""
    images = tf.cast(images, tf.float32)
    if nhwc_to_nchw:
        images = tf.transpose(images, [0, 3, 1, 2])
    return images * ((drange[1] - drange[0]) / 255) + drange[0]


def convert_images_to_uint8(images, drange=(-1, 1), nchw_to_nhwc=False, shrink=1, uint8_cast=True):
    """float images in `drange` to uint8 [0, 255], optionally shrunk by an integer factor (box filter)."""
    images = tf.cast(images, tf.float32)
    if shrink > 1:
        # A reshape-and-mean box filter works in NCHW on every device (AvgPool NCHW does not run on CPU).
        c, h, w = [int(d) for d in images.shape[1:]]
        images = tf.reshape(images, [-1, c, h // shrink, shrink, w // shrink, shrink])
        images = tf.reduce_mean(images, axis=[3, 5])
    if nchw_to_nhwc:
        images = tf.transpose(images, [0, 2, 3, 1])
    scale = 255 / (drange[1] - drange[0])
    images = images * scale + (0.5 - drange[0] * scale)
    if uint8_cast:
        images = tf.saturate_cast(images, tf.uint8)
    return images


def num_gpus_available():
    return len(tf.config.list_physical_devices('GPU'))


def tower_device(index):
    """Device of tower `index`: the index-th GPU, or the index-th logical CPU device when there is no GPU."""
    return '/gpu:%d' % index if num_gpus_available() > 0 else '/cpu:%d' % index
