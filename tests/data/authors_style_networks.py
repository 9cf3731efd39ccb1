"""Fingerprinting networks in the TF 1.x idiom of the authors' released source.

Read as text by the tests and embedded in pickles as `build_module_src`, the
way the authors' training code writes its snapshots; never imported. It keeps
what matters for loading their files: the build function names and
signatures (mapping takes (labels, watermark), synthesis takes (latents,
dlatents)), res_modulated_min_log2 / res_modulated_max_log2, NCHW tensors,
tf.get_variable, x.shape[i].value, and a G_main_watermark that never sets the
shapes of its own inputs (its components do, through get_output_for). The
variables, and the numbers, are those of training/networks_stylegan2.py.
"""

import numpy as np
import tensorflow as tf
import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib.ops.upfirdn_2d import upsample_2d, downsample_2d, upsample_conv_2d, conv_downsample_2d
from dnnlib.tflib.ops.fused_bias_act import fused_bias_act


def nf_func(fmap_base, fmap_max):
    return lambda stage: int(np.clip(int(fmap_base / 2.0 ** stage), 1, fmap_max))


def scaled_var(name, shape, lrmul=1):
    fan_in = np.prod(shape[:-1])
    var = tf.get_variable(name, shape=shape, initializer=tf.initializers.random_normal(0, 1.0 / lrmul))
    return var * (lrmul / np.sqrt(fan_in))


def dense(x, fmaps, lrmul=1, name='weight'):
    if len(x.shape) > 2:
        x = tf.reshape(x, [-1, np.prod([d.value for d in x.shape[1:]])])
    return tf.matmul(x, scaled_var(name, [x.shape[1].value, fmaps], lrmul))


def conv(x, fmaps, kernel, up=False, down=False, k=None):
    w = scaled_var('weight', [kernel, kernel, x.shape[1].value, fmaps])
    if up:
        return upsample_conv_2d(x, w, data_format='NCHW', k=k)
    if down:
        return conv_downsample_2d(x, w, data_format='NCHW', k=k)
    return tf.nn.conv2d(x, w, data_format='NCHW', strides=[1, 1, 1, 1], padding='SAME')


def bias_act(x, act='linear', lrmul=1, name='bias'):
    b = tf.get_variable(name, shape=[x.shape[1]], initializer=tf.initializers.zeros()) * lrmul
    return fused_bias_act(x, b=b, act=act, impl='cuda')


def modulated_conv(x, style, fmaps, kernel, up=False, demodulate=True, k=None):
    # Scales the activations, not the weights: the authors' fused_modconv=False form.
    w = scaled_var('weight', [kernel, kernel, x.shape[1].value, fmaps])
    s = bias_act(dense(style, x.shape[1].value, name='mod_weight'), name='mod_bias') + 1
    x *= s[:, :, np.newaxis, np.newaxis]
    x = upsample_conv_2d(x, w, data_format='NCHW', k=k) if up else \
        tf.nn.conv2d(x, w, data_format='NCHW', strides=[1, 1, 1, 1], padding='SAME')
    if demodulate:
        per_sample = w[np.newaxis] * s[:, np.newaxis, np.newaxis, :, np.newaxis]
        x *= tf.rsqrt(tf.reduce_sum(tf.square(per_sample), axis=[1, 2, 3]) + 1e-8)[:, :, np.newaxis, np.newaxis]
    return x


def G_main_watermark(latents_in, labels_in, watermark_in, watermark_size=32, res_modulated_min_log2=2,
                     res_modulated_max_log2=7, is_training=False, is_validation=False, is_template_graph=False,
                     components=dnnlib.EasyDict(), **kwargs):
    if 'synthesis' not in components:
        components.synthesis = tflib.Network('G_synthesis', func_name=globals()['G_synthesis_stylegan2'],
                                             res_modulated_min_log2=res_modulated_min_log2,
                                             res_modulated_max_log2=res_modulated_max_log2, **kwargs)
    num_layers = components.synthesis.input_shapes[1][1]
    dlatent_size = components.synthesis.input_shapes[1][2]
    if 'mapping' not in components:
        components.mapping = tflib.Network('G_mapping', func_name=globals()['G_mapping_watermark'],
                                           watermark_size=watermark_size, dlatent_broadcast=num_layers, **kwargs)
    tf.get_variable('lod', initializer=np.float32(0), trainable=False)
    tf.get_variable('dlatent_avg', shape=[dlatent_size], initializer=tf.initializers.zeros(), trainable=False)
    dlatents = components.mapping.get_output_for(labels_in, watermark_in, is_training=is_training, **kwargs)
    images = components.synthesis.get_output_for(latents_in, dlatents, is_training=is_training, **kwargs)
    return tf.identity(images, name='images_out')


