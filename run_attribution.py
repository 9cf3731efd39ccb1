"""Issue fingerprinted copies of a trained model and attribute images to them (paper §4.6).

Run `python run_attribution.py <command> --help` for each command's arguments;
docs/attribution.md describes the registry, the thresholds and the bound.
"""

import argparse
import json
import os
import sys
import time

from dnnlib import cli

cli.import_tensorflow()

import dnnlib.tflib as tflib  # noqa: E402
from attribution import attribute, evaluate, issue  # noqa: E402
from attribution.registry import RegistryError, SQLiteStore  # noqa: E402
from training import bake, misc  # noqa: E402

_USER_ERRORS = (RegistryError, issue.IssueError, ValueError, OSError)
PROGRESS_SECONDS = 5


def _positive_int(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError('%r is not a positive integer' % text)
    return int(text)


def _count_list(text):
    try:
        values = [int(part) for part in text.split(',')]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError('%r is not a comma-separated list of positive integers' % text)
    return values


def _threshold(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError('%r is not a number of bits (0 or more)' % text)
    return int(text)


def _log(message):
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# Loading.

def _load(network_pkl, trust_source=False):
    """(E or None, Gs, fingerprint bits) of a training pickle; ValueError naming what is missing."""
    E, _, _, Gs = misc.load_networks(network_pkl, trust_source=trust_source)
    if Gs.num_inputs != 3:
        raise ValueError('%s: generator %r has no fingerprint input; issue copies from the training pickle '
                         '(E, G, D, Gs), not from a baked copy' % (network_pkl, Gs.name))
    return E, Gs, Gs.input_shapes[2][1]


def _open_registry(args, num_bits, create):
    """The registry, checked against the pickle's digest and bit length, and against --threshold if given."""
    store = SQLiteStore(args.registry, issue.registry_model(args.network, num_bits, args.threshold), create=create)
    if args.threshold is not None and args.threshold != store.model.threshold:
        raise RegistryError('%s was issued for threshold %d (fingerprints %d bits apart); threshold %d does not fit'
                            % (args.registry, store.model.threshold, 2 * store.model.threshold + 1, args.threshold))
    return store


def _describe_copy(copy, num_bits):
    created = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(copy.created))
    bits = ''.join(format(byte, '08b') for byte in copy.fingerprint)[:num_bits]
    lines = ['copy %d' % copy.id, '  owner:       %s' % copy.owner, '  fingerprint: %s' % bits,
             '  created:     %s' % created, '  state:       %s' % copy.state]
    if copy.baked_path:
        lines.append('  baked file:  %s' % copy.baked_path)
    if copy.note:
        lines.append('  note:        %s' % copy.note)
    return '\n'.join(lines)


# ----------------------------------------------------------------------------
# Commands.

def _cmd_issue(args):
    if args.bake_dir is not None and os.path.exists(args.bake_dir) and not os.path.isdir(args.bake_dir):
        raise ValueError('--bake-dir %s exists and is not a directory' % args.bake_dir)
    _, Gs, num_bits = _load(args.network, args.trust_pickle_source)
    baker = None
    if args.bake_dir is not None:
        bake.fingerprint_size(Gs)
        baker = bake.Baker(Gs)
    store = _open_registry(args, num_bits, create=True)
    finished = issue.finish_interrupted(store, args.bake_dir)
    if finished:
        _log('Finished %d copies an interrupted issue had committed' % finished)
    start = time.perf_counter()
    for number, copy in enumerate(issue.issue_copies(store, args.owner, args.count, args.note, baker,
                                                     args.bake_dir), 1):
        print('Issued copy %d to %s%s' % (copy.id, copy.owner, (': ' + copy.baked_path) if copy.baked_path else ''),
              flush=True)
    _log('%d copies in %.1f s; the registry holds %d' % (number, time.perf_counter() - start, store.version()[0]))
    store.close()


def _record_json(record):
    copy = record.copy
    return json.dumps(dict(
        file=record.file, error=record.error, note=record.note,
        verdict=None if record.error else ('copy' if copy else 'none'),
        copy_id=copy.id if copy else None, owner=copy.owner if copy else None,
        distance=record.distance, bit_accuracy=record.bit_accuracy,
        false_match_log10=record.log10_bound, false_match=(10 ** record.log10_bound
                                                          if record.log10_bound is not None else None)))


def _record_text(record, threshold):
    prefix = '%s: ' % record.file + ('[%s] ' % record.note if record.note else '')
    if record.error:
        return '%serror: %s' % (prefix, record.error)
    if record.copy is None:
        return '%snot from any issued copy (no fingerprint within %d bits)' % (prefix, threshold)
    return ('%scopy %d (%s), %d bits differ, bit accuracy %.3f, chance for an image of no issued copy %s'
            % (prefix, record.copy.id, record.copy.owner, record.distance, record.bit_accuracy,
               attribute.format_probability(record.log10_bound)))


def _cmd_attribute(args):
    files = attribute.expand_inputs(args.files)
    if not files:
        raise ValueError('no files under %s' % ', '.join(args.files))
    E, _, num_bits = _load(args.network, args.trust_pickle_source)
    if E is None:
        raise ValueError('%s holds no decoder E; attribute with the training pickle' % args.network)
    store = _open_registry(args, num_bits, create=False)
    index = attribute.load_index(store, args.registry)
    threshold = store.model.threshold
    _log('%d files, %d issued copies, threshold %d of %d bits (%s)' % (len(files), len(index), threshold, num_bits,
                                                                       index.kind))
    failed = attributed = 0
    start = last = time.perf_counter()
    for number, record in enumerate(attribute.attribute_files(E, files, index, store, args.batch), 1):
        print(_record_json(record) if args.json else _record_text(record, threshold), flush=True)
        failed += record.error is not None
        attributed += record.copy is not None
        now = time.perf_counter()
        if now - last >= PROGRESS_SECONDS:
            _log('%d/%d files, %.1f images/s' % (number, len(files), number / (now - start)))
            last = now
    _log('%d files: %d attributed to an issued copy, %d not, %d failed'
         % (len(files), attributed, len(files) - attributed - failed, failed))
    store.close()
    if failed:
        sys.exit(1)


def _cmd_list(args):
    store = SQLiteStore(args.registry)
    model = store.model
    print('Registry %s: model sha256 %s, %d-bit fingerprints, threshold %d'
          % (args.registry, model.sha256, model.num_bits, model.threshold))
    for copy in store.copies():
        created = time.strftime('%Y-%m-%d %H:%M', time.localtime(copy.created))
        print('%8d  %-20s  %s  %s%s' % (copy.id, copy.owner, created, copy.state,
                                        ('  ' + copy.baked_path) if copy.baked_path else ''))
    store.close()


def _cmd_show(args):
    store = SQLiteStore(args.registry)
    copy = store.get(args.id)
    if copy is None:
        raise ValueError('%s has no copy %d' % (args.registry, args.id))
    print(_describe_copy(copy, store.model.num_bits))
    print('  model:       sha256 %s, threshold %d' % (store.model.sha256, store.model.threshold))
    store.close()


def _cmd_evaluate(args):
    E, Gs, num_bits = _load(args.network, args.trust_pickle_source)
    if E is None:
        raise ValueError('%s holds no decoder E' % args.network)
    classifier = None
    if args.classifier:
        classifier = dict(train_images=args.classifier_train_images, open_max=args.classifier_open_max,
                          train_kwargs=dict(steps=args.classifier_steps, fmap_base=args.classifier_fmap_base,
                                            fmap_max=args.classifier_fmap_max))
    rows = evaluate.evaluate(E, Gs, args.network, args.data_dir, args.copies, args.images_per_copy, args.threshold,
                             args.batch, args.seed, _log, classifier=classifier)
    threshold = issue.default_threshold(num_bits) if args.threshold is None else args.threshold
    print(evaluate.write_outputs(rows, args.output_dir, args.images_per_copy, threshold, num_bits))
    print('Wrote %s and %s' % tuple(os.path.join(args.output_dir, 'attribution-table3.' + ext)
                                    for ext in ('md', 'csv')))


# ----------------------------------------------------------------------------

def build_parser():
    parser = cli.ArgumentParser(
        prog='run_attribution.py',
        description='Issue fingerprinted copies of a trained model, recording them in a registry, and attribute '
                    'images to the issued copies.',
        epilog='Run "run_attribution.py <command> --help" for the arguments of a command.')
    commands = parser.add_subparsers(dest='command', metavar='command')

    def add_network(sub):
        sub.add_argument('--network', required=True, metavar='PKL', help='the training pickle (E, G, D, Gs)')
        cli.add_trust_flag(sub)
        tflib.precision.add_argument(sub)

    def add_registry(sub):
        sub.add_argument('--registry', required=True, metavar='DB', help='the registry of issued copies (SQLite)')

    def add_threshold(sub, what):
        sub.add_argument('--threshold', type=_threshold, default=None, metavar='T',
                         help='most mismatched bits for a match; %s' % what)

    def add_batch(sub):
        sub.add_argument('--batch', type=_positive_int, default=16, metavar='N',
                         help='images per decoder pass (default: %(default)s)')

    sub = commands.add_parser('issue', help='draw, record and (optionally) bake fingerprinted copies',
                              description='Draw fresh fingerprints (secrets module), at least 2T+1 bits from every '
                                          'issued one, and record them; with --bake-dir also write each copy\'s '
                                          'baked generator there as copy-<id>.pkl.')
    add_network(sub)
    add_registry(sub)
    sub.add_argument('--owner', required=True, metavar='NAME', help='who receives the copies')
    sub.add_argument('--count', type=_positive_int, default=1, metavar='N', help='copies to issue (default: 1)')
    sub.add_argument('--note', default=None, help='a note stored with each copy')
    sub.add_argument('--bake-dir', default=None, metavar='DIR', help='write each copy\'s baked pickle here')
    add_threshold(sub, 'fixed when the registry is created (default: floor(0.05 x bits), 6 of 128)')
    sub.set_defaults(func=_cmd_issue)

    sub = commands.add_parser('attribute', help='decode images and name the issued copy that made each',
                              description='Decode the fingerprint of every image (files, or directories searched '
                                          'recursively) and look it up among the issued copies.')
    add_network(sub)
    add_registry(sub)
    sub.add_argument('files', nargs='+', metavar='FILE_OR_DIR')
    add_threshold(sub, 'must be the registry\'s (default: the registry\'s)')
    sub.add_argument('--json', action='store_true', help='one JSON record per image')
    add_batch(sub)
    sub.set_defaults(func=_cmd_attribute)

    sub = commands.add_parser('list', help='list the issued copies')
    add_registry(sub)
    sub.set_defaults(func=_cmd_list)

    sub = commands.add_parser('show', help='show one issued copy')
    add_registry(sub)
    sub.add_argument('id', type=_positive_int, help='copy id')
    sub.set_defaults(func=_cmd_show)

    sub = commands.add_parser('evaluate', help='the paper\'s Table 3: detection and attribution accuracy',
                              description='Issue N copies in a temporary registry for each N, decode K images from '
                                          'each, K real images and K images from each of N unregistered copies, and '
                                          'report detection and attribution accuracy in the closed and open world.')
    add_network(sub)
    sub.add_argument('--data-dir', required=True, metavar='DIR', help='the training data set directory (TFRecords)')
    sub.add_argument('--copies', type=_count_list, default=[1, 10, 100], metavar='LIST',
                     help='numbers of issued copies (default: 1,10,100)')
    sub.add_argument('--images-per-copy', type=_positive_int, default=1000, metavar='K',
                     help='images per copy and real images (default: %(default)s)')
    add_threshold(sub, 'default floor(0.05 x bits)')
    sub.add_argument('--seed', type=int, default=0, help='seed of the latents (default: %(default)s)')
    sub.add_argument('--output-dir', default='.', metavar='DIR',
                     help='where attribution-table3.md and .csv go (default: current directory)')
    add_batch(sub)
    group = sub.add_argument_group('the passive baseline, the attribution classifier [57]')
    group.add_argument('--classifier', action='store_true',
                       help='also train and score the classifier on the same test images (a column more)')
    group.add_argument('--classifier-train-images', type=_positive_int, default=1000, metavar='N',
                       help='training images per source: real and each registered copy (default: %(default)s; '
                            'the paper: 10000)')
    group.add_argument('--classifier-steps', type=_positive_int, default=2000, metavar='N',
                       help='minibatches of 32 per classifier (default: %(default)s)')
    group.add_argument('--classifier-fmap-base', type=_positive_int, default=1024, metavar='N',
                       help='channels: fmap_base / 2^stage, 16 at 128x128 by default (default: %(default)s)')
    group.add_argument('--classifier-fmap-max', type=_positive_int, default=512, metavar='N',
                       help='most channels in a layer (default: %(default)s)')
    group.add_argument('--classifier-open-max', type=int, default=10, metavar='N',
                       help='largest N for the open world, which trains N+1 one-vs-rest classifiers '
                            '(default: %(default)s; the paper: 10)')
    sub.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error('missing command (issue, attribute, list, show or evaluate); see --help')
    # Said on stderr, and only for evaluate's long run: stdout and one-line errors stay as they are.
    cli.init_tf_for_command(args, stream=sys.stderr, report=args.command == 'evaluate')
    try:
        args.func(args)
    except _USER_ERRORS as exc:
        parser.exit(1, '%s %s: error: %s\n' % (parser.prog, args.command, exc))


if __name__ == '__main__':
    main()
