"""Baking a fingerprint into the generator's weights: the copy computes G(z, c0) without a fingerprint input."""

import pickle

import numpy as np
import pytest

from dnnlib import tflib
from training import bake, misc

NETS = 'training.networks_stylegan2.'
TINY = dict(resolution=16, fmap_base=128, fmap_max=32, latent_size=16, dlatent_size=16, mapping_fmaps=16,
            mapping_layers=2, watermark_size=8)


def make_generator(res_modulated_range='4-16', name='Gs', **kwargs):
    """A tiny fingerprinted generator with random biases, modulation biases and noise strengths
    (zeros at init), so that every term of the modulated convs matters."""
    G = tflib.Network(name, func_name=NETS + 'G_main_watermark', res_modulated_range=res_modulated_range,
                      **dict(TINY, **kwargs))
    rnd = np.random.RandomState(5)
    tflib.set_vars({var: np.asarray(0.3 * rnd.randn(*var.shape.as_list()), np.float32)
                    for name, var in G.vars.items() if name.endswith(('bias', 'noise_strength'))})
    return G


def make_plain_generator():
    """The StyleGAN2 generator without a fingerprint input, at the same tiny size."""
    return tflib.Network('Gs', func_name=NETS + 'G_main', **{k: v for k, v in TINY.items() if k != 'watermark_size'})


def make_training_networks(res_modulated_range='4-16'):
    """Tiny (E, G, D, Gs) as a training pickle holds them."""
    G = make_generator(res_modulated_range, name='G')
    E = tflib.Network('E', func_name=NETS + 'E_stylegan2_watermark', **TINY)
    D = tflib.Network('D', func_name=NETS + 'D_stylegan2', **TINY)
    return E, G, D, G.clone('Gs')


def _latents(num, seed=0):
    return np.random.RandomState(seed).randn(num, TINY['latent_size']).astype(np.float32)


@pytest.mark.parametrize('res_modulated_range', ['4-16', '8-8'])
def test_baked_copy_computes_the_source_for_its_fingerprint(tf_session, tmp_path, res_modulated_range):
    misc.save_pkl(make_training_networks(res_modulated_range), str(tmp_path / 'train.pkl'))
    Gs = misc.load_networks(str(tmp_path / 'train.pkl'))[3]  # built from the source embedded in the pickle
    baker = bake.Baker(Gs)
    z = _latents(6)
    for seed in (1, 2):  # the baker reuses its network: the second copy must not keep anything of the first
        bits = bake.fingerprint_from_seed(seed, 8)
        baked = baker.bake(bits)
        expected = Gs.run(z, None, np.tile(bits, [6, 1]), randomize_noise=False)
        assert np.abs(baked.run(z, None, randomize_noise=False) - expected).max() <= 1e-4
        assert baked.static_kwargs.watermark_bits == bake.fingerprint_to_string(bits)
    other = Gs.run(z, None, np.tile(1 - bits, [6, 1]), randomize_noise=False)
    assert np.abs(other - expected).max() > 1e-2  # the fingerprint does change the images

    assert baked.input_names == ['latents_in', 'labels_in'] and baked.components == {}
    assert not [name for name in baked.vars if 'G_mapping' in name or '/mod_' in name]
    modulated = [name for name in Gs.vars if name.endswith('/mod_weight')]
    assert len(baker.folded_names) == len(modulated) == (8 if res_modulated_range == '4-16' else 3)
    assert bake.max_difference(Gs, baked, bits) <= 1e-4

    # Pickled alone, the copy still makes the same images and accepts Gs's run-time options.
    copy = pickle.loads(pickle.dumps(baked))
    assert copy.static_kwargs.watermark_bits == bake.fingerprint_to_string(bits)
    assert np.abs(copy.run(z, None, randomize_noise=False) - expected).max() <= 1e-4
    noisy = copy.run(z, None, randomize_noise=True, truncation_psi=0.5)
    assert noisy.shape == (6, 3, 16, 16) and np.all(np.isfinite(noisy))


def test_folded_weights_are_the_modulated_convs_weights(tf_session):
    """weight' = weight * s[i] * d[o] in stored units; ToRGB: weight * s[i] (the formula, computed directly)."""
    Gs = make_generator('16-16')
    bits = bake.fingerprint_from_seed(4, 8)
    folded = bake.Baker(Gs).fold(bits)
    w = Gs.components.mapping.run(bits[np.newaxis], None)[0, 0]
    for layer, demodulate in (('16x16/Conv1', True), ('16x16/ToRGB', False)):
        weight, mod_weight, mod_bias = [Gs.get_var('G_synthesis/%s/%s' % (layer, v))
                                        for v in ('weight', 'mod_weight', 'mod_bias')]
        s = w @ mod_weight / np.sqrt(len(mod_weight)) + mod_bias + 1
        expected = weight * s[:, np.newaxis]
        if demodulate:
            expected = expected / np.sqrt(np.sum(np.square(expected / np.sqrt(weight[..., 0].size)), axis=(0, 1, 2)))
        np.testing.assert_allclose(folded['G_synthesis/%s/weight' % layer], expected, rtol=1e-4, atol=1e-6)


def test_what_cannot_be_baked_is_named(tf_session):
    with pytest.raises(ValueError, match='no fingerprint input'):
        bake.Baker(make_plain_generator())
    variant = tflib.Network('Gs', func_name=NETS + 'G_main_watermark', variant='I', **TINY)
    with pytest.raises(ValueError, match='variant I'):
        bake.Baker(variant)
    with pytest.raises(ValueError, match='8 bits of 0 or 1'):
        bake.Baker(make_generator()).bake(np.ones(7))


@pytest.mark.parametrize('text,message', [('0101', 'must have 8 bits, got 4'), ('0101010 ', "contain 0 and 1, got ' '"),
                                          ('01010102', "got '2'")])
def test_parse_fingerprint_errors(text, message):
    with pytest.raises(ValueError, match=message):
        bake.parse_fingerprint(text, 8)


def test_fingerprint_strings_and_seeds():
    bits = bake.parse_fingerprint('01100001', 8)
    assert bits.dtype == np.float32 and bake.fingerprint_to_string(bits) == '01100001'
    np.testing.assert_array_equal(bake.fingerprint_from_seed(9, 128), np.random.RandomState(9).randint(0, 2, 128))
