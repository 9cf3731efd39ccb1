"""Run directories and the console log of a submitted run; the command-line parser helpers."""

import os
import sys

import pytest

import dnnlib
from dnnlib import cli


def record_run(message, run_dir=None, submit_config=None):
    print(message)
    return run_dir, submit_config.run_id


def test_run_directories_are_numbered_and_logged(tmp_path):
    config = dnnlib.SubmitConfig(result_dir=str(tmp_path), run_desc='first try')
    run_dir, run_id = dnnlib.submit_run(config, 'test_submission.record_run', message='hello log')
    assert os.path.basename(run_dir) == '00000-first_try' and run_id == 0
    with open(os.path.join(run_dir, 'log.txt')) as f:
        assert 'hello log' in f.read()
    os.makedirs(tmp_path / '00007-other')
    run_dir, run_id = dnnlib.submit_run(dnnlib.SubmitConfig(result_dir=str(tmp_path), run_desc='next'),
                                        'test_submission.record_run', message='x')
    assert os.path.basename(run_dir) == '00008-next' and run_id == 8
    assert sys.stdout is not None and not isinstance(sys.stdout, dnnlib.util.Logger)


def test_cli_errors_are_one_line(capsys):
    parser = cli.ArgumentParser(prog='tool.py', error_name='tool')
    parser.add_argument('--flag', type=cli.parse_bool)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(['--flag', 'maybe'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('tool: error: ')
    assert parser.parse_args(['--flag', 'Yes']).flag is True and parser.parse_args(['--flag', '0']).flag is False
