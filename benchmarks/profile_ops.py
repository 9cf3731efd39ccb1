"""Where the time goes: op time by op type for Gs.run, E.run or one training round, on this machine.

    python benchmarks/profile_ops.py gs [--precision fp32|bf16] [--resolution 128] [--batch 8]
    python benchmarks/profile_ops.py e  [--precision fp32|bf16] [--resolution 128] [--batch 8]
    python benchmarks/profile_ops.py training [--precision fp32|bf16] <run_training.py flags>

Each traced call is run with TensorFlow's full trace after warm-up calls; the
table sums each op's time (from its start to its end, so ops that ran at once
on the two cores both count) by op type, over --repeats traced calls, with its
share of the summed time and how many ops of that type ran. `training` traces
the four steps of one round (G and decoder, D with the Gs update, both lazy
regularisers) of the real training graph.
"""

import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import machine  # noqa: E402
import paper_config  # noqa: E402

tf = machine.tf

import dnnlib.tflib as tflib  # noqa: E402
from dnnlib.tflib import precision  # noqa: E402


def op_times(fetches, feed=None, repeats=3, warmup=2):
    """{op type: (summed microseconds, op count)} over `repeats` traced runs of fetches in the default session."""
    session = tf.compat.v1.get_default_session()
    for _ in range(warmup):
        session.run(fetches, feed)
    graph = session.graph
    totals = collections.defaultdict(lambda: [0, 0])
    for _ in range(repeats):
        metadata = tf.compat.v1.RunMetadata()
        session.run(fetches, feed, options=tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE),
                    run_metadata=metadata)
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                try:
                    op_type = graph.get_operation_by_name(node.node_name.split(':')[0]).type
                except KeyError:  # nodes TensorFlow added while running (e.g. _SOURCE, sends)
                    continue
                totals[op_type][0] += node.all_end_rel_micros
                totals[op_type][1] += 1
    return {op_type: (micros / repeats, count // repeats) for op_type, (micros, count) in totals.items()}


def print_table(title, times, top=16):
    total = sum(micros for micros, _ in times.values())
    print('%s: %.1f ms of op time per call' % (title, total / 1e3))
    ranked = sorted(times.items(), key=lambda item: -item[1][0])
    for op_type, (micros, count) in ranked[:top]:
        print('  %-34s %9.1f ms  %5.1f%%  %5d ops' % (op_type, micros / 1e3, 100.0 * micros / total, count))
    rest = sum(micros for _, (micros, _) in ranked[top:])
    if rest:
        print('  %-34s %9.1f ms  %5.1f%%' % ('(other types)', rest / 1e3, 100.0 * rest / total))


def profile_network(args):
    Gs = paper_config.generator(args)
    rnd = np.random.RandomState(0)
    with precision.scope(args.precision):
        if args.what == 'gs':
            z = tf.compat.v1.placeholder(tf.float32, [None, Gs.input_shapes[0][1]])
            c = tf.compat.v1.placeholder(tf.float32, [None, args.watermark_size])
            out = Gs.get_output_for(z, None, c, is_validation=True, randomize_noise=False)
            feed = {z: rnd.randn(args.batch, Gs.input_shapes[0][1]).astype(np.float32),
                    c: rnd.randint(0, 2, (args.batch, args.watermark_size)).astype(np.float32)}
        else:
            E = paper_config.decoder(args)
            images = tf.compat.v1.placeholder(tf.float32, [None, 3, args.resolution, args.resolution])
            out = E.get_output_for(images, None)
            feed = {images: rnd.uniform(-1, 1, (args.batch, 3, args.resolution, args.resolution)).astype(np.float32)}
    title = '%s.run %dx%d, batch %d, %s' % ('Gs' if args.what == 'gs' else 'E', args.resolution, args.resolution,
                                            args.batch, args.precision)
    print_table(title, op_times(out, feed, args.repeats))


def profile_training(argv, precision_name, repeats):
    import bench_training  # noqa: E402  (only this mode needs the training modules)
    import run_training  # noqa: E402
    parser = run_training.build_parser()
    parser.add_argument('--intra-threads', type=int, default=0)
    parser.add_argument('--inter-threads', type=int, default=0)
    args = parser.parse_args(argv)
    args.metrics = []
    _desc, cfg = run_training.make_config(args)
    run_training.check_inputs(args, cfg)
    tflib.init_tf({'rnd.np_random_seed': cfg['seed']})
    within = bench_training.build(cfg, precision_name, args)

    def profile(train, feed):
        steps = [[train.train_ops['G']], [train.train_ops['D'], train.Gs_update_op]]
        steps += [[train.train_ops[name]] for name in ('G_reg', 'D_reg') if name in train.train_ops]
        merged = collections.defaultdict(lambda: [0, 0])
        for fetches in steps:
            for op_type, (micros, count) in op_times(fetches, feed, repeats).items():
                merged[op_type][0] += micros
                merged[op_type][1] += count
        return {op_type: tuple(value) for op_type, value in merged.items()}

    title = 'training round (G, D + Gs, G_reg, D_reg), minibatch %d, %s' % (cfg['minibatch_size'], precision_name)
    print_table(title, within(profile))


def main():
    machine.print_header()
    if sys.argv[1:2] == ['training']:
        # The rest are run_training.py's flags (some share names with the paper-config flags above).
        training = argparse.ArgumentParser()
        training.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32')
        training.add_argument('--repeats', type=int, default=3)
        args, rest = training.parse_known_args(sys.argv[2:])
        profile_training(rest, args.precision, args.repeats)
        return
    parser = paper_config.parser(__doc__, repeats=3)
    parser.add_argument('what', choices=['gs', 'e', 'training'], help='what to profile')
    parser.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32')
    parser.add_argument('--batch', type=int, default=8)
    profile_network(parser.parse_args())


if __name__ == '__main__':
    main()
