"""Loss helpers and the immunisation perturbations."""

import numpy as np
import pytest
import tensorflow as tf

from dnnlib import tflib
from training import loss, perturbations


def test_fingerprint_sampler_fresh_and_fixed_set(tf_session):
    fresh = tflib.run(loss.FingerprintSampler(16).sample(512))
    assert set(np.unique(fresh)) == {0.0, 1.0} and abs(fresh.mean() - 0.5) < 0.05
    sampler = loss.FingerprintSampler(16, set_size=3, seed=4)
    drawn = tflib.run(sampler.sample(64))
    rows = {tuple(r) for r in sampler.fixed_set}
    assert {tuple(r) for r in drawn} <= rows and len({tuple(r) for r in drawn}) == 3


def test_bit_accuracy(tf_session):
    logits = tf.constant([[2.0, -1.0, 0.5, -3.0], [1.0, 1.0, 1.0, 1.0]])
    bits = tf.constant([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    np.testing.assert_allclose(tflib.run(loss.bit_accuracy(logits, bits)), [0.75, 1.0])


def test_diversity_shortfall_is_zero_once_z_changes_the_image_enough(tf_session):
    # Alternating images 0 and a: every neighbour pair differs by a^2 per pixel.
    def shortfall(a, floor, b=0.0):
        images = tf.constant(np.array([b, a] * 4, np.float32).reshape(8, 1, 1, 1) * np.ones((1, 3, 4, 4), np.float32))
        value = loss.diversity_shortfall(images, floor)
        tflib.init_uninitialized_vars()  # autosummary's accumulators
        return tflib.run([value, tf.gradients(value, [images])[0]])

    same, same_grad = shortfall(0.0, 0.25)
    assert same == pytest.approx(1.0) and not np.any(same_grad)  # no direction when all are equal
    half, half_grad = shortfall(np.sqrt(0.125), 0.25)
    assert half == pytest.approx(0.5)
    assert np.all(half_grad[1::2] < 0) and np.all(half_grad[0::2] > 0)  # descent pushes the images apart
    enough, enough_grad = shortfall(0.6, 0.25)
    assert enough == 0.0 and not np.any(enough_grad)
    out_of_range, _ = shortfall(2.0, 0.25, b=1.2)  # 0.64 apart, but both clip to 1: no change counted
    assert out_of_range == pytest.approx(1.0)


@pytest.mark.parametrize('kind', ['crop', 'blur', 'jpeg', 'noise', 'combo'])
def test_perturbations_keep_shape_and_pass_gradients(tf_session, kind):
    images = tf.constant(np.random.RandomState(0).uniform(-1, 1, (4, 3, 16, 16)).astype(np.float32))
    out = perturbations.perturb(images, kind)
    grad = tf.gradients(tf.reduce_sum(out), [images])[0]
    out_np, grad_np, in_np = tflib.run([out, grad, images])
    assert out_np.shape == in_np.shape and np.all(np.isfinite(out_np))
    assert grad_np is not None and np.abs(grad_np).sum() > 0
    assert np.abs(out_np - in_np).max() > 1e-3


def test_perturbation_strengths(tf_session):
    images = tf.constant(np.random.RandomState(1).uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32))
    same = perturbations.perturb(images, 'noise', {'noise': (0.0, 0.0)})
    full_crop = perturbations.perturb(images, 'crop', {'crop': (1.0, 1.0)})
    a, b, c = tflib.run([images, same, full_crop])
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, c, atol=1e-5)
    with pytest.raises(ValueError, match='unknown perturbation'):
        perturbations.perturb(images, 'rotate')
    assert perturbations.parse_range('0.5-1.0') == (0.5, 1.0)
    with pytest.raises(ValueError):
        perturbations.parse_range('1-0.5')
