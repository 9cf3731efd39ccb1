"""Print the training speed (sec/kimg) of a configuration, given with run_training.py's flags.

    python benchmarks/bench_training.py --data-dir=DATA --dataset=demo32 --config=config-e-Gskip-Dresnet \\
        --num-gpus=1 --watermark-size=32 --res-modulated-range=4-32 --fmap-base=1024 --fmap-max=128 \\
        --latent-size=128 --dlatent-size=128 --minibatch=16 [--rounds 32]

It builds the real training graph, runs warm-up rounds, then times each step
(G+decoder, D, lazy regularisers, Gs update) and a full round schedule.
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dnnlib.tflib as tflib  # noqa: E402
import run_training  # noqa: E402
from training import dataset as dataset_lib  # noqa: E402
from training import loss as loss_lib  # noqa: E402
from training import training_loop  # noqa: E402


def main():
    parser = run_training.build_parser()
    parser.add_argument('--rounds', type=int, default=32, help='timed minibatch rounds (default: 32)')
    parser.add_argument('--intra-threads', type=int, default=0, help='threads inside one op (default: 0, per core)')
    parser.add_argument('--inter-threads', type=int, default=0, help='ops run at once (default: 0, per core)')
    args = parser.parse_args()
    args.metrics = []
    _desc, cfg = run_training.make_config(args)
    run_training.check_inputs(args, cfg)
    num_gpus = cfg['num_gpus']
    tflib.init_tf({'num_cpu_devices': num_gpus, 'rnd.np_random_seed': cfg['seed'],
                   'intra_op_parallelism_threads': args.intra_threads,
                   'inter_op_parallelism_threads': args.inter_threads})
    training_set = dataset_lib.load_dataset(**cfg['dataset_args'])
    E, G, D, Gs = training_loop._build_networks(training_set, cfg['G_args'], cfg['D_args'], cfg['E_args'], None)  # pylint: disable=protected-access
    sampler = loss_lib.FingerprintSampler(G.input_shapes[2][1])
    minibatch = cfg['minibatch_size']
    minibatch_gpu = cfg['minibatch_gpu'] or minibatch // num_gpus
    graph = training_loop.build_training_graph(E, G, D, Gs, training_set, sampler, cfg['G_opt_args'],
                                               cfg['D_opt_args'], cfg['G_loss_args'], cfg['D_loss_args'], num_gpus,
                                               minibatch, minibatch_gpu)
    tflib.init_uninitialized_vars()
    feed = {graph.lrate_in: cfg['lrate']}
    for index in range(16):  # warm-up, every step kind included
        graph.run_round(index, feed)

    step_times = {}
    for name in graph.train_ops:
        times = []
        for _ in range(5):
            start = time.time()
            graph.run_step(name, feed)
            times.append(time.time() - start)
        step_times[name] = float(np.median(times))
    start = time.time()
    for index in range(args.rounds):
        graph.run_round(index, feed)
    per_round = (time.time() - start) / args.rounds
    print('steps (median s): ' + ', '.join('%s %.3f' % item for item in step_times.items()))
    print('%d rounds of %d images: %.3f s/round, %.1f sec/kimg' % (args.rounds, minibatch, per_round,
                                                                  per_round * 1000.0 / minibatch))


if __name__ == '__main__':
    main()
