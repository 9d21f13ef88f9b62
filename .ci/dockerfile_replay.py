"""Translate a Dockerfile into shell steps that run without Docker.

Used by .ci/dockerfile-steps.sh; standard library only.

  dockerfile_replay.py translate DOCKERFILE ROOTFS OUTDIR
      writes OUTDIR/build.sh (the build steps, in order), OUTDIR/run.env
      (the final ENV and WORKDIR), and OUTDIR/cmd, OUTDIR/healthcheck,
      OUTDIR/stopsignal (shell-quoted commands / a signal name).
  dockerfile_replay.py copy CONTEXT DEST SRC...
      copies SRC from the build context to DEST the way COPY does, leaving
      out what .dockerignore excludes.

Absolute paths under a WORKDIR of the Dockerfile (``/app/.venv``) are moved
under ROOTFS, so the replay never writes outside its temp directory. Steps
that need root or change the system (useradd, apt-get, chown...) are skipped
with a note: the replay runs as the calling user, like USER does in the image.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

_SKIP_FIRST_WORDS = {
    "useradd", "groupadd", "adduser", "addgroup", "usermod", "chown", "chmod",
    "apt-get", "apt", "apk", "yum", "dnf",
}
_IGNORED = {"LABEL", "MAINTAINER", "ONBUILD", "SHELL", "VOLUME"}


def _instructions(text: str) -> list[tuple[str, str]]:
    """Split a Dockerfile into (INSTRUCTION, arguments), continuations joined."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("#"):
            continue  # Docker drops comment lines, even inside a continuation.
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        buf = ""
    if buf.strip():
        raise SystemExit("Dockerfile ends inside a line continuation")
    return out


def _exec_form(args: str) -> list[str]:
    """Parse exec form (a JSON array) or shell form into an argv."""
    if args.startswith("["):
        argv = json.loads(args)
        if not all(isinstance(a, str) for a in argv):
            raise SystemExit(f"not an array of strings: {args}")
        return argv
    return ["/bin/sh", "-c", args]


def _dquote(value: str) -> str:
    """Double-quote for sh, keeping $VAR expansion as Docker's ENV does."""
    return '"' + re.sub(r'(["\\`])', r"\\\1", value) + '"'


def translate(dockerfile: Path, rootfs: Path, outdir: Path) -> None:
    """Write build.sh, run.env, cmd, healthcheck and stopsignal into outdir."""
    steps = _instructions(dockerfile.read_text())
    workdirs = sorted({a for i, a in steps if i == "WORKDIR"}, key=len, reverse=True)
    remap_re = (re.compile("|".join(r"(?<![\w.$/-])" + re.escape(w) + r"(?![\w.-])"
                                    for w in workdirs)) if workdirs else None)

    def remap(s: str) -> str:
        if remap_re is None:
            return s
        return remap_re.sub(lambda m: str(rootfs) + m.group(0), s)

    build = ["# generated from %s" % dockerfile, "set -e"]
    env_lines: list[str] = []
    cmd: list[str] | None = None
    health: list[str] | None = None
    stopsignal = "SIGTERM"
    cwd = str(rootfs)
    for instr, args in steps:
        note = "echo %s" % shlex.quote("+ %s %s" % (instr, args))
        if instr == "FROM":
            m = re.match(r"python:(\d+)\.(\d+)", args)
            if m:
                want = "(%s, %s)" % m.groups()
                build += [note, "python -c 'import sys; v = sys.version_info[:2]; "
                          "sys.exit(0) if v == %s else print(\"note: image has Python %s, "
                          "this replay runs %%d.%%d\" %% v)'" % (want, ".".join(m.groups()))]
        elif instr in ("ENV", "ARG"):
            tokens = shlex.split(args)
            if instr == "ENV" and len(tokens) >= 2 and "=" not in tokens[0]:
                tokens = [tokens[0] + "=" + " ".join(tokens[1:])]  # ENV key value
            for tok in tokens:
                key, eq, value = tok.partition("=")
                if not eq:
                    continue  # ARG without a default
                line = "export %s=%s" % (key, _dquote(remap(value)))
                build.append(line)
                env_lines.append(line)
        elif instr == "WORKDIR":
            cwd = remap(args) if args.startswith("/") else os.path.join(cwd, args)
            build += [note, "mkdir -p %s && cd %s" % (shlex.quote(cwd), shlex.quote(cwd))]
        elif instr == "USER":
            build.append("echo %s" % shlex.quote("+ USER %s (replay runs as the calling user)" % args))
        elif instr in ("COPY", "ADD"):
            tokens = [t for t in shlex.split(args) if not t.startswith("--")]
            if args.lstrip().startswith("["):
                tokens = json.loads(args)
            *srcs, dest = tokens
            dest = remap(dest) if dest.startswith("/") else os.path.join(cwd, dest)
            build += [note, '"$HOST_PY" "$REPLAY" copy "$CONTEXT" %s %s' % (
                shlex.quote(dest), " ".join(shlex.quote(s) for s in srcs))]
        elif instr == "RUN":
            if args.startswith("["):
                build += [note, shlex.join([remap(a) for a in json.loads(args)])]
                continue
            first = shlex.split(args)[0] if args.strip() else ""
            if first in _SKIP_FIRST_WORDS:
                build.append("echo %s" % shlex.quote("+ RUN %s  (skipped: needs root / changes the system)" % args))
                continue
            build += [note, "/bin/sh -c %s" % shlex.quote(remap(args))]
        elif instr == "CMD":
            cmd = [remap(a) for a in _exec_form(args)]
        elif instr == "HEALTHCHECK":
            if args.strip().upper() == "NONE":
                health = None
                continue
            m = re.search(r"(^|\s)CMD\s+(.*)$", args)
            if not m:
                raise SystemExit(f"cannot read HEALTHCHECK: {args}")
            health = [remap(a) for a in _exec_form(m.group(2).strip())]
            if health[:1] == ["CMD-SHELL"]:
                health = ["/bin/sh", "-c", " ".join(health[1:])]
        elif instr == "STOPSIGNAL":
            stopsignal = args.strip()
        elif instr == "EXPOSE" or instr in _IGNORED:
            build.append("echo %s" % shlex.quote("+ %s %s (nothing to replay)" % (instr, args)))
        else:
            raise SystemExit(f"the replay does not know {instr}; teach .ci/dockerfile_replay.py")
    if cmd is None:
        raise SystemExit("the Dockerfile has no CMD")
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "build.sh").write_text("\n".join(build) + "\n")
    (outdir / "run.env").write_text("\n".join(env_lines + ["cd %s" % shlex.quote(cwd)]) + "\n")
    (outdir / "cmd").write_text(shlex.join(cmd) + "\n")
    (outdir / "healthcheck").write_text(shlex.join(health) + "\n" if health else "")
    (outdir / "stopsignal").write_text(stopsignal + "\n")