def G_mapping_watermark(labels_in, watermark_in, watermark_size=32, label_size=0, dlatent_size=512,
                        dlatent_broadcast=None, mapping_layers=8, mapping_fmaps=512, mapping_lrmul=0.01, **_kwargs):
    labels_in.set_shape([None, label_size])
    watermark_in.set_shape([None, watermark_size])
    x = watermark_in
    for index in range(mapping_layers):
        with tf.variable_scope('Dense%d' % index):
            fmaps = dlatent_size if index == mapping_layers - 1 else mapping_fmaps
            x = bias_act(dense(x, fmaps, lrmul=mapping_lrmul), act='lrelu', lrmul=mapping_lrmul)
    if dlatent_broadcast is not None:
        x = tf.tile(x[:, np.newaxis], [1, dlatent_broadcast, 1])
    return tf.identity(x, name='dlatents_out')


def G_synthesis_stylegan2(latents_in, dlatents_in, latent_size=512, dlatent_size=512, num_channels=3,
                          resolution=1024, fmap_base=16 << 10, fmap_max=512, randomize_noise=True,
                          architecture='skip', resample_kernel=[1, 3, 3, 1], res_modulated_min_log2=2,
                          res_modulated_max_log2=7, **_kwargs):
    top = int(np.log2(resolution))
    nf = nf_func(fmap_base, fmap_max)
    num_layers = top * 2 - 2
    latents_in.set_shape([None, latent_size])
    dlatents_in.set_shape([None, num_layers, dlatent_size])
    noise = [tf.get_variable('noise%d' % i, shape=[1, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2)],
                             initializer=tf.initializers.random_normal(), trainable=False)
             for i in range(num_layers - 1)]

    def any_conv(x, index, res, fmaps, kernel, up=False, demodulate=True):
        if res_modulated_min_log2 <= res <= res_modulated_max_log2:
            return modulated_conv(x, dlatents_in[:, index], fmaps, kernel, up=up, demodulate=demodulate,
                                  k=resample_kernel)
        return conv(x, fmaps, kernel, up=up, k=resample_kernel)

    def layer(x, index, res, fmaps, up=False):
        x = any_conv(x, index, res, fmaps, 3, up=up)
        if randomize_noise:
            n = tf.random_normal([tf.shape(x)[0], 1, x.shape[2], x.shape[3]])
        else:
            n = noise[index]
        x += n * tf.get_variable('noise_strength', shape=[], initializer=tf.initializers.zeros())
        return bias_act(x, act='lrelu')

    def torgb(x, y, res):
        with tf.variable_scope('ToRGB'):
            t = bias_act(any_conv(x, res * 2 - 3, res, num_channels, 1, demodulate=False))
            return t if y is None else y + t

    y = None
    with tf.variable_scope('4x4'):
        with tf.variable_scope('Latent'):
            x = tf.reshape(bias_act(dense(latents_in, nf(1) * 16), act='lrelu'), [-1, nf(1), 4, 4])
        with tf.variable_scope('Conv'):
            x = layer(x, 0, 2, nf(1))
        if architecture == 'skip':
            y = torgb(x, y, 2)
    for res in range(3, top + 1):
        with tf.variable_scope('%dx%d' % (2 ** res, 2 ** res)):
            shortcut = x
            with tf.variable_scope('Conv0_up'):
                x = layer(x, res * 2 - 5, res, nf(res - 1), up=True)
            with tf.variable_scope('Conv1'):
                x = layer(x, res * 2 - 4, res, nf(res - 1))
            if architecture == 'resnet':
                with tf.variable_scope('Skip'):
                    x = (x + conv(shortcut, nf(res - 1), 1, up=True, k=resample_kernel)) * (1 / np.sqrt(2))
            if architecture == 'skip':
                y = upsample_2d(y, k=resample_kernel)
            if architecture == 'skip' or res == top:
                y = torgb(x, y, res)
    return tf.identity(y, name='images_out')


