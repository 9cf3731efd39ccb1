"""Shared test set-up: graph mode, and a fresh graph + default session per test."""

import os
import sys

import pytest
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
tf.compat.v1.disable_eager_execution()


@pytest.fixture
def tf_session():
    """A new graph and a default session with two logical CPU devices (/cpu:0, /cpu:1)."""
    import numpy as np
    from dnnlib.tflib import tfutil
    np.random.seed(1000)
    with tf.Graph().as_default() as graph:
        tf.compat.v1.set_random_seed(1000)
        with tfutil.create_session({'num_cpu_devices': 2}).as_default() as session:
            yield session
    del graph


@pytest.fixture(autouse=True)
def _precision_restored():
    """A test that trains with --precision=auto sets bfloat16 on a CPU with AMX; later tests get float32 back."""
    from dnnlib.tflib import precision
    before = precision.get()
    yield
    precision.set_precision(before)
