"""The pickleable Network: round trips, the authors' pickle format with TF1-idiom source, run(), copies."""

import pickle

import numpy as np
import pytest
import tensorflow as tf

from dnnlib import tflib
from dnnlib.tflib.network import Network

# A network module written the way the authors' pickles embed theirs: TF 1.x idiom
# (tf.get_variable, tf.initializers, x.shape[1].value, raw NCHW tf.nn.conv2d, /gpu:0
# placement, impl='cuda' ops) with a sub-network created through globals().
LEGACY_SOURCE = '''
import numpy as np
import tensorflow as tf
import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib.ops.fused_bias_act import fused_bias_act
from dnnlib.tflib.ops.upfirdn_2d import upsample_2d, downsample_2d

def dense(x, fmaps, act):
    w = tf.get_variable('weight', shape=[x.shape[1].value, fmaps], initializer=tf.initializers.random_normal(0, 1))
    b = tf.get_variable('bias', shape=[fmaps], initializer=tf.initializers.zeros())
    return fused_bias_act(tf.matmul(x, w), b=b, act=act, impl='cuda')

def conv(x, fmaps):
    w = tf.get_variable('weight', shape=[3, 3, x.shape[1].value, fmaps], initializer=tf.initializers.random_normal(0, 1))
    b = tf.get_variable('bias', shape=[fmaps], initializer=tf.initializers.zeros())
    x = tf.nn.conv2d(x, w, data_format='NCHW', strides=[1, 1, 1, 1], padding='SAME')
    return fused_bias_act(x, b=b, act='lrelu', impl='cuda')

def G_mapping(watermark_in, labels_in, watermark_size=4, dlatent_size=5, **_kwargs):
    watermark_in.set_shape([None, watermark_size])
    labels_in.set_shape([None, 0])
    with tf.variable_scope('Dense0'):
        return tf.identity(dense(watermark_in, dlatent_size, 'lrelu'), name='dlatents_out')

def G_main(latents_in, labels_in, watermark_in, latent_size=6, components=dnnlib.EasyDict(), **kwargs):
    latents_in.set_shape([None, latent_size])
    labels_in.set_shape([None, 0])
    if 'mapping' not in components:
        components.mapping = tflib.Network('G_mapping', func_name=globals()['G_mapping'], **kwargs)
    with tf.device('/gpu:0'):
        w = components.mapping.get_output_for(watermark_in, labels_in)
        with tf.variable_scope('Latent'):
            x = dense(tf.concat([latents_in, w], axis=1), 2 * 4 * 4, 'lrelu')
        x = upsample_2d(tf.reshape(x, [-1, 2, 4, 4]), data_format='NCHW', impl='cuda')
        with tf.variable_scope('Conv'):
            x = conv(x, 3)
    return tf.identity(x, name='images_out')

def E_main(images_in, labels_in, latent_size=6, watermark_size=4, **_kwargs):
    images_in.set_shape([None, 3, 8, 8])
    labels_in.set_shape([None, 0])
    with tf.device('/gpu:0'):
        with tf.variable_scope('Conv'):
            x = downsample_2d(conv(images_in, 2), data_format='NCHW', impl='cuda')
        x = tf.reshape(x, [-1, np.prod([d.value for d in x.shape[1:]])])
        with tf.variable_scope('Output'):
            x = dense(x, latent_size + watermark_size, 'linear')
    return tf.identity(x[:, :latent_size], name='latents_out'), tf.identity(x[:, latent_size:], name='watermark_logits_out')

def D_main(images_in, labels_in, **_kwargs):
    images_in.set_shape([None, 3, 8, 8])
    labels_in.set_shape([None, 0])
    with tf.variable_scope('Conv'):
        x = downsample_2d(conv(images_in, 2), data_format='NCHW', impl='cuda')
    x = tf.reshape(x, [-1, 32])
    with tf.variable_scope('Output'):
        return tf.identity(dense(x, 1, 'linear'), name='scores_out')
'''


def _authors_network(name, func, variables, components=None):
    """A Network object that pickles to the state the authors' code writes (class
    dnnlib.tflib.network.Network, state version 4), without building anything."""
    state = dict(version=4, name=name, static_kwargs={}, components=components or {},
                 build_module_src=LEGACY_SOURCE, build_func_name=func, variables=variables)
    net = Network.__new__(Network)
    net.__getstate__ = lambda: state
    return net


