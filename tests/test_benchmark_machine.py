"""The machine line every benchmark prints first (benchmarks/machine.py)."""

import os
import platform
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))

import machine  # noqa: E402

CPUINFO = 'processor\t: 0\nmodel name\t: Example CPU 9000\nflags\t\t: fpu avx512f amx_bf16\n'


def test_cpu_model_from_cpuinfo():
    assert machine.cpu_model(CPUINFO) == 'Example CPU 9000'
    assert machine.cpu_model('processor\t: 0\n') == 'unknown CPU'


@pytest.mark.skipif(platform.machine() not in ('x86_64', 'AMD64'), reason='oneDNN is on by default only on x86')
def test_line_names_cpu_tensorflow_and_onednn_isa(monkeypatch):
    monkeypatch.delenv('TF_ENABLE_ONEDNN_OPTS', raising=False)
    line = machine.describe()
    assert line.startswith('machine: %s, ' % machine.cpu_model())
    assert 'TensorFlow %s' % machine.tf.__version__ in line
    isa = line.split('oneDNN on, ISA: ', 1)[1]
    # x86 builds of TensorFlow run oneDNN, which names the instruction set it uses.
    assert isa and not isa.startswith('unknown'), line


def test_line_says_when_onednn_is_off(monkeypatch):
    monkeypatch.setenv('TF_ENABLE_ONEDNN_OPTS', '0')
    assert machine.describe().endswith('oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)')
