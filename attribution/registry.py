"""The registry of issued copies: one record per fingerprinted copy of one trained model.

`CopyStore` is the interface the rest of the code uses; `SQLiteStore` keeps it in one
SQLite file (WAL mode, so readers never wait for an issuing process). Another database
can replace it by implementing the same few methods.

A registry belongs to one trained model: its meta table records the sha256 of the
training pickle, the fingerprint length and the attribution threshold t the copies
were issued for (every two fingerprints differ in at least 2t+1 bits). They are stored
once rather than per row: at 1e7 copies a per-row digest alone would be 320 MB.

Rows move through states: 'issued' (a copy without a baked file, or one whose file is
in place) and 'baking' (committed with its complete baked file still under a temporary
name; see attribution.issue for the protocol and its recovery).
"""

import collections
import contextlib
import os
import sqlite3
import time

import numpy as np

SCHEMA_VERSION = '1'
BUSY_TIMEOUT_MS = 600_000  # an issuing process holds the write lock while it bakes

Copy = collections.namedtuple('Copy', ['id', 'owner', 'fingerprint', 'created', 'note', 'state', 'baked_path'])
Model = collections.namedtuple('Model', ['sha256', 'num_bits', 'threshold'])

_SCHEMA = [
    'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
    '''CREATE TABLE copies (
           id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids are never reused
           owner       TEXT NOT NULL,
           fingerprint BLOB NOT NULL UNIQUE,
           created     REAL NOT NULL,
           note        TEXT,
           state       TEXT NOT NULL CHECK (state IN ('baking', 'issued')),
           baked_path  TEXT)''',
]


class RegistryError(Exception):
    """A registry that cannot be used as asked, reported as one line."""


class CopyStore:
    """Storage of issued copies. Fingerprints are packed bits (attribution.hamming.pack)."""

    model = None  # Model

    def write_lock(self):
        """Context manager: one writer at a time; what is written inside commits together or not at all."""
        raise NotImplementedError

    def add(self, owner, fingerprint, note=None, state='issued', baked_path=None):
        """Insert one copy (inside write_lock) and return its id."""
        raise NotImplementedError

    def add_many(self, owners, fingerprints, created):
        """Bulk insert of issued copies without baked files (inside write_lock)."""
        raise NotImplementedError

    def set_state(self, copy_id, state):
        raise NotImplementedError

    def set_baked_path(self, copy_id, path):
        raise NotImplementedError

    def remove(self, copy_id):
        """Delete a copy that was never handed out (inside write_lock)."""
        raise NotImplementedError

    def fingerprints(self, after_id=0):
        """(ids int64 [n], packed fingerprints uint8 [n, bytes]) of every copy with id > after_id, by id."""
        raise NotImplementedError

    def get(self, copy_id):
        """The Copy with this id, or None."""
        raise NotImplementedError

    def copies(self, state=None):
        """Iterator over the copies (of one state, or all) by id."""
        raise NotImplementedError

    def version(self):
        """(number of copies, largest id): changes whenever a copy is added or removed."""
        raise NotImplementedError

    def close(self):
        raise NotImplementedError


