"""The paper's Table 3 protocol (§4.6) for fingerprint attribution.

For N issued copies, K images each, K real images and (open world) K images from each
of N copies that were never registered, every image gets a verdict: one issued copy,
or "not from any issued copy". The registry's answer to "was this made by one of our
copies?" is right for a registered copy's image when it names a copy, and for a real or
unregistered image when it names none (detection); attribution must name the very copy
(or none). Closed world: real and registered images; open world: those and the
unregistered ones.

Images are generated as a deployed copy makes them (Gs(z, c_copy) with the stored noise,
the same pixels as the baked copy) and quantised to 8 bits as a saved PNG is.

The passive baseline, the attribution classifier [57] (baselines/attribution_classifier.py),
can be scored beside it on the same test images: trained on further images of the real data
and of the registered copies, tested closed-world on real and registered images and
open-world, as the paper does for it, on real images and the unregistered copies' images,
whose right answer is "none of the training sources".
"""

import csv
import io
import os
import tempfile

import numpy as np

import dnnlib
import dnnlib.tflib as tflib
from attribution import hamming, issue
from attribution.attribute import decode_bits, decoder_shape, match
from attribution.registry import SQLiteStore
from baselines import attribution_classifier
from training import dataset

COLUMNS = ['world', 'copies', 'images', 'detection_accuracy', 'attribution_accuracy', 'real_to_copy',
           'unregistered_to_copy', 'registered_within_t', 'registered_median_distance', 'registered_max_distance']
CLASSIFIER_COLUMNS = ['classifier_accuracy', 'classifier_detection_accuracy', 'classifier_seconds']


def generated_images(Gs, codes, images_per_copy, batch_size, seed):
    """Yields, for each packed fingerprint (row of codes), K uint8 images [K, C, H, W] of that copy."""
    num_bits = Gs.input_shapes[2][1]
    rnd = np.random.RandomState(seed)
    for code in codes:
        c = np.tile(hamming.unpack(code, num_bits).astype(np.float32), [images_per_copy, 1])
        z = rnd.randn(images_per_copy, Gs.input_shapes[0][1]).astype(np.float32)
        yield Gs.run(z, None, c, minibatch_size=batch_size, randomize_noise=False,
                     output_transform=dict(func=tflib.convert_images_to_uint8))


