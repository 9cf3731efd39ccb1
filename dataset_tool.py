"""Create, inspect and extract data sets in the StyleGAN2 multi-resolution TFRecord layout.

Run `python dataset_tool.py <command> --help` for each command's arguments.
"""

import argparse
import functools
import math
import signal

from dnnlib import cli

cli.import_tensorflow()

from baselines import artificial_fingerprints as agf  # noqa: E402
from baselines import steganography as stego  # noqa: E402
from training import dataset_tool_lib as lib  # noqa: E402


_fail = functools.partial(cli.fail, 'dataset_tool')


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _resolution(text):
    try:
        resolution = int(text)
        lib.check_resolution(resolution)
    except (ValueError, lib.DatasetToolError):
        raise argparse.ArgumentTypeError('%r is not a power of two >= %d' % (text, lib.MIN_RESOLUTION))
    return resolution


def _number(convert, minimum, description):
    """argparse type: a finite number (int or float) >= minimum, else an error naming `description`."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError('%r is not %s' % (text, description))
        return value
    return parse


_positive_int = _number(int, 1, 'a positive integer')
_non_negative_int = _number(int, 0, 'an integer >= 0')
_non_negative_float = _number(float, 0, 'a number >= 0')
# Positive with no smallest value: the smallest positive float stands in for "> 0".
_positive_float = _number(float, math.ulp(0), 'a positive number')


def _flag(text):
    if text not in ('0', '1'):
        raise argparse.ArgumentTypeError('%r is not 0 or 1' % text)
    return text == '1'


def build_parser():
    parser = cli.ArgumentParser(error_name='dataset_tool',
        prog='dataset_tool.py',
        description='Create, inspect and extract data sets in the StyleGAN2 multi-resolution TFRecord layout: '
                    'a directory of <name>-rNN.tfrecords files, one per resolution 2**NN down to 4x4, '
                    'plus an optional <name>-rxx.labels numpy array. New data sets are written to a temporary '
                    'sibling directory and renamed into place when complete.',
        epilog='Run "dataset_tool.py <command> --help" for the arguments of a command.')
    commands = parser.add_subparsers(dest='command', metavar='command', required=True)

    def command(name, function, summary, example):
        sub = commands.add_parser(name, help=summary, description=summary, epilog='Example: dataset_tool.py ' + example)
        sub.set_defaults(function=function)
        return sub

    def new_dataset_arguments(sub, source, source_help):
        sub.add_argument('tfrecord_dir', help='new data set directory (must not exist or be empty)')
        sub.add_argument(source, metavar=source.upper(), help=source_help)

    sub = command('create_from_images', lib.create_from_images,
                  'Create a data set from a directory of images (PNG, JPEG, ...; searched recursively). '
                  'Images are centre-cropped to squares and resized; unreadable files are skipped and reported.',
                  'create_from_images datasets/lsun_bedroom_30k_128 lsun_bedroom_train --shuffle 0 '
                  '--num_images 30000 --resolution 128')
    new_dataset_arguments(sub, 'image_dir', 'directory holding the images')
    sub.add_argument('--shuffle', type=_flag, metavar='{0,1}', default=True,
                     help='1: shuffle the file order with a fixed seed; 0: keep sorted path order (default: 1)')
    sub.add_argument('--num_images', type=_positive_int, metavar='N', default=None,
                     help='keep only the first N usable images, in the order above (default: all)')
    sub.add_argument('--resolution', type=_resolution, metavar='R', default=None,
                     help='output size in pixels, a power of two >= 4 (default: the first image\'s cropped size)')

    sub = command('create_celeba', lib.create_celeba,
                  'Create a data set of 128x128 crops of aligned CelebA images (178x218), centred at (cx, cy).',
                  'create_celeba datasets/celeba_align_png_cropped_30k celeba/Img/img_align_celeba_png '
                  '--num_images 30000')
    new_dataset_arguments(sub, 'celeba_dir', 'directory holding the aligned CelebA images')
    sub.add_argument('--num_images', type=_positive_int, metavar='N', default=None,
                     help='use the first N usable images in sorted file order (default: all)')
    sub.add_argument('--cx', type=int, default=89, help='x of the crop centre (default: 89)')
    sub.add_argument('--cy', type=int, default=121, help='y of the crop centre (default: 121)')
    sub.add_argument('--shuffle', type=_flag, metavar='{0,1}', default=True,
                     help='1: store the selected images in an order shuffled with a fixed seed; '
                          '0: in file order (default: 1)')

    sub = command('create_lsun', lib.create_lsun,
                  'Create a data set from one LSUN category\'s LMDB database (needs: pip install lmdb).',
                  'create_lsun datasets/lsun_cat_256 lsun/cat --resolution 256 --max_images 50000')
    new_dataset_arguments(sub, 'lmdb_dir', 'directory of the LMDB database')
    sub.add_argument('--resolution', type=_resolution, metavar='R', default=256,
                     help='output size in pixels after centre-cropping, a power of two >= 4 (default: 256)')
    sub.add_argument('--max_images', type=_positive_int, metavar='N', default=None, help='stop after N images (default: all)')

    sub = command('create_cifar10', lib.create_cifar10,
                  'Create a data set with one-hot labels from the CIFAR-10 python batches data_batch_1..5.',
                  'create_cifar10 datasets/cifar10 cifar-10-batches-py')
    new_dataset_arguments(sub, 'cifar10_dir', 'directory holding data_batch_1 ... data_batch_5')

    sub = command('create_mnist', lib.create_mnist,
                  'Create a data set with one-hot labels from MNIST\'s train-images-idx3-ubyte.gz and '
                  'train-labels-idx1-ubyte.gz (digits padded to 32x32).',
                  'create_mnist datasets/mnist mnist')
    new_dataset_arguments(sub, 'mnist_dir', 'directory holding the two MNIST training files')

    sub = command('create_demo', lib.create_demo,
                  'Create a procedural data set of shapes over textured gradients, made locally with nothing '
                  'to download; the same arguments give bit-identical records.',
                  'create_demo DATA/demo32 --num_images 4000 --resolution 32')
    sub.add_argument('tfrecord_dir', help='new data set directory (must not exist or be empty)')
    sub.add_argument('--num_images', type=_positive_int, metavar='N', default=4000, help='number of images (default: 4000)')
    sub.add_argument('--resolution', type=_resolution, metavar='R', default=32,
                     help='size in pixels, a power of two >= 4 (default: 32)')
    sub.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')

    sub = command('info', lib.info, 'Print the resolutions, image counts per file, channels and label size.',
                  'info DATA/demo32')
    sub.add_argument('tfrecord_dir', help='data set directory')

    sub = command('display', lib.display,
                  'Print a summary line for each of the first images; with --output, also save them as a PNG grid.',
                  'display DATA/demo32 --num_images 64 --output grid.png')
    sub.add_argument('tfrecord_dir', help='data set directory')
    sub.add_argument('--num_images', type=_positive_int, metavar='N', default=16, help='number of images (default: 16)')
    sub.add_argument('--output', default=None, help='PNG file to write the grid of images to (default: none)')

    sub = command('extract', lib.extract, 'Write the top-resolution images as OUTPUT_DIR/img%%08d.png.',
                  'extract DATA/demo32 demo32-images')
    sub.add_argument('tfrecord_dir', help='data set directory')
    sub.add_argument('output_dir', help='new directory for the PNG files (must not exist or be empty)')

    sub = command('compare', lib.compare,
                  'Count the identical and different images (top resolution) and labels of two data sets, in order.',
                  'compare datasets/a datasets/b')
    sub.add_argument('tfrecord_dir_a', help='first data set directory')
    sub.add_argument('tfrecord_dir_b', help='second data set directory')
    sub.add_argument('--ignore_labels', type=_flag, metavar='{0,1}', default=False, help='1: do not compare labels (default: 0)')

    def stego_arguments(sub):
        sub.add_argument('--tool', choices=stego.TOOLS, default='outguess', help='steganography program (default: outguess)')
        sub.add_argument('--bits', type=_positive_int, metavar='N', default=100, help='payload length in bits (default: 100)')
        sub.add_argument('--seed', type=int, default=0, help='seed of the random payload (default: 0)')
        sub.add_argument('--key', default=stego.DEFAULT_KEY, help='passphrase of the tool (default: %s)' % stego.DEFAULT_KEY)
        sub.add_argument('--container', choices=sorted(stego.CONTAINERS), default='lossless',
                         help='file format the tool works on: lossless (outguess: PPM, steghide: BMP) or jpeg '
                              '(quality %d; needs larger images) (default: lossless)' % stego.JPEG_QUALITY)
        sub.add_argument('--num_images', type=_positive_int, metavar='N', default=None, help='only the first N images (default: all)')

    sub = command('create_stego', stego.create_stego,
                  'Create a copy of a data set whose images all carry one payload hidden with outguess or steghide '
                  '(the classic steganography baseline; needs: apt-get install outguess steghide).',
                  'create_stego DATA/demo32-outguess DATA/demo32 --tool outguess --bits 100 --seed 0')
    new_dataset_arguments(sub, 'source_dir', 'data set directory to copy')
    stego_arguments(sub)

    sub = command('eval_stego', stego.eval_stego,
                  'Extract the payload from a data set or a directory of PNG images and print the extraction '
                  'success rate and bit accuracy (failed extractions score 0.5).',
                  'eval_stego generated-images --tool outguess --bits 100 --seed 0')
    sub.add_argument('source', help='data set directory or directory of PNG images')
    stego_arguments(sub)

    def agf_fingerprint_arguments(sub, default_help):
        which = sub.add_mutually_exclusive_group()
        which.add_argument('--seed', type=int, default=None,
                           help='draw the fingerprint with np.random.RandomState(N).randint(0, 2, bits) (%s)' % default_help)
        which.add_argument('--fingerprint', metavar='BITS', default=None,
                           help='the fingerprint: one 0/1 character per bit of the model')

    def agf_common_arguments(sub):
        sub.add_argument('--model', required=True, help='encoder/decoder file written by train_agf')
        sub.add_argument('--num_images', type=_positive_int, metavar='N', default=None, help='only the first N images (default: all)')
        sub.add_argument('--minibatch', type=_positive_int, metavar='N', default=64, help='images per forward pass (default: 64)')

    sub = command('train_agf', agf.train_agf,
                  'Train the encoder and decoder of the Artificial GAN Fingerprints baseline on a data set\'s top '
                  'resolution with random fingerprints, and write them to MODEL (a network pickle).',
                  'train_agf agf-demo32.pkl DATA/demo32 --bits 64 --steps 3000 --minibatch 32')
    sub.add_argument('model', help='model file to write (a pickle of the encoder and decoder)')
    sub.add_argument('tfrecord_dir', help='data set directory to train on')
    sub.add_argument('--bits', type=_positive_int, metavar='N', default=64, help='fingerprint length (default: 64; the paper: 100)')
    sub.add_argument('--steps', type=_positive_int, metavar='N', default=2000, help='training steps (default: 2000)')
    sub.add_argument('--minibatch', type=_positive_int, metavar='N', default=64, help='images per step (default: 64, as the paper)')
    sub.add_argument('--fmap_base', type=_positive_int, metavar='N', default=32,
                     help='channels at full resolution, doubled at each stride-2 level (default: 32)')
    sub.add_argument('--fmap_max', type=_positive_int, metavar='N', default=256, help='most channels of a level (default: 256)')
    sub.add_argument('--levels', type=_non_negative_int, metavar='N', default=4,
                     help='stride-2 levels of the U-Net and of the decoder, stopping at 4x4 (default: 4)')
    sub.add_argument('--dense_size', type=_positive_int, metavar='N', default=256, help='units of the decoder\'s hidden dense layer (default: 256)')
    sub.add_argument('--lrate', type=_positive_float, metavar='LR', default=1e-3, help='Adam learning rate (default: 0.001)')
    sub.add_argument('--max_weight', type=_non_negative_float, metavar='W', default=10.0,
                     help='final weight lambda of the image L2 term (default: 10, as the paper)')
    sub.add_argument('--start_accuracy', type=_non_negative_float, metavar='A', default=0.95,
                     help='bit accuracy (mean of the last 10 minibatches) at which lambda starts rising from 0 (default: 0.95)')
    sub.add_argument('--ramp_steps', type=_non_negative_int, metavar='N', default=3000,
                     help='steps over which lambda rises linearly to --max_weight (default: 3000, as the paper)')
    sub.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    sub.add_argument('--progress_interval', type=_positive_int, metavar='N', default=100, help='steps between progress lines (default: 100)')
    sub.add_argument('--num_images', type=_positive_int, metavar='N', default=None, help='train on the first N images only (default: all)')

    sub = command('create_agf', agf.create_agf,
                  'Create a copy of a data set whose images all carry one fingerprint embedded by a train_agf encoder; '
                  'the fingerprint is written to %s in the new directory.' % agf.FINGERPRINT_FILE,
                  'create_agf DATA/demo32-agf DATA/demo32 --model agf-demo32.pkl --seed 0')
    new_dataset_arguments(sub, 'source_dir', 'data set directory to copy')
    agf_fingerprint_arguments(sub, 'one of --seed and --fingerprint is needed')
    agf_common_arguments(sub)

    sub = command('eval_agf', agf.eval_agf,
                  'Decode the fingerprint of every image of a data set or a directory of PNG images and print the bit '
                  'accuracy against the expected fingerprint, with its p-value.',
                  'eval_agf generated-images --model agf-demo32.pkl --seed 0')
    sub.add_argument('source', help='data set directory or directory of PNG images')
    agf_fingerprint_arguments(sub, 'default: the %s of a data set made by create_agf' % agf.FINGERPRINT_FILE)
    agf_common_arguments(sub)
    sub.add_argument('--robustness_csv', default=None, metavar='CSV',
                     help='also decode after each perturbation of the robustness metric\'s grid (crop, blur, JPEG, '
                          'noise, combination) and add the rows to this CSV, for plot_robustness.py')
    return parser


def main(argv=None):
    args = vars(build_parser().parse_args(argv))
    function = args.pop('function')
    del args['command']
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C
    try:
        function(**args)
    except KeyboardInterrupt:
        _fail('interrupted', 130)
    except (lib.DatasetToolError, ValueError, OSError) as error:
        _fail(error)


if __name__ == '__main__':
    main()
