"""Compute precision of convolutions: float32, or bfloat16 with float32 everywhere else.

Under 'bf16' the convolutions (forward and, through the casts' gradients,
backward) take bfloat16 inputs and hand float32 results on at once: variables,
optimizer state, losses, dense layers, demodulation, biases, activations and
filters stay float32, so pickles are unchanged. The setting is read when a
graph is built, so it applies to the graphs built after it is set.
"""

import contextlib

import tensorflow as tf

PRECISIONS = ('auto', 'fp32', 'bf16')

_current = 'fp32'


def get():
    """'fp32' or 'bf16': what graphs built now compute their convolutions in."""
    return _current


def set_precision(precision):
    """Set the precision of graphs built from now on ('fp32' or 'bf16', already chosen)."""
    global _current  # pylint: disable=global-statement
    if precision not in ('fp32', 'bf16'):
        raise ValueError('precision must be fp32 or bf16 here (auto is resolved by choose()), not %r' % (precision,))
    _current = precision


@contextlib.contextmanager
def scope(precision):
    """Build graphs in `precision` inside the block (e.g. a float32 and a bfloat16 copy in one process)."""
    saved = _current
    set_precision(precision)
    try:
        yield
    finally:
        set_precision(saved)


def apply(fn, x, w):
    """fn(x, w) for a convolution: in bfloat16 under 'bf16' with a float32 x, the result back in float32."""
    if _current != 'bf16' or x.dtype != tf.float32:
        return fn(x, w)
    return tf.cast(fn(tf.cast(x, tf.bfloat16), tf.cast(w, tf.bfloat16)), tf.float32)


def cpuinfo_field(keys, cpuinfo_text=None):
    """The first value of any of these keys in /proc/cpuinfo (or in the given text); None where there is none."""
    if cpuinfo_text is None:
        try:
            with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
                cpuinfo_text = f.read()
        except OSError:
            return None
    for line in cpuinfo_text.splitlines():
        key, _, value = line.partition(':')
        if key.strip() in keys:
            return value.strip()
    return None


def cpu_flags(cpuinfo_text=None):
    """The CPU feature flags of /proc/cpuinfo (or of the given text); empty where there is none."""
    return set((cpuinfo_field(('flags', 'Features'), cpuinfo_text) or '').split())


def gpu_capabilities():
    """Compute capabilities (major, minor) of the visible GPUs, None where TensorFlow does not tell."""
    result = []
    for device in tf.config.list_physical_devices('GPU'):
        capability = tf.config.experimental.get_device_details(device).get('compute_capability')
        result.append(tuple(capability) if capability else None)
    return result


def choose(setting, training=False, cpuinfo_text=None, gpus=None):
    """Resolve a --precision setting to ('fp32' | 'bf16', reason).

    auto: bfloat16 on CPUs with AMX-BF16 tiles, for inference and training (on an
    Intel Xeon with AMX the quick start trained in bfloat16 as in float32: 0.95 of
    the bits with z kept, and a trained decoder's bits agreed with float32's on
    99.915%); for inference on GPUs of compute capability 8.0 or more, where
    training stays float32 (not measured there); float32 elsewhere. CPUs with
    AVX512-BF16 alone (AMD Zen 4) run inference 1.7x faster in bfloat16, but its
    decoded bits agreed with float32's on 99.70% (half-trained) and 99.904%
    (trained) of a decoder's bits, too close to the 99.9% we require, so there it
    is chosen only when asked for (see README).
    gpus: list of compute capabilities (default: detected).
    """
    if setting not in PRECISIONS:
        raise ValueError('unknown precision %r (use %s)' % (setting, ', '.join(PRECISIONS)))
    if setting != 'auto':
        return setting, 'as asked'
    gpus = gpu_capabilities() if gpus is None else gpus
    if gpus:
        if training:
            return 'fp32', 'auto: float32 for training on GPUs'
        if all(cap is not None and tuple(cap) >= (8, 0) for cap in gpus):
            return 'bf16', 'auto: GPU compute capability 8.0 or more'
        return 'fp32', 'auto: a GPU without bfloat16 (compute capability below 8.0 or unknown)'
    flags = cpu_flags(cpuinfo_text)
    if 'amx_bf16' in flags:
        return 'bf16', 'auto: CPU has amx_bf16'
    return 'fp32', 'auto: CPU has no amx_bf16'


def add_argument(parser, training=False):
    """--precision for a command-line front."""
    rule = ('bfloat16 where the CPU has AMX-BF16, else float32' if training else
            'bfloat16 where the CPU has AMX-BF16 or the GPU compute capability is 8.0+, else float32')
    parser.add_argument('--precision', choices=PRECISIONS, default='auto',
                        help='convolutions in float32 or bfloat16 (float32 results, variables and pickles either '
                             'way); auto: %s (default: auto)' % rule)


def resolve_and_report(setting, training=False, stream=None):
    """choose() for a front, printing the choice once (to stdout, or stream); returns 'fp32' or 'bf16'."""
    precision, reason = choose(setting, training=training)
    print('Precision: %s (%s)' % (precision, reason), file=stream, flush=True)
    return precision
