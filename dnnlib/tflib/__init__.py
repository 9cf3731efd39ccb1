"""TensorFlow helpers on TF 2.x in graph mode (tf.compat.v1), with the API of
NVIDIA's StyleGAN2 code: sessions, the pickleable Network, the multi-device
Optimizer, autosummaries and the ops."""

from . import autosummary
from . import network
from . import optimizer
from . import precision
from . import tfutil
from .tfutil import *  # noqa: F401,F403  (run, init_tf, set_vars, lerp, convert_images_to_uint8, ...)
from .network import Network
from .optimizer import Optimizer
