"""fused_bias_act against numpy references, and its first and second order gradients."""

import numpy as np
import pytest
import tensorflow as tf

from dnnlib.tflib.ops.fused_bias_act import activation_funcs, fused_bias_act

tf.compat.v1.disable_eager_execution()

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# act: (numpy f(x, alpha), default alpha, default gain)
REFERENCE = {
    'linear':   (lambda x, a: x,                                            None, 1.0),
    'relu':     (lambda x, a: np.maximum(x, 0),                             None, np.sqrt(2)),
    'lrelu':    (lambda x, a: np.where(x > 0, x, a * x),                    0.2,  np.sqrt(2)),
    'tanh':     (lambda x, a: np.tanh(x),                                   None, 1.0),
    'sigmoid':  (lambda x, a: sigmoid(x),                                   None, 1.0),
    'elu':      (lambda x, a: np.where(x > 0, x, a * np.expm1(x)),          1.0,  1.0),
    'selu':     (lambda x, a: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), None, 1.0),
    'softplus': (lambda x, a: np.log1p(np.exp(x)),                          None, 1.0),
    'swish':    (lambda x, a: x * sigmoid(x),                               None, np.sqrt(2)),
}


def test_table_defaults():
    assert set(activation_funcs) == set(REFERENCE)
    for act, (_, alpha, gain) in REFERENCE.items():
        assert activation_funcs[act].def_alpha == alpha, act
        assert activation_funcs[act].def_gain == pytest.approx(gain), act


@pytest.mark.parametrize('act', sorted(REFERENCE))
@pytest.mark.parametrize('axis', [1, -1])
@pytest.mark.parametrize('with_bias', [True, False])
def test_matches_reference(act, axis, with_bias):
    rng = np.random.RandomState(0)
    x = rng.randn(2, 3, 2, 3).astype(np.float32) * 2
    b = rng.randn(3).astype(np.float32)
    f, alpha, gain = REFERENCE[act]
    shape = [1, 3, 1, 1] if axis == 1 else [1, 1, 1, 3]
    z = x + b.reshape(shape) if with_bias else x
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        y = sess.run(fused_bias_act(x, b if with_bias else None, axis=axis, act=act))
    np.testing.assert_allclose(y, f(z, alpha) * gain, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('act, alpha, gain', [('lrelu', 0.1, 3.0), ('elu', 0.5, 2.0), ('relu', None, 1.0),
                                              ('linear', None, 0.5), ('tanh', None, 1.5)])
def test_custom_alpha_and_gain(act, alpha, gain):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(1, 4, 3)
    b = np.array([0.5, -1, 0], np.float32)
    f, def_alpha, _ = REFERENCE[act]
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        y = sess.run(fused_bias_act(x, b, axis=2, act=act, alpha=alpha, gain=gain, impl='ref'))
    np.testing.assert_allclose(y, f(x + b, def_alpha if alpha is None else alpha) * gain, rtol=1e-5, atol=1e-6)


def test_rejects_unknown_impl():
    with tf.Graph().as_default(), pytest.raises(AssertionError):
        fused_bias_act(np.zeros([1, 1], np.float32), impl='fast')


@pytest.mark.parametrize('act', ['lrelu', 'elu', 'swish', 'softplus'])
def test_gradients_match_finite_differences(act):
    rng = np.random.RandomState(1)
    # Away from 0, where lrelu and elu have a kink.
    x = rng.uniform(0.2, 2, [2, 3, 2]) * rng.choice([-1, 1], [2, 3, 2])
    b = np.array([0.05, -0.05, 0.1])
    with tf.Graph().as_default(), tf.compat.v1.Session():
        # compute_gradient feeds one input at a time; the other keeps its default.
        xp = tf.compat.v1.placeholder_with_default(x, x.shape)
        bp = tf.compat.v1.placeholder_with_default(b, b.shape)
        y = fused_bias_act(xp, bp, axis=1, act=act)
        err = tf.compat.v1.test.compute_gradient_error([xp, bp], [x.shape, b.shape], y, x.shape,
                                                       x_init_value=[x, b], delta=1e-4)
    assert err < 1e-6


def test_second_order_gradient_of_lrelu():
    x = np.array([[-1.5, 0.5], [2.0, -0.25]], np.float32)
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        xt = tf.constant(x)
        b = tf.constant([0.1, -0.1])
        y = fused_bias_act(xt, b, act='lrelu')
        dx = tf.gradients(tf.reduce_sum(tf.square(y)), xt)[0]
        ddx, ddb = sess.run(tf.gradients(tf.reduce_sum(dx), [xt, b]))
    # d/dx sum(2 * gain^2 * slope^2 * (x + b)) = 2 * gain^2 * slope^2 elementwise.
    slope2 = np.where(x + [0.1, -0.1] > 0, 1, 0.04)
    np.testing.assert_allclose(ddx, 4 * slope2, rtol=1e-5)
    np.testing.assert_allclose(ddb, (4 * slope2).sum(0), rtol=1e-5)
