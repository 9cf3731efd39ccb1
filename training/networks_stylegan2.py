"""StyleGAN2 config-e networks with fingerprint modulation.

Build functions (the names the authors' configurations and pickles use):
  G_main_watermark       generator G(z, labels, c): mapping of the fingerprint c
                         modulates the convs; z enters at the 4x4 input end.
  G_mapping_watermark    fingerprint (or z, or [z, c]) -> per-layer styles w.
  G_synthesis_stylegan2  styles + input-end vector -> image.
  D_stylegan2            discriminator.
  E_stylegan2_watermark  decoder ("E" in pickles, F in the paper): image ->
                         (reconstructed z, fingerprint logits).
  G_main, G_mapping      the plain StyleGAN2 config-e generator (no fingerprint).
  G_main_baked           a fingerprinted copy: G(z, c0) with c0 folded into the
                         conv weights (see training/bake.py).

Images are NCHW in [-1, 1] at every network boundary, as in the authors' code
and pickles. Inside, feature maps are NHWC: TensorFlow's CPU kernels only
convolve NHWC, and cuDNN is as fast in NHWC. Weights are HWIO, the same in
both layouts, so variables are exactly the authors'. Modulated convs scale
activations instead of weights (StyleGAN2's non-fused form): mathematically
the same, but a plain convolution with gradients on every device.
"""

import functools

import numpy as np
import tensorflow as tf

import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib.ops.conv2d import conv2d
from dnnlib.tflib.ops.fused_bias_act import fused_bias_act
from dnnlib.tflib.ops.upfirdn_2d import upsample_2d, downsample_2d, upsample_conv_2d, conv_downsample_2d

tfv1 = tf.compat.v1

# ----------------------------------------------------------------------------
# Layers. `x` is NHWC (or [N, C] for dense layers).


def _int_shape(x):
    return [None if d is None else int(d) for d in x.shape.as_list()]


def get_weight(shape, gain=1, use_wscale=True, lrmul=1, weight_var='weight'):
    """Equalized learning rate: stored N(0, 1/lrmul), scaled at run time by gain/sqrt(fan_in)*lrmul."""
    fan_in = np.prod(shape[:-1])
    he_std = gain / np.sqrt(fan_in)
    if use_wscale:
        init_std = 1.0 / lrmul
        runtime_coef = he_std * lrmul
    else:
        init_std = he_std / lrmul
        runtime_coef = lrmul
    w = tfv1.get_variable(weight_var, shape=shape, initializer=tfv1.initializers.random_normal(0, init_std))
    return w * runtime_coef


def _flatten_as_nchw(x):
    """Flatten a feature map in the authors' NCHW order, so dense weights stay compatible."""
    if len(x.shape) == 4:
        x = tf.transpose(x, [0, 3, 1, 2])
    shape = _int_shape(x)
    return tf.reshape(x, [-1, int(np.prod(shape[1:]))])


def dense_layer(x, fmaps, gain=1, use_wscale=True, lrmul=1, weight_var='weight'):
    x = _flatten_as_nchw(x)
    w = get_weight([_int_shape(x)[1], fmaps], gain=gain, use_wscale=use_wscale, lrmul=lrmul, weight_var=weight_var)
    return tf.matmul(x, w)


def conv2d_layer(x, fmaps, kernel, up=False, down=False, resample_kernel=None, gain=1, use_wscale=True, lrmul=1,
                 weight_var='weight'):
    assert not (up and down)
    w = get_weight([kernel, kernel, _int_shape(x)[-1], fmaps], gain=gain, use_wscale=use_wscale, lrmul=lrmul,
                   weight_var=weight_var)
    return _conv(x, w, up, down, resample_kernel)


def _conv(x, w, up, down, resample_kernel):
    if up:
        return upsample_conv_2d(x, w, k=resample_kernel, data_format='NHWC')
    if down:
        return conv_downsample_2d(x, w, k=resample_kernel, data_format='NHWC')
    return conv2d(x, w, padding='SAME', data_format='NHWC')


