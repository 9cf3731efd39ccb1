"""The multi-device Optimizer: averaging across towers, several registrations, accumulation, shared state."""

import numpy as np
import tensorflow as tf

from dnnlib import tflib

tfv1 = tf.compat.v1


def _problem(num_towers, data):
    """A least-squares problem whose data is split across towers; returns (var, loss per tower)."""
    with tf.device('/cpu:0'):
        var = tfv1.Variable(np.zeros(3, np.float32), name='w')
    losses = []
    for tower, chunk in enumerate(np.split(data, num_towers)):
        with tf.device(tflib.tower_device(tower)):
            losses.append(tf.reduce_mean(tf.square(tf.constant(chunk) @ tf.reshape(var, [3, 1]) - 1.0)))
    return var, losses


def _train(num_towers, data, steps=3, optimizer='tf.train.GradientDescentOptimizer', **kwargs):
    var, losses = _problem(num_towers, data)
    opt = tflib.Optimizer(name='Opt%d' % num_towers, tf_optimizer=optimizer, learning_rate=0.1, **kwargs)
    for loss in losses:
        opt.register_gradients(loss, [var])
    op = opt.apply_updates()
    tflib.init_uninitialized_vars()
    for _ in range(steps):
        tflib.run(op)
    return tflib.run(var)


def test_two_towers_average_to_the_one_device_gradient(tf_session):
    data = np.random.RandomState(0).randn(8, 3).astype(np.float32)
    np.testing.assert_allclose(_train(2, data), _train(1, data), rtol=1e-5, atol=1e-6)


def test_adam_by_its_authors_name_and_reset(tf_session):
    data = np.random.RandomState(1).randn(4, 3).astype(np.float32)
    var, (loss,) = _problem(1, data)
    opt = tflib.Optimizer(name='Adam', learning_rate=0.01, beta1=0.0, beta2=0.99, epsilon=1e-8)
    opt.register_gradients(loss, {'w': var})
    op = opt.apply_updates()
    tflib.init_uninitialized_vars()
    tflib.run(op)
    assert any(np.abs(v).sum() > 0 for v in tflib.run(opt.variables()) if np.ndim(v))
    opt.reset_optimizer_state()
    assert all(np.abs(v).sum() == 0 for v in tflib.run(opt.variables()) if np.ndim(v))


def test_several_registrations_on_one_device_add(tf_session):
    with tf.device('/cpu:0'):
        var = tfv1.Variable(np.ones(2, np.float32))
    opt = tflib.Optimizer(name='Sum', tf_optimizer='tf.train.GradientDescentOptimizer', learning_rate=1.0)
    opt.register_gradients(tf.reduce_sum(var), [var])           # gradient 1
    opt.register_gradients(tf.reduce_sum(3.0 * var), [var])     # gradient 3
    op = opt.apply_updates()
    tflib.init_uninitialized_vars()
    tflib.run(op)
    np.testing.assert_allclose(tflib.run(var), [1 - 4, 1 - 4])


def test_accumulation_equals_one_large_minibatch(tf_session):
    data = np.random.RandomState(2).randn(8, 3).astype(np.float32)
    var, _ = _problem(1, data[:4])  # the shapes only; the feed below supplies the halves
    batch = tfv1.placeholder(tf.float32, [None, 3])
    loss = tf.reduce_mean(tf.square(batch @ tf.reshape(var, [3, 1]) - 1.0))
    opt = tflib.Optimizer(name='Acc', tf_optimizer='tf.train.GradientDescentOptimizer', learning_rate=0.1,
                          minibatch_multiplier=2)
    opt.register_gradients(loss, [var])
    op = opt.apply_updates()
    tflib.init_uninitialized_vars()
    tflib.run(opt.accumulate_op, {batch: data[:4]})
    tflib.run(op, {batch: data[4:]})
    accumulated = tflib.run(var)
    assert np.abs(accumulated).sum() > 0
    tflib.set_vars({var: np.zeros(3, np.float32)})
    full = tflib.Optimizer(name='Full', tf_optimizer='tf.train.GradientDescentOptimizer', learning_rate=0.1)
    full.register_gradients(loss, [var])
    full_op = full.apply_updates()
    tflib.run(full_op, {batch: data})
    np.testing.assert_allclose(accumulated, tflib.run(var), rtol=1e-5, atol=1e-6)


def test_shared_optimizer_state(tf_session):
    with tf.device('/cpu:0'):
        var = tfv1.Variable(np.ones(2, np.float32))
    main = tflib.Optimizer(name='Main', learning_rate=0.1)
    reg = tflib.Optimizer(name='Reg', share=main)
    main.register_gradients(tf.reduce_sum(var), [var])
    reg.register_gradients(tf.reduce_sum(tf.square(var)), [var])
    main_op, reg_op = main.apply_updates(), reg.apply_updates()
    assert main.variables() == reg.variables()
    tflib.init_uninitialized_vars()
    tflib.run([main_op])
    tflib.run([reg_op])
    assert np.all(tflib.run(var) < 1.0)