class SQLiteStore(CopyStore):
    """CopyStore in one SQLite file.

    `model` (a Model) is required to create a registry and, when given for an existing one,
    must equal the stored one; None opens an existing registry as it is (list, show).
    """

    def __init__(self, path, model=None, create=False):
        self.path = path
        exists = os.path.exists(path)
        if not exists and not create:
            raise RegistryError('registry not found: %s' % path)
        if not exists and model is None:
            raise RegistryError('a new registry needs the model it belongs to')
        if exists and not os.path.isfile(path):
            raise RegistryError('%s is not a file' % path)
        try:
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self._db.execute('PRAGMA busy_timeout = %d' % BUSY_TIMEOUT_MS)
            self._db.execute('PRAGMA journal_mode = WAL')
            self._db.execute('PRAGMA synchronous = FULL')  # a committed copy survives a power cut
            self.model = self._check_or_create(model)
        except sqlite3.DatabaseError as exc:
            raise RegistryError('%s is not a usable registry (%s)' % (path, exc)) from exc

    def _meta(self):
        try:
            return dict(self._db.execute('SELECT key, value FROM meta'))
        except sqlite3.OperationalError:
            return None

    def _check_or_create(self, model):
        with self.write_lock():
            meta = self._meta()
            if meta is None:
                if model is None:
                    raise RegistryError('%s is not a registry of issued copies' % self.path)
                for statement in _SCHEMA:  # not executescript(): it would commit the open transaction
                    self._db.execute(statement)
                self._db.executemany('INSERT INTO meta VALUES (?, ?)', [
                    ('schema_version', SCHEMA_VERSION), ('model_sha256', model.sha256),
                    ('num_bits', str(model.num_bits)), ('threshold', str(model.threshold))])
                return model
        if meta.get('schema_version') != SCHEMA_VERSION:
            raise RegistryError('%s has registry schema version %s; this code reads version %s'
                                % (self.path, meta.get('schema_version'), SCHEMA_VERSION))
        stored = Model(meta['model_sha256'], int(meta['num_bits']), int(meta['threshold']))
        if model is not None:
            if model.sha256 != stored.sha256:
                raise RegistryError('%s belongs to the model with sha256 %s..., not to this pickle (%s...)'
                                    % (self.path, stored.sha256[:16], model.sha256[:16]))
            if model.num_bits != stored.num_bits:
                raise RegistryError('%s holds %d-bit fingerprints, the network has %d bits'
                                    % (self.path, stored.num_bits, model.num_bits))
        return stored

    @contextlib.contextmanager
    def write_lock(self):
        self._db.execute('BEGIN IMMEDIATE')
        try:
            yield
        except BaseException:
            self._db.execute('ROLLBACK')
            raise
        self._db.execute('COMMIT')

    def add(self, owner, fingerprint, note=None, state='issued', baked_path=None):
        cursor = self._db.execute(
            'INSERT INTO copies (owner, fingerprint, created, note, state, baked_path) VALUES (?, ?, ?, ?, ?, ?)',
            (owner, bytes(fingerprint), time.time(), note, state, baked_path))
        return cursor.lastrowid

    def add_many(self, owners, fingerprints, created):
        self._db.executemany('INSERT INTO copies (owner, fingerprint, created, state) VALUES (?, ?, ?, \'issued\')',
                             ((owner, bytes(code), created) for owner, code in zip(owners, fingerprints)))

    def set_state(self, copy_id, state):
        self._db.execute('UPDATE copies SET state = ? WHERE id = ?', (state, copy_id))

    def set_baked_path(self, copy_id, path):
        self._db.execute('UPDATE copies SET baked_path = ? WHERE id = ?', (path, copy_id))

    def remove(self, copy_id):
        self._db.execute('DELETE FROM copies WHERE id = ?', (copy_id,))

    def fingerprints(self, after_id=0):
        rows = self._db.execute('SELECT id, fingerprint FROM copies WHERE id > ? ORDER BY id', (after_id,)).fetchall()
        num_bytes = (self.model.num_bits + 7) // 8
        ids = np.fromiter((row[0] for row in rows), np.int64, len(rows))
        codes = np.frombuffer(b''.join(row[1] for row in rows), np.uint8).reshape(len(rows), num_bytes)
        return ids, codes

    def get(self, copy_id):
        row = self._db.execute('SELECT * FROM copies WHERE id = ?', (copy_id,)).fetchone()
        return Copy(*row) if row else None

    def copies(self, state=None):
        if state is None:
            cursor = self._db.execute('SELECT * FROM copies ORDER BY id')
        else:
            cursor = self._db.execute('SELECT * FROM copies WHERE state = ? ORDER BY id', (state,))
        return (Copy(*row) for row in cursor)

    def version(self):
        count, max_id = self._db.execute('SELECT COUNT(*), COALESCE(MAX(id), 0) FROM copies').fetchone()
        return int(count), int(max_id)

    def close(self):
        self._db.close()