def apply_bias_act(x, act='linear', alpha=None, gain=None, lrmul=1, bias_var='bias'):
    b = tfv1.get_variable(bias_var, shape=[_int_shape(x)[-1]], initializer=tfv1.initializers.zeros()) * lrmul
    return fused_bias_act(x, b=b, axis=-1, act=act, alpha=alpha, gain=gain)


def style_scales(styles, in_fmaps, weight_var='mod_weight', bias_var='mod_bias'):
    """Per-input-channel scales from a style vector: affine + 1 ([N, in_fmaps])."""
    s = dense_layer(styles, fmaps=in_fmaps, weight_var=weight_var)
    return apply_bias_act(s, bias_var=bias_var) + 1


def modulated_conv2d_layer(x, style_list, fmaps, kernel, up=False, down=False, demodulate=True, resample_kernel=None,
                           gain=1, use_wscale=True, lrmul=1):
    """Conv whose weights are scaled per input channel by each style in `style_list`, then demodulated.

    The first style uses mod_weight/mod_bias (the authors' names); further ones
    (architectural Variant II) use mod<k>_weight/mod<k>_bias.
    """
    in_fmaps = _int_shape(x)[-1]
    w = get_weight([kernel, kernel, in_fmaps, fmaps], gain=gain, use_wscale=use_wscale, lrmul=lrmul)
    s = None
    for index, styles in enumerate(style_list):
        prefix = 'mod' if index == 0 else 'mod%d' % (index + 1)
        scales = style_scales(styles, in_fmaps, weight_var=prefix + '_weight', bias_var=prefix + '_bias')
        s = scales if s is None else s * scales                                   # [NI]
    x = x * s[:, np.newaxis, np.newaxis, :]
    x = _conv(x, w, up, down, resample_kernel)
    if demodulate:
        # d[n, o] = 1 / sqrt(sum_{k,k,i} (w * s[n, i])^2), computed without forming per-sample weights.
        w_sq = tf.reduce_sum(tf.square(w), axis=[0, 1])                           # [IO]
        d = tf.math.rsqrt(tf.matmul(tf.square(s), w_sq) + 1e-8)                   # [NO]
        x = x * d[:, np.newaxis, np.newaxis, :]
    return x