def _lrelu(x):
    return np.where(x >= 0, x, 0.2 * x) * np.sqrt(2)


def _conv_nchw(x, w, b):
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[3], h, wd))
    for i in range(h):
        for j in range(wd):
            out[:, :, i, j] = np.einsum('nchw,hwco->no', xp[:, :, i:i + 3, j:j + 3], w)
    return _lrelu(out + b[None, :, None, None])


def _reference(v, z, c, images):
    """What LEGACY_SOURCE defines, in numpy."""
    w = _lrelu(c @ v['map/Dense0/weight'] + v['map/Dense0/bias'])
    x = _lrelu(np.concatenate([z, w], 1) @ v['G/Latent/weight'] + v['G/Latent/bias']).reshape(-1, 2, 4, 4)
    x = x.repeat(2, axis=2).repeat(2, axis=3)  # upsample_2d with the default box filter
    g_out = _conv_nchw(x, v['G/Conv/weight'], v['G/Conv/bias'])

    def features(prefix):
        y = _conv_nchw(images, v[prefix + 'Conv/weight'], v[prefix + 'Conv/bias'])
        return y.reshape(-1, 2, 4, 2, 4, 2).mean(axis=(3, 5)).reshape(len(images), -1)
    e_out = features('E/') @ v['E/Output/weight'] + v['E/Output/bias']
    d_out = features('D/') @ v['D/Output/weight'] + v['D/Output/bias']
    return g_out, e_out[:, :6], e_out[:, 6:], d_out


def _authors_pickle():
    rnd = np.random.RandomState(7)
    shapes = {'map/Dense0/weight': [4, 5], 'map/Dense0/bias': [5], 'G/Latent/weight': [11, 32], 'G/Latent/bias': [32],
              'G/Conv/weight': [3, 3, 2, 3], 'G/Conv/bias': [3], 'E/Conv/weight': [3, 3, 3, 2], 'E/Conv/bias': [2],
              'E/Output/weight': [32, 10], 'E/Output/bias': [10], 'D/Conv/weight': [3, 3, 3, 2], 'D/Conv/bias': [2],
              'D/Output/weight': [32, 1], 'D/Output/bias': [1]}
    v = {k: (rnd.randn(*s) * 0.5).astype(np.float32) for k, s in shapes.items()}

    def own(prefix):
        return [(k[len(prefix):], v[k]) for k in shapes if k.startswith(prefix)]

    def generator(name):
        mapping = _authors_network('G_mapping', 'G_mapping', own('map/'))
        return _authors_network(name, 'G_main', own('G/'), components={'mapping': mapping})
    nets = (_authors_network('E', 'E_main', own('E/')), generator('G'), _authors_network('D', 'D_main', own('D/')),
            generator('Gs'))
    return pickle.dumps(nets, protocol=4), v


def _check_against_reference(nets, v):
    E, G, D, Gs = nets
    rnd = np.random.RandomState(8)
    z = rnd.randn(5, 6).astype(np.float32)
    c = rnd.randint(0, 2, (5, 4)).astype(np.float32)
    images = rnd.randn(5, 3, 8, 8).astype(np.float32)
    g_ref, z_ref, logits_ref, d_ref = _reference(v, z, c, images)
    scale = lambda a: max(1.0, np.abs(a).max())  # noqa: E731
    for gen in (G, Gs):
        out = gen.run(z, None, c, minibatch_size=2)
        assert np.abs(out - g_ref).max() <= 1e-4 * scale(g_ref)
    z_out, logits_out = E.run(images, None)
    assert np.abs(z_out - z_ref).max() <= 1e-4 * scale(z_ref)
    assert np.abs(logits_out - logits_ref).max() <= 1e-4 * scale(logits_ref)
    assert np.abs(D.run(images, None) - d_ref).max() <= 1e-4 * scale(d_ref)


