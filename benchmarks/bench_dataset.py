"""Images per second read through TFRecordDataset.get_minibatch_tf in a session.

Writes temporary demo data sets (deleted afterwards) and times minibatches after a warm-up.

    python benchmarks/bench_dataset.py [--resolutions 32 128] [--num-images 2000] [--batch 32] [--batches 200]
"""

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine  # noqa: E402

tf = machine.tf

from training import dataset  # noqa: E402
from training import dataset_tool_lib  # noqa: E402

WARM_UP_BATCHES = 20


def images_per_second(tfrecord_dir, batch, batches, mirror_augment):
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        data = dataset.TFRecordDataset(tfrecord_dir, mirror_augment=mirror_augment)
        images, labels = data.get_minibatch_tf()
        data.configure(batch)
        for _ in range(WARM_UP_BATCHES):  # fills the shuffle and prefetch buffers
            session.run([images, labels])
        start = time.time()
        for _ in range(batches):
            session.run([images, labels])
        return batch * batches / (time.time() - start)


def main():
    machine.print_header()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--resolutions', type=int, nargs='+', default=[32, 128])
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--batches', type=int, default=200)
    args = parser.parse_args()
    tf.compat.v1.disable_eager_execution()

    with tempfile.TemporaryDirectory() as scratch:
        for resolution in args.resolutions:
            tfrecord_dir = os.path.join(scratch, 'demo%d' % resolution)
            with contextlib.redirect_stdout(io.StringIO()):
                dataset_tool_lib.create_demo(tfrecord_dir, num_images=args.num_images, resolution=resolution)
            for mirror_augment in (False, True):
                rate = images_per_second(tfrecord_dir, args.batch, args.batches, mirror_augment)
                print('%4dx%-4d batch %d, mirror %-5s: %8.0f images/s' % (
                    resolution, resolution, args.batch, mirror_augment, rate), flush=True)


if __name__ == '__main__':
    main()