def minibatch_stddev_layer(x, group_size=4, num_new_features=1):
    """Append the feature-averaged stddev over minibatch groups as extra channel(s) (NHWC)."""
    group_size = tf.minimum(group_size, tf.shape(x)[0])
    _, h, w, c = _int_shape(x)
    y = tf.reshape(x, [group_size, -1, h, w, num_new_features, c // num_new_features])  # [GMHWnc]
    y -= tf.reduce_mean(y, axis=0, keepdims=True)
    y = tf.sqrt(tf.reduce_mean(tf.square(y), axis=0) + 1e-8)                  # [MHWnc]
    y = tf.reduce_mean(y, axis=[1, 2, 4])                                      # [Mn]
    y = tf.broadcast_to(y[np.newaxis, :, np.newaxis, np.newaxis, :],
                        tf.stack([group_size, tf.shape(y)[0], h, w, num_new_features]))  # [GMHWn]
    return tf.concat([x, tf.reshape(y, [-1, h, w, num_new_features])], axis=3)


def _check_architecture(resolution, architecture, network):
    """log2 of the resolution; a clear error for a size or an architecture the networks do not have."""
    resolution_log2 = int(np.log2(resolution))
    if resolution != 2 ** resolution_log2 or resolution < 4:
        raise ValueError('resolution must be a power of two >= 4, got %r' % resolution)
    if architecture not in ('orig', 'skip', 'resnet'):
        raise ValueError('unknown %s architecture %r (use orig, skip or resnet)' % (network, architecture))
    return resolution_log2


def _nf_func(fmap_base, fmap_decay, fmap_min, fmap_max):
    return lambda stage: int(np.clip(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_min, fmap_max))


def parse_res_modulated_range(res_modulated_range, resolution):
    """'4-128' -> (2, 7) as log2 resolutions; None -> every resolution."""
    resolution_log2 = int(np.log2(resolution))
    if res_modulated_range is None:
        return 2, resolution_log2
    if isinstance(res_modulated_range, str):
        parts = res_modulated_range.split('-')
        if len(parts) != 2:
            raise ValueError('res_modulated_range must look like "4-128", got %r' % res_modulated_range)
        lo, hi = int(parts[0]), int(parts[1])
    else:
        lo, hi = res_modulated_range
    if lo not in [2 ** k for k in range(2, resolution_log2 + 1)] or hi not in [2 ** k for k in range(2, resolution_log2 + 1)] or lo > hi:
        raise ValueError('res_modulated_range %s-%s must be powers of two within 4-%d' % (lo, hi, resolution))
    return int(np.log2(lo)), int(np.log2(hi))


# ----------------------------------------------------------------------------
# Generator.

MODULATION_SOURCES = {
    # variant: (what feeds the mapping network(s), what enters at the input end)
    None: (('watermark',), 'latent'),        # the paper's design
    'I': (('latent',), 'watermark'),         # modulate by z, fingerprint at the input end
    'II': (('latent', 'watermark'), 'latent'),  # modulate twice
    'III': (('concat',), 'latent'),          # modulate by an embedding of [z, c]
}


def G_main_watermark(latents_in, labels_in, watermark_in, latent_size=512, watermark_size=128, label_size=0,
                     variant=None, is_training=False, is_validation=False, return_dlatents=False,
                     is_template_graph=False, components=dnnlib.EasyDict(),
                     mapping_func='G_mapping_watermark', synthesis_func='G_synthesis_stylegan2',
                     dlatent_size=512, **kwargs):
    """Fingerprinted generator: (z [N, latent_size], labels, c [N, watermark_size] in {0,1}) -> images NCHW.

    variant: None (the paper), 'I', 'II' or 'III' (paper Table 1).
    """
    del is_validation
    if variant not in MODULATION_SOURCES:
        raise ValueError('unknown generator variant %r (use I, II or III)' % (variant,))
    sources, input_end = MODULATION_SOURCES[variant]
    latents_in.set_shape([None, latent_size])
    labels_in.set_shape([None, label_size])
    watermark_in.set_shape([None, watermark_size])
    tfv1.get_variable('lod', initializer=np.float32(0), trainable=False)
    tfv1.get_variable('dlatent_avg', shape=[dlatent_size], initializer=tfv1.initializers.zeros(), trainable=False)

    inputs = {'latent': latents_in, 'watermark': watermark_in}
    if 'concat' in sources:
        inputs['concat'] = tf.concat([latents_in, watermark_in], axis=1)
    input_sizes = {'latent': latent_size, 'watermark': watermark_size, 'concat': latent_size + watermark_size}
    if 'synthesis' not in components:
        components.synthesis = tflib.Network('G_synthesis', func_name=globals()[synthesis_func],
                                             latent_size=input_sizes[input_end], dlatent_size=dlatent_size,
                                             num_modulations=len(sources), **kwargs)
    num_layers = components.synthesis.input_shapes[0][1]
    mapping_names = ['mapping'] + ['mapping%d' % (i + 1) for i in range(1, len(sources))]
    for name, source in zip(mapping_names, sources):
        if name not in components:
            scope = 'G_mapping' if name == 'mapping' else 'G_' + name
            components[name] = tflib.Network(scope, func_name=globals()[mapping_func], dlatent_broadcast=num_layers,
                                             mapping_in_size=input_sizes[source], label_size=label_size,
                                             dlatent_size=dlatent_size, **kwargs)
    dlatents = [components[name].get_output_for(inputs[source], labels_in, is_training=is_training, **kwargs)
                for name, source in zip(mapping_names, sources)]
    dlatents = tf.concat(dlatents, axis=2) if len(dlatents) > 1 else dlatents[0]
    images_out = components.synthesis.get_output_for(dlatents, inputs[input_end], is_training=is_training, **kwargs)
    images_out = tf.identity(images_out, name='images_out')
    if return_dlatents:
        return images_out, dlatents
    return images_out


def G_mapping_watermark(x_in, labels_in, mapping_in_size=128, label_size=0, dlatent_size=512,
                        dlatent_broadcast=None, mapping_layers=8, mapping_fmaps=512, mapping_lrmul=0.01,
                        mapping_nonlinearity='lrelu', normalize_input=False, **_kwargs):
    """Mapping network: x [N, mapping_in_size] (+ labels) -> w [N, dlatent_broadcast, dlatent_size].

    The fingerprint bits go in as they are (no pixel norm); z would be normalised.
    """
    x_in.set_shape([None, mapping_in_size])
    labels_in.set_shape([None, label_size])
    x = x_in
    if label_size:
        with tfv1.variable_scope('LabelConcat'):
            w = tfv1.get_variable('weight', shape=[label_size, mapping_in_size], initializer=tfv1.initializers.random_normal())
            x = tf.concat([x, tf.matmul(labels_in, w)], axis=1)
    if normalize_input:
        x *= tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=1, keepdims=True) + 1e-8)
    for layer_idx in range(mapping_layers):
        with tfv1.variable_scope('Dense%d' % layer_idx):
            fmaps = dlatent_size if layer_idx == mapping_layers - 1 else mapping_fmaps
            x = apply_bias_act(dense_layer(x, fmaps=fmaps, lrmul=mapping_lrmul), act=mapping_nonlinearity,
                               lrmul=mapping_lrmul)
    if dlatent_broadcast is not None:
        with tf.name_scope('Broadcast'):
            x = tf.broadcast_to(x[:, np.newaxis], [tf.shape(x)[0], dlatent_broadcast, dlatent_size])
    return tf.identity(x, name='dlatents_out')


