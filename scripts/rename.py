"""Rename the service everywhere it appears: ``./run.sh rename my-service``.

Replaces the name in every file git tracks: ``cherry-service`` (package,
image, container, Kubernetes names and labels, docs, tests), its
``cherry_service`` form (file names on disk that Python tools make) and its
``Cherry service`` form (the landing page's title). The new name must be a
DNS label (lower-case letters, digits and hyphens, starting with a letter,
at most 40 characters), since Kubernetes names and image names take it.
Prints each file it changed; run it on a clean checkout and commit.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

OLD = 'cherry-service'
_NAME = re.compile(r'[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?')


def forms(name: str) -> list[tuple[str, str]]:
    """``(old, new)`` pairs: kebab, snake and title forms."""
    title = name.replace('-', ' ')
    return [(OLD, name), (OLD.replace('-', '_'), name.replace('-', '_')),
            ('Cherry service', title[:1].upper() + title[1:])]


def rename(root: str, name: str) -> list[str]:
    """Rewrite the tracked files under ``root``; return the paths changed."""
    if not _NAME.fullmatch(name) or '--' in name:
        raise SystemExit('rename: %r is not a DNS label (a-z, 0-9, -; starts with a letter; '
                         'at most 40 characters)' % (name,))
    files = subprocess.run(['git', 'ls-files', '-z'], cwd=root, check=True,
                           capture_output=True).stdout.decode().split('\0')
    changed = []
    for rel in filter(None, files):
        path = os.path.join(root, rel)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding='utf-8') as f:
                text = f.read()
        except UnicodeDecodeError:
            continue  # a binary file (the logo)
        new = text
        for old, repl in forms(name):
            new = new.replace(old, repl)
        if new != text:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(new)
            changed.append(rel)
    return changed


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print('usage: ./run.sh rename NEW-NAME', file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for rel in rename(root, argv[0]):
        print('renamed in', rel)
    print('rename: done; ./testing.sh, then commit')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
