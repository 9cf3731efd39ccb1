"""Lets network source written for TensorFlow 1.x build under TensorFlow 2.x.

The authors' released pickles embed source in the TF 1.14 idiom: `import
tensorflow as tf`, `tf.get_variable`, `tf.initializers.random_normal` and raw
`tf.nn.conv2d(..., data_format='NCHW')`, which TF 2's CPU kernels reject.
Such source is executed with an `import` that hands it `tf.compat.v1`, whose
`nn.conv2d` is replaced by our layout- and device-independent convolution and
whose `nn.max_pool` / `nn.avg_pool` accept NCHW on every device.
"""

import builtins
import types

import tensorflow as tf

from .ops import conv2d as conv2d_ops


class _Overlay(types.ModuleType):
    """A module that serves its own attributes first and the base module's otherwise."""

    def __init__(self, name, base, **overrides):
        super().__init__(name)
        self.__dict__['_base'] = base
        self.__dict__.update(overrides)

    def __getattr__(self, attr):
        return getattr(self.__dict__['_base'], attr)


def _conv2d_v1(input=None, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True,  # pylint: disable=redefined-builtin
               data_format='NHWC', dilations=None, name=None, filters=None):
    del use_cudnn_on_gpu
    if dilations is not None and any(int(d) != 1 for d in dilations):
        raise NotImplementedError('dilated convolutions are not supported in legacy network source')
    with tf.name_scope(name or 'Conv2D'):
        return conv2d_ops.conv2d(input, filter if filter is not None else filters,
                                 strides=strides, padding=padding, data_format=data_format)


def _nhwc_order(sizes):
    """Per-axis pooling window or strides given in NCHW order, in NHWC order (1- and 2-value forms need no change)."""
    if isinstance(sizes, (list, tuple)) and len(sizes) == 4:
        return [sizes[0], sizes[2], sizes[3], sizes[1]]
    return sizes


def _pool_any_layout(pool, default_name):
    """`pool` that takes NCHW through a transpose to NHWC, the only layout TF's CPU pooling kernels accept."""

    def pool_v1(value=None, ksize=None, strides=None, padding=None, data_format='NHWC', name=None,
                input=None):  # pylint: disable=redefined-builtin
        x = input if value is None else value
        if data_format != 'NCHW':
            return pool(x, ksize, strides, padding, data_format=data_format, name=name)
        with tf.name_scope(name or default_name):
            x = pool(tf.transpose(x, [0, 2, 3, 1]), _nhwc_order(ksize), _nhwc_order(strides), padding,
                     data_format='NHWC')
            return tf.transpose(x, [0, 3, 1, 2])

    return pool_v1


nn = _Overlay('tensorflow.nn', tf.compat.v1.nn, conv2d=_conv2d_v1,
              max_pool=_pool_any_layout(tf.compat.v1.nn.max_pool, 'MaxPool'),
              avg_pool=_pool_any_layout(tf.compat.v1.nn.avg_pool, 'AvgPool'))
tf1 = _Overlay('tensorflow', tf.compat.v1, nn=nn)
tf1.__dict__['compat'] = _Overlay('tensorflow.compat', tf.compat, v1=tf1)


def _import(name, globals=None, locals=None, fromlist=(), level=0):  # pylint: disable=redefined-builtin
    if level == 0 and name in ('tensorflow', 'tensorflow.compat.v1'):
        # `import tensorflow.compat.v1 as tf` gets the top package and walks .compat.v1 on it.
        return tf1
    return builtins.__import__(name, globals, locals, fromlist, level)


def builtins_for_legacy_source():
    """A __builtins__ dict whose `import tensorflow` yields the TF 1.x-compatible module."""
    return dict(builtins.__dict__, __import__=_import)
