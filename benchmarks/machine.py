"""The machine a benchmark ran on, as one line: CPU model, bfloat16 flags, TensorFlow and oneDNN.

Every benchmark prints it first, so that figures are read with the machine they came from.
"""

import os

from dnnlib import cli

tf = cli.import_tensorflow()

from dnnlib.tflib import precision  # noqa: E402

FLAGS = ('avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_tile')


def cpu_model(cpuinfo_text=None):
    """'model name' of /proc/cpuinfo (or of the given text), 'unknown CPU' where there is none."""
    return precision.cpuinfo_field(('model name',), cpuinfo_text) or 'unknown CPU'


def _onednn():
    # oneDNN is on by default in TensorFlow's x86 builds; TF_ENABLE_ONEDNN_OPTS=0 turns it off.
    off = os.environ.get('TF_ENABLE_ONEDNN_OPTS', '').strip().lower() in ('0', 'false')
    return 'off (TF_ENABLE_ONEDNN_OPTS=0)' if off else 'on'


def describe():
    flags = precision.cpu_flags()
    present = [flag for flag in FLAGS if flag in flags]
    gpus = precision.gpu_capabilities()
    return 'machine: %s, %d logical CPUs, flags %s; %s; TensorFlow %s, oneDNN %s' % (
        cpu_model(), os.cpu_count() or 0, ' '.join(present) or 'none of ' + ' '.join(FLAGS),
        '%d GPU(s), compute capability %s' % (len(gpus), gpus) if gpus else 'no GPU', tf.__version__, _onednn())


def print_header():
    print(describe(), flush=True)
