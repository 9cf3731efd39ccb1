"""Losses of the fingerprinted GAN (paper eq. 1-5).

D: non-saturating logistic loss, R1 penalty on reals (lazy).
G and decoder E, one loss: adversarial + latent reconstruction (L2) +
fingerprint cross-entropy + consistency between two fingerprints with the same
z (+ optionally a floor on how much z changes the image); path-length
regularisation on G (lazy).

Every term is reported to autosummary (and so to TensorBoard) under Loss/...
"""

import numpy as np
import tensorflow as tf

from dnnlib.tflib.autosummary import autosummary
from training import perturbations

tfv1 = tf.compat.v1

FINGERPRINT_INPUT = 'watermark_in'


class FingerprintSampler:
    """Draws training fingerprints: fresh Bernoulli(0.5) bits, or from a fixed set of `set_size` (paper Table 2)."""

    def __init__(self, watermark_size, set_size=0, seed=0):
        self.watermark_size = watermark_size
        self.set_size = set_size
        self.fixed_set = None
        if set_size:
            bits = np.random.RandomState(seed).randint(0, 2, size=(set_size, watermark_size)).astype(np.float32)
            self.fixed_set = bits

    def sample(self, minibatch_size):
        if self.fixed_set is None:
            return tf.cast(tf.random.uniform([minibatch_size, self.watermark_size]) < 0.5, tf.float32)
        with tf.device('/cpu:0'):
            table = tf.constant(self.fixed_set)
        return tf.gather(table, tf.random.uniform([minibatch_size], 0, self.set_size, dtype=tf.int32))


def generate(G, latents, labels, sampler, **kwargs):
    """G's images of latents and labels, with sampled fingerprints when G takes them (the plain StyleGAN2 does not)."""
    if FINGERPRINT_INPUT in G.input_names:
        return G.get_output_for(latents, labels, sampler.sample(latents.shape[0]), **kwargs)
    return G.get_output_for(latents, labels, **kwargs)


def bit_accuracy(logits, watermarks):
    """Per-image fraction of bits where (logit > 0) equals the bit."""
    return tf.reduce_mean(tf.cast(tf.equal(tf.cast(logits > 0, tf.float32), watermarks), tf.float32), axis=1)


# ----------------------------------------------------------------------------
# Generator and decoder.

def G_watermark(G, D, E, training_set, minibatch_size, sampler, latentsRecL2_weight=1.0, watermarkCls_weight=2.0,
                decoupleL2_weight=2.0, diversity_weight=0.0, diversity_floor=0.25, perturb=None, perturb_ranges=None):
    """The loss that G and the decoder E both minimise, per image [N]."""
    latent_size = G.input_shapes[0][1]
    latents = tf.random.normal([minibatch_size, latent_size])
    labels = training_set.get_random_labels_tf(minibatch_size)
    watermarks = sampler.sample(minibatch_size)
    fakes = G.get_output_for(latents, labels, watermarks, is_training=True)
    fake_scores = D.get_output_for(fakes, labels, is_training=True)
    adversarial = tf.nn.softplus(-fake_scores[:, 0])

    decoder_input = perturbations.perturb(fakes, perturb, perturb_ranges) if perturb else fakes
    latents_rec, logits = E.get_output_for(decoder_input, labels, is_training=True)
    latent_rec = tf.reduce_mean(tf.square(latents - latents_rec), axis=1)
    watermark_cls = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=watermarks, logits=logits), axis=1)
    # Consistency: the same z with another fingerprint must give the same image.
    if diversity_weight:
        # One fingerprint and fixed noise for the whole second batch: neighbours in it then differ in z only.
        watermarks2, noise_args = tf.tile(sampler.sample(1), [minibatch_size, 1]), dict(randomize_noise=False)
    else:
        watermarks2, noise_args = sampler.sample(minibatch_size), {}
    fakes2 = G.get_output_for(latents, labels, watermarks2, is_training=True, **noise_args)
    decouple = tf.reduce_mean(tf.square(fakes - fakes2), axis=[1, 2, 3])

    loss = (adversarial + latentsRecL2_weight * latent_rec + watermarkCls_weight * watermark_cls
            + decoupleL2_weight * decouple)
    if diversity_weight:
        loss += diversity_weight * diversity_shortfall(fakes2, diversity_floor)
    # Each summary passes the loss through, so evaluating the loss updates all of them.
    for name, value in (('Loss/scores/fake', fake_scores), ('Loss/G/adversarial', adversarial),
                        ('Loss/G/latentsRecL2', latent_rec), ('Loss/G/watermarkCls', watermark_cls),
                        ('Loss/G/decoupleL2', decouple), ('Watermark/bit_accuracy', bit_accuracy(logits, watermarks)),
                        ('Loss/G/total', loss)):
        loss = autosummary(name, value, passthru=loss)
    return loss


