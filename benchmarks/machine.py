"""The machine a benchmark ran on, as one line: CPU model, bfloat16 flags, TensorFlow and oneDNN.

Every benchmark prints it first, so that figures are read with the machine they came from.
"""

import os
import subprocess
import sys

from dnnlib import cli

tf = cli.import_tensorflow()

from dnnlib.tflib import precision  # noqa: E402

FLAGS = ('avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_tile')


def cpu_model(cpuinfo_text=None):
    """'model name' of /proc/cpuinfo (or of the given text), 'unknown CPU' where there is none."""
    return precision.cpuinfo_field(('model name',), cpuinfo_text) or 'unknown CPU'


def _onednn():
    # oneDNN is on by default in TensorFlow's x86 builds; TF_ENABLE_ONEDNN_OPTS=0 turns it off.
    if os.environ.get('TF_ENABLE_ONEDNN_OPTS', '').strip().lower() in ('0', 'false'):
        return 'off (TF_ENABLE_ONEDNN_OPTS=0)'
    return 'on, ISA: %s' % onednn_isa()


def onednn_isa():
    """The instruction set oneDNN dispatches to here, as its verbose mode names it (one small convolution
    in a child process, since oneDNN reads ONEDNN_VERBOSE once, at its first call)."""
    probe = ('import tensorflow as tf\n'
             'tf.nn.conv2d(tf.ones([1, 4, 4, 8]), tf.ones([3, 3, 8, 8]), 1, "SAME")\n')
    env = dict(os.environ, ONEDNN_VERBOSE='1', TF_CPP_MIN_LOG_LEVEL='3')
    try:
        output = subprocess.run([sys.executable, '-c', probe], env=env, capture_output=True, text=True,
                                timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    for line in output.splitlines():
        if ',info,cpu,isa:' in line:
            return line.split(',info,cpu,isa:', 1)[1].strip()
    return 'unknown (oneDNN printed none)'


def describe():
    flags = precision.cpu_flags()
    present = [flag for flag in FLAGS if flag in flags]
    gpus = precision.gpu_capabilities()
    return 'machine: %s, %d logical CPUs, flags %s; %s; TensorFlow %s, oneDNN %s' % (
        cpu_model(), os.cpu_count() or 0, ' '.join(present) or 'none of ' + ' '.join(FLAGS),
        '%d GPU(s), compute capability %s' % (len(gpus), gpus) if gpus else 'no GPU', tf.__version__, _onednn())


def print_header():
    print(describe(), flush=True)
