"""Dependency locking (issue 5): `modelpack lock SRC` pins every pip dependency of a source folder
with pip-tools (`requirements.lock`, pip-compile's own format with hashes and `# via` comments), and
`modelpack build` installs from that lock when it is current. A header in the lock records a digest
of its inputs (the manifests, the image's Python and platform) so a stale lock is detected.

Public entry points: `packager.lock.piplock.lock_pip` (write the lock) and
`packager.lock.state.lock_state` (is the lock in a folder current for a build?)."""

from __future__ import annotations

LOCK_FILE = "requirements.lock"
