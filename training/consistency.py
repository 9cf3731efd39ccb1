"""The consistency weight (lambda_4) over training: a fixed schedule, or a
controller that steers it by the fingerprint share measured every tick.

The consistency term decides how much of an image the fingerprint may set. Too
light, and the fingerprint takes over the image (z is given up); too heavy, and
the decoder cannot learn to read it. Where the balance lies differs from seed
to seed at CPU scale, so a weight fixed in advance is right for some runs and
wrong for others; the controller measures the share and moves the weight.
"""

import numpy as np

from metrics.fingerprint_share import share_of
from training import loss as loss_lib

CONTROL_GAIN = 0.25      # weight *= (share / target) ** gain each tick: a slow integrator, the share lags the weight
CONTROL_MAX_STEP = 1.25  # at most this factor per tick either way
CONTROL_MIN_WEIGHT = 0.01
CONTROL_MAX_WEIGHT = 1000.0


class ConsistencySchedule:
    """Weight of the consistency loss over training.

    Without `start_accuracy` it is `target` throughout (the paper). With it,
    the weight is `initial` until the decoder's bit accuracy of a tick reaches
    `start_accuracy`, then moves linearly to `target` over `ramp_kimg`: the
    decoder first learns to read the fingerprint while the generator may show
    it plainly, then the generator learns to make it invisible. With
    `late_weight`, the weight is `late_weight` from `late_kimg` on: a second
    raise once the bits are read well, which removes the copies' colour cast.
    """

    measures_share = False

    def __init__(self, target, start_accuracy=None, ramp_kimg=0.0, ramp_start_nimg=None, initial=0.0,
                 late_weight=None, late_kimg=0.0):
        self.target = float(target)
        self.start_accuracy = start_accuracy
        self.ramp_kimg = float(ramp_kimg)
        self.ramp_start_nimg = ramp_start_nimg
        self.initial = float(initial)
        self.late_weight = late_weight
        self.late_kimg = float(late_kimg)
        self.late_announced = False

    def _late(self, cur_nimg):
        return self.late_weight is not None and cur_nimg >= self.late_kimg * 1000

    def weight(self, cur_nimg):
        if self._late(cur_nimg):
            return float(self.late_weight)
        if self.start_accuracy is None:
            return self.target
        if self.ramp_start_nimg is None:
            return self.initial
        if self.ramp_kimg <= 0:
            return self.target
        progress = min(1.0, (cur_nimg - self.ramp_start_nimg) / (self.ramp_kimg * 1000.0))
        return self.initial + (self.target - self.initial) * progress

    def update(self, cur_nimg, bit_accuracy, share=None):
        del share
        if self._late(cur_nimg) and not self.late_announced:
            self.late_announced = True
            print('%.1f kimg: the consistency weight is %g from here on' % (cur_nimg / 1000.0, self.late_weight))
        if self.start_accuracy is not None and self.ramp_start_nimg is None and bit_accuracy >= self.start_accuracy:
            self.ramp_start_nimg = cur_nimg
            print('Bit accuracy %.4f reached %.2f at %.1f kimg: the consistency weight goes from %g to %g over %g kimg'
                  % (bit_accuracy, self.start_accuracy, cur_nimg / 1000.0, self.initial, self.target, self.ramp_kimg))

    def state(self):
        """What a resumed run needs to continue the schedule (saved in the snapshot's progress .json)."""
        return {'consistency_ramp_start_nimg': self.ramp_start_nimg}