def decoded_bits(E, images, batch_size):
    return np.concatenate([decode_bits(E, images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def real_images(E, data_dir, start, count):
    """Images start .. start+count-1 of the data set's top resolution (uint8 NCHW), checked against the decoder."""
    channels, resolution = decoder_shape(E)
    files = dataset.list_record_files(data_dir)
    path, shape = files[max(files)]
    if shape != [channels, resolution, resolution]:
        raise ValueError('%s holds %s images; the decoder reads %dx%dx%d'
                         % (data_dir, 'x'.join(map(str, shape)), channels, resolution, resolution))
    images = []
    for i, image in enumerate(dataset.read_images(path)):
        if i >= start:
            images.append(image)
        if len(images) == count:
            break
    if len(images) < count:
        raise ValueError('%s holds %d images, fewer than the %d asked for' % (data_dir, start + len(images),
                                                                             start + count))
    return np.stack(images)


def score(index, groups):
    """One table row from groups of decoded bits: [(bits [n, d], true copy id or None, registered?)]."""
    images = correct_detect = correct_attr = 0
    false = {'real': 0, 'unregistered': 0}
    own_distances = []
    for bits, true_id, kind in groups:
        found = [copy_id for copy_id, _ in match(index, bits)]
        images += len(found)
        for copy_id in found:
            correct_detect += (copy_id is not None) == (kind == 'registered')
            correct_attr += copy_id == true_id
            if kind != 'registered' and copy_id is not None:
                false[kind] += 1
        if kind == 'registered':
            true_bits = hamming.unpack(index.code_of(true_id), index.num_bits)
            own_distances.append((bits != true_bits).sum(axis=1))
    return dict(images=images, detection_accuracy=correct_detect / images, attribution_accuracy=correct_attr / images,
                real_to_copy=false['real'], unregistered_to_copy=false['unregistered'],
                registered_within_t=float(np.mean(np.concatenate(own_distances) <= index.radius)),
                registered_median_distance=float(np.median(np.concatenate(own_distances))),
                registered_max_distance=int(np.max(np.concatenate(own_distances))))


def evaluate(E, Gs, network_pkl, data_dir, copy_counts, images_per_copy, threshold, batch_size, seed, log,
             classifier=None):
    """Rows of the table (dicts with COLUMNS), both worlds for every N in copy_counts.

    With `classifier` (a dict: train_images per source, open_max, and train_kwargs for
    attribution_classifier.train_classifier) each row also gets the classifier's accuracy on
    the same test images (open world: real and unregistered copies; only for N <= open_max).
    """
    num_bits = Gs.input_shapes[2][1]
    most = max(copy_counts)
    model = issue.registry_model(network_pkl, num_bits, threshold)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(os.path.join(folder, 'registry.sqlite'), model, create=True)
        copies = list(issue.issue_copies(store, 'evaluate', most))
        store.close()
    registered = hamming.pack([hamming.unpack(np.frombuffer(c.fingerprint, np.uint8), num_bits) for c in copies])
    unregistered = np.stack([issue.random_code(num_bits) for _ in range(most)])
    ids = np.array([c.id for c in copies], np.int64)
    log('Decoding %d images from each of %d registered and %d unregistered copies and %d real images...'
        % (images_per_copy, most, most, images_per_copy))
    fake, test_images = [], []  # the images themselves are kept only for the classifier
    for images in generated_images(Gs, np.concatenate([registered, unregistered]), images_per_copy, batch_size, seed):
        fake.append(decoded_bits(E, images, batch_size))
        if classifier is not None:
            test_images.append(images)
    fake = np.stack(fake)
    real_test = real_images(E, data_dir, 0, images_per_copy)
    real = decoded_bits(E, real_test, batch_size)
    if classifier is not None:
        log('Generating %d classifier training images from each of %d registered copies and the data set...'
            % (classifier['train_images'], most))
        train_fake = list(generated_images(Gs, registered, classifier['train_images'], batch_size, seed + 1))
        train_real = real_images(E, data_dir, images_per_copy, classifier['train_images'])
    rows = []
    for count in copy_counts:
        index = CodesIndex(registered[:count], ids[:count], num_bits, model.threshold)
        closed = [(real, None, 'real')] + [(fake[i], int(ids[i]), 'registered') for i in range(count)]
        opened = closed + [(fake[most + i], None, 'unregistered') for i in range(count)]
        for world, groups in (('closed', closed), ('open', opened)):
            row = dict(world=world, copies=count, **score(index, groups))
            if classifier is not None:
                unseen = test_images[most:most + count] if world == 'open' else None
                row.update(classifier_scores(classifier, [train_real] + train_fake[:count],
                                             [real_test] + test_images[:count], unseen, seed, log))
            rows.append(row)
            log('%s world, %d copies: %s' % (world, count, format_row(rows[-1])))
    return rows


def classifier_scores(classifier, train_sources, test_sources, unseen, seed, log):
    """The classifier's row entries: closed world on test_sources when unseen is None, else open world on
    the real test images and the unseen copies' (not run beyond classifier['open_max'] copies)."""
    if unseen is None:
        result = attribution_classifier.closed_world(train_sources, test_sources, seed=seed, log=log,
                                                     **classifier['train_kwargs'])
    elif len(unseen) <= classifier['open_max']:
        result = attribution_classifier.open_world(train_sources, test_sources[0], unseen, seed=seed, log=log,
                                                   **classifier['train_kwargs'])
    else:
        result = dict(accuracy=None, detection_accuracy=None, seconds=None)
    return dict(classifier_accuracy=result['accuracy'], classifier_detection_accuracy=result['detection_accuracy'],
                classifier_seconds=result['seconds'])


class CodesIndex(hamming.HammingIndex):
    """A HammingIndex that keeps its codes, to look up the fingerprint of a copy id."""

    def __init__(self, codes, ids, num_bits, radius):
        super().__init__(codes, ids, num_bits, radius)
        self.codes = np.asarray(codes, np.uint8)

    def code_of(self, copy_id):
        return self.codes[int(np.searchsorted(self.ids, copy_id))]


def format_row(row):
    return ', '.join('%s %s' % (key, ('%.3f' % value) if isinstance(value, float) else value)
                     for key, value in row.items() if key not in ('world', 'copies'))


def _has_classifier(rows):
    return any('classifier_accuracy' in row for row in rows)


def _classifier_cell(row):
    if row.get('classifier_accuracy') is None:
        return 'not run'
    return '%.3f (%.3f)' % (row['classifier_accuracy'], row['classifier_detection_accuracy'])


def markdown_table(rows, images_per_copy, threshold, num_bits):
    extra = _has_classifier(rows)
    lines = ['Attribution, %d images per source, threshold %d of %d bits' % (images_per_copy, threshold, num_bits), '',
             '| world | copies | images | detection accuracy | attribution accuracy | real -> copy | '
             'unregistered -> copy | registered images within t | their distance: median / max |'
             + (' classifier [57]: accuracy (detection) |' if extra else ''),
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- |' + (' --- |' if extra else '')]
    for row in rows:
        lines.append('| %s | %d | %d | %.3f | %.3f | %d | %s | %.3f | %.1f / %d |' % (
            row['world'], row['copies'], row['images'], row['detection_accuracy'], row['attribution_accuracy'],
            row['real_to_copy'], row['unregistered_to_copy'] if row['world'] == 'open' else '-',
            row['registered_within_t'], row['registered_median_distance'], row['registered_max_distance'])
            + (' %s |' % _classifier_cell(row) if extra else ''))
    return '\n'.join(lines) + '\n'


def write_outputs(rows, output_dir, images_per_copy, threshold, num_bits):
    """attribution-table3.md and attribution-table3.csv in output_dir, each written atomically."""
    table = markdown_table(rows, images_per_copy, threshold, num_bits)
    dnnlib.util.atomic_write_bytes(os.path.join(output_dir, 'attribution-table3.md'), table.encode())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS + (CLASSIFIER_COLUMNS if _has_classifier(rows) else []),
                            lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    dnnlib.util.atomic_write_bytes(os.path.join(output_dir, 'attribution-table3.csv'), buffer.getvalue().encode())
    return table
