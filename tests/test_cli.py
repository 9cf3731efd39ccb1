"""dnnlib.cli: one-line errors, boolean flags, and TensorFlow imported without start-up lines."""

import argparse
import os
import subprocess
import sys

import pytest

from dnnlib import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_parser_error_is_one_line(capsys):
    parser = cli.ArgumentParser(prog='tool.py', error_name='tool')
    sub = parser.add_subparsers(dest='command')
    sub.add_parser('go').add_argument('--count', type=int)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(['go', '--count', 'many'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('tool: error: ') and 'many' in err


@pytest.mark.parametrize('text, value', [('True', True), ('1', True), ('yes', True), ('off', False), ('0', False)])
def test_parse_bool(text, value):
    assert cli.parse_bool(text) is value


def test_parse_bool_rejects_other_words():
    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_bool('maybe')


def test_import_tensorflow_prints_nothing():
    code = 'from dnnlib import cli; tf = cli.import_tensorflow(); print(tf.constant(2).numpy() * 3)'
    env = dict(os.environ)
    env.pop('TF_CPP_MIN_LOG_LEVEL', None)
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0 and result.stdout.strip() == '6'
    assert result.stderr == ''
