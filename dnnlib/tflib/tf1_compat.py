"""Lets network source written for TensorFlow 1.x build under TensorFlow 2.x.

The authors' released pickles embed source in the TF 1.14 idiom: `import
tensorflow as tf`, `tf.get_variable`, `tf.initializers.random_normal` and raw
`tf.nn.conv2d(..., data_format='NCHW')`, which TF 2's CPU kernels reject.
Such source is executed with an `import` that hands it `tf.compat.v1`, whose
`nn.conv2d` is replaced by our layout- and device-independent convolution.
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


nn = _Overlay('tensorflow.nn', tf.compat.v1.nn, conv2d=_conv2d_v1)
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
