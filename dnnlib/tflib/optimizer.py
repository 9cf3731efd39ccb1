"""Optimizer over several devices (towers): gradients registered per device
are summed per device, averaged across devices, and applied once."""

from collections import OrderedDict

import tensorflow as tf

from . import tfutil

tfv1 = tf.compat.v1


def _optimizer_class(name_or_class):
    """'tf.train.AdamOptimizer' (the authors' spelling) or a class."""
    if not isinstance(name_or_class, str):
        return name_or_class
    obj = tfv1
    for part in name_or_class.split('.')[1:] if name_or_class.startswith('tf.') else name_or_class.split('.'):
        obj = getattr(obj, part)
    return obj


class Optimizer:
    """A TF optimizer applied to gradients gathered from any number of towers.

    name:          scope of the optimizer's state.
    tf_optimizer:  optimizer class or its name ('tf.train.AdamOptimizer').
    learning_rate: float or tensor (a placeholder fed each step).
    share:         another Optimizer whose optimizer state (e.g. Adam moments)
                   this one updates too, as lazy regularisation needs.
    minibatch_multiplier: accumulate gradients over this many rounds per
                   update: run `accumulate_op` M-1 times, then the op that
                   apply_updates() returned (it adds the last round).
    **kwargs:      passed to the optimizer class (beta1, beta2, epsilon, ...).
    """

    def __init__(self, name='Train', tf_optimizer='tf.train.AdamOptimizer', learning_rate=0.001, share=None,
                 minibatch_multiplier=1, **kwargs):
        self.name = name
        self.learning_rate = learning_rate
        self.minibatch_multiplier = int(minibatch_multiplier)
        self.accumulate_op = None
        if share is not None:
            self._tf_optimizer = share._tf_optimizer  # pylint: disable=protected-access
        else:
            with tfv1.name_scope(None), tf.device('/cpu:0'):
                self._tf_optimizer = _optimizer_class(tf_optimizer)(learning_rate=learning_rate, name=name, **kwargs)
        self._vars = None                      # the variables every registration must cover, in order
        self._device_grads = OrderedDict()     # device -> list of per-variable gradient lists
        self._updates_built = False

    def register_gradients(self, loss, trainable_vars):
        """Add d(loss)/d(vars) on the loss's device. Call once per tower (and loss)."""
        assert not self._updates_built, 'apply_updates() was already called'
        variables = list(trainable_vars.values()) if isinstance(trainable_vars, dict) else list(trainable_vars)
        if self._vars is None:
            self._vars = variables
        if [v.name for v in variables] != [v.name for v in self._vars]:
            raise ValueError('%s: every registration must use the same variables in the same order' % self.name)
        # Depending on the loss itself makes whatever it passes through (autosummaries) run with the step.
        with tfv1.name_scope(self.name + '_grad'), tf.device(loss.device), tf.control_dependencies([loss]):
            grads = tf.gradients(loss, variables)
            grads = [tf.zeros_like(v) if g is None else tf.cast(g, v.dtype) for g, v in zip(grads, variables)]
        self._device_grads.setdefault(loss.device, []).append(grads)

    def apply_updates(self):
        """One op that applies the averaged gradients of every registration.

        The optimizer's state variables are new: run tflib.init_uninitialized_vars()
        once the whole graph is built (running a session mid-construction would
        leave later gradient ops half-configured).
        """
        assert not self._updates_built, 'apply_updates() may be called once'
        self._updates_built = True
        assert self._device_grads, '%s: no gradients registered' % self.name
        per_device = []
        for device, grad_lists in self._device_grads.items():
            with tf.device(device), tfv1.name_scope(self.name + '_sum'):
                per_device.append([tf.add_n(list(gs)) if len(gs) > 1 else gs[0] for gs in zip(*grad_lists)])
        scale = 1.0 / len(per_device)
        with tfv1.name_scope(self.name + '_apply'):
            grads = []
            for var, device_grads in zip(self._vars, zip(*per_device)):
                with tf.device(var.device):
                    total = tf.add_n(list(device_grads)) if len(device_grads) > 1 else device_grads[0]
                    grads.append(total * scale if scale != 1.0 else total)
            # Every gradient is computed before any variable changes (they read each other's variables).
            with tf.control_dependencies(grads):
                grads = [tf.identity(g) for g in grads]
            if self.minibatch_multiplier > 1:
                op = self._accumulated_update(grads)
            else:
                op = self._tf_optimizer.apply_gradients(list(zip(grads, self._vars)))
        return op

    def _accumulated_update(self, grads):
        with tf.control_dependencies(None):
            sums = [tfv1.Variable(tf.zeros(var.shape, var.dtype), trainable=False, name='grad_sum')
                    for var in self._vars]
        self.accumulate_op = tf.group(*[s.assign_add(g) for s, g in zip(sums, grads)], name='accumulate')
        mean = [(s + g) * (1.0 / self.minibatch_multiplier) for s, g in zip(sums, grads)]
        update = self._tf_optimizer.apply_gradients(list(zip(mean, self._vars)))
        with tf.control_dependencies([update]):
            return tf.group(*[s.assign(tf.zeros_like(s)) for s in sums], name='apply')

    def reset_optimizer_state(self):
        """Zero the optimizer's state (moments, step powers)."""
        tfutil.run([var.initializer for var in self._tf_optimizer.variables()])

    def variables(self):
        return self._tf_optimizer.variables()