def _synthesis(dlatents_in, latents_in, latent_size, dlatent_size, num_modulations, num_channels, resolution,
               fmap_base, fmap_decay, fmap_min, fmap_max, randomize_noise, architecture, nonlinearity,
               resample_kernel, res_modulated_range, res_modulated_min_log2, res_modulated_max_log2):
    resolution_log2 = _check_architecture(resolution, architecture, 'generator')
    nf = _nf_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    if res_modulated_min_log2 is None or res_modulated_max_log2 is None:
        res_modulated_min_log2, res_modulated_max_log2 = parse_res_modulated_range(res_modulated_range, resolution)
    num_layers = resolution_log2 * 2 - 2
    if dlatents_in is not None:  # None: no layer is modulated (a baked generator, see G_main_baked)
        dlatents_in.set_shape([None, num_layers, dlatent_size * num_modulations])

    noise_inputs = []
    for layer_idx in range(num_layers - 1):
        res = (layer_idx + 5) // 2
        noise_inputs.append(tfv1.get_variable('noise%d' % layer_idx, shape=[1, 1, 2 ** res, 2 ** res],
                                              initializer=tfv1.initializers.random_normal(), trainable=False))

    def styles(layer_idx):
        w = dlatents_in[:, layer_idx]
        return [w[:, k * dlatent_size:(k + 1) * dlatent_size] for k in range(num_modulations)]

    def conv(x, layer_idx, res, fmaps, kernel, up=False, demodulate=True):
        if dlatents_in is not None and res_modulated_min_log2 <= res <= res_modulated_max_log2:
            return modulated_conv2d_layer(x, styles(layer_idx), fmaps=fmaps, kernel=kernel, up=up,
                                          demodulate=demodulate, resample_kernel=resample_kernel)
        return conv2d_layer(x, fmaps=fmaps, kernel=kernel, up=up, resample_kernel=resample_kernel)

    def layer(x, layer_idx, res, fmaps, kernel, up=False):
        x = conv(x, layer_idx, res, fmaps, kernel, up=up)
        h, w = _int_shape(x)[1:3]
        if randomize_noise:
            noise = tf.random.normal([tf.shape(x)[0], h, w, 1])
        else:
            noise = tf.reshape(noise_inputs[layer_idx], [1, h, w, 1])
        noise_strength = tfv1.get_variable('noise_strength', shape=[], initializer=tfv1.initializers.zeros())
        x += noise * noise_strength
        return apply_bias_act(x, act=nonlinearity)

    def block(x, res):
        t = x
        with tfv1.variable_scope('Conv0_up'):
            x = layer(x, res * 2 - 5, res, fmaps=nf(res - 1), kernel=3, up=True)
        with tfv1.variable_scope('Conv1'):
            x = layer(x, res * 2 - 4, res, fmaps=nf(res - 1), kernel=3)
        if architecture == 'resnet':
            with tfv1.variable_scope('Skip'):
                t = conv2d_layer(t, fmaps=nf(res - 1), kernel=1, up=True, resample_kernel=resample_kernel)
                x = (x + t) * (1 / np.sqrt(2))
        return x

    def torgb(x, y, res):
        with tfv1.variable_scope('ToRGB'):
            t = apply_bias_act(conv(x, res * 2 - 3, res, fmaps=num_channels, kernel=1, demodulate=False))
            return t if y is None else y + t

    y = None
    with tfv1.variable_scope('4x4'):
        if latents_in is None:
            with tfv1.variable_scope('Const'):
                const = tfv1.get_variable('const', shape=[1, nf(1), 4, 4], initializer=tfv1.initializers.random_normal())
                x = tf.broadcast_to(tf.transpose(const, [0, 2, 3, 1]), [tf.shape(dlatents_in)[0], 4, 4, nf(1)])
        else:
            latents_in.set_shape([None, latent_size])
            with tfv1.variable_scope('Latent'):
                x = apply_bias_act(dense_layer(latents_in, fmaps=nf(1) * 16), act=nonlinearity)
                x = tf.transpose(tf.reshape(x, [-1, nf(1), 4, 4]), [0, 2, 3, 1])
        with tfv1.variable_scope('Conv'):
            x = layer(x, 0, 2, fmaps=nf(1), kernel=3)
        if architecture == 'skip':
            y = torgb(x, y, 2)

    for res in range(3, resolution_log2 + 1):
        with tfv1.variable_scope('%dx%d' % (2 ** res, 2 ** res)):
            x = block(x, res)
            if architecture == 'skip':
                y = upsample_2d(y, k=resample_kernel, data_format='NHWC')
            if architecture == 'skip' or res == resolution_log2:
                y = torgb(x, y, res)
    return tf.identity(tf.transpose(y, [0, 3, 1, 2]), name='images_out')


