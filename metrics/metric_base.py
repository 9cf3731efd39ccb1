"""What every metric shares: evaluation on a network pickle or on networks in
memory, random generator inputs, multi-tower evaluation graphs, result lines in
`metric-<name>.txt` and the `Metrics/...` TensorBoard summaries.

A metric subclass implements `_evaluate(E, Gs, Gs_kwargs, num_gpus)` and calls
`_report_result(value, suffix, fmt)` for each number it measures. Most metrics
evaluate Gs on fresh random inputs through `_run_on_generated`, which builds
`_tower_outputs(...)` once per tower and runs it until `num_images` rows.
"""

import os
import time
from collections import OrderedDict

import numpy as np
import tensorflow as tf

import dnnlib
import dnnlib.tflib as tflib
from training import dataset
from training import loss
from training import misc

tfv1 = tf.compat.v1

DEFAULT_GS_KWARGS = dict(is_validation=True)
PROGRESS_INTERVAL_SEC = 60

LATENTS_INPUT = 'latents_in'
LABELS_INPUT = 'labels_in'
FINGERPRINT_INPUT = loss.FINGERPRINT_INPUT


class MetricError(Exception):
    """A problem with what a metric was given (networks, data set, files); its message is the whole report."""


def random_fingerprints_tf(minibatch_size, num_bits):
    """Fingerprints c ~ Bernoulli(0.5)^num_bits as float32 0/1, [minibatch_size, num_bits]."""
    return tf.cast(tf.random.uniform([minibatch_size, num_bits]) < 0.5, tf.float32)


def kwargs_key(kwargs):
    """A hashable, order-independent stand-in for a kwargs dict in graph-cache keys."""
    return repr(sorted(kwargs.items()))


def generate_tf(Gs, inputs, Gs_kwargs):
    """Gs's images of inputs given by Gs input name."""
    return Gs.get_output_for(*[inputs[name] for name in Gs.input_names], **Gs_kwargs)


