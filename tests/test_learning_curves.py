"""Learning curves read from run directories (training/learning_curves.py, plot_training.py)."""

import os

import pytest

import plot_training
from training import learning_curves

RESULT = 'watermark_accuracy_1k_watermark_bit_accuracy'


def _run_dir(tmp_path, name, accuracies, metric_points, first_kimg=1.0):
    run = tmp_path / name
    run.mkdir()
    lines = ['Training for 4 kimg...', '']
    for index, acc in enumerate(accuracies):
        lines.append('tick %-5d kimg %-8.1f minibatch 8    time 15s          sec/tick 14.6    sec/kimg %.2f   '
                     'maintenance 0.0    mem 0.97  bit_acc %.4f' % (index + 1, index + first_kimg, 10.0 + index, acc))
    lines.append('network-snapshot-000002        time 2s    %s 0.9000' % RESULT)  # a metric echoed into the log
    (run / 'log.txt').write_text('\n'.join(lines) + '\n')
    (run / 'metric-watermark_accuracy_1k.txt').write_text(''.join(
        'network-snapshot-%06d        time 2s           %s %.4f     watermark_accuracy_1k_watermark_p_value 1e-3\n'
        % (kimg, RESULT, value) for kimg, value in metric_points))
    return str(run)


def test_ticks_metric_and_first_reaching(tmp_path):
    run = _run_dir(tmp_path, 'a', [0.5, 0.96, 0.94, 0.97], [(2, 0.7), (4, 0.96)])
    ticks = learning_curves.read_ticks(run)
    assert ticks == [(1.0, 10.0, 0.5), (2.0, 11.0, 0.96), (3.0, 12.0, 0.94), (4.0, 13.0, 0.97)]
    assert learning_curves.read_snapshot_metric(run, RESULT) == [(2, 0.7), (4, 0.96)]
    assert learning_curves.first_reaching(ticks, 0.95) == 2.0
    assert learning_curves.first_reaching(ticks, 0.99) is None
    line = learning_curves.summary_line('fp32', run, RESULT)
    assert 'median 11.50 sec/kimg' in line and 'first at 2.0 kimg' in line
    assert '0.9600 at 4 kimg (last), best 0.9600 at 4' in line


def test_plot_front_writes_png_and_prints_each_run(tmp_path, capsys):
    a = _run_dir(tmp_path, 'a', [0.5, 0.6], [(2, 0.6)])
    b = _run_dir(tmp_path, 'b', [0.5, 0.7], [(2, 0.7)])
    out = str(tmp_path / 'curves')
    plot_training.main([a, b, '--labels', 'fp32,bf16', '--out', out])
    printed = capsys.readouterr().out
    assert printed.startswith('fp32: 2 ticks') and '\nbf16: 2 ticks' in printed
    with open(out + '.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def _png_height(path):
    with open(path, 'rb') as f:
        header = f.read(24)
    assert header[:8] == b'\x89PNG\r\n\x1a\n'
    return int.from_bytes(header[20:24], 'big')


def test_share_panel_adds_the_fingerprint_share_below(tmp_path):
    a = _run_dir(tmp_path, 'a', [0.5, 0.6], [(2, 0.6)])
    share = 'fingerprint_share_1k_fingerprint_share'
    with open(os.path.join(a, 'metric-fingerprint_share_1k.txt'), 'w') as f:
        f.write('network-snapshot-000002        time 2s           %s 0.4100\n' % share)
    assert learning_curves.read_snapshot_metric(a, share) == [(2, 0.41)]
    plain, paneled = str(tmp_path / 'plain'), str(tmp_path / 'paneled')
    plot_training.main([a, '--out', plain])
    plot_training.main([a, '--out', paneled, '--share-panel'])
    assert _png_height(paneled + '.png') > _png_height(plain + '.png')


@pytest.mark.parametrize('make_args, message', [
    (lambda a, tmp: [os.path.join(str(tmp), 'missing')], 'no log.txt'),
    (lambda a, tmp: [a, '--labels', 'one,two'], '2 labels for 1 run directories'),
])
def test_plot_front_errors_are_one_line(tmp_path, capsys, make_args, message):
    a = _run_dir(tmp_path, 'a', [0.5], [])
    with pytest.raises(SystemExit) as exit_info:
        plot_training.main(make_args(a, tmp_path) + ['--out', str(tmp_path / 'c')])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not os.path.exists(str(tmp_path / 'c.png'))


def test_summary_over_runs_gives_median_and_range(tmp_path, capsys):
    a = _run_dir(tmp_path, 'a', [0.5, 0.96, 0.97], [(2, 0.70), (3, 0.96)])
    b = _run_dir(tmp_path, 'b', [0.5, 0.6, 0.95], [(3, 0.98)])
    c = _run_dir(tmp_path, 'c', [0.5, 0.6, 0.7], [(3, 0.80)])
    (tmp_path / 'a' / 'metric-fingerprint_share_1k.txt').write_text(
        'network-snapshot-000003        time 3s           fingerprint_share_1k_fingerprint_share 0.2000     '
        'fingerprint_share_1k_colour_shift 2.5\n')
    line = learning_curves.summary_over_runs([a, b, c], [RESULT, 'fingerprint_share_1k_fingerprint_share',
                                                         'fingerprint_share_1k_colour_shift'])
    assert line.startswith('over 3 runs: tick bit accuracy 0.95 first at kimg 2.5 (2-3), reached by 2;')
    assert '%s last 0.96 (0.8-0.98), n=3' % RESULT in line
    assert 'fingerprint_share_1k_fingerprint_share last 0.2 (0.2-0.2), n=1' in line
    assert line.endswith('fingerprint_share_1k_colour_shift last 2.5 (2.5-2.5), n=1')
    resumed = _run_dir(tmp_path, 'c2', [0.96], [(5, 0.97)], first_kimg=4.0)  # ticks numbered from 1 again: fine
    assert learning_curves.read_snapshot_metric(c + '+' + resumed, RESULT) == [(3, 0.80), (5, 0.97)]
    assert [acc for _, _, acc in learning_curves.read_ticks(c + '+' + resumed)] == [0.5, 0.6, 0.7, 0.96]
    none = learning_curves.summary_over_runs([c], [], accuracy=0.99)
    assert none == 'over 1 runs: tick bit accuracy 0.99 first at kimg n/a, reached by 0'
    plot_training.main([a, b, c, '--over-runs', '--out', str(tmp_path / 'seeds')])
    assert capsys.readouterr().out.splitlines()[3].startswith('over 3 runs: ')


def test_a_resumed_run_drops_what_the_killed_part_had_after_the_snapshot(tmp_path):
    killed = _run_dir(tmp_path, 'k', [0.5, 0.6, 0.7, 0.8], [(2, 0.6), (4, 0.8)])  # snapshot 2 kept, 4 lost
    resumed = _run_dir(tmp_path, 'r', [0.65, 0.75], [(4, 0.9)], first_kimg=3.0)
    assert learning_curves.read_ticks(killed + '+' + resumed) == [(1.0, 10.0, 0.5), (2.0, 11.0, 0.6),
                                                                  (3.0, 10.0, 0.65), (4.0, 11.0, 0.75)]
    assert learning_curves.read_snapshot_metric(killed + '+' + resumed, RESULT) == [(2, 0.6), (4, 0.9)]
    again = _run_dir(tmp_path, 'a', [0.55], [], first_kimg=1.0)  # started again from scratch
    assert learning_curves.read_ticks(killed + '+' + again) == [(1.0, 10.0, 0.55)]
