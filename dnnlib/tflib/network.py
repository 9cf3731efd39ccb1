"""The pickleable Network: a build function plus its variables.

A Network owns the variables its build function creates under the network's
scope; `get_output_for` builds the function again on new inputs, reusing
them. A pickle holds the build function's module source, so it can be loaded
without the code that made it. The pickle format is that of NVIDIA's
StyleGAN2 code (state version 4), so the authors' released pickles load and
ours load in their code.
"""

import contextlib
import hashlib
import inspect
import re
import sys
import types
from collections import OrderedDict

import numpy as np
import tensorflow as tf

from .. import util
from . import tfutil
from . import tf1_compat

tfv1 = tf.compat.v1

_import_handlers = []        # Functions that upgrade the state of old pickles: state -> state.
_import_module_src = {}      # Module created from pickled source -> that source.
_PICKLED_MODULE_PREFIX = '_network_module_'  # name of every module made from pickled source
_modules_by_source = {}      # Source digest -> module, so one source is executed once per process.


_known_build_funcs = {}      # Build function name -> this project's function, for loading without pickled source.


def import_handler(handler_func):
    """Register a function that rewrites pickled state before it is loaded."""
    _import_handlers.append(handler_func)
    return handler_func


def register_build_funcs(*funcs):
    """Declare build functions whose pickled networks may be rebuilt from this code instead of the
    source embedded in the pickle (see Network.from_state); registered by bare function name."""
    for func in funcs:
        if func.__module__.startswith(_PICKLED_MODULE_PREFIX):
            continue  # a trusted pickle's source registering its own functions never replaces this project's
        _known_build_funcs[func.__name__] = func


def known_build_func(name):
    """The registered build function of that name, or None."""
    return _known_build_funcs.get(name)


def registered_build_funcs():
    return list(_known_build_funcs.values())


def _upgraded_state(state):
    for handler in _import_handlers:
        state = handler(state)
    if state.get('version') not in (2, 3, 4):
        raise ValueError('unsupported network pickle version %r' % state.get('version'))
    return state


def _variable_table(state):
    """{local name: value} of a pickled network state and its components, named as Network.vars names them."""
    table = OrderedDict(state['variables'])
    for comp in state.get('components', {}).values():
        table.update((comp['name'] + '/' + name, value) for name, value in _variable_table(comp).items())
    return table


def _mismatch(net, given):
    """What differs between the variables a build made and those a pickle holds; '' when they agree."""
    built = {name: tfutil.shape_to_list(var.shape) for name, var in net.vars.items()}
    problems = ['no variable %s in the file' % name for name in built if name not in given]
    problems += ['unexpected variable %s' % name for name in given if name not in built]
    problems += ['%s has shape %s, the build makes %s' % (name, list(np.shape(given[name])), built[name])
                 for name in built if name in given and list(np.shape(given[name])) != built[name]]
    if not problems:
        return ''
    more = ' (and %d more)' % (len(problems) - 3) if len(problems) > 3 else ''
    return '; '.join(problems[:3]) + more


def _module_from_source(source):
    digest = hashlib.sha1(source.encode('utf-8')).hexdigest()
    module = _modules_by_source.get(digest)
    if module is None:
        name = _PICKLED_MODULE_PREFIX + digest[:16]
        module = types.ModuleType(name)
        # The source may be written for TF 1.x (`import tensorflow as tf`, tf.get_variable, NCHW convs).
        module.__dict__['__builtins__'] = tf1_compat.builtins_for_legacy_source()
        sys.modules[name] = module
        exec(compile(source, name, 'exec'), module.__dict__)  # pylint: disable=exec-used
        _modules_by_source[digest] = module
        _import_module_src[module] = source
    return module


@contextlib.contextmanager
def _tf1_shapes():
    """Build functions run with TF1 shape semantics (x.shape[1].value), as the authors' source expects."""
    was_v2 = isinstance(tf.TensorShape([1])[0], int)
    tfv1.disable_v2_tensorshape()
    try:
        yield
    finally:
        if was_v2:
            tfv1.enable_v2_tensorshape()