class ShareController:
    """The consistency weight steered so that the fingerprint share follows a target.

    It starts at `start_weight`. After each tick, given the share of Gs measured
    on fixed pairs (ShareProbe), the weight is multiplied by
    (share / target) ** CONTROL_GAIN, at most CONTROL_MAX_STEP either way. It
    may rise above `start_weight` only once the tick bit accuracy has reached
    `start_accuracy` (or, without it, from `late_kimg`): a heavier weight before
    the decoder reads the fingerprint keeps it from learning, while a generator
    that hides its fingerprint early (a share below `target`) learns the bits
    faster with a lighter one. From `late_kimg` on, the target is `late_target`:
    the copies are made to look alike once the bits are read.
    """

    measures_share = True

    def __init__(self, start_weight, target, late_target=None, late_kimg=0.0, start_accuracy=None, weight=None,
                 free_nimg=None):
        if target <= 0 or (late_target is not None and late_target <= 0):
            raise ValueError('a target fingerprint share must be positive')
        self.start_weight = float(start_weight)
        self.target = float(target)
        self.late_target = late_target
        self.late_kimg = float(late_kimg)
        self.start_accuracy = start_accuracy
        self.current = self.start_weight if weight is None else float(weight)
        self.free_nimg = free_nimg  # when the weight was first allowed above its start

    def _late(self, cur_nimg):
        return self.late_target is not None and cur_nimg >= self.late_kimg * 1000

    def weight(self, cur_nimg):
        del cur_nimg
        return self.current

    def update(self, cur_nimg, bit_accuracy, share=None):
        late = self._late(cur_nimg)
        if self.free_nimg is None and (late or (self.start_accuracy is not None and bit_accuracy >= self.start_accuracy)):
            self.free_nimg = cur_nimg
            print('%.1f kimg (bit accuracy %.4f): the consistency weight may rise above %g from here on'
                  % (cur_nimg / 1000.0, bit_accuracy, self.start_weight))
        if share is None or not np.isfinite(share):
            return
        target = float(self.late_target) if late else self.target
        step = np.clip((max(share, 1e-12) / target) ** CONTROL_GAIN, 1.0 / CONTROL_MAX_STEP, CONTROL_MAX_STEP)
        ceiling = CONTROL_MAX_WEIGHT if self.free_nimg is not None else self.start_weight
        self.current = float(np.clip(self.current * step, CONTROL_MIN_WEIGHT, ceiling))

    def state(self):
        return {'consistency_weight': self.current, 'consistency_free_nimg': self.free_nimg}


def make_schedule(target, progress, start_accuracy=None, ramp_kimg=0.0, initial=0.0, late_weight=None, late_kimg=0.0,
                  target_share=None, late_target_share=None):
    """The schedule or controller of the training loop's consistency_* options, continued from a run's progress."""
    if target_share is not None:
        return ShareController(target, target_share, late_target_share, late_kimg, start_accuracy,
                               progress.get('consistency_weight'), progress.get('consistency_free_nimg'))
    return ConsistencySchedule(target, start_accuracy, ramp_kimg, progress.get('consistency_ramp_start_nimg'), initial,
                               late_weight, late_kimg)


class ShareProbe:
    """The fingerprint share of Gs (see metrics/fingerprint_share.py) on fixed pairs, cheap enough for every tick.

    The pairs are drawn once, so that from tick to tick only the network changes."""

    def __init__(self, training_set, latent_size, watermark_size, num_pairs=256, seed=321):
        rnd = np.random.RandomState(seed)
        z, z2 = (rnd.randn(num_pairs, latent_size).astype(np.float32) for _ in range(2))
        c, c2 = (rnd.randint(0, 2, size=(num_pairs, watermark_size)).astype(np.float32) for _ in range(2))
        labels = training_set.get_random_labels_np(num_pairs)
        self.inputs = [np.concatenate(parts) for parts in ((z, z, z2), (labels, labels, labels), (c, c2, c))]

    def measure(self, Gs, minibatch_size):
        if loss_lib.FINGERPRINT_INPUT not in Gs.input_names:
            raise ValueError('the fingerprint share needs a generator with a fingerprint input')
        images = Gs.run(*self.inputs, is_validation=True, randomize_noise=False, minibatch_size=minibatch_size)
        base, other_fingerprint, other_latent = np.split(images.astype(np.float64), 3)
        return float(share_of(np.mean(np.square(base - other_fingerprint)), np.mean(np.square(base - other_latent))))