def _dockerignore(context: Path) -> list[tuple[bool, str]]:
    """Read .dockerignore as (negated, pattern) pairs."""
    path = context / ".dockerignore"
    rules: list[tuple[bool, str]] = []
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            pat = os.path.normpath(line.lstrip("!").strip("/"))
            rules.append((neg, pat))
    return rules


def _match(pattern: str, rel: str) -> bool:
    """True when rel or one of its parent directories matches pattern
    (Docker's rules: * and ? stay within a path segment, ** spans any)."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    parts = rel.split("/")
    return any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1))


def _context_files(context: Path) -> list[str]:
    """Files Docker would send: the checkout (tracked and untracked, not
    git-ignored) minus .dockerignore."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=context, check=True, capture_output=True).stdout.decode().split("\0")
    rules = _dockerignore(context)
    keep = []
    for rel in sorted(n for n in set(names) if n and (context / n).is_file()):
        excluded = False
        for neg, pat in rules:
            if _match(pat, rel):
                excluded = not neg
        if not excluded:
            keep.append(rel)
    return keep


def copy(context: Path, dest: str, srcs: list[str]) -> None:
    """Copy srcs from the context to dest with COPY's rules for . and files."""
    files = _context_files(context)
    to_dir = dest.endswith("/") or len(srcs) > 1 or os.path.isdir(dest) or dest.endswith("/.")
    copied = 0
    for src in srcs:
        src = os.path.normpath(src)
        if src == ".":
            chosen = [(f, f) for f in files]
        else:
            chosen = [(f, os.path.relpath(f, src) if f != src else os.path.basename(f))
                      for f in files if f == src or f.startswith(src + "/")]
        if not chosen:
            raise SystemExit(f"COPY {src}: not in the build context (or .dockerignored)")
        for rel, sub in chosen:
            target = os.path.join(dest, sub) if (to_dir or src == "." or rel != src) else dest
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            shutil.copy2(context / rel, target)
            copied += 1
    print(f"  copied {copied} file(s) to {dest}")


def main(argv: list[str]) -> None:
    if len(argv) == 4 and argv[0] == "translate":
        translate(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    elif len(argv) >= 4 and argv[0] == "copy":
        copy(Path(argv[1]), argv[2], argv[3:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
