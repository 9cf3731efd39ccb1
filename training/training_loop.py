"""The training loop: towers, lazy regularisation, Gs moving average, ticks,
image and network snapshots, metrics, resume, and nothing lost on failure."""

import json
import os
import re
import resource
import time

import numpy as np
import tensorflow as tf

import dnnlib
import dnnlib.tflib as tflib
from dnnlib.tflib.autosummary import autosummary, save_summaries
from training import consistency as consistency_lib
from training import dataset as dataset_lib
from training import loss as loss_lib
from training.images import save_image_grid
from training import misc

tfv1 = tf.compat.v1


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


def snapshot_name(kimg):
    return 'network-snapshot-%06d' % int(kimg)


def load_progress(pkl_path):
    """Training progress saved beside a snapshot (kimg, time, tick); from the file name for the authors' snapshots."""
    meta_path = os.path.splitext(pkl_path)[0] + '.json'
    if os.path.isfile(meta_path):
        with open(meta_path) as f:
            return json.load(f)
    match = re.search(r'snapshot-(\d+)\.pkl$', os.path.basename(pkl_path))
    return {'cur_nimg': int(match.group(1)) * 1000 if match else 0, 'total_time': 0.0, 'cur_tick': 0}


def save_snapshot(run_dir, networks, progress):
    """Write network-snapshot-<kimg>.pkl (E, G, D, Gs) and its progress .json, each atomically."""
    name = snapshot_name(progress['cur_nimg'] // 1000)
    path = os.path.join(run_dir, name + '.pkl')
    misc.save_pkl(networks, path)
    save_progress(path, progress)
    return path


def save_progress(pkl_path, progress):
    """The progress .json beside a network pickle, which load_progress reads when a run resumes from it."""
    dnnlib.util.atomic_write_bytes(os.path.splitext(pkl_path)[0] + '.json', json.dumps(progress, indent=1).encode())


class SnapshotGrids:
    """The fixed latents and fingerprints behind the fakes-*.png grids, so grids of different kimg compare."""

    def __init__(self, training_set, latent_size, watermark_size, grid_size, seed=123):
        self.grid_size = grid_size
        cols, rows = grid_size
        rnd = np.random.RandomState(seed)
        num = cols * rows
        self.labels = training_set.get_random_labels_np(num)
        z = rnd.randn(num, latent_size).astype(np.float32)
        c = rnd.randint(0, 2, size=(num, watermark_size)).astype(np.float32)
        z_rows = np.repeat(z[:rows], cols, axis=0)        # one z per row
        c_rows = np.repeat(c[:rows], cols, axis=0)        # one fingerprint per row
        z_cols = np.tile(z[:cols], (rows, 1))
        c_cols = np.tile(c[:cols], (rows, 1))
        self.kinds = {
            'fakes-arbitrary': (z, c),
            'fakes-latents-same': (z_rows, c_cols),      # a row shares z: its images must look alike
            'fakes-watermarks-same': (z_cols, c_rows),   # a row shares the fingerprint
        }

    def save(self, Gs, run_dir, suffix, minibatch_size):
        fingerprinted = loss_lib.FINGERPRINT_INPUT in Gs.input_names
        for kind, (z, c) in self.kinds.items():
            if not fingerprinted and kind != 'fakes-arbitrary':
                continue  # the plain StyleGAN2: only z varies
            inputs = (z, self.labels, c) if fingerprinted else (z, self.labels)
            images = Gs.run(*inputs, is_validation=True, randomize_noise=False, minibatch_size=minibatch_size)
            save_image_grid(images, os.path.join(run_dir, '%s-%s.png' % (kind, suffix)), drange=(-1, 1),
                            grid_size=self.grid_size)


def _grid_size(resolution, num_images):
    cols = int(np.clip(1024 // resolution, 4, 16))
    rows = int(np.clip(768 // resolution, 4, 16))
    return cols, min(rows, max(1, int(np.ceil(num_images / cols))))


def _memory_gb():
    if tflib.num_gpus_available():
        return tf.config.experimental.get_memory_info('GPU:0')['peak'] / 2 ** 30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB on Linux


def _build_networks(training_set, G_args, D_args, E_args, resume_pkl, resume_trust_source):
    if resume_pkl is not None:
        print('Loading networks from %s...' % resume_pkl)
        E, G, D, Gs = misc.load_networks(resume_pkl, trust_source=resume_trust_source)
        if D is None or (E is None) != (E_args is None):
            raise ValueError('%s does not hold the networks of this run ((E, G, D, Gs), or (G, D, Gs) with '
                             '--no-fingerprint): cannot resume from it' % resume_pkl)
        return E, G, D, Gs
    shape = dict(num_channels=training_set.shape[0], resolution=training_set.shape[1],
                 label_size=training_set.label_size)
    print('Constructing networks...')
    G = tflib.Network('G', **G_args, **shape)
    D = tflib.Network('D', **D_args, **shape)
    E = None if E_args is None else tflib.Network('E', **E_args, **shape)  # None: the plain StyleGAN2
    return E, G, D, G.clone('Gs')


def build_training_graph(E, G, D, Gs, training_set, sampler, G_opt_args, D_opt_args, G_loss_args, D_loss_args,
                         num_gpus, minibatch_size, minibatch_gpu, G_smoothing_kimg=10.0, G_reg_interval=4,
                         D_reg_interval=16):
    """Losses on every tower, the optimizers and the Gs update. Returns an EasyDict with `lrate_in`,
    `train_ops` {'G', 'G_reg', 'D', 'D_reg'}, `Gs_update_op` and `run_round(round_index, feed)`."""
    round_size = minibatch_gpu * num_gpus
    multiplier = minibatch_size // round_size
    with tfv1.name_scope('Inputs'), tf.device('/cpu:0'):
        lrate_in = tfv1.placeholder(tf.float32, name='lrate_in', shape=[])
    optimizers = {}
    for name, args, reg_interval in (('G', G_opt_args, G_reg_interval), ('D', D_opt_args, D_reg_interval)):
        args = dict(args)
        ratio = reg_interval / (reg_interval + 1) if reg_interval else 1.0
        # Lazy regularisation: shrink lr and betas so the schedule matches an unregularised run.
        args['beta1'] = args.get('beta1', 0.9) ** ratio
        args['beta2'] = args.get('beta2', 0.999) ** ratio
        optimizers[name] = tflib.Optimizer(name='Train' + name, learning_rate=lrate_in * ratio,
                                           minibatch_multiplier=multiplier, **args)
        optimizers[name + '_reg'] = tflib.Optimizer(name='Reg' + name, share=optimizers[name],
                                                    minibatch_multiplier=multiplier)
    # G and the decoder minimise one loss with one optimizer, so they step from the same forward pass.
    GE_vars = dict(G.trainables)
    if E is not None:
        GE_vars.update(('E/' + name, var) for name, var in E.trainables.items())

    training_set.configure(round_size)
    splits = training_set.get_minibatch_split_tf(num_gpus)
    for tower in range(num_gpus):
        with tfv1.name_scope('Tower%d' % tower), tf.device(tflib.tower_device(tower)):
            reals, labels = splits[tower]
            reals = dataset_lib.images_to_float(reals)
            if E is None:
                G_loss = loss_lib.G_logistic_ns(G, D, training_set, minibatch_gpu, sampler)
            else:
                G_loss = loss_lib.G_watermark(G, D, E, training_set, minibatch_gpu, sampler, **G_loss_args)
            D_loss = loss_lib.D_logistic(G, D, training_set, minibatch_gpu, sampler, reals, labels)
            optimizers['G'].register_gradients(tf.reduce_mean(G_loss), GE_vars)
            optimizers['D'].register_gradients(tf.reduce_mean(D_loss), D.trainables)
            if G_reg_interval:
                G_reg = loss_lib.G_path_length_reg(G, training_set, minibatch_gpu, sampler)
                optimizers['G_reg'].register_gradients(tf.reduce_mean(G_reg * G_reg_interval), G.trainables)
            if D_reg_interval:
                D_reg = loss_lib.D_r1(D, reals, labels, **D_loss_args)
                optimizers['D_reg'].register_gradients(tf.reduce_mean(D_reg * D_reg_interval), D.trainables)
    train_ops = {name: optimizers[name].apply_updates() for name in ('G', 'D')}
    for name, interval in (('G_reg', G_reg_interval), ('D_reg', D_reg_interval)):
        if interval:
            train_ops[name] = optimizers[name].apply_updates()
    Gs_beta = 0.5 ** (minibatch_size / (G_smoothing_kimg * 1000.0)) if G_smoothing_kimg > 0 else 0.0
    Gs_update_op = Gs.setup_as_moving_average_of(G, beta=Gs_beta)

    def run_step(name, feed, extra_ops=()):
        for _ in range(multiplier - 1):
            tflib.run(optimizers[name].accumulate_op, feed)
        tflib.run([train_ops[name]] + list(extra_ops), feed)

    def run_round(round_index, feed):
        """One minibatch: G and decoder step, lazy G reg, D step with the Gs update (D does not read Gs), lazy D reg."""
        run_step('G', feed)
        if G_reg_interval and round_index % G_reg_interval == 0:
            run_step('G_reg', feed)
        run_step('D', feed, [Gs_update_op])
        if D_reg_interval and round_index % D_reg_interval == 0:
            run_step('D_reg', feed)

    return dnnlib.EasyDict(lrate_in=lrate_in, train_ops=train_ops, Gs_update_op=Gs_update_op,
                           run_step=run_step, run_round=run_round)


def training_loop(
        run_dir,
        G_args, D_args, E_args,
        G_opt_args, D_opt_args, G_loss_args, D_loss_args,
        dataset_args, tf_config=None,
        metric_arg_list=(),
        num_gpus=1,
        minibatch_size=16,
        minibatch_gpu=None,
        total_kimg=25000,
        lrate=0.002,
        G_smoothing_kimg=10.0,
        G_reg_interval=4,
        D_reg_interval=16,
        minibatch_repeats=4,
        kimg_per_tick=4,
        image_snapshot_ticks=10,
        network_snapshot_ticks=10,
        fingerprint_set_size=0,
        consistency_start_accuracy=None,
        consistency_ramp_kimg=0.0,
        consistency_initial_weight=0.0,
        consistency_late_weight=None,
        consistency_late_kimg=0.0,
        consistency_target_share=None,
        consistency_late_target_share=None,
        resume_pkl=None,
        resume_trust_source=False,
        seed=1000,
        precision='fp32'):
    """Train E, G, D (and Gs) and write everything into run_dir."""
    minibatch_gpu = minibatch_size // num_gpus if minibatch_gpu is None else minibatch_gpu
    if minibatch_size % (minibatch_gpu * num_gpus):
        raise ValueError('--minibatch %d must be a multiple of --minibatch-gpu %d x %d devices'
                         % (minibatch_size, minibatch_gpu, num_gpus))

    tf_config = dict(tf_config or {})
    if not tflib.num_gpus_available():
        tf_config.setdefault('num_cpu_devices', num_gpus)
    tf_config.setdefault('rnd.np_random_seed', seed)
    tflib.init_tf(tf_config)
    tflib.precision.set_precision(tflib.precision.resolve_and_report(precision, training=True))

    training_set = dataset_lib.load_dataset(verbose=True, **dataset_args)
    E, G, D, Gs = _build_networks(training_set, G_args, D_args, E_args, resume_pkl, resume_trust_source)
    progress = load_progress(resume_pkl) if resume_pkl else {'cur_nimg': 0, 'total_time': 0.0, 'cur_tick': 0}
    for net in (G, D, E):
        if net is not None:
            net.print_layers()

    latent_size = G.input_shapes[0][1]
    fingerprinted = loss_lib.FINGERPRINT_INPUT in G.input_names
    watermark_size = G.input_shapes[G.input_names.index(loss_lib.FINGERPRINT_INPUT)][1] if fingerprinted else 0
    sampler = loss_lib.FingerprintSampler(watermark_size, fingerprint_set_size, seed=seed)
    grids = SnapshotGrids(training_set, latent_size, watermark_size,
                          _grid_size(training_set.resolution, training_set.num_images))
    cols, rows = grids.grid_size
    reals, _ = training_set.get_minibatch_np(cols * rows)
    save_image_grid(reals, os.path.join(run_dir, 'reals.png'), drange=training_set.dynamic_range,
                    grid_size=grids.grid_size)
    if resume_pkl is None:
        grids.save(Gs, run_dir, 'init', minibatch_gpu)

    consistency = consistency_lib.make_schedule(
        G_loss_args.get('decoupleL2_weight', 2.0), progress, consistency_start_accuracy, consistency_ramp_kimg,
        consistency_initial_weight, consistency_late_weight, consistency_late_kimg, consistency_target_share,
        consistency_late_target_share)
    share_probe = consistency_lib.ShareProbe(training_set, latent_size, watermark_size) \
        if consistency.measures_share else None
    print('Building TensorFlow graph...')
    with tfv1.name_scope('Inputs'), tf.device('/cpu:0'):
        decouple_weight_in = tfv1.placeholder(tf.float32, name='decoupleL2_weight_in', shape=[])
    G_loss_args = dict(G_loss_args, decoupleL2_weight=decouple_weight_in)
    graph = build_training_graph(E, G, D, Gs, training_set, sampler, G_opt_args, D_opt_args, G_loss_args,
                                 D_loss_args, num_gpus, minibatch_size, minibatch_gpu, G_smoothing_kimg,
                                 G_reg_interval, D_reg_interval)
    tflib.init_uninitialized_vars()

    metrics = None
    if metric_arg_list:
        from metrics import metric_base  # pylint: disable=import-outside-toplevel
        metrics = metric_base.MetricGroup(metric_arg_list)

    summary_log = tfv1.summary.FileWriter(run_dir)
    print('Training for %g kimg...\n' % total_kimg)
    cur_nimg = int(progress['cur_nimg'])
    cur_tick = int(progress.get('cur_tick', 0))
    start_time = time.time() - float(progress.get('total_time', 0.0))
    tick_start_nimg = cur_nimg
    tick_start_time = time.time()
    maintenance_time = 0.0
    round_counter = 0
    last_snapshot = resume_pkl
    feed = {graph.lrate_in: lrate}

    def progress_now():
        return dict({'cur_nimg': cur_nimg, 'cur_tick': cur_tick, 'total_time': time.time() - start_time},
                    **consistency.state())

    def snapshot():
        return save_snapshot(run_dir, (E, G, D, Gs), progress_now())

    termination = dnnlib.util.TerminationSignal()
    try:
        while cur_nimg < total_kimg * 1000:
            feed[decouple_weight_in] = consistency.weight(cur_nimg)
            for _ in range(minibatch_repeats):
                graph.run_round(round_counter, feed)
                round_counter += 1
                cur_nimg += minibatch_size
                if cur_nimg >= total_kimg * 1000:
                    break

            done = cur_nimg >= total_kimg * 1000
            if cur_nimg < tick_start_nimg + kimg_per_tick * 1000 and not done:
                continue
            cur_tick += 1
            tick_time = time.time() - tick_start_time
            tick_kimg = (cur_nimg - tick_start_nimg) / 1000.0
            total_time = time.time() - start_time
            autosummary('Progress/tick', cur_tick)
            autosummary('Progress/kimg', cur_nimg / 1000.0)
            autosummary('Timing/sec_per_tick', tick_time)
            autosummary('Timing/sec_per_kimg', tick_time / tick_kimg)
            autosummary('Timing/maintenance_sec', maintenance_time)
            autosummary('Schedule/decoupleL2_weight', feed[decouple_weight_in])
            maintenance_start = time.time()
            share = share_probe.measure(Gs, minibatch_gpu) if share_probe else None
            if share is not None:
                autosummary('Schedule/fingerprint_share', share)
            stats = save_summaries(summary_log, cur_nimg)
            bit_accuracy = stats.get('Watermark/bit_accuracy')  # None without a decoder (--no-fingerprint)
            tick_line = ('tick %-5d kimg %-8.1f minibatch %-4d time %-12s sec/tick %-7.1f sec/kimg %-7.2f '
                         'maintenance %-6.1f mem %-5.2f%s%s' % (
                             cur_tick, cur_nimg / 1000.0, minibatch_size, dnnlib.util.format_time(total_time),
                             tick_time, tick_time / tick_kimg, maintenance_time, _memory_gb(),
                             '' if bit_accuracy is None else ' bit_acc %.4f' % bit_accuracy,
                             '' if share is None else '  lambda4 %-7.3g share %.4f' % (
                                 feed[decouple_weight_in], share)))
            print(tick_line.rstrip(), flush=True)  # the padded columns leave no trailing blank
            consistency.update(cur_nimg, bit_accuracy or 0.0, share)
            bad = [name for name in ('Loss/G/total', 'Loss/D/total') if not np.isfinite(stats.get(name, 0.0))]
            if bad:
                raise TrainingDiverged('%s became NaN or infinite at %.1f kimg; the last good snapshot is %s'
                                       % (' and '.join(bad), cur_nimg / 1000.0, last_snapshot or 'none'))
            if image_snapshot_ticks and (cur_tick % image_snapshot_ticks == 0 or done):
                grids.save(Gs, run_dir, '%06d' % (cur_nimg // 1000), minibatch_gpu)
            if network_snapshot_ticks and (cur_tick % network_snapshot_ticks == 0 or done):
                last_snapshot = snapshot()
                if metrics is not None:
                    dataset_kwargs = {k: v for k, v in dataset_args.items() if k != 'data_dir'}
                    metrics.run_networks(E, Gs, os.path.splitext(os.path.basename(last_snapshot))[0],
                                         run_dir=run_dir, data_dir=dataset_args.get('data_dir'),
                                         dataset_args=dataset_kwargs, num_gpus=num_gpus)
            maintenance_time = time.time() - maintenance_start
            tick_start_nimg = cur_nimg
            tick_start_time = time.time()
    except KeyboardInterrupt as interrupt:
        termination.hold()
        print('\nInterrupted%s at %.1f kimg: writing a snapshot...' % (
            ' by %s' % interrupt.args[0] if interrupt.args else '', cur_nimg / 1000.0), flush=True)
        print('Saved %s' % snapshot())
        raise
    finally:
        termination.restore()

    final = os.path.join(run_dir, 'network-final.pkl')
    misc.save_pkl((E, G, D, Gs), final)
    save_progress(final, progress_now())  # so that --resume-pkl=network-final.pkl continues the kimg count
    summary_log.close()
    print('Done: %s' % final)
    return final
