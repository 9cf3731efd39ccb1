"""dnnlib.util: EasyDict, time formatting, ranges, objects by name, open_url with its cache."""

import os
import signal
import time

import pytest

from dnnlib import util


def test_easydict():
    d = util.EasyDict(a=1)
    d.b = 2
    assert d == {'a': 1, 'b': 2} and d.a == 1
    del d.a
    with pytest.raises(AttributeError):
        _ = d.a


@pytest.mark.parametrize('seconds,text', [(5, '5s'), (64, '1m 04s'), (3725, '1h 02m 05s'), (93784, '1d 02h 03m')])
def test_format_time(seconds, text):
    assert util.format_time(seconds) == text


def test_parse_int_range():
    assert util.parse_int_range('0-3,7') == [0, 1, 2, 3, 7]
    with pytest.raises(ValueError, match='not a number'):
        util.parse_int_range('a-b')


def test_objects_by_name():
    assert util.get_obj_by_name('os.path.join') is os.path.join
    assert util.call_func_by_name('a', 'b', func_name='os.path.join') == os.path.join('a', 'b')
    assert util.get_top_level_function_name(util.format_time) == 'dnnlib.util.format_time'
    with pytest.raises(ImportError):
        util.get_obj_by_name('no_such_module_anywhere.thing')


def test_open_url_uses_the_cache_and_fails_clearly_offline(tmp_path, monkeypatch):
    local = tmp_path / 'file.bin'
    local.write_bytes(b'payload')
    with util.open_url(str(local)) as f:
        assert f.read() == b'payload'
    with util.open_url(local.as_uri()) as f:
        assert f.read() == b'payload'

    url = 'https://example.invalid/models/net.pkl'
    cache = tmp_path / 'cache'

    def offline(*_args, **_kwargs):
        raise OSError('network unreachable')
    monkeypatch.setattr(util.urllib.request, 'urlopen', offline)
    with pytest.raises(IOError, match='place the file at'):
        util.open_url(url, cache_dir=str(cache), verbose=False)

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False

        def read(self):
            return b'downloaded'
    monkeypatch.setattr(util.urllib.request, 'urlopen', lambda *_a, **_k: Response())
    with util.open_url(url, cache_dir=str(cache), verbose=False) as f:
        assert f.read() == b'downloaded'
    monkeypatch.setattr(util.urllib.request, 'urlopen', offline)
    with util.open_url(url, cache_dir=str(cache), verbose=False) as f:  # served from the cache now
        assert f.read() == b'downloaded'


@pytest.mark.parametrize('umask', [0o022, 0o027, 0o002])
def test_atomic_write_gives_the_mode_of_an_ordinary_open(tmp_path, umask):
    previous = os.umask(umask)
    try:
        util.atomic_write_bytes(str(tmp_path / 'atomic.png'), b'x')
        with open(str(tmp_path / 'plain.png'), 'wb') as f:
            f.write(b'x')
    finally:
        os.umask(previous)
    mode = lambda name: os.stat(str(tmp_path / name)).st_mode & 0o777  # noqa: E731
    assert mode('atomic.png') == mode('plain.png') == 0o666 & ~umask


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    path = tmp_path / 'sub' / 'out.txt'
    util.atomic_write_bytes(str(path), b'one')
    util.atomic_write_bytes(str(path), b'two')
    assert path.read_bytes() == b'two' and os.listdir(path.parent) == ['out.txt']


def test_termination_signal_interrupts_until_restored():
    before = signal.getsignal(signal.SIGTERM)
    termination = util.TerminationSignal()
    with pytest.raises(KeyboardInterrupt) as raised:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler runs here, in the main thread
    assert raised.value.args == ('SIGTERM',)
    termination.hold()
    os.kill(os.getpid(), signal.SIGTERM)  # ignored while held
    termination.restore()
    assert signal.getsignal(signal.SIGTERM) == before
