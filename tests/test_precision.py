"""dnnlib/tflib/precision.py: the auto rule, the setting's plumbing, bfloat16 inference and training."""

import re

import numpy as np
import pytest
import tensorflow as tf

import dnnlib.tflib as tflib
import run_generator
import run_metrics
import run_training
from dnnlib.tflib import precision
from training import dataset_tool_lib, misc, training_loop

AMX = 'processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu sse avx512f avx512_bf16 amx_bf16 amx_tile\n'
ZEN4 = 'processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx512f avx512_vnni avx512_bf16\n'
OLD = 'processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu sse avx2 avx512f\n'
ARM = 'processor\t: 0\nFeatures\t: fp asimd bf16\n'


@pytest.fixture(autouse=True)
def keep_precision():
    saved = precision.get()
    yield
    precision.set_precision(saved)


def test_auto_rule_from_cpu_flags_and_gpus():
    assert precision.choose('auto', cpuinfo_text=AMX, gpus=[]) == ('bf16', 'auto: CPU has amx_bf16')
    assert precision.choose('auto', cpuinfo_text=ZEN4, gpus=[]) == ('fp32', 'auto: CPU has no amx_bf16')
    assert precision.choose('auto', cpuinfo_text=OLD, gpus=[])[0] == 'fp32'
    assert precision.choose('auto', cpuinfo_text=ARM, gpus=[])[0] == 'fp32'
    assert precision.choose('auto', cpuinfo_text='', gpus=[])[0] == 'fp32'
    assert precision.choose('auto', training=True, cpuinfo_text=AMX, gpus=[]) == ('bf16', 'auto: CPU has amx_bf16')
    assert precision.choose('auto', training=True, cpuinfo_text=ZEN4, gpus=[])[0] == 'fp32'
    for cpu in (AMX, ZEN4):  # training on GPUs stays float32 under auto
        assert precision.choose('auto', training=True, cpuinfo_text=cpu, gpus=[(9, 0)]) == (
            'fp32', 'auto: float32 for training on GPUs')
    assert precision.choose('auto', cpuinfo_text=OLD, gpus=[(8, 0)])[0] == 'bf16'
    assert precision.choose('auto', cpuinfo_text=AMX, gpus=[(7, 5)])[0] == 'fp32'  # the GPU decides
    assert precision.choose('auto', cpuinfo_text=AMX, gpus=[(8, 6), (7, 0)])[0] == 'fp32'
    assert precision.choose('auto', cpuinfo_text=AMX, gpus=[None])[0] == 'fp32'
    for setting in ('fp32', 'bf16'):
        assert precision.choose(setting, training=True, cpuinfo_text=OLD, gpus=[]) == (setting, 'as asked')
    with pytest.raises(ValueError, match='unknown precision'):
        precision.choose('fp16')


def test_cpu_flags():
    assert {'avx512_bf16', 'amx_bf16'} <= precision.cpu_flags(AMX)
    assert 'amx_bf16' not in precision.cpu_flags(ZEN4)
    assert precision.cpu_flags(ARM) == {'fp', 'asimd', 'bf16'}
    assert precision.cpu_flags('no flags here') == set()


def test_session_config_key_sets_the_build_precision():
    with tf.Graph().as_default():
        tflib.create_session({'precision': 'bf16'})
        assert precision.get() == 'bf16'
        tflib.create_session({})  # no key: kept
        assert precision.get() == 'bf16'
        tflib.create_session({'precision': 'fp32'})
        assert precision.get() == 'fp32'
        with pytest.raises(ValueError, match='unknown precision'):
            tflib.create_session({'precision': 'half'})
    with pytest.raises(ValueError):
        precision.set_precision('auto')


