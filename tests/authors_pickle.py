"""Pickles written the way the authors' TF 1.14 training code writes them, from our networks' variables.

The build source embedded in them is tests/data/authors_style_networks.py (the
authors' function names, signatures, keyword arguments and TF1 idiom, and a
G_main_watermark that leaves its own inputs unshaped), so a test can compare
every front on such a pickle with our own pickle of the same variables.
"""

import os
import pickle

import numpy as np

from dnnlib import tflib
from dnnlib.tflib.network import Network

SOURCE = open(os.path.join(os.path.dirname(__file__), 'data', 'authors_style_networks.py')).read()
NETS = 'training.networks_stylegan2.'
SHAPE = dict(resolution=8, num_channels=3, label_size=0, fmap_base=64, fmap_max=16)
G_SIZES = dict(latent_size=8, dlatent_size=8, mapping_layers=2, mapping_fmaps=8)
WATERMARK_SIZE = 4
RES_LOG2 = (2, 3)  # every resolution modulated


def state_object(name, func, static_kwargs, variables, components=None):
    """An object that pickles as class dnnlib.tflib.network.Network with exactly this state (version 4)."""
    state = dict(version=4, name=name, static_kwargs=static_kwargs, components=components or {},
                 build_module_src=SOURCE, build_func_name=func, variables=variables)
    obj = Network.__new__(Network)
    obj.__getstate__ = lambda: state
    return obj


def our_networks(d_architecture='resnet', seed=0):
    """Our (E, G, D, Gs) at 8x8 with every variable random (noise strengths and biases too)."""
    E = Network('E', func_name=NETS + 'E_stylegan2_watermark', architecture=d_architecture,
                latent_size=G_SIZES['latent_size'], watermark_size=WATERMARK_SIZE, **SHAPE)
    G = Network('G', func_name=NETS + 'G_main_watermark', architecture='skip', watermark_size=WATERMARK_SIZE,
                res_modulated_range='%d-%d' % (2 ** RES_LOG2[0], 2 ** RES_LOG2[1]), **G_SIZES, **SHAPE)
    D = Network('D', func_name=NETS + 'D_stylegan2', architecture=d_architecture, **SHAPE)
    rnd = np.random.RandomState(seed)
    for net in (E, G, D):
        tflib.set_vars({var: np.asarray(rnd.randn(*var.shape.as_list()), np.float32) * 0.5
                        for var in net.vars.values()})
    return E, G, D, G.clone('Gs')


def _values(net):
    return dict(zip(net.vars, tflib.run(list(net.vars.values()))))


def _component(values, prefix):
    return [(name[len(prefix):], value) for name, value in values.items() if name.startswith(prefix)]


def _generator(net):
    values = _values(net)
    kwargs = dict(SHAPE, **G_SIZES, architecture='skip')
    res = dict(res_modulated_min_log2=RES_LOG2[0], res_modulated_max_log2=RES_LOG2[1])
    num_layers = 2 * int(np.log2(SHAPE['resolution'])) - 2
    synthesis = state_object('G_synthesis', 'G_synthesis_stylegan2', dict(kwargs, **res),
                             _component(values, 'G_synthesis/'))
    mapping = state_object('G_mapping', 'G_mapping_watermark',
                           dict(kwargs, watermark_size=WATERMARK_SIZE, dlatent_broadcast=num_layers),
                           _component(values, 'G_mapping/'))
    own = [(name, value) for name, value in values.items() if not name.startswith(('G_synthesis/', 'G_mapping/'))]
    return state_object(net.name, 'G_main_watermark', dict(kwargs, watermark_size=WATERMARK_SIZE, **res), own,
                        components={'synthesis': synthesis, 'mapping': mapping})


def authors_pickle_bytes(nets, d_architecture='resnet'):
    """(E, G, D, Gs) pickled as the authors' code pickles them, with the variables of `nets`."""
    E, G, D, Gs = nets
    e_kwargs = dict(SHAPE, architecture=d_architecture, watermark_size=WATERMARK_SIZE,
                    latent_size=G_SIZES['latent_size'])
    objs = (state_object('E', 'E_stylegan2_watermark', e_kwargs, list(_values(E).items())),
            _generator(G),
            state_object('D', 'D_stylegan2', dict(SHAPE, architecture=d_architecture), list(_values(D).items())),
            _generator(Gs))
    return pickle.dumps(objs, protocol=4)
