"""autosummary: graph and Python values, means written to TensorBoard event files."""

import glob

import numpy as np
import tensorflow as tf

from dnnlib import tflib
from dnnlib.tflib import autosummary


def test_graph_and_python_values_are_averaged_and_written(tf_session, tmp_path):
    value = tf.compat.v1.placeholder(tf.float32, [None])
    out = autosummary.autosummary('Test/graph', value, passthru=tf.reduce_sum(value))
    tflib.init_uninitialized_vars()
    assert tflib.run(out, {value: [1.0, 2.0]}) == 3.0
    tflib.run(out, {value: [6.0]})
    autosummary.autosummary('Test/python', 4.0)
    autosummary.autosummary('Test/python', 8.0)
    writer = tf.compat.v1.summary.FileWriter(str(tmp_path))
    means = autosummary.save_summaries(writer, global_step=7)
    writer.close()
    assert np.isclose(means['Test/graph'], 3.0) and np.isclose(means['Test/python'], 6.0)
    # Accumulators start again after a save.
    tflib.run(out, {value: [10.0]})
    assert np.isclose(autosummary.save_summaries()['Test/graph'], 10.0)

    events = glob.glob(str(tmp_path / 'events.out.tfevents.*'))
    assert events
    tags = set()
    for event in tf.compat.v1.train.summary_iterator(events[0]):
        tags.update(v.tag for v in event.summary.value)
    assert {'Test/graph', 'Test/graph/std', 'Test/python'} <= tags