def _as_list(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _apply_transform(transform, tensors):
    """dict(func=function or dotted name, **kwargs) applied to a list of tensors."""
    kwargs = dict(transform)
    func = kwargs.pop('func')
    func = util.get_obj_by_name(func) if isinstance(func, str) else func
    return _as_list(func(*tensors, **kwargs))


class Network:
    """A network: its build function, static arguments, components and variables.

    Network(name, func_name=..., **static_kwargs): func_name is a dotted name or
    a module-level function. The build function takes the inputs as positional
    arguments without defaults, returns the output(s), and receives
    `is_template_graph` and `components` as keyword arguments.
    """

    def __init__(self, name=None, func_name=None, **static_kwargs):
        tfutil.assert_tf_initialized()
        assert func_name is not None
        if callable(func_name):
            func_name = util.get_top_level_function_name(func_name)
        module, self._build_func_name = util.get_module_from_obj_name(func_name)
        self._build_func = util.get_obj_from_module(module, self._build_func_name)
        self._build_module_src = _import_module_src.get(module)
        if self._build_module_src is None:
            self._build_module_src = inspect.getsource(module)
        self.name = name if name is not None else self._build_func_name
        self.static_kwargs = util.EasyDict(static_kwargs)
        self.components = util.EasyDict()
        self._init_graph()
        self.reset_own_vars()

    # ------------------------------------------------------------------------
    # Graph construction.

    def _init_graph(self):
        assert re.match(r'^[A-Za-z0-9_.\-]*$', self.name), 'invalid network name %r' % self.name
        sig = inspect.signature(self._build_func)
        self.input_names = [p.name for p in sig.parameters.values()
                            if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
        assert self.input_names, 'build function %s takes no inputs' % self._build_func_name
        self._run_cache = {}

        build_kwargs = dict(self.static_kwargs, is_template_graph=True, components=self.components)
        with tfv1.name_scope(None):
            self.scope = tfv1.get_default_graph().unique_name(self.name, mark_as_used=True)
        with tfutil.absolute_variable_scope(self.scope, reuse=False), tfutil.absolute_name_scope(self.scope), \
                tf.control_dependencies(None), _tf1_shapes():
            self.input_templates = [tfv1.placeholder(tf.float32, name=name) for name in self.input_names]
            self.output_templates = _as_list(self._build_func(*self.input_templates, **build_kwargs))
        unshaped = [t.name.split(':')[0] for t in self.input_templates + self.output_templates
                    if t.shape.ndims is None]
        if unshaped:
            raise ValueError('network %r: %s builds no shape for %s'
                             % (self.name, self._build_func_name, ', '.join(unshaped)))
        self.output_names = [t.name.split('/')[-1].split(':')[0] for t in self.output_templates]
        self.input_shapes = [tfutil.shape_to_list(t.shape) for t in self.input_templates]
        self.output_shapes = [tfutil.shape_to_list(t.shape) for t in self.output_templates]
        self.input_shape = self.input_shapes[0]
        self.output_shape = self.output_shapes[0]

        self.own_vars = OrderedDict((var.name[len(self.scope) + 1:].split(':')[0], var)
                                    for var in tfv1.global_variables(self.scope + '/'))
        self.vars = OrderedDict(self.own_vars)
        self.vars.update((comp.name + '/' + name, var) for comp in self.components.values() for name, var in comp.vars.items())
        self.trainables = OrderedDict((name, var) for name, var in self.vars.items() if var.trainable)

    @property
    def num_inputs(self):
        return len(self.input_names)

    @property
    def num_outputs(self):
        return len(self.output_templates)

    def get_output_for(self, *in_expr, return_as_list=False, **dynamic_kwargs):
        """Build the network on the given input expressions (None = zeros) and return its output(s)."""
        assert len(in_expr) == self.num_inputs, '%s takes %d inputs' % (self.name, self.num_inputs)
        valid = [expr for expr in in_expr if expr is not None]
        assert valid, 'at least one input must be given'
        build_kwargs = dict(self.static_kwargs)
        build_kwargs.update(dynamic_kwargs)
        build_kwargs.update(is_template_graph=False, components=self.components)
        with tfutil.absolute_variable_scope(self.scope, reuse=True), tfv1.name_scope(self.name), _tf1_shapes():
            final_inputs = []
            for expr, name, shape in zip(in_expr, self.input_names, self.input_shapes):
                if expr is None:
                    expr = tf.zeros([tf.shape(valid[0])[0]] + shape[1:], name=name)
                else:
                    expr = tf.identity(expr, name=name)
                final_inputs.append(expr)
            out_expr = _as_list(self._build_func(*final_inputs, **build_kwargs))
        # The shapes the build function set on its inputs go back to the caller's tensors: a parent
        # network that leaves its own inputs unshaped (the authors' G_main_watermark) learns them here.
        for expr, final in zip(in_expr, final_inputs):
            if isinstance(expr, tf.Tensor):
                expr.set_shape(final.shape)
        return out_expr if return_as_list else (out_expr[0] if len(out_expr) == 1 else tuple(out_expr))

    # ------------------------------------------------------------------------
    # Variables.

    def get_var_local_name(self, var_or_global_name):
        global_name = var_or_global_name if isinstance(var_or_global_name, str) else var_or_global_name.name
        return {var.name: name for name, var in self.vars.items()}[global_name]

    def find_var(self, var_or_local_name):
        return self.vars[var_or_local_name] if isinstance(var_or_local_name, str) else var_or_local_name

    def get_var(self, var_or_local_name):
        return self.find_var(var_or_local_name).eval()

    def set_var(self, var_or_local_name, new_value):
        tfutil.set_vars({self.find_var(var_or_local_name): new_value})

    def reset_own_vars(self):
        tfutil.run([var.initializer for var in self.own_vars.values()])

    def reset_vars(self):
        tfutil.run([var.initializer for var in self.vars.values()])

    def reset_trainables(self):
        tfutil.run([var.initializer for var in self.trainables.values()])

    def _copy_from(self, src_net, names):
        names = [name for name in names if name in src_net.vars]
        values = tfutil.run([src_net.vars[name] for name in names])
        tfutil.set_vars({self.vars[name]: value for name, value in zip(names, values)})

    def copy_own_vars_from(self, src_net):
        self._copy_from(src_net, list(self.own_vars))

    def copy_vars_from(self, src_net):
        """Copy every variable that both networks have, by local name."""
        self._copy_from(src_net, list(self.vars))

    def copy_trainables_from(self, src_net):
        self._copy_from(src_net, list(self.trainables))

    def setup_as_moving_average_of(self, src_net, beta=0.99, beta_nontrainable=0.0):
        """An op that moves this network's variables towards src_net's (exponential moving average)."""
        with tfutil.absolute_name_scope(self.scope + '/_MovingAvg'):
            ops = []
            for name, var in self.vars.items():
                if name in src_net.vars:
                    cur_beta = beta if name in self.trainables else beta_nontrainable
                    ops.append(var.assign(tfutil.lerp(src_net.vars[name], var, cur_beta)))
            return tf.group(*ops)

    # ------------------------------------------------------------------------
    # Copies and conversions.

    def clone(self, name=None, **new_static_kwargs):
        """A new network with the same build function, static kwargs (updated) and variable values."""
        net = object.__new__(Network)
        net.name = name if name is not None else self.name
        net.static_kwargs = util.EasyDict(self.static_kwargs)
        net.static_kwargs.update(new_static_kwargs)
        net._build_module_src = self._build_module_src  # pylint: disable=protected-access
        net._build_func_name = self._build_func_name  # pylint: disable=protected-access
        net._build_func = self._build_func  # pylint: disable=protected-access
        net.components = util.EasyDict((key, comp.clone()) for key, comp in self.components.items())
        net._init_graph()  # pylint: disable=protected-access
        net.reset_own_vars()
        net.copy_own_vars_from(self)
        return net

    def convert(self, new_func_name, new_name=None, **new_static_kwargs):
        """A network built by another function, taking over the variables whose names match."""
        static_kwargs = dict(self.static_kwargs)
        static_kwargs.update(new_static_kwargs)
        net = Network(name=new_name if new_name is not None else self.name, func_name=new_func_name, **static_kwargs)
        net.copy_vars_from(self)
        return net

    # ------------------------------------------------------------------------
    # Pickling (StyleGAN2 state version 4).

    def __getstate__(self):
        return {
            'version': 4,
            'name': self.name,
            'static_kwargs': dict(self.static_kwargs),
            'components': dict(self.components),
            'build_module_src': self._build_module_src,
            'build_func_name': self._build_func_name,
            'variables': list(zip(self.own_vars.keys(), tfutil.run(list(self.own_vars.values())))),
        }

    def __setstate__(self, state):
        """Build from pickled state by executing its embedded source (what plain `pickle.load` does)."""
        tfutil.assert_tf_initialized()
        state = _upgraded_state(state)
        self.name = state['name']
        self.static_kwargs = util.EasyDict(state['static_kwargs'])
        self.components = util.EasyDict(state.get('components', {}))
        self._build_module_src = state['build_module_src']
        self._build_func_name = state['build_func_name']
        module = _module_from_source(self._build_module_src)
        self._build_func = util.get_obj_from_module(module, self._build_func_name)
        self._init_graph()
        self.reset_own_vars()
        missing = [name for name, _ in state['variables'] if name not in self.own_vars]
        if missing:
            raise ValueError('network %r has no variable(s) %s' % (self.name, ', '.join(missing[:5])))
        tfutil.set_vars({self.own_vars[name]: value for name, value in state['variables']})

    @classmethod
    def from_state(cls, state):
        """Build from pickled state with this project's build function, never its embedded source.

        The state's components are states (dicts) too: their variables are
        loaded into the components the build function makes. The build must
        make exactly the variables the state holds (names and shapes), else
        ValueError; KeyError if the build function is not a registered one.
        """
        tfutil.assert_tf_initialized()
        state = _upgraded_state(state)
        func = known_build_func(state['build_func_name'])
        if func is None:
            raise KeyError(state['build_func_name'])
        net = cls(name=state['name'], func_name=func, **state['static_kwargs'])
        given = _variable_table(state)
        problem = _mismatch(net, given)
        if problem:
            raise ValueError('network %r does not match what %s builds from its keyword arguments: %s'
                             % (state['name'], state['build_func_name'], problem))
        tfutil.set_vars({net.vars[name]: value for name, value in given.items()})
        return net

    # ------------------------------------------------------------------------
    # Running on numpy arrays.

    def run(self, *in_arrays, input_transform=None, output_transform=None, return_as_list=False,
            print_progress=False, minibatch_size=None, num_gpus=1, assume_frozen=False, **dynamic_kwargs):
        """Run the network on numpy arrays (None = zeros) and return numpy array(s).

        minibatch_size:   split the input into minibatches of this size (default: all at once).
        num_gpus:         towers the minibatch is split across (GPUs, or logical CPU devices).
        input_transform:  dict(func=..., **kwargs) applied to the input expressions first.
        output_transform: dict(func=..., **kwargs) applied to the output expressions last,
                          e.g. dict(func=tflib.convert_images_to_uint8).
        assume_frozen:    the variables will not change between calls (builds a faster graph).
        """
        assert len(in_arrays) == self.num_inputs, '%s takes %d inputs' % (self.name, self.num_inputs)
        valid = [arr for arr in in_arrays if arr is not None]
        assert valid, 'at least one input must be given'
        num_items = valid[0].shape[0]
        minibatch_size = num_items if minibatch_size is None else minibatch_size
        in_expr, out_expr = self._run_graph(input_transform, output_transform, num_gpus, assume_frozen, dynamic_kwargs)

        out_arrays = None
        for mb_begin in range(0, num_items, minibatch_size):
            if print_progress:
                print('\r%d / %d' % (mb_begin, num_items), end='', flush=True)
            mb_end = min(mb_begin + minibatch_size, num_items)
            mb_num = mb_end - mb_begin
            padded = -mb_num % num_gpus  # every tower gets the same number of items
            feed = {}
            for expr, arr, shape in zip(in_expr, in_arrays, self.input_shapes):
                mb_in = np.zeros([mb_num] + shape[1:], np.float32) if arr is None else arr[mb_begin:mb_end]
                if padded:
                    mb_in = np.concatenate([mb_in, np.repeat(mb_in[-1:], padded, axis=0)])
                feed[expr] = mb_in
            mb_out = tfutil.run(out_expr, feed)
            if out_arrays is None:
                out_arrays = [np.empty([num_items] + list(arr.shape[1:]), dtype=arr.dtype) for arr in mb_out]
            for dst, src in zip(out_arrays, mb_out):
                dst[mb_begin:mb_end] = src[:mb_num]
        if print_progress:
            print('\r%d / %d' % (num_items, num_items))
        return out_arrays if return_as_list or len(out_arrays) != 1 else out_arrays[0]

    def _run_graph(self, input_transform, output_transform, num_gpus, assume_frozen, dynamic_kwargs):
        key = repr((input_transform, output_transform, num_gpus, assume_frozen, sorted(dynamic_kwargs.items())))
        if key in self._run_cache:
            return self._run_cache[key]
        with tfutil.absolute_name_scope(self.scope + '/_Run'), tf.control_dependencies(None):
            with tf.device('/cpu:0'):
                in_expr = [tfv1.placeholder(tf.float32, name=name) for name in self.input_names]
                in_split = list(zip(*[tf.split(x, num_gpus) for x in in_expr]))
            out_split = []
            for tower in range(num_gpus):
                with tf.device(tfutil.tower_device(tower)):
                    net = self.clone() if assume_frozen else self
                    inputs = list(in_split[tower])
                    if input_transform is not None:
                        inputs = _apply_transform(input_transform, inputs)
                    outputs = net.get_output_for(*inputs, return_as_list=True, **dynamic_kwargs)
                    if output_transform is not None:
                        outputs = _apply_transform(output_transform, outputs)
                    out_split.append(outputs)
            with tf.device('/cpu:0'):
                out_expr = [tf.concat(outputs, axis=0) for outputs in zip(*out_split)]
        self._run_cache[key] = (in_expr, out_expr)
        return in_expr, out_expr

    # ------------------------------------------------------------------------
    # Inspection.

    def list_layers(self):
        """[(layer name, output tensor, [variables])] in build order, from the template graph."""
        layer_vars = OrderedDict()
        for name, var in self.own_vars.items():
            layer_vars.setdefault(name.rsplit('/', 1)[0] if '/' in name else name, []).append(var)
        ops = [op for op in tfv1.get_default_graph().get_operations() if op.name.startswith(self.scope + '/')]
        layers = []
        for layer, variables in layer_vars.items():
            prefix = self.scope + '/' + layer + '/'
            outputs = [t for op in ops if op.name.startswith(prefix) and op.type not in ('VarHandleOp', 'VariableV2')
                       for t in op.outputs[:1] if t.dtype == tf.float32]
            layers.append((layer, outputs[-1] if outputs else None, variables))
        return layers

    def print_layers(self, title=None, hide_layers_with_no_params=False):
        rows = [[title if title is not None else self.name, 'Params', 'OutputShape', 'WeightShape'], ['---'] * 4]
        total = 0
        for comp in self.components.values():
            count = sum(int(np.prod(tfutil.shape_to_list(v.shape))) for v in comp.trainables.values())
            total += count
            rows.append([comp.name, count if count else '-', '-', '-'])
        for layer, output, variables in self.list_layers():
            trainable = [v for v in variables if v.trainable]
            count = sum(int(np.prod(tfutil.shape_to_list(v.shape))) for v in trainable)
            total += count
            if hide_layers_with_no_params and not count:
                continue
            weights = [v for v in trainable if v.name.split(':')[0].endswith('/weight')]
            rows.append([layer, count if count else '-',
                         str(tfutil.shape_to_list(output.shape)) if output is not None else '-',
                         str(tfutil.shape_to_list(weights[0].shape)) if weights else '-'])
        rows += [['---'] * 4, ['Total', total, '', '']]
        widths = [max(len(str(row[c])) for row in rows) for c in range(4)]
        print()
        for row in rows:
            print('  '.join(str(cell) + ' ' * (widths[c] - len(str(cell))) for c, cell in enumerate(row)))
        print()