def G_logistic_ns(G, D, training_set, minibatch_size, sampler):
    """The plain StyleGAN2's generator loss (no fingerprint, no decoder): non-saturating logistic, per image [N]."""
    latent_size = G.input_shapes[0][1]
    latents = tf.random.normal([minibatch_size, latent_size])
    labels = training_set.get_random_labels_tf(minibatch_size)
    fake_scores = D.get_output_for(generate(G, latents, labels, sampler, is_training=True), labels, is_training=True)
    loss = tf.nn.softplus(-fake_scores[:, 0])
    loss = autosummary('Loss/scores/fake', fake_scores, passthru=loss)
    return autosummary('Loss/G/total', loss)


def diversity_shortfall(images, floor):
    """How far images [N, C, H, W] that differ only in z fall short of differing by `floor` (scalar in [0, 1]).

    The mean squared difference between neighbours in the batch is the image change z makes;
    the shortfall is relu(1 - change / floor), so it is 0, and pushes no more, once z changes
    the image by `floor` (on the [-1, 1] pixel scale; pairs of the demo set's reals differ by
    about 0.47). Against the collapse where the fingerprint alone sets the image. Pixels are
    clipped to [-1, 1] first: without it G met the floor with saturated blobs far out of range.
    """
    images = tf.clip_by_value(images, -1.0, 1.0)
    change = autosummary('Loss/G/z_change', tf.reduce_mean(tf.square(images - tf.roll(images, 1, axis=0))))
    return tf.nn.relu(1 - change / floor)


def G_path_length_reg(G, training_set, minibatch_size, sampler, pl_minibatch_shrink=2, pl_decay=0.01, pl_weight=2.0):
    """StyleGAN2's path-length regulariser on the styles, per image [N] (already weighted)."""
    pl_minibatch = max(minibatch_size // pl_minibatch_shrink, 1)
    latent_size = G.input_shapes[0][1]
    latents = tf.random.normal([pl_minibatch, latent_size])
    labels = training_set.get_random_labels_tf(pl_minibatch)
    fakes, dlatents = generate(G, latents, labels, sampler, is_training=True, return_dlatents=True)
    pixels = int(np.prod(fakes.shape.as_list()[2:]))
    noise = tf.random.normal(tf.shape(fakes)) / np.sqrt(pixels)
    pl_grads = tf.gradients(tf.reduce_sum(fakes * noise), [dlatents])[0]
    pl_lengths = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(pl_grads), axis=2), axis=1))
    pl_lengths = autosummary('Loss/pl_lengths', pl_lengths)
    with tf.control_dependencies(None), tf.device('/cpu:0'):
        pl_mean_var = tfv1.Variable(0.0, name='pl_mean', trainable=False, dtype=tf.float32)
    pl_mean = pl_mean_var + pl_decay * (tf.reduce_mean(pl_lengths) - pl_mean_var)
    with tf.control_dependencies([pl_mean_var.assign(pl_mean)]):
        penalty = tf.square(pl_lengths - pl_mean)
    return autosummary('Loss/G/path_length_reg', penalty * pl_weight)


# ----------------------------------------------------------------------------
# Discriminator.

def D_logistic(G, D, training_set, minibatch_size, sampler, reals, labels):
    """Non-saturating logistic loss, per image [N]."""
    latent_size = G.input_shapes[0][1]
    latents = tf.random.normal([minibatch_size, latent_size])
    fakes = generate(G, latents, labels, sampler, is_training=True)
    real_scores = D.get_output_for(reals, labels, is_training=True)
    fake_scores = D.get_output_for(tf.stop_gradient(fakes), labels, is_training=True)
    del training_set
    loss = tf.nn.softplus(fake_scores[:, 0]) + tf.nn.softplus(-real_scores[:, 0])
    loss = autosummary('Loss/scores/real', real_scores, passthru=loss)
    return autosummary('Loss/D/total', loss)


def D_r1(D, reals, labels, gamma=100.0):
    """R1 penalty: gamma/2 * |grad of D(real) w.r.t. the real image|^2, per image [N]."""
    real_scores = D.get_output_for(reals, labels, is_training=True)
    grads = tf.gradients(tf.reduce_sum(real_scores), [reals])[0]
    penalty = autosummary('Loss/r1_penalty', tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
    return autosummary('Loss/D/r1_reg', penalty * (gamma * 0.5))
