"""Running statistics of training quantities, written to TensorBoard.

`autosummary(name, value)` accumulates count, sum and sum of squares of a
value, either in the graph (a tensor: the accumulation runs whenever the
returned tensor is evaluated) or in Python (a number). `save_summaries` writes
mean and standard deviation of everything accumulated since the last call and
returns the means. Graph accumulators are variables: initialise them with
tflib.init_uninitialized_vars() once the graph is built.
"""

import weakref
from collections import OrderedDict

import numpy as np
import tensorflow as tf

from . import tfutil

tfv1 = tf.compat.v1

_python_accumulators = OrderedDict()  # name -> numpy [count, sum, sum of squares]
_graph_states = weakref.WeakKeyDictionary()  # graph -> its accumulators and read-and-reset op


def _graph_state():
    graph = tfv1.get_default_graph()
    if graph not in _graph_states:
        # accumulators: name -> float64 variable [count, sum, sum of squares]
        _graph_states[graph] = {'accumulators': OrderedDict(), 'read_and_reset': None}
    return _graph_states[graph]


def _accumulator(name):
    state = _graph_state()
    var = state['accumulators'].get(name)
    if var is None:
        safe = name.replace('/', '_').replace(' ', '_')
        with tfutil.absolute_name_scope('Autosummary/' + safe), tf.control_dependencies(None), tf.device('/cpu:0'):
            var = tfv1.Variable(tf.zeros([3], tf.float64), trainable=False, name='acc')
        state['accumulators'][name] = var
        state['read_and_reset'] = None
    return var


def autosummary(name, value, passthru=None, condition=True):
    """Accumulate `value` under `name`; return `passthru` (default: `value`) for chaining."""
    if not tfutil.is_tf_expression(value):
        values = np.asarray(value, np.float64).ravel()
        acc = _python_accumulators.setdefault(name, np.zeros(3))
        acc += [values.size, values.sum(), np.square(values).sum()]
        return value if passthru is None else passthru
    var = _accumulator(name)
    with tfv1.name_scope('Autosummary/' + name.replace('/', '_')), tf.device('/cpu:0'):
        flat = tf.reshape(tf.cast(value, tf.float64), [-1])
        delta = tf.stack([tf.cast(tf.size(flat), tf.float64), tf.reduce_sum(flat), tf.reduce_sum(tf.square(flat))])
        if condition is not True:
            delta = tf.where(tf.cast(condition, tf.bool), delta, tf.zeros_like(delta))
        update = var.assign_add(delta)
    with tf.control_dependencies([update]):
        return tf.identity(value if passthru is None else passthru)


def _collect():
    """Sum the accumulators since the last call: {name: [count, sum, sum of squares]}."""
    state = _graph_state()
    accumulators = state['accumulators']
    totals = OrderedDict()
    if accumulators:
        if state['read_and_reset'] is None:
            with tfutil.absolute_name_scope('Autosummary/_ReadAndReset'), tf.control_dependencies(None), tf.device('/cpu:0'):
                values = tf.stack([var.read_value() for var in accumulators.values()])
                with tf.control_dependencies([values]):
                    reset = tf.group(*[var.assign(tf.zeros([3], tf.float64)) for var in accumulators.values()])
                with tf.control_dependencies([reset]):
                    values = tf.identity(values)
            state['read_and_reset'] = (list(accumulators), values)
        names, values = state['read_and_reset']
        totals.update(zip(names, tfutil.run(values)))
    for name, acc in _python_accumulators.items():
        totals[name] = totals.get(name, np.zeros(3)) + acc
        acc[:] = 0
    return totals


def save_summaries(file_writer=None, global_step=None):
    """Write mean and std of each accumulated quantity (if a writer is given); return {name: mean}."""
    means = OrderedDict()
    summary = tfv1.Summary()
    for name, (count, total, total_sq) in _collect().items():
        if count <= 0:
            continue
        mean = total / count
        std = np.sqrt(max(total_sq / count - mean * mean, 0.0))
        means[name] = mean
        summary.value.add(tag=name, simple_value=mean)
        summary.value.add(tag=name + '/std', simple_value=std)
    if file_writer is not None:
        file_writer.add_summary(summary, global_step)
        file_writer.flush()
    return means