def G_synthesis_stylegan2(dlatents_in, latents_in, latent_size=512, dlatent_size=512, num_modulations=1,
                          num_channels=3, resolution=1024, fmap_base=16 << 10, fmap_decay=1.0, fmap_min=1,
                          fmap_max=512, randomize_noise=True, architecture='skip', nonlinearity='lrelu',
                          resample_kernel=(1, 3, 3, 1), res_modulated_range=None, res_modulated_min_log2=None,
                          res_modulated_max_log2=None, **_kwargs):
    """Synthesis with z at the input end: (w [N, layers, dlatent_size*num_modulations], z) -> images NCHW.

    res_modulated_range ('4-128') or res_modulated_min/max_log2 choose which
    resolutions' convs are modulated; the others are plain convs. `fused_modconv`
    and `dtype` of the authors' code are accepted and ignored (see module doc).
    """
    return _synthesis(dlatents_in, latents_in, latent_size, dlatent_size, num_modulations, num_channels, resolution,
                      fmap_base, fmap_decay, fmap_min, fmap_max, randomize_noise, architecture, nonlinearity,
                      list(resample_kernel), res_modulated_range, res_modulated_min_log2, res_modulated_max_log2)


def G_synthesis_stylegan2_const(dlatents_in, dlatent_size=512, num_channels=3, resolution=1024, fmap_base=16 << 10,
                                fmap_decay=1.0, fmap_min=1, fmap_max=512, randomize_noise=True, architecture='skip',
                                nonlinearity='lrelu', resample_kernel=(1, 3, 3, 1), **_kwargs):
    """StyleGAN2's synthesis: a learned 4x4 constant, every conv modulated by w."""
    return _synthesis(dlatents_in, None, None, dlatent_size, 1, num_channels, resolution, fmap_base, fmap_decay,
                      fmap_min, fmap_max, randomize_noise, architecture, nonlinearity, list(resample_kernel),
                      None, None, None)


