"""Tests for metrics/robustness_report.py and plot_robustness.py: CSV, working ranges, plot."""

import os

import pytest

import plot_robustness
from metrics import robustness_report
from metrics.robustness_report import ReportError

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def sweep_rows(network, accuracies, resolution=32):
    """Rows of a sweep: accuracies {kind: [(strength, paper_strength, accuracy)]} and clean 0.98."""
    rows = [dict(network=network, perturbation='none', strength=0, paper_strength=0, bit_accuracy=0.98)]
    for kind, points in accuracies.items():
        rows += [dict(network=network, perturbation=kind, strength=s, paper_strength=p, bit_accuracy=a)
                 for s, p, a in points]
    for row in rows:
        row.update(p_value=0.5, num_images=8, resolution=resolution, num_bits=32)
    return rows


CROP = [(32, 128, 0.98), (24, 96, 0.9), (16, 64, 0.76), (8, 32, 0.6)]
NOISE = [(0, 0, 0.98), (0.2, 0.2, 0.8), (0.4, 0.4, 0.7), (0.8, 0.8, 0.8)]
JPEG = [(100, 100, 0.7), (80, 80, 0.6)]


def test_working_ranges_stop_at_the_first_failure():
    rows = sweep_rows('net', {'crop': CROP, 'noise': NOISE, 'jpeg': JPEG})
    assert robustness_report.working_range(robustness_report.curve(rows, 'net', 'crop')) == ((128, 64), (32, 16))
    # accuracy back above 0.75 at 0.8 does not extend the range past the failure at 0.4
    assert robustness_report.working_range(robustness_report.curve(rows, 'net', 'noise')) == ((0, 0.2), (0, 0.2))
    assert robustness_report.working_range(robustness_report.curve(rows, 'net', 'jpeg')) is None
    table = robustness_report.ranges_table(rows)
    line = next(line for line in table.splitlines() if line.startswith('net '))
    assert line.split() == ['net', '32', '0.9800', '64-128', '[16-32]', 'none', 'none', '0-0.2', 'none']
    assert 'paper' in table.splitlines()[-1] and '60-128' in table


def test_csv_rows_are_appended_and_read_back(tmp_path):
    path = str(tmp_path / 'sweep.csv')
    robustness_report.append_rows(path, sweep_rows('a', {'crop': CROP}))
    robustness_report.append_rows(path, sweep_rows('b', {'crop': CROP}))
    text = open(path).read()
    assert text.count('network,perturbation') == 1
    rows = robustness_report.read_rows([path])
    assert robustness_report.networks_in(rows) == ['a', 'b']
    assert robustness_report.curve(rows, 'b', 'crop')[2] == (64.0, 16.0, 0.76)
    assert os.listdir(str(tmp_path)) == ['sweep.csv']


def test_report_writes_png_and_table_with_fids(tmp_path, capsys):
    run_dir = tmp_path / 'run'
    path = str(run_dir / 'robustness-r.csv')
    robustness_report.append_rows(path, sweep_rows('net', {'crop': CROP, 'noise': NOISE}))
    (run_dir / 'metric-fid1k.txt').write_text('net  time 1m 02s  fid1k 42.125\nother  time 5s  fid1k 7.5\n')
    assert robustness_report.find_fids(str(run_dir)) == {'net': 42.125, 'other': 7.5}
    table = robustness_report.write_report([path], str(run_dir / 'out'))
    assert capsys.readouterr().out == table
    assert (run_dir / 'out-ranges.txt').read_text() == table
    png = (run_dir / 'out.png').read_bytes()
    assert png.startswith(PNG_MAGIC) and 20000 < len(png) < 200000
    assert sorted(os.listdir(str(run_dir))) == ['metric-fid1k.txt', 'out-ranges.txt', 'out.png', 'robustness-r.csv']


def test_files_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    path = str(tmp_path / 'sweep.csv')
    robustness_report.append_rows(path, sweep_rows('a', {'crop': CROP}))
    robustness_report.write_report([path], str(tmp_path / 'out'))
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(str(tmp_path))}

    def failing_replace(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', failing_replace)
    with pytest.raises(OSError, match='disk full'):
        robustness_report.append_rows(path, sweep_rows('b', {'crop': CROP}))
    with pytest.raises(OSError, match='disk full'):
        robustness_report.write_report([path], str(tmp_path / 'out'))
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(str(tmp_path))} == before


def test_plot_front_combines_csvs_under_labels(tmp_path, capsys):
    first, second = str(tmp_path / 'a.csv'), str(tmp_path / 'b.csv')
    robustness_report.append_rows(first, sweep_rows('network-snapshot-000100', {'crop': CROP}))
    robustness_report.append_rows(second, sweep_rows('network-snapshot-000100', {'crop': CROP[:2]}))
    plot_robustness.main([first, second, '--labels', 'original,immunised', '--out', str(tmp_path / 'fig')])
    table = capsys.readouterr().out
    assert [line.split()[0] for line in table.splitlines()[2:4]] == ['original', 'immunised']
    assert (tmp_path / 'fig.png').read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize('content, message', [
    (None, 'cannot read'),
    ('a,b\n1,2\n', 'is not a robustness CSV (no column network'),
    (','.join(robustness_report.COLUMNS) + '\nnet,crop,x,1,1,1,1,1,1\n', 'line 2: a value that is not a number'),
    (','.join(robustness_report.COLUMNS) + '\n', 'no measurements'),
])
def test_bad_csvs_are_one_line_errors(tmp_path, capsys, content, message):
    path = tmp_path / 'bad.csv'
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as info:
        plot_robustness.main([str(path), '--out', str(tmp_path / 'fig')])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith('plot_robustness: error: ') and message in err and err.count('\n') == 1
    with pytest.raises(ReportError):
        robustness_report.write_report([str(path)], str(tmp_path / 'fig'))
    assert not (tmp_path / 'fig.png').exists()


def test_label_count_must_match(tmp_path, capsys):
    path = str(tmp_path / 'a.csv')
    robustness_report.append_rows(path, sweep_rows('a', {'crop': CROP}))
    with pytest.raises(SystemExit):
        plot_robustness.main([path, '--labels', 'x,y'])
    assert '2 labels for 1 networks in 1 CSV file(s)' in capsys.readouterr().err


def test_labels_name_each_network_of_a_multi_network_csv(tmp_path, capsys):
    # run_metrics.py sweeps several pickles into one CSV: a label per network, in order of appearance.
    first, second = str(tmp_path / 'a.csv'), str(tmp_path / 'b.csv')
    robustness_report.append_rows(first, sweep_rows('run1/network-final', {'crop': CROP}) +
                                  sweep_rows('run2/network-final', {'crop': CROP[:2]}))
    robustness_report.append_rows(second, sweep_rows('network-final', {'crop': CROP[:3]}))
    plot_robustness.main([first, second, '--labels', 'original,crop,combo', '--out', str(tmp_path / 'fig')])
    table = capsys.readouterr().out
    assert [line.split()[0] for line in table.splitlines()[2:5]] == ['original', 'crop', 'combo']