class MetricBase:
    """One metric. name: its registry name, used in result lines and file names;
    num_images: how many generated images it measures; minibatch_per_gpu: images per tower and step."""

    needs_dataset = False         # it reads real images, so it needs a data set
    uses_feature_network = False  # it takes the Inception feature network (kwarg `inception`)
    needs_fingerprint = False     # it needs a fingerprinting generator (and its decoder)

    def __init__(self, name, num_images, minibatch_per_gpu=8):
        if int(num_images) < 1 or int(minibatch_per_gpu) < 1:
            raise ValueError('metric %s: num_images and minibatch_per_gpu must be positive' % name)
        self.name = name
        self.num_images = int(num_images)
        self.minibatch_per_gpu = int(minibatch_per_gpu)
        self._results = []
        self._network_name = None
        self._eval_time = 0.0
        self._context = dnnlib.EasyDict()
        self._graph = None
        self._graph_cache = {}
        self._progress_time = None

    # ------------------------------------------------------------------------
    # Entry points.

    def run(self, network_pkl, run_dir=None, data_dir=None, dataset_args=None, mirror_augment=False, num_gpus=1,
            tf_config=None, log_results=True, Gs_kwargs=None, network_name=None, trust_source=False):
        """Evaluate the (E, G, D, Gs) of a network pickle (path or URL) in a graph and session of their own.

        tf_config: session options as for tflib.init_tf; without GPUs, `num_gpus`
        towers run on as many logical CPU devices. network_name: its name in the
        results (default: the file name without .pkl). trust_source: see
        training.misc.load_pkl. Returns {name+suffix: value}.
        """
        tf_config = dict(tf_config or {})
        tf_config.setdefault('num_cpu_devices', num_gpus)
        if network_name is None:
            network_name = os.path.splitext(os.path.basename(str(network_pkl).rstrip('/')))[0]
        graph = tf.Graph()
        try:
            with graph.as_default(), tflib.create_session(tf_config).as_default():
                E, _G, _D, Gs = misc.load_networks(network_pkl, trust_source=trust_source)
                return self.run_networks(E, Gs, network_name, run_dir=run_dir, data_dir=data_dir,
                                         dataset_args=dataset_args, mirror_augment=mirror_augment,
                                         num_gpus=num_gpus, log_results=log_results, Gs_kwargs=Gs_kwargs)
        finally:
            if self._graph is graph:
                self._graph, self._graph_cache = None, {}  # that graph is done with; let it be freed

    def run_networks(self, E, Gs, network_name, run_dir=None, data_dir=None, dataset_args=None,
                     mirror_augment=False, num_gpus=1, log_results=True, Gs_kwargs=None):
        """Evaluate networks in memory (E may be None) in the default graph and session.

        The training loop calls this on its current E and Gs: the graph parts are
        built on the first call and reused while the networks and settings stay
        the same, so repeated evaluations add nothing to the graph.
        dataset_args: load_dataset kwargs (at least tfrecord_dir) for metrics that
        read real images or a conditional generator's labels; the real images are
        mirrored at random if mirror_augment or dataset_args['mirror_augment'] is set. Gs_kwargs: keyword
        arguments of Gs (default is_validation=True). With log_results,
        the result line is printed, appended to <run_dir>/metric-<name>.txt and
        reported to autosummary as Metrics/<name><suffix>. Returns {name+suffix: value}.
        """
        start = time.time()
        self._results = []
        self._network_name = network_name
        dataset_args = dict(dataset_args or {})
        self._context = dnnlib.EasyDict(run_dir=run_dir, data_dir=data_dir, dataset_args=dataset_args,
                                        mirror_augment=bool(mirror_augment or dataset_args.get('mirror_augment')),
                                        resolution=int(Gs.output_shape[-1]))
        self._progress_time = start
        self._evaluate(E, Gs, dict(DEFAULT_GS_KWARGS if Gs_kwargs is None else Gs_kwargs), num_gpus)
        self._eval_time = time.time() - start
        if log_results:
            line = self.get_result_str()
            print(line)
            if run_dir is not None:
                log_file = os.path.join(run_dir, 'metric-%s.txt' % self.name)
                previous = b''
                if os.path.isfile(log_file):
                    with open(log_file, 'rb') as f:
                        previous = f.read()
                dnnlib.util.atomic_write_bytes(log_file, previous + (line + '\n').encode('utf-8'))
            self.update_autosummaries()
        return self.get_results()

    # ------------------------------------------------------------------------
    # Results.

    def get_results(self):
        """{'<name><suffix>': value} of the last evaluation, in report order."""
        return OrderedDict((self.name + res.suffix, res.value) for res in self._results)

    def get_result_str(self):
        """'<network>  time <duration>  <name><suffix> <value> ...': one line per evaluation."""
        text = '%-30s time %-12s' % (self._network_name, dnnlib.util.format_time(self._eval_time))
        for res in self._results:
            text += ' %s%s %s' % (self.name, res.suffix, res.fmt % res.value)
        return text.rstrip()

    def update_autosummaries(self):
        for res in self._results:
            tflib.autosummary.autosummary('Metrics/' + self.name + res.suffix, res.value)

    def _report_result(self, value, suffix='', fmt='%-10.4f'):
        self._results.append(dnnlib.EasyDict(value=float(value), suffix=suffix, fmt=fmt))

    # ------------------------------------------------------------------------
    # For subclasses.

    def _evaluate(self, E, Gs, Gs_kwargs, num_gpus):
        raise NotImplementedError

    def _tower_outputs(self, E, images, labels, fingerprints):
        """{key: tensor with one row per image} measured on one tower's generated images.

        images: Gs output, NCHW in [-1, 1]; labels and fingerprints: what Gs was
        given, None for an input Gs does not have."""
        raise NotImplementedError

    def _cached(self, key, build):
        """build() once per default graph and key (a tuple; networks compare by identity)."""
        graph = tfv1.get_default_graph()
        if self._graph is not graph:
            self._graph, self._graph_cache = graph, {}
        if key not in self._graph_cache:
            self._graph_cache[key] = build()
        return self._graph_cache[key]

    def _run_on_generated(self, E, Gs, Gs_kwargs, num_gpus):
        """_tower_outputs on num_images images of fresh random inputs: {key: array [num_images, ...]}."""

        def build_tower():
            inputs = self._random_inputs_tf(Gs, self.minibatch_per_gpu)
            images = generate_tf(Gs, inputs, Gs_kwargs)
            return self._tower_outputs(E, images, inputs.get(LABELS_INPUT), inputs.get(FINGERPRINT_INPUT))

        return self._run_towers(('generated', E, Gs, num_gpus, kwargs_key(Gs_kwargs)), build_tower, num_gpus)

    def _run_towers(self, key, build_tower, num_gpus):
        """build_tower() (-> {key: tensor}) once per tower, cached under key; run until num_images rows."""

        def build():
            towers = []
            for tower in range(num_gpus):
                with tf.device(tflib.tower_device(tower)):
                    towers.append(build_tower())
            return towers

        return self._collect(self._cached(key, build), num_gpus)

    def _collect(self, towers, num_gpus):
        """Run per-tower {key: tensor} dicts until num_images rows: {key: array [num_images, ...]}."""
        minibatch_size = self.minibatch_per_gpu * num_gpus
        parts = {key: [] for key in towers[0]}
        for begin in range(0, self.num_images, minibatch_size):
            self._report_progress(begin)
            for tower_values in tflib.run(towers):
                for key, value in tower_values.items():
                    parts[key].append(value)
        return {key: np.concatenate(values)[:self.num_images] for key, values in parts.items()}

    def _random_inputs_tf(self, Gs, minibatch_size):
        """Random z, labels (from the data set when Gs is conditional) and fingerprints, by Gs input name."""
        inputs = {}
        for name, shape in zip(Gs.input_names, Gs.input_shapes):
            if name == LATENTS_INPUT:
                inputs[name] = tf.random.normal([minibatch_size] + shape[1:])
            elif name == LABELS_INPUT:
                inputs[name] = self._random_labels_tf(minibatch_size, shape[1])
            elif name == FINGERPRINT_INPUT:
                inputs[name] = random_fingerprints_tf(minibatch_size, shape[1])
            else:
                raise MetricError('generator input %r is not one of %s, %s, %s'
                                  % (name, LATENTS_INPUT, LABELS_INPUT, FINGERPRINT_INPUT))
        return inputs

    def _random_labels_tf(self, minibatch_size, label_size):
        if label_size == 0:
            return tf.zeros([minibatch_size, 0])
        return self._dataset().get_random_labels_tf(minibatch_size)

    def _dataset_kwargs(self):
        """load_dataset kwargs: the given dataset_args read in order, at the generator's resolution."""
        kwargs = dict(self._context.dataset_args)
        if not kwargs.get('tfrecord_dir'):
            raise MetricError('metric %s needs a data set (--dataset) for real images or labels' % self.name)
        kwargs.update(shuffle_mb=0, repeat=True, mirror_augment=self._context.mirror_augment)
        kwargs.setdefault('resolution', self._context.resolution)
        return kwargs

    def _dataset(self):
        kwargs = self._dataset_kwargs()
        return self._cached(('dataset', self._context.data_dir, kwargs_key(kwargs)),
                            lambda: dataset.load_dataset(data_dir=self._context.data_dir, **kwargs))

    def _cache_dir(self):
        """Where computed statistics of real images are kept: beside the run directories, or
        under $DNNLIB_CACHE_DIR (default ~/.cache/dnnlib) when that is set or there is no run directory."""
        if 'DNNLIB_CACHE_DIR' not in os.environ and self._context.run_dir is not None:
            return os.path.join(os.path.dirname(os.path.abspath(self._context.run_dir)), 'metric-cache')
        return os.path.join(dnnlib.util.default_cache_dir(), 'metric-cache')

    def _report_progress(self, done):
        now = time.time()
        if now - self._progress_time >= PROGRESS_INTERVAL_SEC:
            self._progress_time = now
            print('%s: %d / %d images' % (self.name, done, self.num_images), flush=True)


class MetricGroup:
    """Several metrics, built from registry entries (EasyDicts with func_name, name and kwargs)."""

    def __init__(self, metric_kwarg_list):
        self.metrics = [dnnlib.util.call_func_by_name(**kwargs) for kwargs in metric_kwarg_list]

    def run(self, *args, **kwargs):
        for metric in self.metrics:
            metric.run(*args, **kwargs)

    def run_networks(self, *args, **kwargs):
        for metric in self.metrics:
            metric.run_networks(*args, **kwargs)

    def get_result_str(self):
        return ' '.join(metric.get_result_str() for metric in self.metrics)

    def update_autosummaries(self):
        for metric in self.metrics:
            metric.update_autosummaries()
