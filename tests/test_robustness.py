"""Tests for metrics/robustness.py: the evaluation perturbations against Pillow, against the
training perturbations, and the sweep metric."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageFilter

import dnnlib.tflib as tflib
from metrics import robustness
from metrics.metric_base import MetricError
from metrics.robustness import Robustness
from training import perturbations
from test_fingerprint_accuracy import exact_pair
from test_metric_base import tiny_decoder, tiny_generator

RES = 32


def smooth_images(count=4, seed=0):
    """uint8 NHWC images: random 6x6 colour fields enlarged by Pillow (natural-looking, not noise)."""
    rnd = np.random.RandomState(seed)
    return np.stack([np.asarray(Image.fromarray(rnd.randint(0, 256, (6, 6, 3)).astype(np.uint8))
                                .resize((RES, RES), Image.BICUBIC)) for _ in range(count)])


def to_float(pixels):
    return np.transpose(pixels, [0, 3, 1, 2]).astype(np.float32) / 127.5 - 1.0


def to_uint8(images):
    return np.clip(np.round(np.transpose(images, [0, 2, 3, 1]) * 127.5 + 127.5), 0, 255).astype(np.int32)


def pillow(pixels, operation):
    return np.stack([np.asarray(operation(Image.fromarray(p))) for p in pixels]).astype(np.int32)


def pillow_jpeg(image, quality):
    buffer = io.BytesIO()
    image.save(buffer, 'JPEG', quality=quality)
    return Image.open(buffer).convert('RGB')


@pytest.mark.parametrize('side', [28, 20, 10])
def test_crop_is_pillows_centre_crop_and_bilinear_resize(tf_session, side):
    pixels = smooth_images()
    offset = (RES - side) // 2
    out = to_uint8(tflib.run(robustness.centre_crop_tf(tf.constant(to_float(pixels)), side)))
    ref = pillow(pixels, lambda im: im.crop((offset, offset, offset + side, offset + side))
                 .resize((RES, RES), Image.BILINEAR))
    assert np.abs(out - ref).max() <= 1  # Pillow rounds each of its two passes to 8 bits
    assert np.abs(out - pixels).mean() > 10


@pytest.mark.parametrize('kernel', [3, 5, 7])
def test_blur_is_pillows_gaussian_blur_at_sigma_kernel_over_6(tf_session, kernel):
    pixels = smooth_images()
    out = to_uint8(tflib.run(robustness.gaussian_blur_tf(tf.constant(to_float(pixels)), kernel, 4)))
    ref = pillow(pixels, lambda im: im.filter(ImageFilter.GaussianBlur(kernel / 6)))
    wider = pillow(pixels, lambda im: im.filter(ImageFilter.GaussianBlur(kernel / 3)))
    # Pillow approximates the Gaussian by box blurs: within a level on average; twice the sigma is far off.
    assert np.abs(out - ref).mean() < 0.7 and np.abs(out - ref).max() <= 3
    assert np.abs(out - wider).mean() > 2 * np.abs(out - ref).mean() + 1


@pytest.mark.parametrize('quality', [95, 80, 30])
def test_jpeg_is_the_same_codec_round_trip_as_pillows(tf_session, quality):
    pixels = smooth_images()
    out = to_uint8(tflib.run(robustness.jpeg_tf(tf.constant(to_float(pixels)), quality)))
    assert np.array_equal(out, pillow(pixels, lambda im: pillow_jpeg(im, quality)))
    assert np.abs(out - pixels).mean() > 1


def test_noise_has_its_std_and_one_pattern_per_seed(tf_session):
    images = tf.constant(to_float(smooth_images()))
    small, large, other = tflib.run([robustness.noise_tf(images, 0.1, [3, 0]) - images,
                                     robustness.noise_tf(images, 0.4, [3, 0]) - images,
                                     robustness.noise_tf(images, 0.4, [4, 0]) - images])
    assert np.std(large) == pytest.approx(0.4, rel=0.03)
    np.testing.assert_allclose(large, 4 * small, rtol=1e-4, atol=1e-6)
    assert np.abs(large - other).mean() > 0.2


def test_identity_strengths_leave_images_unchanged(tf_session):
    images = np.random.RandomState(1).randn(3, 3, RES, RES).astype(np.float32) * 1.2  # unclipped, as Gs makes
    x = tf.constant(images)
    seed = tf.constant([0, 0])
    for kind, strength in [('crop', RES), ('blur', 0.0), ('noise', 0.0), ('combo', 0.0)]:
        assert np.array_equal(tflib.run(robustness.perturb_tf(x, kind, tf.constant(strength), seed)), images), kind


def test_distortion_grows_with_strength(tf_session):
    images = tf.constant(to_float(smooth_images(8)))
    seed = tf.constant([0, 0])
    for kind in robustness.KINDS:
        grid = [s for s, _ in robustness.strength_grid(kind, RES)]
        outs = tflib.run([robustness.perturb_tf(images, kind, tf.constant(float(s)), seed) for s in grid])
        errors = [float(np.mean(np.square(out - outs[0]))) for out in outs]
        # Non-decreasing (the smallest kernels at 32 px barely blur: sigma 0.04 px), and clearly so overall.
        assert all(b >= a for a, b in zip(errors, errors[1:])), (kind, errors)
        assert errors[-1] > 1e-3 and errors[-1] > 2 * errors[1], (kind, errors)


def test_training_perturbations_mean_the_same_strengths(tf_session):
    x = tf.constant(to_float(smooth_images()))
    n = 4
    side = 20
    offset = (RES - side) // 2
    train_crop = perturbations.crop_and_resize(x, tf.fill([n], side / RES), tf.fill([n], offset / RES),
                                               tf.fill([n], offset / RES))
    outs = tflib.run([train_crop, robustness.centre_crop_tf(x, side),
                      perturbations.gaussian_blur(x, 5.0, 5.0), robustness.gaussian_blur_tf(x, 5.0, 4),
                      perturbations.jpeg_compress(x, 80.0, 80.0), robustness.jpeg_tf(x, 80),
                      perturbations.additive_noise(x, 0.3, 0.3) - x, x])
    crop_train, crop_eval, blur_train, blur_eval, jpeg_train, jpeg_eval, noise_train, clean = outs
    # Crop: the same square; training samples it with corner-aligned bilinear, a sub-pixel shift.
    assert np.abs(crop_train - crop_eval).mean() < 0.1 * np.abs(crop_eval - clean).mean()
    # Blur: the same Gaussian; training pads the borders with zeros (grey), evaluation repeats edge pixels.
    np.testing.assert_allclose(blur_train[:, :, 4:-4, 4:-4], blur_eval[:, :, 4:-4, 4:-4], atol=1e-5)
    assert np.abs(blur_train - blur_eval)[:, :, :1].mean() > 0.05
    np.testing.assert_array_equal(jpeg_train, jpeg_eval)
    assert np.std(noise_train) == pytest.approx(0.3, rel=0.03)


def test_strength_grids_scale_with_resolution():
    assert [s for s, _ in robustness.strength_grid('crop', 128)] == [128, 112, 96, 80, 64, 48, 32]
    assert [s for s, _ in robustness.strength_grid('crop', 32)] == [32, 28, 24, 20, 16, 12, 8]
    assert robustness.strength_grid('blur', 32)[3] == (1.75, 7.0)
    assert robustness.strength_grid('jpeg', 32) == robustness.strength_grid('jpeg', 128)
    assert [p for _, p in robustness.strength_grid('crop', 8)] == [128, 112, 96, 80, 64, 48, 32]


@pytest.mark.parametrize('kind, strength, message', [
    ('rotate', 1, "unknown perturbation 'rotate'"),
    ('jpeg', 0, 'jpeg strength 0 is outside 1-100'),
    ('jpeg', 85.5, 'whole numbers'),
    ('crop', 40, 'crop strength 40 is outside 1-32'),
    ('blur', -1, 'outside'),
    ('noise', 'loud', "noise strength 'loud' is not a number"),
    ('combo', 2, 'outside 0-1.5'),
])
def test_bad_strengths_are_one_line_errors(kind, strength, message):
    with pytest.raises(MetricError, match=message) as info:
        robustness.check_strength(kind, strength, RES)
    assert '\n' not in str(info.value)


def test_unknown_perturbation_in_the_metric():
    with pytest.raises(MetricError, match="unknown perturbation 'rotate'"):
        Robustness('r', 8, kinds=('blur', 'rotate'))


def test_identity_points_equal_the_plain_bit_accuracy(tf_session, tmp_path):
    E, Gs = tiny_decoder(), tiny_generator()
    metric = Robustness('rob', num_images=12, minibatch_per_gpu=4)
    results = metric.run_networks(E, Gs, 'net', run_dir=str(tmp_path), num_gpus=2)
    clean = results['rob_watermark_bit_accuracy']
    for key in ('rob_crop_8', 'rob_blur_0', 'rob_noise_0', 'rob_combo_0'):
        assert results[key] == clean, key
    assert len(results) == 2 + sum(len(robustness.strength_grid(k, 8)) for k in robustness.KINDS)
    # The same value from E run separately on the same generated images.
    generated = metric._run_on_generated(E, Gs, {'is_validation': True}, 1)  # pylint: disable=protected-access
    logits = E.run(generated['images'], np.zeros([12, 0]), return_as_list=True)[-1]
    plain = np.mean((logits > 0) == (generated['fingerprints'] > 0.5))
    assert metric.accuracy_after(E, generated, 'blur', 0.0) == pytest.approx(plain, abs=1e-12)
    assert (tmp_path / 'robustness-rob.csv').read_text().count('\nnet,') == len(results) - 1


def test_exact_decoder_degrades_monotonically_under_noise(tf_session):
    E, Gs = exact_pair()
    metric = Robustness('rob', num_images=64, minibatch_per_gpu=16, kinds=('noise', 'jpeg'))
    results = metric.run_networks(E, Gs, 'net', log_results=False)
    noise = [results['rob_noise_%g' % s] for s, _ in robustness.strength_grid('noise', 8)]
    assert noise[0] == 1.0 and noise[-1] < 0.95
    assert all(b <= a for a, b in zip(noise, noise[1:])), noise  # one noise pattern, scaled: flips only add up
    assert results['rob_jpeg_100'] == 1.0
