"""Small utilities shared by the whole code base: EasyDict, console logging,
time formatting, lookup of objects by dotted name, and URL/file opening with
a local download cache."""

import hashlib
import importlib
import io
import os
import re
import signal
import sys
import tempfile
import threading
import types
import urllib.error
import urllib.request


class EasyDict(dict):
    """A dict whose items can also be read and written as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        del self[name]


class Logger:
    """Copies everything written to stdout/stderr into a log file as well."""

    def __init__(self, file_name=None, file_mode='w', should_flush=True):
        self.file = open(file_name, file_mode) if file_name is not None else None
        self.should_flush = should_flush
        self.stdout = sys.stdout
        self.stderr = sys.stderr
        sys.stdout = self
        sys.stderr = self

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    def write(self, text):
        if not text:
            return
        if self.file is not None:
            self.file.write(text)
        self.stdout.write(text)
        if self.should_flush:
            self.flush()

    def flush(self):
        if self.file is not None:
            self.file.flush()
        self.stdout.flush()

    def isatty(self):
        return False

    def close(self):
        self.flush()
        if sys.stdout is self:
            sys.stdout = self.stdout
        if sys.stderr is self:
            sys.stderr = self.stderr
        if self.file is not None:
            self.file.close()
            self.file = None


class Terminated(KeyboardInterrupt):
    """A SIGTERM while a TerminationSignal is in effect: handled wherever Ctrl-C is, and told apart from it."""


class TerminationSignal:
    """From its creation to restore(), SIGTERM (a scheduler's stop, `kill PID`) raises Terminated('SIGTERM'),
    a KeyboardInterrupt as Ctrl-C's is, so long work can end cleanly (a training run writes a snapshot). SIGINT is left alone: a
    process that a script starts in the background ignores it, as the shell intends."""

    def __init__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._interrupt)

    @staticmethod
    def _interrupt(_signum, _frame):
        raise Terminated('SIGTERM')

    def hold(self):
        """Ignore SIGTERM until restore() (while the interrupted run writes its snapshot)."""
        if self.previous is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def restore(self):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def format_time(seconds):
    """Human-readable duration: '12s', '3m 04s', '2h 05m 09s', '1d 02h 03m'."""
    s = int(round(seconds))
    if s < 60:
        return '%ds' % s
    if s < 60 * 60:
        return '%dm %02ds' % (s // 60, s % 60)
    if s < 24 * 60 * 60:
        return '%dh %02dm %02ds' % (s // 3600, (s // 60) % 60, s % 60)
    return '%dd %02dh %02dm' % (s // 86400, (s // 3600) % 24, (s // 60) % 60)


def parse_int_range(text):
    """'0-3' -> [0, 1, 2, 3]; '1,5,7' -> [1, 5, 7]; '0-2,9' -> [0, 1, 2, 9]."""
    values = []
    for part in str(text).split(','):
        part = part.strip()
        match = re.fullmatch(r'(\d+)-(\d+)', part)
        if match:
            values.extend(range(int(match.group(1)), int(match.group(2)) + 1))
        elif re.fullmatch(r'\d+', part):
            values.append(int(part))
        else:
            raise ValueError('not a number or range of numbers: %r' % part)
    return values


# ----------------------------------------------------------------------------
# Objects by dotted name.

def get_module_from_obj_name(obj_name):
    """Split 'a.b.c.d' into the longest importable module and the rest."""
    parts = obj_name.split('.')
    for i in range(len(parts), 0, -1):
        module_name = '.'.join(parts[:i])
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            # Only swallow the error when it is this very module that is missing.
            if getattr(exc, 'name', None) is not None and not module_name.startswith(exc.name):
                raise
            continue
        rest = '.'.join(parts[i:])
        try:
            get_obj_from_module(module, rest)
        except AttributeError:
            continue
        return module, rest
    raise ImportError('cannot find an object named %r' % obj_name)


def get_obj_from_module(module, obj_name):
    obj = module
    if obj_name:
        for part in obj_name.split('.'):
            obj = getattr(obj, part)
    return obj


def get_obj_by_name(name):
    module, obj_name = get_module_from_obj_name(name)
    return get_obj_from_module(module, obj_name)


def call_func_by_name(*args, func_name=None, **kwargs):
    assert func_name is not None
    func = get_obj_by_name(func_name)
    if not callable(func):
        raise TypeError('%r is not callable' % func_name)
    return func(*args, **kwargs)


def get_top_level_function_name(obj):
    """Dotted name under which `obj` can be found again by get_obj_by_name."""
    module = obj.__module__
    if module == '__main__':
        module = os.path.splitext(os.path.basename(sys.modules[module].__file__))[0]
    return module + '.' + obj.__name__


# ----------------------------------------------------------------------------
# Files and URLs.

def is_url(obj):
    if not isinstance(obj, str) or '://' not in obj:
        return False
    return obj.split('://', 1)[0] in ('http', 'https', 'file')


def default_cache_dir():
    return os.environ.get('DNNLIB_CACHE_DIR', os.path.join(os.path.expanduser('~'), '.cache', 'dnnlib'))


def _umask():
    mask = os.umask(0o022)  # the only portable way to read it is to set it, then put it back
    os.umask(mask)
    return mask


def figure_png_bytes(figure, **savefig_kwargs):
    """A matplotlib figure as PNG bytes; the figure is closed afterwards."""
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', **savefig_kwargs)
    plt.close(figure)
    return buffer.getvalue()


def atomic_write_bytes(path, data):
    """Write `data` to `path` through a temporary file in the same folder, then rename.

    The file gets the mode open(path, 'w') would give it under the user's umask
    (the temporary file itself is created private, 0600).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-' + os.path.basename(path) + '-')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def url_cache_file(url, cache_dir=None):
    """Where open_url keeps the download of an http(s) URL: <cache_dir>/<MD5 of the URL>_<file name>."""
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    name = hashlib.md5(url.encode('utf-8')).hexdigest() + '_' + os.path.basename(url.split('?')[0])
    return os.path.join(cache_dir, name)


def open_url(url, cache_dir=None, num_attempts=3, verbose=True):
    """Open a local path, a file:// URL or an http(s) URL as a binary stream.

    Downloads are kept in `cache_dir` (default: $DNNLIB_CACHE_DIR or
    ~/.cache/dnnlib) under the MD5 of the URL, so the second call works offline.
    """
    if not is_url(url):
        return open(url, 'rb')
    if url.startswith('file://'):
        return open(urllib.request.url2pathname(url[len('file://'):]), 'rb')

    cache_file = url_cache_file(url, cache_dir)
    if os.path.isfile(cache_file):
        return open(cache_file, 'rb')

    data = None
    last_error = None
    for _attempt in range(num_attempts):
        try:
            if verbose:
                print('Downloading %s ...' % url, end='', flush=True)
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
            if verbose:
                print(' done')
            break
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
            if verbose:
                print(' failed')
    if data is None:
        raise IOError('cannot download %s (%s); without network access, place the file at %s '
                      'or pass a local path instead of the URL' % (url, last_error, cache_file))
    atomic_write_bytes(cache_file, data)
    return io.BytesIO(data)


def make_module(name, source):
    """Create a fresh module object from source text (used for pickled build code)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(source, name, 'exec'), module.__dict__)  # pylint: disable=exec-used
    return module
