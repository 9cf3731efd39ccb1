"""The passive baseline of Table 3: the attribution classifier of "Attributing Fake Images to
GANs" (Yu, Davis and Fritz, ICCV 2019; reference [57] of the paper).

A convolutional classifier learns to tell image sources apart, the real data and each
generator, from the images alone. Its network is a discriminator-style stack: at every
resolution two 3x3 convolutions (reflect padding, leaky ReLU) and 2x2 average pooling, down
to 4x4, then a 3x3 convolution, a dense layer and one logit per class, all with the
equalised learning rate; trained with cross-entropy, Adam (lr 0.0015, beta1 0, beta2 0.99),
minibatch 32 and random left-right mirroring.

Closed world: one (N+1)-way classifier over {real, copy 1..N}, tested on new images of the
same sources. Open world: N+1 one-vs-rest classifiers trained on those sources, tested on real
images and on images of N copies never seen in training; an image is "other" when every
classifier says no, else the source whose classifier is most confident. Minibatches draw
their classes uniformly (for a one-vs-rest classifier: half positive), so no classifier
learns to answer "no" from the class sizes alone.
"""

import collections
import time

import numpy as np
import tensorflow as tf

import dnnlib.tflib as tflib
from dnnlib.tflib.ops.conv2d import conv2d
from training import dataset as dataset_lib
from training.networks_stylegan2 import apply_bias_act, dense_layer, get_weight

tfv1 = tf.compat.v1

OTHER = -1  # the open world's verdict "none of the training sources"


# ----------------------------------------------------------------------------
# Network.

def _width(stage, fmap_base, fmap_max):
    return min(fmap_base >> stage, fmap_max)


def _conv3x3(x, fmaps):
    w = get_weight([3, 3, int(x.shape[-1]), fmaps], gain=np.sqrt(2))
    x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode='REFLECT')
    return apply_bias_act(conv2d(x, w, padding='VALID', data_format='NHWC'), act='lrelu')


def attribution_classifier(images_in, resolution=32, num_channels=3, num_classes=2, fmap_base=1024, fmap_max=512,
                           **_kwargs):
    """Images NCHW [-1, 1] -> one logit per source [N, num_classes]."""
    resolution_log2 = int(np.log2(resolution))
    if resolution != 2 ** resolution_log2 or resolution < 4:
        raise ValueError('resolution must be a power of two >= 4, got %r' % resolution)
    images_in.set_shape([None, num_channels, resolution, resolution])
    x = tf.transpose(images_in, [0, 2, 3, 1])
    for res in range(resolution_log2, 2, -1):
        with tfv1.variable_scope('%dx%d' % (2 ** res, 2 ** res)):
            with tfv1.variable_scope('Conv0'):
                x = _conv3x3(x, _width(res - 1, fmap_base, fmap_max))
            with tfv1.variable_scope('Conv1'):
                x = _conv3x3(x, _width(res - 2, fmap_base, fmap_max))
            x = tf.nn.avg_pool2d(x, 2, 2, 'VALID', data_format='NHWC')
    with tfv1.variable_scope('4x4'):
        with tfv1.variable_scope('Conv'):
            x = _conv3x3(x, _width(1, fmap_base, fmap_max))
        with tfv1.variable_scope('Dense'):
            x = apply_bias_act(dense_layer(x, _width(1, fmap_base, fmap_max), gain=np.sqrt(2)), act='lrelu')
        with tfv1.variable_scope('Output'):
            x = apply_bias_act(dense_layer(x, num_classes))
    return tf.identity(x, name='class_logits_out')


# Its pickles load without running the pickles' embedded source.
tflib.network.register_build_funcs(attribution_classifier)


# ----------------------------------------------------------------------------
# Training and prediction.

