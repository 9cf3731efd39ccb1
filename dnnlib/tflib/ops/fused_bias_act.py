"""Bias + activation + gain (StyleGAN2's fused_bias_act), in plain TensorFlow.

There is no compiled kernel: `impl` ('cuda' or 'ref') is accepted for the
callers' sake and the same TF code runs for both. TF's autodiff provides the
first and second order gradients.
"""

import numpy as np
import tensorflow as tf

from dnnlib.util import EasyDict


def _elu(x, alpha):
    # tf.minimum keeps expm1 finite where tf.where discards it, so its gradient is not NaN.
    return tf.where(x > 0, x, alpha * tf.math.expm1(tf.minimum(x, 0)))


# func(x, alpha) for every activation, with the default alpha and gain that
# keep the activations' magnitude about constant through a network.
activation_funcs = {
    'linear':   EasyDict(func=lambda x, alpha: x,                          def_alpha=None, def_gain=1.0),
    'relu':     EasyDict(func=lambda x, alpha: tf.nn.relu(x),              def_alpha=None, def_gain=np.sqrt(2)),
    'lrelu':    EasyDict(func=lambda x, alpha: tf.nn.leaky_relu(x, alpha), def_alpha=0.2,  def_gain=np.sqrt(2)),
    'tanh':     EasyDict(func=lambda x, alpha: tf.nn.tanh(x),              def_alpha=None, def_gain=1.0),
    'sigmoid':  EasyDict(func=lambda x, alpha: tf.nn.sigmoid(x),           def_alpha=None, def_gain=1.0),
    'elu':      EasyDict(func=_elu,                                        def_alpha=1.0,  def_gain=1.0),
    'selu':     EasyDict(func=lambda x, alpha: tf.nn.selu(x),              def_alpha=None, def_gain=1.0),
    'softplus': EasyDict(func=lambda x, alpha: tf.nn.softplus(x),          def_alpha=None, def_gain=1.0),
    'swish':    EasyDict(func=lambda x, alpha: tf.nn.sigmoid(x) * x,       def_alpha=None, def_gain=np.sqrt(2)),
}


def fused_bias_act(x, b=None, axis=1, act='linear', alpha=None, gain=None, impl='cuda'):
    """Returns act(x + b, alpha) * gain.

    b is 1-D with x.shape[axis] elements and is broadcast along that axis
    (1 for NCHW, -1 for NHWC); None means no bias. alpha and gain default to
    the activation's entries in `activation_funcs`.
    """
    assert impl in ('cuda', 'ref'), impl
    spec = activation_funcs[act]
    alpha = spec.def_alpha if alpha is None else alpha
    gain = spec.def_gain if gain is None else gain
    x = tf.convert_to_tensor(x)
    if b is not None:
        b = tf.cast(b, x.dtype)
        assert b.shape.rank == 1, b.shape
        rank = x.shape.rank
        axis %= rank
        x += tf.reshape(b, [-1] + [1] * (rank - axis - 1))
    x = spec.func(x, alpha)
    if gain != 1:
        x *= float(gain)
    return x
