"""How much of what an image shows is set by its fingerprint rather than by its latent.

A fingerprint should mark an image, not decide it: G(z, c) and G(z, c2) should look
alike, while G(z, c) and G(z2, c) differ as any two samples do. On fresh random z, z2,
c, c2, with the generator's fixed noise maps (so that only z or c differs), this metric
measures the mean squared pixel difference (images in [-1, 1])

    <name>_pixel_mse_fingerprint   between G(z, c) and G(z, c2): the same latent
    <name>_pixel_mse_latent        between G(z, c) and G(z2, c): the same fingerprint

and their ratio <name>_fingerprint_share = mse_fingerprint / mse_latent: about 1 for a
generator that treats both inputs alike (as at initialisation), near 0 when the rows of
a `fakes-latents-same` grid look alike, above 1 when the fingerprint decides the image
and z is given up.

What a person sees first is a colour cast: <name>_colour_shift is, between G(z, c) and
G(z, c2), the root mean square over the colour channels of the change of each channel's
mean, in 8-bit levels (0-255), averaged over the pairs.
"""

import tensorflow as tf

from metrics import metric_base
from metrics.metric_base import FINGERPRINT_INPUT, LATENTS_INPUT, MetricError, generate_tf, kwargs_key


def pixel_mse(images_a, images_b):
    """Per image pair: the mean over pixels and channels of the squared difference."""
    return tf.reduce_mean(tf.square(images_a - images_b), axis=[1, 2, 3])


def share_of(mse_fingerprint, mse_latent):
    """The fingerprint share from the two mean squared changes; infinite when z changes nothing."""
    return mse_fingerprint / mse_latent if mse_latent > 0 else float('inf')


def colour_shift(images_a, images_b):
    """Per image pair (NCHW in [-1, 1]): RMS over channels of the change of the channel means, in 8-bit levels."""
    means = tf.reduce_mean(images_a - images_b, axis=[2, 3])
    return tf.sqrt(tf.reduce_mean(tf.square(means), axis=1)) * 127.5


class FingerprintShare(metric_base.MetricBase):
    """Reports <name>_pixel_mse_fingerprint, _pixel_mse_latent, _fingerprint_share and _colour_shift."""

    needs_fingerprint = True

    def _evaluate(self, E, Gs, Gs_kwargs, num_gpus):
        del E
        for name in (LATENTS_INPUT, FINGERPRINT_INPUT):
            if name not in Gs.input_names:
                raise MetricError('generator %r has no %s input: the fingerprint share needs a generator '
                                  'of a latent and a fingerprint' % (Gs.name, name))

        Gs_kwargs = dict(Gs_kwargs, randomize_noise=False)  # the same noise maps in every image of a pair

        def build_tower():
            inputs = self._random_inputs_tf(Gs, self.minibatch_per_gpu)
            other = self._random_inputs_tf(Gs, self.minibatch_per_gpu)

            def changed(name):  # the images with one input drawn anew
                return generate_tf(Gs, dict(inputs, **{name: other[name]}), Gs_kwargs)

            images = generate_tf(Gs, inputs, Gs_kwargs)
            other_fingerprint = changed(FINGERPRINT_INPUT)
            return {'fingerprint': pixel_mse(images, other_fingerprint),
                    'latent': pixel_mse(images, changed(LATENTS_INPUT)),
                    'colour': colour_shift(images, other_fingerprint)}

        key = ('fingerprint_share', Gs, num_gpus, kwargs_key(Gs_kwargs))
        pairs = self._run_towers(key, build_tower, num_gpus)
        mse_fingerprint = float(pairs['fingerprint'].mean(dtype='float64'))
        mse_latent = float(pairs['latent'].mean(dtype='float64'))
        self._report_result(mse_fingerprint, suffix='_pixel_mse_fingerprint', fmt='%-10.5f')
        self._report_result(mse_latent, suffix='_pixel_mse_latent', fmt='%-10.5f')
        self._report_result(share_of(mse_fingerprint, mse_latent), suffix='_fingerprint_share')
        self._report_result(float(pairs['colour'].mean(dtype='float64')), suffix='_colour_shift', fmt='%-8.3f')
