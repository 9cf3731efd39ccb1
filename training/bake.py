"""Baking a fingerprint into a generator: the instance the model owner deploys (paper §3.3).

The owner picks a fingerprint c0 and hands a user the generator G(., c0) without the
mapping network, the decoder or the discriminator. Every modulated conv of G computes,
with stored weight W[kh, kw, i, o], its run-time scale r = 1/sqrt(kh*kw*I) (equalized
learning rate), the scales s = affine(w(c0)) + 1 and the demodulation
d[o] = 1/sqrt(sum_{kh,kw,i} (r * W * s[i])^2 + 1e-8):

    conv(x * s, r * W) * d  =  conv(x, r * (W * s[i] * d[o]))

so a plain conv whose stored weight is W * s[i] * d[o] computes exactly the same (ToRGB
is not demodulated: W * s[i]). Everything else (the 4x4 input-end dense layer, biases,
noise strengths and noise inputs) is copied as it is. The baked network is
`training.networks_stylegan2.G_main_baked`: inputs (latents_in, labels_in), like a
plain StyleGAN2 generator.
"""

import re

import numpy as np

import dnnlib.tflib as tflib

BAKED_FUNC = 'training.networks_stylegan2.G_main_baked'
BAKED_SCOPE = 'G_synthesis/'  # G_main_baked keeps the source's synthesis variable names under this scope

# Static kwargs of the source's synthesis network that shape the baked one.
ARCHITECTURE_KWARGS = ('num_channels', 'resolution', 'fmap_base', 'fmap_decay', 'fmap_min', 'fmap_max',
                       'architecture', 'nonlinearity', 'resample_kernel')


def fingerprint_size(Gs):
    """Number of fingerprint bits of `Gs`; ValueError saying why it cannot be baked otherwise."""
    if Gs.num_inputs != 3 or not {'mapping', 'synthesis'} <= set(Gs.components):
        raise ValueError('network %r has no fingerprint input (inputs: %s); baking needs a fingerprinted '
                         'generator such as the Gs of a training pickle' % (Gs.name, ', '.join(Gs.input_names)))
    variant = Gs.static_kwargs.get('variant')
    if variant is not None or len(Gs.components) != 2:
        raise ValueError('baking is defined for the paper\'s design (fingerprint-only modulation); this generator '
                         'is variant %s' % (variant if variant is not None else 'with several mapping networks'))
    if Gs.input_shapes[1][1]:
        raise ValueError('class-conditional generators cannot be baked: the labels enter the modulation')
    if '4x4/Latent/weight' not in Gs.components.synthesis.vars:
        raise ValueError('generator %r does not take z at the 4x4 input end (no 4x4/Latent layer)' % Gs.name)
    return Gs.input_shapes[2][1]


def parse_fingerprint(text, size):
    """'0110...' (exactly `size` characters 0/1) -> float32 bits [size]."""
    if not re.fullmatch('[01]*', text):
        bad = sorted(set(text) - {'0', '1'})
        raise ValueError('the fingerprint may only contain 0 and 1, got %s' % ', '.join(repr(c) for c in bad))
    if len(text) != size:
        raise ValueError('the fingerprint must have %d bits, got %d' % (size, len(text)))
    return np.array([int(c) for c in text], np.float32)


def fingerprint_from_seed(seed, size):
    """The fingerprint drawn by np.random.RandomState(seed).randint(0, 2, size), as float32."""
    return np.random.RandomState(seed).randint(0, 2, size).astype(np.float32)


def fingerprint_to_string(bits):
    return ''.join('1' if b else '0' for b in np.asarray(bits).ravel())


def _layer_index(scope):
    """Index into the per-layer styles of the synthesis layer `scope`, e.g. '8x8/Conv0_up' -> 1."""
    res_name, kind = scope.split('/')[-2:]
    res_log2 = int(np.log2(int(res_name.split('x')[0])))
    offsets = {'Conv0_up': -5, 'Conv1': -4, 'ToRGB': -3}
    if kind == 'Conv' and res_log2 == 2:
        return 0
    if kind not in offsets:
        raise ValueError('unexpected modulated layer %r in the synthesis network' % scope)
    return 2 * res_log2 + offsets[kind]