def train_classifier(images, labels, num_classes, steps=2000, minibatch_size=32, learning_rate=0.0015, fmap_base=1024,
                     fmap_max=512, seed=0, name='AttributionClassifier', log=None, progress_interval=500):
    """A classifier trained on uint8 NCHW images with integer labels 0..num_classes-1 (all present).

    Each minibatch draws its classes uniformly, then an image of each class.
    """
    labels = np.asarray(labels, np.int64)
    by_class = [np.flatnonzero(labels == k) for k in range(num_classes)]
    if any(len(members) == 0 for members in by_class):
        raise ValueError('every class needs training images; class sizes %s' % [len(m) for m in by_class])
    channels, resolution = images.shape[1], images.shape[2]
    net = tflib.Network(name, func_name=attribution_classifier, resolution=resolution, num_channels=channels,
                        num_classes=num_classes, fmap_base=fmap_base, fmap_max=fmap_max)
    with tf.name_scope(name + '_training'):
        images_in = tfv1.placeholder(tf.float32, [None, channels, resolution, resolution], name='images')
        labels_in = tfv1.placeholder(tf.int64, [None], name='labels')
        logits = net.get_output_for(dataset_lib.random_mirror(images_in))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels_in, logits=logits))
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=1), labels_in), tf.float32))
        optimizer = tfv1.train.AdamOptimizer(learning_rate, beta1=0.0, beta2=0.99, epsilon=1e-8)
        train_op = optimizer.minimize(loss, var_list=list(net.trainables.values()))
    tflib.init_uninitialized_vars()
    rnd = np.random.RandomState(seed)
    start = time.time()
    recent = collections.deque(maxlen=50)  # (loss, accuracy) of the last minibatches
    for step in range(steps):
        classes = rnd.randint(num_classes, size=minibatch_size)
        index = np.array([by_class[k][rnd.randint(len(by_class[k]))] for k in classes])
        feed = {images_in: dataset_lib.images_to_float_np(images[index]), labels_in: labels[index]}
        _, step_loss, step_accuracy = tflib.run([train_op, loss, accuracy], feed)
        recent.append((step_loss, step_accuracy))
        if log is not None and ((step + 1) % progress_interval == 0 or step + 1 == steps):
            mean_loss, mean_accuracy = np.mean(recent, axis=0)
            log('%s: step %d of %d, loss %.4f, minibatch accuracy %.3f (last %d steps), %.1f ms/step' % (
                name, step + 1, steps, mean_loss, mean_accuracy, len(recent), (time.time() - start) * 1000 / (step + 1)))
    return net


def class_probabilities(net, images, batch_size=64):
    """Softmax probabilities [n, classes] of uint8 NCHW images."""
    logits = np.concatenate([net.run(dataset_lib.images_to_float_np(images[i:i + batch_size]))
                             for i in range(0, len(images), batch_size)])
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def one_vs_rest_verdicts(positive_probabilities):
    """Per image, the source whose one-vs-rest classifier is surest among those that say yes (probability > 0.5),
    or OTHER when none does; positive_probabilities is [sources, images]."""
    p = np.asarray(positive_probabilities)
    verdicts = np.argmax(p, axis=0)
    return np.where(p.max(axis=0) > 0.5, verdicts, OTHER)


# ----------------------------------------------------------------------------
# The two worlds of Table 3. Sources are lists of uint8 NCHW image arrays; source 0 is the real data.

def _stack(sources):
    images = np.concatenate(sources)
    labels = np.concatenate([np.full(len(s), k) for k, s in enumerate(sources)])
    return images, labels


def _scores(verdicts, truth):
    """Accuracy (the verdict is the true source, or OTHER for an unseen copy) and detection accuracy (real or
    not, told right)."""
    return dict(accuracy=float(np.mean(verdicts == truth)),
                detection_accuracy=float(np.mean((verdicts == 0) == (truth == 0))))


def closed_world(train_sources, test_sources, seed=0, log=None, **train_kwargs):
    """One (N+1)-way classifier trained on train_sources, scored on test_sources (the same sources)."""
    start = time.time()
    images, labels = _stack(train_sources)
    net = train_classifier(images, labels, len(train_sources), seed=seed, name='ClosedWorld%d' % (len(train_sources) - 1),
                           log=log, **train_kwargs)
    test_images, truth = _stack(test_sources)
    verdicts = np.argmax(class_probabilities(net, test_images), axis=1)
    return dict(_scores(verdicts, truth), classifiers=1, seconds=time.time() - start)


def open_world(train_sources, test_real, test_unseen, seed=0, log=None, **train_kwargs):
    """N+1 one-vs-rest classifiers trained on train_sources, scored on real images and images of unseen copies,
    whose right verdict is OTHER."""
    start = time.time()
    images, labels = _stack(train_sources)
    test_images, truth = _stack([test_real] + list(test_unseen))
    truth = np.where(truth == 0, 0, OTHER)
    positive = []
    for source in range(len(train_sources)):
        net = train_classifier(images, (labels == source).astype(np.int64), 2, seed=seed + source,
                               name='OneVsRest%d_%d' % (len(train_sources) - 1, source), log=log, **train_kwargs)
        positive.append(class_probabilities(net, test_images)[:, 1])
    verdicts = one_vs_rest_verdicts(positive)
    return dict(_scores(verdicts, truth), classifiers=len(train_sources), seconds=time.time() - start)