def test_fronts_accept_precision_and_reject_others(capsys):
    assert run_training.build_parser().parse_args(['--data-dir=d', '--dataset=x']).precision == 'auto'
    assert run_metrics.build_parser().parse_args(['--network=n.pkl', '--precision=bf16']).precision == 'bf16'
    args = run_generator.build_parser().parse_args(['generate-images', '--network=n.pkl', '--seeds=0',
                                                    '--precision=fp32'])
    assert args.precision == 'fp32'
    with pytest.raises(SystemExit) as exc:
        run_metrics.build_parser().parse_args(['--network=n.pkl', '--precision=fp16'])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'fp16' in err


def _conv_dtypes(graph, op_types):
    return {op.get_attr('T') for op in graph.get_operations() if op.type in op_types}


def test_bf16_inference_close_to_fp32(tf_session):
    Gs = tflib.Network('Gs', func_name='training.networks_stylegan2.G_main_watermark', resolution=16, fmap_base=64,
                       fmap_max=32, latent_size=16, dlatent_size=16, mapping_fmaps=16, mapping_layers=2,
                       watermark_size=8, res_modulated_range='4-16')
    Gs_bf16 = Gs.clone('Gs_bf16')
    rnd = np.random.RandomState(0)
    z = rnd.randn(4, 16).astype(np.float32)
    c = rnd.randint(0, 2, (4, 8)).astype(np.float32)
    fp32 = Gs.run(z, None, c)
    assert _conv_dtypes(tf_session.graph, ('Conv2D', 'Conv2DBackpropInput')) == {tf.float32}
    with precision.scope('bf16'):
        bf16 = Gs_bf16.run(z, None, c)
    assert precision.get() == 'fp32'  # the scope is left as it was
    assert tf.bfloat16 in _conv_dtypes(tf_session.graph, ('Conv2D', 'Conv2DBackpropInput'))
    assert bf16.dtype == np.float32
    diff = np.abs(bf16 - fp32)
    # bfloat16 keeps 8 significant bits (relative error 2^-9 per rounding); the stated tolerance:
    # mean |d| below 1% and max |d| below 5% of the images' standard deviation.
    assert 0 < diff.mean() < 0.01 * fp32.std() and diff.max() < 0.05 * fp32.std()


def test_bf16_training_writes_float32_pickles(tf_session, tmp_path, capsys):
    data_dir = tmp_path / 'data'
    dataset_tool_lib.create_demo(str(data_dir / 'demo8'), num_images=32, resolution=8, seed=0)
    args = run_training.build_parser().parse_args([
        '--data-dir', str(data_dir), '--dataset', 'demo8', '--result-dir', str(tmp_path), '--precision=bf16',
        '--config=config-e-Gskip-Dresnet', '--num-gpus=1', '--watermark-size=4', '--res-modulated-range=4-8',
        '--fmap-base=64', '--fmap-max=16', '--latent-size=8', '--dlatent-size=8', '--minibatch=4', '--metrics=none',
        '--total-kimg=0.016', '--kimg-per-tick=0.008', '--snapshot-ticks=1'])
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    final = training_loop.training_loop(run_dir=str(run_dir), **run_training.make_config(args)[1])
    assert re.search(r'^Precision: bf16 \(as asked\)$', capsys.readouterr().out, re.M)
    graph = tf_session.graph
    assert tf.bfloat16 in _conv_dtypes(graph, ('Conv2DBackpropFilter',))  # the training steps ran in bfloat16
    with tf.Graph().as_default() as fresh, tflib.create_session({'precision': 'fp32'}).as_default():
        nets = misc.load_networks(final)
        assert [net.name for net in nets] == ['E', 'G', 'D', 'Gs']
        for net in nets:
            assert {var.dtype.base_dtype for var in net.vars.values()} == {tf.float32}
            assert all(value.dtype == np.float32 and np.all(np.isfinite(value))
                       for value in tflib.run(list(net.vars.values())))
        images = nets[3].run(np.zeros([2, 8], np.float32), None, np.ones([2, 4], np.float32))
        assert images.dtype == np.float32 and _conv_dtypes(fresh, ('Conv2D', 'Conv2DBackpropInput')) == {tf.float32}
