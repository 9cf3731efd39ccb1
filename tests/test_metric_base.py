"""Tests for metrics/metric_base.py and the registry in metrics/metric_defaults.py.

Also home of the tiny networks the other metric tests share."""

import os

import numpy as np
import pytest

import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib import autosummary
from metrics import metric_base
from metrics import metric_defaults
from metrics.metric_base import MetricError
from training import misc

TINY = dict(resolution=8, fmap_base=64, fmap_max=16, latent_size=8)
TINY_G = dict(TINY, dlatent_size=8, mapping_fmaps=8, mapping_layers=2)


def tiny_generator(name='Gs', watermark_size=4, **kwargs):
    return tflib.Network(name, func_name='training.networks_stylegan2.G_main_watermark', watermark_size=watermark_size,
                         **dict(TINY_G, **kwargs))


def tiny_decoder(watermark_size=4):
    return tflib.Network('E', func_name='training.networks_stylegan2.E_stylegan2_watermark',
                         watermark_size=watermark_size, **TINY)


def tiny_fingerprint_networks(watermark_size=4):
    """Random (E, G, D, Gs) of the config-e networks at 8x8."""
    G = tiny_generator('G', watermark_size)
    E = tiny_decoder(watermark_size)
    D = tflib.Network('D', func_name='training.networks_stylegan2.D_stylegan2', resolution=8, fmap_base=64, fmap_max=16)
    return E, G, D, G.clone('Gs')


def save_tiny_pickle(path, networks=None):
    misc.save_pkl(tiny_fingerprint_networks() if networks is None else networks, path)
    return path


class FixedMetric(metric_base.MetricBase):
    """Reports fixed values: tests the bookkeeping without any network evaluation."""

    def __init__(self, name, values, **kwargs):
        super().__init__(name, num_images=1, **kwargs)
        self.values = values

    def _evaluate(self, E, Gs, Gs_kwargs, num_gpus):
        for suffix, value in self.values:
            self._report_result(value, suffix=suffix)


class GeneratedInputs(metric_base.MetricBase):
    """Keeps what the generator was given and made."""

    generated = None

    def _evaluate(self, E, Gs, Gs_kwargs, num_gpus):
        self.generated = self._run_on_generated(E, Gs, Gs_kwargs, num_gpus)

    def _tower_outputs(self, E, images, labels, fingerprints):
        return {'images': images, 'labels': labels, 'fingerprints': fingerprints}


def test_result_lines_appended_in_the_authors_format(tf_session, tmp_path):
    Gs = tiny_generator()
    metric = FixedMetric('combo_1k', [('_fid', 12.5), ('_watermark_bit_accuracy', 0.95123)])
    results = metric.run_networks(None, Gs, 'network-snapshot-000040', run_dir=str(tmp_path))
    assert list(results.items()) == [('combo_1k_fid', 12.5), ('combo_1k_watermark_bit_accuracy', 0.95123)]
    metric.run_networks(None, Gs, 'network-snapshot-000080', run_dir=str(tmp_path))
    lines = (tmp_path / 'metric-combo_1k.txt').read_text().splitlines()
    assert len(lines) == 2
    fields = lines[0].split()
    assert fields[:3] == ['network-snapshot-000040', 'time', '0s']
    assert fields[3:] == ['combo_1k_fid', '12.5000', 'combo_1k_watermark_bit_accuracy', '0.9512']
    assert lines[1].startswith('network-snapshot-000080 ')
    assert metric.get_result_str() == lines[1]


def test_results_reach_autosummary_only_when_logged(tf_session, tmp_path):
    Gs = tiny_generator()
    autosummary.save_summaries()  # drop whatever earlier tests accumulated
    FixedMetric('quiet', [('', 3.0)]).run_networks(None, Gs, 'net', run_dir=str(tmp_path), log_results=False)
    assert not os.listdir(str(tmp_path))
    assert 'Metrics/quiet' not in autosummary.save_summaries()
    FixedMetric('loud', [('_a', 3.0), ('_b', 0.25)]).run_networks(None, Gs, 'net')
    means = autosummary.save_summaries()
    assert means['Metrics/loud_a'] == 3.0 and means['Metrics/loud_b'] == 0.25


