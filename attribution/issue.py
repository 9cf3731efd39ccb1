"""Issuing fingerprinted copies: drawing their fingerprints and recording (and baking) them.

Fingerprints come from `secrets` (a cryptographic source: nobody can predict the next
one from those issued before) and are kept at least 2t+1 bits from every fingerprint
in the registry, t being the attribution threshold, so that no bit string lies within
t bits of two copies.

With baking, one copy is issued as follows; a crash anywhere leaves the registry and
the folder of baked files consistent once `finish_interrupted` has run (every issue
runs it first):

1. under the registry's write lock (which also keeps two issuing processes from drawing
   the same fingerprint): draw, insert the row in state 'baking', write the baked pickle
   to `<file>.partial` and fsync it, commit;
2. rename `<file>.partial` to `<file>`;
3. set the row to 'issued'.

A crash in step 1 rolls the row back; the stray `.partial` file has no row and is deleted.
After the commit the file is complete, so a 'baking' row is finished forward: the
rename (if not yet done) and the state change.
"""

import glob
import hashlib
import os
import pickle
import re
import secrets
import signal

import numpy as np

from attribution import hamming
from attribution.registry import Model, RegistryError

MAX_DRAWS = 1000  # fingerprints drawn per copy before giving up (short fingerprints, many copies)
CRASH_ENV = 'ATTRIBUTION_CRASH_AT'  # '<stage>:<n>': SIGKILL at the n-th time <stage> is reached (tests)
_crash_counts = {}


class IssueError(Exception):
    """A copy that cannot be issued, reported as one line."""


def _crash_point(stage):
    """Kill this process at a step of the issue protocol, when the tests ask for it."""
    wanted = os.environ.get(CRASH_ENV, '')
    if wanted.startswith(stage + ':'):
        _crash_counts[stage] = _crash_counts.get(stage, 0) + 1
        if _crash_counts[stage] == int(wanted.split(':')[1]):
            os.kill(os.getpid(), signal.SIGKILL)


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def default_threshold(num_bits):
    """The paper's: a copy matches when at least 95% of the bits agree, i.e. at most floor(0.05 d)
    mismatched bits (6 of 128: 122 bits must agree; the paper rounds 128 x 0.95 to 121)."""
    return num_bits * 5 // 100


def check_threshold(threshold, num_bits):
    if not 0 <= threshold < num_bits / 2:
        raise IssueError('the threshold must be from 0 to below half of the %d bits, got %d' % (num_bits, threshold))


def registry_model(network_pkl, num_bits, threshold=None):
    """The Model a registry of copies of this pickle must belong to."""
    threshold = default_threshold(num_bits) if threshold is None else threshold
    check_threshold(threshold, num_bits)
    return Model(file_sha256(network_pkl), num_bits, threshold)


def random_code(num_bits):
    """A packed fingerprint of num_bits bits from the secrets module, padding bits zero."""
    code = np.frombuffer(secrets.token_bytes((num_bits + 7) // 8), np.uint8).copy()
    code[-1] &= (0xFF << (-num_bits % 8)) & 0xFF
    return code


class KnownFingerprints:
    """The registry's fingerprints, read incrementally (only rows added since the last refresh)."""

    def __init__(self, store):
        self.store = store
        self.max_id = 0
        self.codes = np.zeros([0, (store.model.num_bits + 7) // 8], np.uint8)

    def refresh(self):
        ids, codes = self.store.fingerprints(after_id=self.max_id)
        if len(ids):
            self.codes = np.concatenate([self.codes, codes])
            self.max_id = int(ids[-1])

    def add(self, copy_id, code):
        self.codes = np.concatenate([self.codes, code[np.newaxis]])
        self.max_id = max(self.max_id, copy_id)

    def draw(self):
        """A fresh fingerprint at least 2t+1 bits from every known one; IssueError after MAX_DRAWS tries."""
        model = self.store.model
        min_distance = 2 * model.threshold + 1
        for _ in range(MAX_DRAWS):
            code = random_code(model.num_bits)
            if not len(self.codes) or hamming.popcount_distances(self.codes, code).min() >= min_distance:
                return code
        raise IssueError('no %d-bit fingerprint at least %d bits away from all %d issued ones was found in %d '
                         'draws; the registry is full at threshold %d'
                         % (model.num_bits, min_distance, len(self.codes), MAX_DRAWS, model.threshold))


def baked_file(bake_dir, copy_id):
    return os.path.join(os.path.abspath(bake_dir), 'copy-%08d.pkl' % copy_id)


def _write_synced(path, data):
    with open(path, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _finish(store, copy_id, path):
    """Steps 2 and 3 for one committed copy (idempotent: another process may be finishing it too)."""
    try:
        os.replace(path + '.partial', path)
    except FileNotFoundError:
        pass
    _crash_point('after-rename')
    if not os.path.isfile(path):
        return False
    with store.write_lock():
        store.set_state(copy_id, 'issued')
    return True


def finish_interrupted(store, bake_dir=None):
    """Complete the copies an interrupted issue committed, and delete stray partial files in bake_dir.

    Returns the number of copies finished. A 'baking' row whose file has gone (removed by hand)
    is removed: it was never handed out.
    """
    finished = 0
    for copy in list(store.copies(state='baking')):
        if _finish(store, copy.id, copy.baked_path):
            finished += 1
        else:
            with store.write_lock():
                store.remove(copy.id)
    if bake_dir is not None and os.path.isdir(bake_dir):
        with store.write_lock():
            for partial in glob.glob(os.path.join(glob.escape(bake_dir), 'copy-*.pkl.partial')):
                copy_id = int(re.search(r'copy-(\d+)\.pkl\.partial$', partial).group(1))
                copy = store.get(copy_id)
                if copy is None or copy.state != 'baking':  # its transaction was rolled back
                    os.remove(partial)
    return finished


def issue_copies(store, owner, count, note=None, baker=None, bake_dir=None):
    """Issue `count` copies to `owner`; yields each Copy as it is committed (baked if `baker` is given)."""
    if not owner.strip():
        raise IssueError('the owner label is empty')
    if baker is not None:
        os.makedirs(bake_dir, exist_ok=True)
    known = KnownFingerprints(store)
    for _ in range(count):
        with store.write_lock():
            known.refresh()
            code = known.draw()
            copy_id = store.add(owner, code, note, state='issued' if baker is None else 'baking')
            path = None
            if baker is not None:
                path = baked_file(bake_dir, copy_id)
                store.set_baked_path(copy_id, path)
                bits = hamming.unpack(code, store.model.num_bits).astype(np.float32)
                _write_synced(path + '.partial', pickle.dumps(baker.bake(bits), protocol=pickle.HIGHEST_PROTOCOL))
                _crash_point('before-commit')
        known.add(copy_id, code)
        if baker is not None:
            _crash_point('after-commit')
            if not _finish(store, copy_id, path):
                raise RegistryError('copy %d: its baked file %s disappeared while issuing' % (copy_id, path))
        yield store.get(copy_id)