def G_main(latents_in, labels_in, latent_size=512, label_size=0, dlatent_size=512, is_training=False,
           is_validation=False, return_dlatents=False, is_template_graph=False, components=dnnlib.EasyDict(),
           mapping_func='G_mapping', synthesis_func='G_synthesis_stylegan2_const', **kwargs):
    """The plain StyleGAN2 generator (z -> mapping -> modulation of a learned constant); no fingerprint."""
    del is_validation, is_template_graph
    latents_in.set_shape([None, latent_size])
    labels_in.set_shape([None, label_size])
    tfv1.get_variable('lod', initializer=np.float32(0), trainable=False)
    tfv1.get_variable('dlatent_avg', shape=[dlatent_size], initializer=tfv1.initializers.zeros(), trainable=False)
    if 'synthesis' not in components:
        components.synthesis = tflib.Network('G_synthesis', func_name=globals()[synthesis_func],
                                             dlatent_size=dlatent_size, **kwargs)
    num_layers = components.synthesis.input_shapes[0][1]
    if 'mapping' not in components:
        components.mapping = tflib.Network('G_mapping', func_name=globals()[mapping_func], dlatent_broadcast=num_layers,
                                           latent_size=latent_size, label_size=label_size, dlatent_size=dlatent_size,
                                           **kwargs)
    dlatents = components.mapping.get_output_for(latents_in, labels_in, is_training=is_training, **kwargs)
    images_out = tf.identity(components.synthesis.get_output_for(dlatents, is_training=is_training, **kwargs),
                             name='images_out')
    return (images_out, dlatents) if return_dlatents else images_out


def G_mapping(latents_in, labels_in, latent_size=512, **kwargs):
    """StyleGAN2's mapping of z: pixel-normalised z through the dense stack."""
    kwargs = {k: v for k, v in kwargs.items() if k not in ('mapping_in_size', 'normalize_input')}
    return G_mapping_watermark(latents_in, labels_in, mapping_in_size=latent_size, normalize_input=True, **kwargs)


# ----------------------------------------------------------------------------
# Discriminator and decoder.

def _image_features(images_in, num_channels, resolution, fmap_base, fmap_decay, fmap_min, fmap_max, architecture,
                    nonlinearity, resample_kernel, mbstd_group_size, mbstd_num_features, lrmul=1):
    """The D body (FromRGB, per-resolution blocks, 4x4 Conv, Dense0) on NCHW images; returns [N, nf(0)].

    lrmul multiplies the learning rate of every layer (equalized learning rate).
    """
    conv = functools.partial(conv2d_layer, lrmul=lrmul)
    dense = functools.partial(dense_layer, lrmul=lrmul)
    bias_act = functools.partial(apply_bias_act, act=nonlinearity, lrmul=lrmul)
    resolution_log2 = _check_architecture(resolution, architecture, 'discriminator')
    nf = _nf_func(fmap_base, fmap_decay, fmap_min, fmap_max)
    resample_kernel = list(resample_kernel)
    images_in.set_shape([None, num_channels, resolution, resolution])
    y = tf.transpose(images_in, [0, 2, 3, 1])

    def fromrgb(x, y, res):
        with tfv1.variable_scope('FromRGB'):
            t = bias_act(conv(y, fmaps=nf(res - 1), kernel=1))
            return t if x is None else x + t

    def block(x, res):
        t = x
        with tfv1.variable_scope('Conv0'):
            x = bias_act(conv(x, fmaps=nf(res - 1), kernel=3))
        with tfv1.variable_scope('Conv1_down'):
            x = bias_act(conv(x, fmaps=nf(res - 2), kernel=3, down=True, resample_kernel=resample_kernel))
        if architecture == 'resnet':
            with tfv1.variable_scope('Skip'):
                t = conv(t, fmaps=nf(res - 2), kernel=1, down=True, resample_kernel=resample_kernel)
                x = (x + t) * (1 / np.sqrt(2))
        return x

    x = None
    for res in range(resolution_log2, 2, -1):
        with tfv1.variable_scope('%dx%d' % (2 ** res, 2 ** res)):
            if architecture == 'skip' or res == resolution_log2:
                x = fromrgb(x, y, res)
            x = block(x, res)
            if architecture == 'skip':
                y = downsample_2d(y, k=resample_kernel, data_format='NHWC')
    with tfv1.variable_scope('4x4'):
        if architecture == 'skip' or resolution_log2 == 2:
            x = fromrgb(x, y, 2)
        if mbstd_group_size > 1:
            x = minibatch_stddev_layer(x, mbstd_group_size, mbstd_num_features)
        with tfv1.variable_scope('Conv'):
            x = bias_act(conv(x, fmaps=nf(1), kernel=3))
        with tfv1.variable_scope('Dense0'):
            x = bias_act(dense(x, fmaps=nf(0)))
    return x


