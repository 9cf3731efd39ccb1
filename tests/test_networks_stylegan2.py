"""Config-e networks: the authors' variable tables, and forward/backward passes on CPU."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from dnnlib import tflib

SPEC_DIR = os.path.join(os.path.dirname(__file__), 'spec')  # the authors' variable tables
NETS = 'training.networks_stylegan2.'


def _paper_networks(resolution, res_modulated_range, g_arch='skip', d_arch='resnet'):
    common = dict(resolution=resolution, fmap_base=8192, label_size=0, num_channels=3)
    E = tflib.Network('E', func_name=NETS + 'E_stylegan2_watermark', latent_size=512, watermark_size=128,
                      architecture=d_arch, **common)
    G = tflib.Network('G', func_name=NETS + 'G_main_watermark', latent_size=512, watermark_size=128,
                      architecture=g_arch, res_modulated_range=res_modulated_range, **common)
    D = tflib.Network('D', func_name=NETS + 'D_stylegan2', architecture=d_arch, **common)
    return dict(E=E, G=G, D=D)


def _table(net):
    return {
        'variables': {name: [int(d) for d in var.shape.as_list()] for name, var in net.vars.items()},
        'trainable': sorted(net.trainables),
        'input_shapes': net.input_shapes,
        'output_shapes': net.output_shapes,
        'input_names': net.input_names,
        'output_names': net.output_names,
    }


# Every architecture the configs select (config-e-G<orig|skip|resnet>-D<orig|skip|resnet>; D's applies to E too).
@pytest.mark.parametrize('spec', ['128-wm128-range16-16', '128-wm128-range4-128', '256-wm128-range4-256',
                                  '128-wm128-range4-128-Gorig-Dorig', '128-wm128-range4-128-Gresnet-Dskip',
                                  '128-wm128-range4-128-Gskip-Dskip'])
def test_variables_equal_authors_tables(tf_session, spec):
    with open(os.path.join(SPEC_DIR, 'official-variables-%s.json' % spec)) as f:
        expected = json.load(f)
    resolution = int(spec.split('-')[0])
    res_range = '-'.join(spec.split('range')[1].split('-')[:2])
    archs = spec.split('-')[4:]
    g_arch, d_arch = (archs[0][1:], archs[1][1:]) if archs else ('skip', 'resnet')
    nets = _paper_networks(resolution, res_range, g_arch, d_arch)
    for name, net in nets.items():
        got = _table(net)
        want = expected['networks'][name]
        assert list(got['variables'].items()) == list(want['variables'].items()), name
        assert got['trainable'] == sorted(want['trainable']), name
        for key in ('input_shapes', 'output_shapes', 'input_names', 'output_names'):
            assert got[key] == want[key], (name, key)
        num_trainable = sum(int(np.prod(got['variables'][v])) for v in got['trainable'])
        assert num_trainable == expected['num_params'][name], name


def _tiny_kwargs(resolution=16):
    return dict(resolution=resolution, fmap_base=128, fmap_max=32, latent_size=16, dlatent_size=16,
                mapping_fmaps=16, mapping_layers=2, watermark_size=8, num_channels=3)


@pytest.mark.parametrize('g_arch,d_arch', [('skip', 'resnet'), ('orig', 'orig'), ('resnet', 'skip')])
def test_forward_backward_on_cpu(tf_session, g_arch, d_arch):
    kw = _tiny_kwargs()
    G = tflib.Network('G', func_name=NETS + 'G_main_watermark', architecture=g_arch, res_modulated_range='8-16', **kw)
    D = tflib.Network('D', func_name=NETS + 'D_stylegan2', architecture=d_arch, **kw)
    E = tflib.Network('E', func_name=NETS + 'E_stylegan2_watermark', architecture=d_arch, **kw)
    z = tf.random.normal([4, 16])
    c = tf.cast(tf.random.uniform([4, 8]) < 0.5, tf.float32)
    images = G.get_output_for(z, None, c, is_training=True)
    scores = D.get_output_for(images, None)
    z_rec, logits = E.get_output_for(images, None)
    loss = tf.reduce_mean(scores) + tf.reduce_mean(tf.square(z_rec - z)) + tf.reduce_mean(logits)
    grads = tf.gradients(loss, list(G.trainables.values()) + list(D.trainables.values()) + list(E.trainables.values()))
    assert all(g is not None for g in grads)
    out = tflib.run([images, scores, z_rec, logits] + grads)
    assert out[0].shape == (4, 3, 16, 16)
    assert out[1].shape == (4, 1) and out[2].shape == (4, 16) and out[3].shape == (4, 8)
    assert all(np.all(np.isfinite(v)) for v in out)
    # The fingerprint reaches the image: a different c changes it.
    assert 'G_synthesis/16x16/Conv1/mod_weight' in G.vars
    assert 'G_synthesis/4x4/Conv/mod_weight' not in G.vars


def test_fingerprint_changes_image_and_noise_can_be_fixed(tf_session):
    G = tflib.Network('G', func_name=NETS + 'G_main_watermark', **_tiny_kwargs())
    rnd = np.random.RandomState(0)
    z = rnd.randn(2, 16).astype(np.float32)
    c = rnd.randint(0, 2, size=(2, 8)).astype(np.float32)
    a = G.run(z, None, c, randomize_noise=False)
    b = G.run(z, None, c, randomize_noise=False)
    np.testing.assert_array_equal(a, b)
    d = G.run(z, None, 1 - c, randomize_noise=False)
    assert np.abs(a - d).max() > 1e-3


def test_modulated_conv_equals_per_sample_weights(tf_session):
    """The activation-scaling form equals StyleGAN2's definition with per-sample modulated, demodulated weights."""
    from training import networks_stylegan2 as nets
    rnd = np.random.RandomState(1)
    x_np = rnd.randn(3, 5, 5, 4).astype(np.float32)
    w_style = rnd.randn(3, 6).astype(np.float32)
    with tf.compat.v1.variable_scope('ModTest'):
        y = nets.modulated_conv2d_layer(tf.constant(x_np), [tf.constant(w_style)], fmaps=2, kernel=3)
    tflib.init_uninitialized_vars()
    variables = {v.name: v for v in tf.compat.v1.global_variables('ModTest')}
    weight, mod_w, mod_b = tflib.run([variables['ModTest/%s:0' % n] for n in ('weight', 'mod_weight', 'mod_bias')])
    mod_b = mod_b + rnd.randn(*mod_b.shape).astype(np.float32)  # exercise the bias path too
    tflib.set_vars({variables['ModTest/mod_bias:0']: mod_b})
    got = tflib.run(y)
    w = weight / np.sqrt(3 * 3 * 4)
    s = w_style @ (mod_w / np.sqrt(6)) + mod_b + 1
    for n in range(3):
        wn = w * s[n][None, None, :, None]
        wn = wn / np.sqrt(np.sum(wn ** 2, axis=(0, 1, 2), keepdims=True) + 1e-8)
        xp = np.pad(x_np[n], ((1, 1), (1, 1), (0, 0)))
        ref = np.zeros((5, 5, 2), np.float32)
        for i in range(5):
            for j in range(5):
                ref[i, j] = np.tensordot(xp[i:i + 3, j:j + 3], wn, axes=([0, 1, 2], [0, 1, 2]))
        np.testing.assert_allclose(got[n], ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('variant', ['I', 'II', 'III'])
def test_variants_build_and_run(tf_session, variant):
    G = tflib.Network('G', func_name=NETS + 'G_main_watermark', variant=variant, **_tiny_kwargs(8))
    rnd = np.random.RandomState(2)
    out = G.run(rnd.randn(2, 16).astype(np.float32), None, rnd.randint(0, 2, (2, 8)).astype(np.float32))
    assert out.shape == (2, 3, 8, 8) and np.all(np.isfinite(out))
    if variant == 'II':
        assert 'G_synthesis/8x8/Conv1/mod2_weight' in G.vars and 'G_mapping2/Dense0/weight' in G.vars
    if variant == 'III':
        assert G.vars['G_mapping/Dense0/weight'].shape.as_list()[0] == 16 + 8


def test_plain_stylegan2_baseline(tf_session):
    kw = _tiny_kwargs(8)
    del kw['watermark_size']
    G = tflib.Network('G', func_name=NETS + 'G_main', **kw)
    assert G.input_names == ['latents_in', 'labels_in']
    assert 'G_synthesis/4x4/Const/const' in G.vars
    out = G.run(np.random.RandomState(3).randn(2, 16).astype(np.float32), None)
    assert out.shape == (2, 3, 8, 8)


def test_invalid_configuration_messages(tf_session):
    with pytest.raises(ValueError, match='res_modulated_range'):
        tflib.Network('G', func_name=NETS + 'G_main_watermark', res_modulated_range='4-64', **_tiny_kwargs())
    with pytest.raises(ValueError, match='variant'):
        tflib.Network('G', func_name=NETS + 'G_main_watermark', variant='IV', **_tiny_kwargs())


def test_decoder_lrmul_rescales_stored_weights_only(tf_session):
    kw = _tiny_kwargs()
    plain, fast = [tflib.Network('E%d' % lrmul, func_name=NETS + 'E_stylegan2_watermark', lrmul=lrmul, **kw)
                   for lrmul in (1, 10)]
    assert _table(fast)['variables'] == _table(plain)['variables']
    weights = np.concatenate([v.ravel() for k, v in tflib.run(fast.vars).items() if k.endswith('weight')])
    assert np.std(weights) == pytest.approx(0.1, rel=0.1)  # stored N(0, 1/lrmul)
    # The same function when the stored values are divided by lrmul: only the step size differs.
    tflib.set_vars({fast.vars[k]: v / 10 for k, v in tflib.run(plain.vars).items()})
    images = np.random.RandomState(0).randn(4, 3, 16, 16).astype(np.float32)
    for want, got in zip(plain.run(images, None), fast.run(images, None)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