def image_features(images_in, num_channels, resolution, fmap_base, fmap_max, architecture, mbstd_group_size,
                   resample_kernel):
    top = int(np.log2(resolution))
    nf = nf_func(fmap_base, fmap_max)
    images_in.set_shape([None, num_channels, resolution, resolution])

    def fromrgb(x, y, res):
        with tf.variable_scope('FromRGB'):
            t = bias_act(conv(y, nf(res - 1), 1), act='lrelu')
            return t if x is None else x + t

    x, y = None, images_in
    for res in range(top, 2, -1):
        with tf.variable_scope('%dx%d' % (2 ** res, 2 ** res)):
            if architecture == 'skip' or res == top:
                x = fromrgb(x, y, res)
            shortcut = x
            with tf.variable_scope('Conv0'):
                x = bias_act(conv(x, nf(res - 1), 3), act='lrelu')
            with tf.variable_scope('Conv1_down'):
                x = bias_act(conv(x, nf(res - 2), 3, down=True, k=resample_kernel), act='lrelu')
            if architecture == 'resnet':
                with tf.variable_scope('Skip'):
                    x = (x + conv(shortcut, nf(res - 2), 1, down=True, k=resample_kernel)) * (1 / np.sqrt(2))
            if architecture == 'skip':
                y = downsample_2d(y, k=resample_kernel)
    with tf.variable_scope('4x4'):
        if architecture == 'skip':
            x = fromrgb(x, y, 2)
        if mbstd_group_size > 1:
            group = tf.minimum(mbstd_group_size, tf.shape(x)[0])
            shape = x.shape
            g = tf.reshape(x, [group, -1, 1, shape[1], shape[2], shape[3]])
            g = tf.sqrt(tf.reduce_mean(tf.square(g - tf.reduce_mean(g, axis=0, keepdims=True)), axis=0) + 1e-8)
            g = tf.reduce_mean(tf.reduce_mean(g, axis=[2, 3, 4], keepdims=True), axis=[2])
            x = tf.concat([x, tf.tile(g, [group, 1, shape[2], shape[3]])], axis=1)
        with tf.variable_scope('Conv'):
            x = bias_act(conv(x, nf(1), 3), act='lrelu')
        with tf.variable_scope('Dense0'):
            x = bias_act(dense(x, nf(0)), act='lrelu')
    return x


def D_stylegan2(images_in, labels_in, num_channels=3, resolution=1024, label_size=0, fmap_base=16 << 10,
                fmap_max=512, architecture='resnet', mbstd_group_size=4, resample_kernel=[1, 3, 3, 1], **_kwargs):
    labels_in.set_shape([None, label_size])
    x = image_features(images_in, num_channels, resolution, fmap_base, fmap_max, architecture, mbstd_group_size,
                       resample_kernel)
    with tf.variable_scope('Output'):
        x = bias_act(dense(x, max(label_size, 1)))
    return tf.identity(x, name='scores_out')


def E_stylegan2_watermark(images_in, labels_in, num_channels=3, resolution=1024, latent_size=512, label_size=0,
                          watermark_size=32, fmap_base=16 << 10, fmap_max=512, architecture='resnet',
                          resample_kernel=[1, 3, 3, 1], **_kwargs):
    labels_in.set_shape([None, label_size])
    x = image_features(images_in, num_channels, resolution, fmap_base, fmap_max, architecture, 0, resample_kernel)
    with tf.variable_scope('Output'):
        x = bias_act(dense(x, latent_size + watermark_size))
    return tf.identity(x[:, :latent_size], name='latents_out'), \
        tf.identity(x[:, latent_size:], name='watermark_logits_out')