def D_stylegan2(images_in, labels_in, num_channels=3, resolution=1024, label_size=0, fmap_base=16 << 10,
                fmap_decay=1.0, fmap_min=1, fmap_max=512, architecture='resnet', nonlinearity='lrelu',
                mbstd_group_size=4, mbstd_num_features=1, resample_kernel=(1, 3, 3, 1), **_kwargs):
    """Discriminator: images NCHW -> one score per image (label-projected when labels are given)."""
    labels_in.set_shape([None, label_size])
    x = _image_features(images_in, num_channels, resolution, fmap_base, fmap_decay, fmap_min, fmap_max, architecture,
                        nonlinearity, resample_kernel, mbstd_group_size, mbstd_num_features)
    with tfv1.variable_scope('Output'):
        x = apply_bias_act(dense_layer(x, fmaps=max(label_size, 1)))
        if label_size > 0:
            x = tf.reduce_sum(x * labels_in, axis=1, keepdims=True)
    return tf.identity(x, name='scores_out')


def E_stylegan2_watermark(images_in, labels_in, num_channels=3, resolution=1024, label_size=0, latent_size=512,
                          watermark_size=128, fmap_base=16 << 10, fmap_decay=1.0, fmap_min=1, fmap_max=512,
                          architecture='resnet', nonlinearity='lrelu', resample_kernel=(1, 3, 3, 1), lrmul=1,
                          **_kwargs):
    """Decoder: images NCHW -> (reconstructed z [N, latent_size], fingerprint logits [N, watermark_size]).

    The D architecture without minibatch stddev; a fingerprint bit is 1 where its logit is > 0.
    lrmul > 1 lets the decoder learn faster than G and D (the paper's setting is 1).
    """
    labels_in.set_shape([None, label_size])
    x = _image_features(images_in, num_channels, resolution, fmap_base, fmap_decay, fmap_min, fmap_max, architecture,
                        nonlinearity, resample_kernel, 0, 1, lrmul)
    with tfv1.variable_scope('Output'):
        x = apply_bias_act(dense_layer(x, fmaps=latent_size + watermark_size, lrmul=lrmul), lrmul=lrmul)
    latents_out = tf.identity(x[:, :latent_size], name='latents_out')
    watermark_logits_out = tf.identity(x[:, latent_size:], name='watermark_logits_out')
    return latents_out, watermark_logits_out


# ----------------------------------------------------------------------------
# Deployed generator.

def G_main_baked(latents_in, labels_in, latent_size=512, label_size=0, num_channels=3, resolution=1024,
                 fmap_base=16 << 10, fmap_decay=1.0, fmap_min=1, fmap_max=512, randomize_noise=True,
                 architecture='skip', nonlinearity='lrelu', resample_kernel=(1, 3, 3, 1), **_kwargs):
    """A fingerprinted generator instance, (z, labels) -> images NCHW, made by training/bake.py.

    The synthesis network with every conv plain: the weights already hold the modulation of
    one fingerprint, so there is no fingerprint input and no mapping network. Variables keep
    the source generator's names (G_synthesis/...). The static kwarg `watermark_bits` records
    the fingerprint for the owner; building ignores it.
    """
    latents_in.set_shape([None, latent_size])
    labels_in.set_shape([None, label_size])
    with tfv1.variable_scope('G_synthesis'):
        return _synthesis(None, latents_in, latent_size, None, 1, num_channels, resolution, fmap_base, fmap_decay,
                          fmap_min, fmap_max, randomize_noise, architecture, nonlinearity, list(resample_kernel),
                          None, None, None)


# Networks of these build functions load from pickles without running the pickles' embedded source.
tflib.network.register_build_funcs(G_main_watermark, G_mapping_watermark, G_synthesis_stylegan2,
                                   G_synthesis_stylegan2_const, G_main, G_mapping, D_stylegan2,
                                   E_stylegan2_watermark, G_main_baked)
