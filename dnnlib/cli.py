"""Command-line fronts: errors are one line on stderr and a non-zero exit, never a usage block or traceback."""

import argparse
import functools
import os
import sys


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors ('<error_name>: error: <message>', exit status 2).

    error_name defaults to the parser's prog; subcommand parsers inherit the
    class and, when given, the error_name.
    """

    def __init__(self, *args, error_name=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_name = error_name

    def add_subparsers(self, **kwargs):
        kwargs.setdefault('parser_class', functools.partial(ArgumentParser, error_name=self.error_name))
        return super().add_subparsers(**kwargs)

    def error(self, message):
        fail(self.error_name or self.prog, message, 2)


def fail(prog, message, status=1):
    print('%s: error: %s' % (prog, message), file=sys.stderr)
    sys.exit(status)


def parse_bool(text):
    """argparse type for the authors' boolean flags: True/False, 1/0, yes/no, on/off (any case)."""
    value = {'true': True, '1': True, 'yes': True, 'on': True,
             'false': False, '0': False, 'no': False, 'off': False}.get(str(text).strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError('%r is not True/False, 1/0 or yes/no' % text)
    return value


def add_trust_flag(parser, what='the network pickle'):
    """--trust-pickle-source: the one way a front lets a pickle's embedded source run (see training.misc.load_pkl)."""
    parser.add_argument('--trust-pickle-source', action='store_true',
                        help='for %s: run the Python source embedded in it instead of rebuilding its networks with '
                             'this project\'s code; only for files you trust (default: off; see '
                             '"run_generator.py inspect")' % what)


def add_labels_flag(parser, per, default):
    """--labels: comma-separated names, one per input of a plotting front (`per`: what each names), or None."""
    parser.add_argument('--labels', type=lambda text: [label.strip() for label in text.split(',')], default=None,
                        metavar='LIST', help='comma-separated name per %s (default: %s)' % (per, default))


def import_tensorflow():
    """Import TensorFlow for a command-line front, without its start-up chatter.

    Info lines are turned off (TF_CPP_MIN_LOG_LEVEL=1 unless set), and what its
    native libraries print while loading, before that setting applies, is kept off
    the terminal so that errors stay one line. Python exceptions still show.
    """
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # pylint: disable=import-outside-toplevel
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


def init_tf_for_command(args, stream=None, report=True):
    """tflib.init_tf for a front with subcommands: the precision of --precision where the command has it
    (printed once, to stdout or stream, if report), float32 for the commands that run no network."""
    from dnnlib import tflib  # pylint: disable=import-outside-toplevel
    setting = getattr(args, 'precision', None)
    if not setting:
        precision = 'fp32'
    elif report:
        precision = tflib.precision.resolve_and_report(setting, stream=stream)
    else:
        precision = tflib.precision.choose(setting)[0]
    tflib.init_tf({'precision': precision})