class _ModulatedLayer:
    """What folding one modulated conv needs, with the fingerprint-independent parts precomputed."""

    def __init__(self, scope, weight, mod_weight, mod_bias):
        self.name = BAKED_SCOPE + scope + '/weight'
        self.index = _layer_index(scope)
        self.demodulate = not scope.endswith('ToRGB')
        self.weight = weight
        self.mod_weight = mod_weight.astype(np.float64) / np.sqrt(mod_weight.shape[0])  # run-time scale, lrmul 1
        self.mod_bias = mod_bias.astype(np.float64)
        kernel_h, kernel_w, in_fmaps, _ = weight.shape
        # sum_{kh,kw} (r * W)^2: demodulation is then one [I] x [I, O] product per fingerprint.
        self.weight_sq = np.einsum('hwio,hwio->io', weight, weight, dtype=np.float64) / (kernel_h * kernel_w * in_fmaps)
        self.folded = np.empty_like(weight)  # reused: a fresh array per copy costs more than the multiply

    def fold(self, styles):
        s = styles[self.index] @ self.mod_weight + self.mod_bias + 1                      # [I]
        scale = s[:, np.newaxis]
        if self.demodulate:
            scale = scale / np.sqrt(np.square(s) @ self.weight_sq + 1e-8)[np.newaxis, :]   # [I, O]
        return np.multiply(self.weight, scale.astype(np.float32), out=self.folded)


class Baker:
    """Makes fingerprinted instances of one generator.

    Construction reads the generator's variables and builds the baked network once;
    each `bake(bits)` then runs the mapping network for that fingerprint, folds it into
    the conv weights in numpy and loads them into the same baked network, so pickle
    (or copy) the returned network before baking the next fingerprint.
    """

    def __init__(self, Gs):
        self.fingerprint_size = fingerprint_size(Gs)
        self._mapping = Gs.components.mapping
        synthesis = Gs.components.synthesis
        values = dict(zip(synthesis.vars, tflib.run(list(synthesis.vars.values()))))
        mod_scopes = [name[:-len('/mod_weight')] for name in values if name.endswith('/mod_weight')]
        self._layers = [_ModulatedLayer(scope, values[scope + '/weight'], values[scope + '/mod_weight'],
                                        values[scope + '/mod_bias']) for scope in mod_scopes]
        self.folded_names = [layer.name for layer in self._layers]
        plain = {BAKED_SCOPE + name: value for name, value in values.items()
                 if not re.search(r'/mod\d*_(weight|bias)$', name)}

        kwargs = {key: value for key, value in synthesis.static_kwargs.items() if key in ARCHITECTURE_KWARGS}
        self.network = tflib.Network(Gs.name, func_name=BAKED_FUNC, latent_size=Gs.input_shapes[0][1], **kwargs)
        shapes = {name: tuple(var.shape.as_list()) for name, var in self.network.vars.items()}
        mismatched = sorted(set(shapes) ^ set(plain)) + [name for name in shapes if name in plain
                                                          and shapes[name] != plain[name].shape]
        if mismatched:
            raise ValueError('the baked network does not match generator %r at %s' % (Gs.name, mismatched[0]))
        tflib.set_vars({self.network.vars[name]: value for name, value in plain.items()
                        if name not in self.folded_names})

    def fold(self, bits):
        """{baked variable name: folded conv weight} for fingerprint `bits` (numpy, after one mapping run).

        The arrays are overwritten by the next fold() or bake().
        """
        bits = np.asarray(bits, np.float32)
        if bits.shape != (self.fingerprint_size,) or not np.all((bits == 0) | (bits == 1)):
            raise ValueError('the fingerprint must be %d bits of 0 or 1' % self.fingerprint_size)
        # The fingerprint goes to the mapping input that is not labels_in (the authors' mapping takes labels first).
        inputs = [None if name == 'labels_in' else bits[np.newaxis] for name in self._mapping.input_names]
        styles = self._mapping.run(*inputs)[0].astype(np.float64)                  # [num_layers, dlatent_size]
        return {layer.name: layer.fold(styles) for layer in self._layers}

    def bake(self, bits):
        """The baked network for fingerprint `bits`, recorded in its static kwarg `watermark_bits`."""
        folded = self.fold(bits)
        tflib.set_vars({self.network.vars[name]: value for name, value in folded.items()})
        self.network.static_kwargs.watermark_bits = fingerprint_to_string(bits)
        return self.network


def max_difference(Gs, baked, bits, num_latents=4, seed=0):
    """Largest |G(z, c0) - baked(z)| over `num_latents` random z, noise inputs fixed ([-1, 1] image scale)."""
    z = np.random.RandomState(seed).randn(num_latents, Gs.input_shapes[0][1]).astype(np.float32)
    c = np.tile(np.asarray(bits, np.float32)[np.newaxis], [num_latents, 1])
    expected = Gs.run(z, None, c, randomize_noise=False)
    return float(np.abs(baked.run(z, None, randomize_noise=False) - expected).max())
