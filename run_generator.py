"""Generate images with a fingerprinted generator, and bake fingerprints into deployable copies.

Run `python run_generator.py <command> --help` for each command's arguments.
"""

import argparse
import os
import time

from dnnlib import cli

cli.import_tensorflow()

import numpy as np  # noqa: E402

import dnnlib  # noqa: E402
import dnnlib.tflib as tflib  # noqa: E402
from dnnlib.tflib import network_files  # noqa: E402
from training import bake, misc  # noqa: E402
from training.images import save_image, save_image_grid  # noqa: E402

VERIFY_TOLERANCE = 1e-3  # on the [-1, 1] image scale; float32 rounding stays below 1e-4


def _seeds(text):
    try:
        seeds = dnnlib.util.parse_int_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc))
    if not seeds or max(seeds) >= 2 ** 32:
        raise argparse.ArgumentTypeError('%r must select seeds from 0 to 2**32-1' % text)
    return seeds


def _seed(text):
    seeds = _seeds(text)
    if len(seeds) != 1:
        raise argparse.ArgumentTypeError('%r is not a single seed' % text)
    return seeds[0]


def _positive_int(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError('%r is not a positive integer' % text)
    return int(text)


# ----------------------------------------------------------------------------
# Loading.

def load_generator(network_pkl, trust_source=False):
    """Gs of a training pickle or the one generator of a baked pickle; ValueError/OSError on bad input."""
    print('Loading networks from "%s"...' % network_pkl)
    Gs = misc.load_networks(network_pkl, trust_source=trust_source)[3]
    if Gs.num_inputs not in (2, 3) or Gs.input_names[:2] != ['latents_in', 'labels_in']:
        raise ValueError('%s: %r is not a generator (inputs: %s)' % (network_pkl, Gs.name, ', '.join(Gs.input_names)))
    if Gs.input_shapes[1][1]:
        raise ValueError('%s: class-conditional generators are not supported' % network_pkl)
    return Gs


def _has_fingerprint_input(Gs):
    return Gs.num_inputs == 3


def _describe(Gs):
    if _has_fingerprint_input(Gs):
        return 'fingerprinted generator, %d-bit fingerprint input' % Gs.input_shapes[2][1]
    bits = Gs.static_kwargs.get('watermark_bits')
    return 'baked fingerprint %s' % bits if bits is not None else 'generator without a fingerprint input'


def _latent(seed, size):
    return np.random.RandomState(seed).randn(size).astype(np.float32)


def _run_kwargs(truncation_psi=None):
    # Fixed noise inputs: images depend on the seeds only, and a baked copy matches its source pixel for pixel.
    kwargs = dict(randomize_noise=False)
    if truncation_psi is not None:
        kwargs.update(truncation_psi=truncation_psi)
    return kwargs


# ----------------------------------------------------------------------------
# Commands. Each checks its input before any output is made.

def generate_images(Gs, network_pkl, seeds, truncation_psi, identical_latent, identical_watermark, batch,
                    submit_config):
    """One seedNNNN.png per seed: z, then the fingerprint bits, drawn from np.random.RandomState(seed)."""
    print('Network: %s (%s); precision %s' % (network_pkl, _describe(Gs), tflib.precision.get()))
    fingerprinted = _has_fingerprint_input(Gs)
    z, c = [], []
    for seed in seeds:
        rnd = np.random.RandomState(seed)
        z.append(rnd.randn(Gs.input_shapes[0][1]))
        if fingerprinted:
            c.append(rnd.randint(0, 2, Gs.input_shapes[2][1]))
    z = np.array(z, np.float32)
    c = np.array(c, np.float32) if fingerprinted else None
    if identical_latent:
        z[:] = z[0]
    if identical_watermark and fingerprinted:
        c[:] = c[0]
    for begin in range(0, len(seeds), batch):
        end = min(begin + batch, len(seeds))
        print('Generating images for seeds %d..%d (%d/%d)...' % (seeds[begin], seeds[end - 1], end, len(seeds)))
        arrays = [z[begin:end], None] + ([c[begin:end]] if fingerprinted else [])
        images = Gs.run(*arrays, **_run_kwargs(truncation_psi))
        for seed, image in zip(seeds[begin:end], images):
            save_image(image, os.path.join(submit_config.run_dir, 'seed%04d.png' % seed), drange=(-1, 1))
    print('Done: %d images in %s' % (len(seeds), submit_config.run_dir))


def generate_grid(Gs, network_pkl, latent_seeds, watermark_seeds, batch, output=None, submit_config=None):
    """Rows = fingerprints, columns = latents: every column shares z, every row shares the fingerprint.

    Written to `output`, or to grid.png in the run directory.
    """
    output = output if output is not None else os.path.join(submit_config.run_dir, 'grid.png')
    print('Network: %s (%s); precision %s' % (network_pkl, _describe(Gs), tflib.precision.get()))
    z = np.array([_latent(seed, Gs.input_shapes[0][1]) for seed in latent_seeds])
    rows = []
    if _has_fingerprint_input(Gs):
        for row, seed in enumerate(watermark_seeds):
            bits = bake.fingerprint_from_seed(seed, Gs.input_shapes[2][1])
            print('Row %d/%d: fingerprint seed %d = %s' % (row + 1, len(watermark_seeds), seed,
                                                           bake.fingerprint_to_string(bits)))
            c = np.tile(bits[np.newaxis], [len(z), 1])
            rows.append(Gs.run(z, None, c, minibatch_size=batch, **_run_kwargs()))
    else:
        print('One row: the network has no fingerprint input, --watermark-seeds is not used')
        rows.append(Gs.run(z, None, minibatch_size=batch, **_run_kwargs()))
    save_image_grid(np.concatenate(rows), output, drange=(-1, 1), grid_size=(len(z), len(rows)))
    print('Wrote %s (%d x %d images)' % (output, len(rows), len(z)))


def _submit(args, func, **kwargs):
    config = dnnlib.SubmitConfig(result_dir=args.result_dir, run_desc=args.command)
    dnnlib.submit_run(config, dnnlib.util.get_top_level_function_name(func), **kwargs)


def _cmd_generate_images(args):
    Gs = load_generator(args.network, args.trust_pickle_source)
    if args.identical_watermark and not _has_fingerprint_input(Gs):
        print('Note: the network has no fingerprint input; --identical-watermark has no effect')
    _submit(args, generate_images, Gs=Gs, network_pkl=args.network, seeds=args.seeds,
            truncation_psi=args.truncation_psi, identical_latent=args.identical_latent,
            identical_watermark=args.identical_watermark, batch=args.batch)


def _cmd_generate_grid(args):
    Gs = load_generator(args.network, args.trust_pickle_source)
    kwargs = dict(Gs=Gs, network_pkl=args.network, latent_seeds=args.latent_seeds,
                  watermark_seeds=args.watermark_seeds, batch=args.batch)
    if args.output is not None:
        generate_grid(output=args.output, **kwargs)
    else:
        _submit(args, generate_grid, **kwargs)


def _cmd_bake(args):
    if os.path.exists(args.output) and os.path.exists(args.network) and os.path.samefile(args.output, args.network):
        raise ValueError('--output is the source pickle %s; choose another file' % args.network)
    Gs = load_generator(args.network, args.trust_pickle_source)
    size = bake.fingerprint_size(Gs)
    if args.watermark is not None:
        bits = bake.parse_fingerprint(args.watermark, size)
        print('Fingerprint (%d bits, given): %s' % (size, bake.fingerprint_to_string(bits)))
    else:
        bits = bake.fingerprint_from_seed(args.watermark_seed, size)
        print('Fingerprint (%d bits, seed %d): %s' % (size, args.watermark_seed, bake.fingerprint_to_string(bits)))
    print('Reading %r and building the baked network...' % Gs.name)
    baker = bake.Baker(Gs)
    start = time.perf_counter()
    baked = baker.bake(bits)
    print('Baked it into %d conv layers in %.0f ms' % (len(baker.folded_names), (time.perf_counter() - start) * 1e3))
    if args.verify:
        difference = bake.max_difference(Gs, baked, bits)
        print('Verify: max |G(z, c0) - baked(z)| over 4 latents = %.2e' % difference)
        if difference > VERIFY_TOLERANCE:
            raise ValueError('the baked copy differs from G(z, c0) by %.2e (more than %g); nothing written'
                             % (difference, VERIFY_TOLERANCE))
    misc.save_pkl(baked, args.output)
    print('Wrote %s: one network %r, inputs (%s)' % (args.output, baked.name, ', '.join(baked.input_names)))


def _print_network(slot, summary, indent=''):
    how = ("rebuilt by this project's code when loaded" if summary['rebuilt_by_this_project']
           else 'only its embedded source can build it')
    print('%s%s: %r built by %s (%s)' % (indent, slot, summary['name'], summary['build_func_name'], how))
    kwargs = ', '.join('%s=%r' % item for item in sorted(summary['static_kwargs'].items()))
    print('%s  keyword arguments: %s' % (indent, kwargs or 'none'))
    digest = summary['source_sha256']
    if digest is None:
        print('%s  embedded source: none' % indent)
    else:
        known = ("equal to this project's %s" % summary['source_is'] if summary['source_is']
                 else "not this project's current source")
        print('%s  embedded source: sha256 %s, %s' % (indent, digest, known))
    print('%s  %d variables, %d values' % (indent, summary['num_variables'], summary['num_values']))
    for name, shape in summary['variables']:
        print('%s    %-40s %s' % (indent, name, shape))
    for key, comp in summary['components'].items():
        _print_network('component ' + key, comp, indent + '  ')


def _cmd_inspect(args):
    for slot, summary in network_files.describe(args.network):
        if summary is None:
            print('%s: none' % slot)
        else:
            _print_network(slot, summary)


def _cmd_export(args):
    if not args.output.lower().endswith('.npz'):
        raise ValueError('--output must name a .npz file, got %s' % args.output)
    nets = misc.load_pkl(args.network, trust_source=args.trust_pickle_source)
    network_files.save_npz(nets, args.output)
    print('Wrote %s: the weights, names, shapes and keyword arguments, readable without pickle' % args.output)


# ----------------------------------------------------------------------------

def build_parser():
    parser = cli.ArgumentParser(
        prog='run_generator.py',
        description='Generate images with a fingerprinted generator (the Gs of a training pickle holding '
                    '(E, G, D, Gs), or a baked copy), and bake fingerprints into copies to deploy. Images are '
                    'made with the noise inputs stored in the network, so they depend only on the seeds.',
        epilog='Run "run_generator.py <command> --help" for the arguments of a command.')
    commands = parser.add_subparsers(dest='command', metavar='command')

    def add_network(sub, trust=True):
        sub.add_argument('--network', required=True, metavar='PKL',
                         help='network pickle: a training pickle (E, G, D, Gs), or a single generator (e.g. baked); '
                              'or a .npz weights file (see export)')
        if trust:
            cli.add_trust_flag(sub)

    def add_result_dir(sub):
        sub.add_argument('--result-dir', default='results', metavar='DIR',
                         help='parent folder of the run directory <id>-<command> (default: %(default)s)')

    def add_batch(sub):
        sub.add_argument('--batch', type=_positive_int, default=8, metavar='N',
                         help='images per forward pass (default: %(default)s)')
        tflib.precision.add_argument(sub)

    sub = commands.add_parser(
        'generate-images', help='one PNG per seed',
        description='Write seedNNNN.png for every seed into a new run directory. For each seed, '
                    'np.random.RandomState(seed) draws z ~ N(0, I) and then the fingerprint bits (randint(0, 2)).')
    add_network(sub)
    sub.add_argument('--seeds', type=_seeds, required=True, help='seeds, e.g. 0-63 or 1,5,9')
    sub.add_argument('--truncation-psi', type=float, default=None, metavar='PSI',
                     help='accepted for the authors\' command line; the fingerprint generator (and a baked copy) '
                          'does not use truncation, so it has no effect')
    sub.add_argument('--identical-latent', type=cli.parse_bool, default=False, metavar='BOOL',
                     help='use the first seed\'s z for every image (default: %(default)s)')
    sub.add_argument('--identical-watermark', type=cli.parse_bool, default=False, metavar='BOOL',
                     help='use the first seed\'s fingerprint for every image; not used by a baked copy '
                          '(default: %(default)s)')
    add_result_dir(sub)
    add_batch(sub)
    sub.set_defaults(func=_cmd_generate_images)

    sub = commands.add_parser(
        'generate-grid', help='one PNG: rows = fingerprints, columns = latents',
        description='One image grid (paper Fig. 3): every column shares z (np.random.RandomState(seed).randn), '
                    'every row shares a fingerprint (np.random.RandomState(seed).randint(0, 2), the one '
                    '"bake --watermark-seed" uses). A baked copy gives one row, its own fingerprint.')
    add_network(sub)
    sub.add_argument('--latent-seeds', type=_seeds, required=True, help='one column per seed, e.g. 0-7')
    sub.add_argument('--watermark-seeds', type=_seeds, default=list(range(5)),
                     help='one row per seed, e.g. 0-4 (default: 0-4)')
    sub.add_argument('--output', metavar='PNG',
                     help='write the grid to this file instead of grid.png in a new run directory')
    add_result_dir(sub)
    add_batch(sub)
    sub.set_defaults(func=_cmd_generate_grid)

    sub = commands.add_parser(
        'bake', help='fold a fingerprint into the weights: a copy to deploy',
        description='Write a pickle holding one generator with inputs (latents_in, labels_in) that makes the '
                    'images G(z, c0) makes for the fingerprint c0: the per-layer modulation of c0 is folded into '
                    'the conv weights, and the mapping network, the decoder and the discriminator are left out. '
                    'The fingerprint is printed and recorded in the network\'s static kwargs (watermark_bits).')
    add_network(sub)
    which = sub.add_mutually_exclusive_group(required=True)
    which.add_argument('--watermark', metavar='BITS', help='the fingerprint: one 0/1 character per bit')
    which.add_argument('--watermark-seed', type=_seed, metavar='N',
                       help='draw the fingerprint with np.random.RandomState(N).randint(0, 2, bits)')
    sub.add_argument('--output', required=True, metavar='PKL', help='the baked pickle to write')
    sub.add_argument('--verify', action='store_true',
                     help='before writing, compare the copy with G(z, c0) on 4 latents (fails above %g)'
                          % VERIFY_TOLERANCE)
    sub.set_defaults(func=_cmd_bake)

    sub = commands.add_parser(
        'inspect', help='what a pickle holds, read without building or running anything',
        description='Print each network of a pickle (or .npz weights file): its build function, whether this '
                    'project rebuilds it when loading (else only its embedded source could), keyword arguments, '
                    'variables and shapes, and the sha256 of the embedded source with whether it equals this '
                    'project\'s current source. Nothing in the file is executed.')
    add_network(sub, trust=False)
    sub.set_defaults(func=_cmd_inspect)

    sub = commands.add_parser(
        'export', help='write the networks as a .npz weights file, readable without pickle',
        description='Write the networks of a pickle to a .npz file: one array per variable and a JSON header '
                    '(names, shapes, build functions, keyword arguments). Every front loads it like a pickle, '
                    'and NumPy reads it with allow_pickle=False.')
    add_network(sub)
    sub.add_argument('--output', required=True, metavar='NPZ', help='the .npz file to write')
    sub.set_defaults(func=_cmd_export)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error('missing command (generate-images, generate-grid, bake, inspect or export); see --help')
    cli.init_tf_for_command(args)
    try:
        args.func(args)
    except (ValueError, OSError) as exc:
        parser.exit(1, '%s %s: error: %s\n' % (parser.prog, args.command, exc))


if __name__ == '__main__':
    main()
