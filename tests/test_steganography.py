"""baselines/steganography.py and its dataset_tool.py commands: outguess/steghide round trips."""

import os
import shutil
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

from baselines import steganography as stego
from training import dataset
from training import dataset_tool_lib as lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BITS = 100  # the paper's payload; fits a 32x32 image in both tools' lossless containers


def needs(tool):
    if shutil.which(tool) is None:
        pytest.skip('%s not installed (apt-get install %s)' % (tool, tool))


def demo_images(count=4, resolution=32):
    return list(lib.render_demo_images(count, resolution, 0))


def run_tool(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    return subprocess.run([sys.executable, os.path.join(REPO, 'dataset_tool.py')] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


@pytest.mark.parametrize('tool', stego.TOOLS)
def test_round_trip_and_clean_images(tool):
    needs(tool)
    bits = stego.payload_bits(BITS, 3)
    for image in demo_images():
        marked = stego.embed(image, bits, tool)
        assert marked.shape == image.shape and marked.dtype == np.uint8
        assert 0 < np.count_nonzero(marked != image) < image.size // 2
        assert stego.bit_accuracy(stego.extract(marked, BITS, tool), bits) == 1.0
        assert stego.extract(marked, BITS, tool, key='another key') is None or \
            stego.bit_accuracy(stego.extract(marked, BITS, tool, key='another key'), bits) < 0.9
    stats = stego.evaluate(demo_images(), bits, tool)
    assert stats['extraction_success_rate'] <= 0.25
    assert 0.3 < stats['bit_accuracy'] < 0.7


def test_payload_and_scoring():
    bits = stego.payload_bits(100, 7)
    assert bits.shape == (100,) and set(np.unique(bits)) == {0, 1}
    assert np.array_equal(bits, stego.payload_bits(100, 7))
    assert not np.array_equal(bits, stego.payload_bits(100, 8))
    assert stego.bit_accuracy(None, bits) == 0.5
    flipped = bits.copy()
    flipped[:25] ^= 1
    assert stego.bit_accuracy(flipped, bits) == 0.75


def test_errors_are_one_line(monkeypatch, tmp_path):
    with pytest.raises(stego.SteganographyError, match='unknown tool'):
        stego.check_tool('jphide')
    monkeypatch.setattr(shutil, 'which', lambda name: None)
    with pytest.raises(stego.SteganographyError, match=r'^outguess not installed \(apt-get install outguess\)$'):
        stego.embed(demo_images(1)[0], stego.payload_bits(8, 0), 'outguess')
    monkeypatch.undo()
    with pytest.raises(stego.SteganographyError, match='RGB'):
        stego._save(np.zeros((1, 8, 8), np.uint8), str(tmp_path / 'x.bmp'))
    result = run_tool('eval_stego', tmp_path / 'missing')
    assert result.returncode == 1 and result.stderr.strip().count('\n') == 0
    assert 'directory not found' in result.stderr
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'a.txt').write_text('x')
    result = run_tool('eval_stego', tmp_path / 'empty', '--tool', 'steghide')
    assert result.returncode == 1 and result.stderr.strip().count('\n') == 0


def test_jpeg_capacity_error():
    needs('outguess')
    with pytest.raises(stego.SteganographyError, match='could not embed 100 bits in a 32x32 jpeg image'):
        stego.embed(demo_images(1)[0], stego.payload_bits(100, 0), 'outguess', container='jpeg')


@pytest.mark.parametrize('tool', stego.TOOLS)
def test_dataset_round_trip(tool, tmp_path):
    needs(tool)
    source, marked, pngs = tmp_path / 'demo', tmp_path / 'marked', tmp_path / 'pngs'
    lib.create_demo(str(source), num_images=8, resolution=32)
    result = run_tool('create_stego', marked, source, '--tool', tool, '--bits', BITS, '--seed', 5)
    assert result.returncode == 0, result.stderr
    levels = dataset.list_record_files(str(marked))
    assert sorted(levels) == [2, 3, 4, 5]
    originals = list(dataset.read_images(dataset.list_record_files(str(source))[5].path))
    stored = list(dataset.read_images(levels[5].path))
    assert len(stored) == 8 and all(np.any(a != b) for a, b in zip(originals, stored))
    # Lower resolutions are reduced from the marked images, as in any data set.
    assert np.array_equal(next(dataset.read_images(levels[4].path)), lib.reduce_2x2(stored[0]))

    stats = stego.eval_stego(str(marked), tool, bits=BITS, seed=5)
    assert stats['images'] == 8 and stats['extraction_success_rate'] == 1.0 and stats['bit_accuracy'] == 1.0
    assert stego.eval_stego(str(marked), tool, bits=BITS, seed=6)['bit_accuracy'] < 0.9  # another payload

    pngs.mkdir()
    for index, image in enumerate(stored[:3]):
        PIL.Image.fromarray(image.transpose(1, 2, 0)).save(str(pngs / ('img%08d.png' % index)))
    result = run_tool('eval_stego', pngs, '--tool', tool, '--bits', BITS, '--seed', 5)
    assert result.returncode == 0, result.stderr
    assert '3 images: extraction success rate 1.000, bit accuracy 1.0000' in result.stdout
    if tool == 'steghide':  # it finds nothing in unmarked images
        result = run_tool('eval_stego', source, '--tool', tool, '--bits', BITS, '--seed', 5)
        assert 'success rate 0.000, bit accuracy 0.5000 (failures scored 0.5), no payload extracted;' in result.stdout