def test_authors_format_pickle_with_tf1_source_loads_on_cpu(tf_session):
    data, v = _authors_pickle()
    nets = pickle.loads(data)
    E, G, D, Gs = nets
    assert [n.name for n in nets] == ['E', 'G', 'D', 'Gs']
    assert list(G.components) == ['mapping'] and 'G_mapping/Dense0/weight' in G.vars
    assert G.input_names == ['latents_in', 'labels_in', 'watermark_in']
    assert E.output_names == ['latents_out', 'watermark_logits_out']
    _check_against_reference(nets, v)

    # Round trip through our own pickling keeps the authors' format and the outputs.
    again = pickle.loads(pickle.dumps(nets))
    state = G.__getstate__()
    assert state['version'] == 4 and state['build_module_src'] == LEGACY_SOURCE
    assert set(state) == {'version', 'name', 'static_kwargs', 'components', 'build_module_src',
                          'build_func_name', 'variables'}
    _check_against_reference(again, v)


def test_own_network_round_trip_and_copies(tf_session):
    kw = dict(resolution=8, fmap_base=64, fmap_max=16, latent_size=8, dlatent_size=8, mapping_fmaps=8,
              mapping_layers=2, watermark_size=4)
    G = Network('G', func_name='training.networks_stylegan2.G_main_watermark', **kw)
    rnd = np.random.RandomState(0)
    z = rnd.randn(3, 8).astype(np.float32)
    c = rnd.randint(0, 2, (3, 4)).astype(np.float32)
    ref = G.run(z, None, c, randomize_noise=False)
    G2 = pickle.loads(pickle.dumps(G))
    np.testing.assert_allclose(G2.run(z, None, c, randomize_noise=False), ref, atol=1e-6)
    assert list(G2.vars) == list(G.vars)

    Gs = G.clone('Gs')
    np.testing.assert_allclose(Gs.run(z, None, c, randomize_noise=False), ref, atol=1e-6)
    tflib.run([v.assign(v + 1.0) for v in G.trainables.values()])
    assert np.abs(G.run(z, None, c, randomize_noise=False) - ref).max() > 1e-3
    ema = Gs.setup_as_moving_average_of(G, beta=0.0)
    tflib.run(ema)
    np.testing.assert_allclose(Gs.run(z, None, c, randomize_noise=False), G.run(z, None, c, randomize_noise=False), atol=1e-5)

    Gs.copy_vars_from(G2)
    np.testing.assert_allclose(Gs.run(z, None, c, randomize_noise=False), ref, atol=1e-6)
    # None inputs are fed as zeros; output transforms apply in the graph.
    zero_c = G.run(z, None, None, randomize_noise=False)
    np.testing.assert_allclose(zero_c, G.run(z, None, np.zeros_like(c), randomize_noise=False), atol=1e-6)
    images = G.run(z, None, c, output_transform=dict(func=tflib.convert_images_to_uint8, nchw_to_nhwc=True))
    assert images.dtype == np.uint8 and images.shape == (3, 8, 8, 3)


def test_run_on_two_logical_cpu_devices_matches_one(tf_session):
    kw = dict(resolution=8, fmap_base=64, fmap_max=16, latent_size=8, dlatent_size=8, mapping_fmaps=8,
              mapping_layers=2, watermark_size=4)
    G = Network('G', func_name='training.networks_stylegan2.G_main_watermark', **kw)
    rnd = np.random.RandomState(1)
    z = rnd.randn(5, 8).astype(np.float32)
    c = rnd.randint(0, 2, (5, 4)).astype(np.float32)
    one = G.run(z, None, c, randomize_noise=False)
    two = G.run(z, None, c, randomize_noise=False, num_gpus=2)
    np.testing.assert_allclose(one, two, atol=1e-5)
    devices = {d.name for d in tf_session.list_devices()}
    assert any(name.endswith('CPU:1') for name in devices)


def test_unsupported_pickle_version_is_a_clear_error(tf_session):
    net = Network.__new__(Network)
    with pytest.raises(ValueError, match='version'):
        net.__setstate__(dict(version=9))


def test_convert_keeps_matching_variables(tf_session):
    kw = dict(resolution=8, fmap_base=64, fmap_max=16, latent_size=8, dlatent_size=8, mapping_fmaps=8,
              mapping_layers=2, watermark_size=4)
    G = Network('G', func_name='training.networks_stylegan2.G_main_watermark', **kw)
    G2 = G.convert('training.networks_stylegan2.G_main_watermark', new_name='G2', res_modulated_range='8-8')
    assert 'G_synthesis/4x4/Conv/mod_weight' not in G2.vars
    for name in G2.vars:
        np.testing.assert_array_equal(G2.get_var(name), G.get_var(name))
    assert tf.compat.v1.get_default_session() is not None
