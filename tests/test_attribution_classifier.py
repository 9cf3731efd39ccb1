"""baselines/attribution_classifier.py: the passive attribution classifier [57] of Table 3."""

import numpy as np
import pytest

import dnnlib.tflib as tflib
from baselines import attribution_classifier as ac
from training import misc

TINY = dict(steps=150, minibatch_size=16, fmap_base=64, fmap_max=32)


def grey_sources(levels, count, seed, resolution=8):
    """One source per grey level: noisy 8-bit images around it, told apart by their brightness."""
    rnd = np.random.RandomState(seed)
    return [np.clip(level + rnd.randint(-20, 21, [count, 3, resolution, resolution]), 0, 255).astype(np.uint8)
            for level in levels]


def test_shapes_and_widths(tf_session):
    net = tflib.Network('C', func_name=ac.attribution_classifier, resolution=16, num_classes=5, fmap_base=64,
                        fmap_max=16)
    images = np.random.RandomState(0).uniform(-1, 1, [3, 3, 16, 16]).astype(np.float32)
    assert net.run(images).shape == (3, 5)
    # fmap_base / 2^stage channels, capped: 16x16 has 64/8 = 8 then 16 (capped), 8x8 16 and 16.
    assert net.vars['16x16/Conv0/weight'].shape.as_list() == [3, 3, 3, 8]
    assert net.vars['16x16/Conv1/weight'].shape.as_list() == [3, 3, 8, 16]
    assert net.vars['4x4/Dense/weight'].shape.as_list() == [16 * 4 * 4, 16]
    with pytest.raises(ValueError, match='power of two'):
        tflib.Network('C2', func_name=ac.attribution_classifier, resolution=12)


def test_one_vs_rest_verdicts():
    positive = np.array([[0.9, 0.2, 0.6, 0.1],
                         [0.7, 0.4, 0.8, 0.5]])
    # The surest "yes"; "other" when no classifier says yes (0.5 is not yes).
    assert ac.one_vs_rest_verdicts(positive).tolist() == [0, ac.OTHER, 1, ac.OTHER]


def test_training_learns_separable_sources_and_the_pickle_keeps_it(tf_session, tmp_path):
    train = grey_sources([40, 128, 216], 64, seed=0)
    images = np.concatenate(train)
    labels = np.repeat(np.arange(3), 64)
    net = ac.train_classifier(images, labels, 3, seed=0, **TINY)
    test = np.concatenate(grey_sources([40, 128, 216], 16, seed=1))
    probabilities = ac.class_probabilities(net, test)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert np.mean(np.argmax(probabilities, axis=1) == np.repeat(np.arange(3), 16)) >= 0.95
    path = str(tmp_path / 'classifier.pkl')
    misc.save_pkl(net, path)
    assert np.allclose(ac.class_probabilities(misc.load_pkl(path), test), probabilities, atol=1e-6)


def test_a_class_without_images_is_an_error(tf_session):
    with pytest.raises(ValueError, match='every class needs training images'):
        ac.train_classifier(np.zeros([4, 3, 8, 8], np.uint8), [0, 0, 2, 2], 3, **TINY)


def test_closed_world_tells_seen_sources_apart(tf_session):
    result = ac.closed_world(grey_sources([40, 128, 216], 64, seed=0), grey_sources([40, 128, 216], 16, seed=1),
                             **TINY)
    assert result['accuracy'] >= 0.95 and result['detection_accuracy'] >= 0.95 and result['classifiers'] == 1


def test_open_world_calls_an_unseen_copy_like_a_seen_one_a_seen_one(tf_session):
    # The passive method's failure in the open world: a copy never seen in training that looks like a
    # seen one gets the seen one's label, not "other"; real images stay real.
    real, copy = grey_sources([40, 216], 64, seed=0)
    test_real, unseen = grey_sources([40, 216], 16, seed=1)
    result = ac.open_world([real, copy], test_real, [unseen], **TINY)
    assert result['classifiers'] == 2
    assert result['accuracy'] == pytest.approx(0.5)
    assert result['detection_accuracy'] == pytest.approx(1.0)