def test_run_loads_the_pickle_in_its_own_graph(tf_session, tmp_path):
    pkl = str(tmp_path / 'network-final.pkl')
    misc.save_pkl(tiny_generator(), pkl)
    metric = FixedMetric('fixed', [('', 1.0)])
    ops_before = len(tf_session.graph.get_operations())
    metric.run(pkl, run_dir=str(tmp_path))
    assert len(tf_session.graph.get_operations()) == ops_before
    assert (tmp_path / 'metric-fixed.txt').read_text().split()[0] == 'network-final'


def test_run_reports_a_missing_pickle(tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        FixedMetric('fixed', []).run(str(tmp_path / 'absent.pkl'))


def test_metric_group_runs_registry_entries(tf_session):
    Gs = tiny_generator()
    group = metric_base.MetricGroup([
        dnnlib.EasyDict(func_name='test_metric_base.FixedMetric', name='one', values=[('', 1.0)]),
        dnnlib.EasyDict(func_name='test_metric_base.FixedMetric', name='two', values=[('_x', 2.0)])])
    group.run_networks(None, Gs, 'snap', log_results=False)
    text = group.get_result_str().split()
    assert text[text.index('one') + 1] == '1.0000' and text[text.index('two_x') + 1] == '2.0000'


def test_registry_names_and_classes():
    names = set(metric_defaults.metric_defaults)
    assert {'watermark_accuracy_1k', 'watermark_accuracy_10k', 'fid_watermark_accuracy_30k', 'fid50k',
            'fid_watermark_accuracy_1k', 'fid1k'} <= names
    for name, kwargs in metric_defaults.metric_defaults.items():
        assert kwargs.name == name
        assert issubclass(dnnlib.util.get_obj_by_name(kwargs.func_name), metric_base.MetricBase)
    entries = metric_defaults.get_metric_kwargs('fid1k, watermark_accuracy_1k')
    assert [entry.name for entry in entries] == ['fid1k', 'watermark_accuracy_1k']
    entries[0].num_images = 5
    assert metric_defaults.metric_defaults.fid1k.num_images == 1000


def test_unknown_metric_names_the_known_ones():
    with pytest.raises(MetricError) as info:
        metric_defaults.get_metric_kwargs(['fid_watermark_accuracy_50k'])
    message = str(info.value)
    assert '\n' not in message
    assert 'unknown metric fid_watermark_accuracy_50k' in message and 'fid_watermark_accuracy_30k' in message


def test_generated_inputs_fill_num_images_across_towers(tf_session):
    Gs = tiny_generator()
    metric = GeneratedInputs('inputs', num_images=10, minibatch_per_gpu=3)
    metric.run_networks(None, Gs, 'net', num_gpus=2, log_results=False)
    ops_after_first = len(tf_session.graph.get_operations())
    first = metric.generated
    assert first['images'].shape == (10, 3, 8, 8) and first['labels'].shape == (10, 0)
    assert first['fingerprints'].shape == (10, 4) and set(np.unique(first['fingerprints'])) == {0.0, 1.0}
    assert len({row.tobytes() for row in first['images']}) == 10
    metric.run_networks(None, Gs, 'net', num_gpus=2, log_results=False)
    assert len(tf_session.graph.get_operations()) == ops_after_first  # the graph is built once
    assert not np.array_equal(metric.generated['images'], first['images'])


def test_conditional_generator_without_data_set_is_an_error(tf_session):
    Gs = tiny_generator(label_size=3)
    with pytest.raises(MetricError, match='needs a data set'):
        GeneratedInputs('inputs', num_images=2).run_networks(None, Gs, 'net', log_results=False)
