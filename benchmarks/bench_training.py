"""Print the training speed (sec/kimg) of a configuration, given with run_training.py's flags,
in float32 and in bfloat16 side by side (one process, A B A B).

    python benchmarks/bench_training.py --data-dir=DATA --dataset=demo32 --config=config-e-Gskip-Dresnet \\
        --num-gpus=1 --watermark-size=32 --res-modulated-range=4-32 --fmap-base=1024 --fmap-max=128 \\
        --latent-size=128 --dlatent-size=128 --minibatch=16 [--rounds 16] [--repeats 2] [--precisions fp32 bf16]

For each precision it builds the real training graph (in a graph and session of
its own), runs warm-up rounds and times each step (G+decoder, D, lazy
regularisers, Gs update); then it times blocks of full round schedules, the
precisions taking turns.
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine  # noqa: E402

tf = machine.tf

import dnnlib.tflib as tflib  # noqa: E402
import run_training  # noqa: E402
from dnnlib.tflib import precision  # noqa: E402
from training import dataset as dataset_lib  # noqa: E402
from training import loss as loss_lib  # noqa: E402
from training import training_loop  # noqa: E402


def build(cfg, precision_name, args):
    """A training graph in a graph and session of its own; returns a function that runs it in them."""
    num_gpus = cfg['num_gpus']
    graph = tf.Graph()
    with graph.as_default(), precision.scope(precision_name):
        session = tflib.create_session({'num_cpu_devices': num_gpus, 'intra_op_parallelism_threads': args.intra_threads,
                                        'inter_op_parallelism_threads': args.inter_threads})
        with session.as_default():
            tf.compat.v1.set_random_seed(cfg['seed'])
            training_set = dataset_lib.load_dataset(**cfg['dataset_args'])
            E, G, D, Gs = training_loop._build_networks(training_set, cfg['G_args'], cfg['D_args'], cfg['E_args'], None, False)  # pylint: disable=protected-access
            sampler = loss_lib.FingerprintSampler(G.input_shapes[2][1])
            minibatch = cfg['minibatch_size']
            train = training_loop.build_training_graph(E, G, D, Gs, training_set, sampler, cfg['G_opt_args'],
                                                       cfg['D_opt_args'], cfg['G_loss_args'], cfg['D_loss_args'],
                                                       num_gpus, minibatch, cfg['minibatch_gpu'] or minibatch // num_gpus)
            tflib.init_uninitialized_vars()
    feed = {train.lrate_in: cfg['lrate']}

    def within(fn):
        with graph.as_default(), session.as_default():
            return fn(train, feed)
    return within


def step_medians(train, feed):
    result = {}
    for name in train.train_ops:
        times = []
        for _ in range(5):
            start = time.time()
            train.run_step(name, feed)
            times.append(time.time() - start)
        result[name] = float(np.median(times))
    return result


def main():
    machine.print_header()
    parser = run_training.build_parser()
    parser.add_argument('--rounds', type=int, default=16, help='minibatch rounds per timed block (default: 16)')
    parser.add_argument('--repeats', type=int, default=2, help='timed blocks per precision (default: 2)')
    parser.add_argument('--precisions', nargs='+', choices=['fp32', 'bf16'], default=['fp32', 'bf16'],
                        help='precisions to time side by side (default: fp32 bf16; --precision is not used)')
    parser.add_argument('--intra-threads', type=int, default=0, help='threads inside one op (default: 0, per core)')
    parser.add_argument('--inter-threads', type=int, default=0, help='ops run at once (default: 0, per core)')
    args = parser.parse_args()
    args.metrics = []
    _desc, cfg = run_training.make_config(args)
    run_training.check_inputs(args, cfg)
    tflib.init_tf({'rnd.np_random_seed': cfg['seed']})
    minibatch = cfg['minibatch_size']
    runners = {p: build(cfg, p, args) for p in args.precisions}

    def rounds(train, feed, count):
        for index in range(count):
            train.run_round(index, feed)

    for p, within in runners.items():
        within(lambda train, feed: rounds(train, feed, 16))  # warm-up, every step kind included
        steps = within(step_medians)
        print('%s steps (median s): %s' % (p, ', '.join('%s %.3f' % item for item in steps.items())), flush=True)
    per_kimg = {p: [] for p in runners}
    for _ in range(args.repeats):
        for p, within in runners.items():
            start = time.time()
            within(lambda train, feed: rounds(train, feed, args.rounds))
            per_kimg[p].append((time.time() - start) / args.rounds * 1000.0 / minibatch)
            print('%s: %d rounds of %d images, %.1f sec/kimg' % (p, args.rounds, minibatch, per_kimg[p][-1]), flush=True)
    medians = {p: float(np.median(v)) for p, v in per_kimg.items()}
    print('median sec/kimg: ' + ', '.join('%s %.1f' % item for item in medians.items())
          + ('; fp32/bf16 time %.2fx' % (medians['fp32'] / medians['bf16']) if len(medians) == 2 else ''))


if __name__ == '__main__':
    main()
