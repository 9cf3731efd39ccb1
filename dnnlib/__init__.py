"""The project's small framework: EasyDict, run submission and the TensorFlow
helpers in `dnnlib.tflib`."""

from . import util
from . import submission
from .util import EasyDict
from .submission import SubmitConfig, submit_run
