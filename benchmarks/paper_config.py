"""The paper's configuration for benchmarks: command-line flags and the networks with random weights."""

import argparse

from dnnlib import cli

cli.import_tensorflow()

import dnnlib.tflib as tflib  # noqa: E402


def parser(description, repeats):
    """An argument parser with the paper's 128x128 defaults (resolution, fmap_base, fingerprint bits)."""
    result = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument('--resolution', type=int, default=128)
    result.add_argument('--fmap-base', type=int, default=8192)
    result.add_argument('--watermark-size', type=int, default=128)
    result.add_argument('--repeats', type=int, default=repeats)
    return result


def generator(args):
    """Gs of config-e with every resolution modulated, random weights (speed does not depend on training)."""
    tflib.init_tf({'rnd.np_random_seed': 0})
    return tflib.Network('Gs', func_name='training.networks_stylegan2.G_main_watermark', resolution=args.resolution,
                         fmap_base=args.fmap_base, latent_size=512, watermark_size=args.watermark_size,
                         res_modulated_range='4-%d' % args.resolution)


def decoder(args):
    """The decoder (E in pickles) of the same config, random weights; call after generator()."""
    return tflib.Network('E', func_name='training.networks_stylegan2.E_stylegan2_watermark', resolution=args.resolution,
                         fmap_base=args.fmap_base, latent_size=512, watermark_size=args.watermark_size)
