#!/usr/bin/env python3
"""File-tree corpus helper for make-corpus.sh.

  gen_tree.py select LIST POOL FILES BYTES MAXFILE SEED ADD_PCT ROOT... [--exclude PATH]...
      Walks the ROOTs (absolute folders, e.g. /usr/share /usr/lib) depth-first,
      entries sorted by name (bytes), without crossing file systems, and writes
      to LIST the NUL-separated paths (relative to /, for `tar -C / -T LIST
      --null --no-recursion`) of folders, symbolic links and regular files up
      to MAXFILE bytes, until at least FILES regular files and BYTES bytes are
      selected.  Excluded paths, special files and unreadable entries are
      skipped.  POOL gets ADD_PCT % (of the selected files' count) of the
      regular files (<= MAXFILE) that were not selected, as "size<TAB>path"
      lines: those whose seeded hash of the path is smallest, so that files
      installed later rarely change the pick; `modify` copies them in as new
      files.  Prints one JSON line: counts and a fingerprint of the selection
      and the pool (paths, types, sizes, mtimes), so a changed system rebuilds.

  gen_tree.py modify TREE POOL SEED CHANGE_PCT DEL_PCT MANIFEST
      Turns TREE (a `cp -a` copy of tree0) into tree1, deterministically:
      CHANGE_PCT % of the regular files get a few bytes appended or a few bytes
      in the middle rewritten (mtime + 1 h), DEL_PCT % are removed, the POOL
      files are copied in as new files named bench-added-N-NAME in seeded
      folders; folders whose entries changed get their mtime + 1 h.  MANIFEST
      lists every change.

  gen_tree.py apply MANIFEST TREE1 LIVE
      Edits LIVE (a copy of tree0) in place into a copy of TREE1, following
      MANIFEST: changed files are rewritten in place (same inode), removed ones
      unlinked, added ones copied; modes and times come from TREE1.  Unchanged
      files are not touched, so their inode, ctime and mtime stay the same: a
      backup tool's incremental (metadata) check sees them as unchanged.

  gen_tree.py sums TREE OUT
      Writes "sha256  path" lines for the regular files and "link -> target"
      lines for symbolic links of TREE, sorted, to OUT.
"""

import hashlib
import heapq
import json
import os
import random
import stat
import sys

HOUR_NS = 3600 * 10**9


def walk_sorted(top, dev, excluded):
    """Yields (path, lstat) depth-first in sorted order, folders before their
    entries; stays on device dev and skips excluded paths (bytes)."""
    try:
        names = sorted(os.listdir(top))
    except OSError as e:
        print("gen_tree: skipping %r: %s" % (top, e), file=sys.stderr)
        return
    for name in names:
        p = os.path.join(top, name)
        if p in excluded:
            continue
        try:
            st = os.lstat(p)
        except OSError:
            continue
        yield p, st
        if stat.S_ISDIR(st.st_mode) and st.st_dev == dev:
            yield from walk_sorted(p, dev, excluded)


def cmd_select(a):
    list_path, pool_path = a[0], a[1]
    want_files, want_bytes, max_file = int(a[2]), int(a[3]), int(a[4])
    seed, add_pct = a[5], float(a[6])
    roots, excluded, i = [], set(), 7
    while i < len(a):
        if a[i] == "--exclude":
            excluded.add(os.fsencode(os.path.abspath(a[i + 1])))
            i += 2
        else:
            roots.append(os.fsencode(os.path.abspath(a[i])))
            i += 1
    fp = hashlib.sha256(("%s|%d|%d|%d" % (seed, want_files, want_bytes, max_file)).encode())
    nfiles = nbytes = nlinks = ndirs = 0
    done = False
    emitted = set()
    pool = []
    with open(list_path, "wb") as out:
        def emit(p, st, kind):
            out.write(p.lstrip(b"/") + b"\0")
            fp.update(b"%s\0%s\0%d\0%d\0" % (kind, p, st.st_size if kind != b"d" else 0,
                                             st.st_mtime_ns if kind != b"d" else 0))

        for root in roots:
            rst = os.lstat(root)
            # ancestors first, so tar keeps their modes and times too
            parts = root.strip(b"/").split(b"/")
            for k in range(1, len(parts) + 1):
                anc = b"/" + b"/".join(parts[:k])
                if anc not in emitted and not done:
                    emitted.add(anc)
                    emit(anc, os.lstat(anc), b"d")
                    ndirs += 1
            for p, st in walk_sorted(root, rst.st_dev, excluded):
                m = st.st_mode
                if stat.S_ISREG(m):
                    if st.st_size > max_file or not os.access(p, os.R_OK):
                        continue
                    if done:
                        key = hashlib.sha256(seed.encode() + b"/pool/" + p).digest()
                        pool.append((key, p, st.st_size, st.st_mtime_ns))
                        continue
                    emit(p, st, b"f")
                    nfiles += 1
                    nbytes += st.st_size
                    if nfiles >= want_files and nbytes >= want_bytes:
                        done = True
                elif done:
                    continue
                elif stat.S_ISDIR(m):
                    if st.st_dev != rst.st_dev:
                        continue
                    emit(p, st, b"d")
                    ndirs += 1
                elif stat.S_ISLNK(m):
                    emit(p, st, b"l")
                    nlinks += 1
    n_add = max(1, round(nfiles * add_pct / 100))
    picks = heapq.nsmallest(n_add, pool)
    with open(pool_path, "wb") as f:
        for _, p, size, mtime in picks:
            f.write(b"%d\t%s\n" % (size, p))
            fp.update(b"a\0%s\0%d\0%d\0" % (p, size, mtime))
    print(json.dumps({"files": nfiles, "bytes": nbytes, "symlinks": nlinks, "dirs": ndirs,
                      "pool": len(pool), "added": len(picks), "reached": done,
                      "fingerprint": fp.hexdigest()[:16]}))
    return 0


def regular_files(tree):
    """Sorted relative paths (bytes) of the regular files and folders below tree."""
    files, dirs = [], []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        rel = os.path.relpath(dirpath, tree)
        dirs.append(rel)
        for n in filenames:
            p = os.path.join(dirpath, n)
            if stat.S_ISREG(os.lstat(p).st_mode):
                files.append(os.path.normpath(os.path.join(rel, n)))
    files.sort()
    dirs.sort()
    return files, dirs


def writable(path, fn):
    """Runs fn() with path temporarily writable by us (non-root runs)."""
    st = os.lstat(path)
    if os.access(path, os.W_OK):
        return fn()
    os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_IWUSR)
    try:
        return fn()
    finally:
        os.chmod(path, stat.S_IMODE(st.st_mode))


def cmd_modify(a):
    tree, pool_path, seed = os.fsencode(a[0]), a[1], a[2]
    change_pct, del_pct = float(a[3]), float(a[4])
    manifest = a[5]
    rng = random.Random("%s/tree" % seed)
    files, dirs = regular_files(tree)
    n = len(files)
    n_change = min(n // 2, max(1, round(n * change_pct / 100)))
    n_del = min(n // 4, max(1, round(n * del_pct / 100)))
    picks = rng.sample(range(n), n_change + n_del)
    changed = sorted(files[i] for i in picks[:n_change])
    removed = sorted(files[i] for i in picks[n_change:])
    touched_dirs = set()
    log = []
    changed_bytes = 0

    for rel in changed:
        p = os.path.join(tree, rel)
        st = os.stat(p)
        size = st.st_size
        if size < 2 or rng.random() < 0.5:
            k = rng.randint(1, 64)
            data = bytes(rng.getrandbits(8) for _ in range(k))

            def app(p=p, data=data):
                with open(p, "ab") as f:
                    f.write(data)
            writable(p, app)
            log.append(b"append %d %s" % (k, rel))
        else:
            off = size // 2
            k = min(rng.randint(1, 16), size - off)

            def rew(p=p, off=off, k=k):
                with open(p, "r+b") as f:
                    f.seek(off)
                    old = f.read(k)
                    new = bytes(b ^ (1 + rng.randrange(255)) for b in old)
                    f.seek(off)
                    f.write(new)
            writable(p, rew)
            log.append(b"rewrite %d@%d %s" % (k, off, rel))
        changed_bytes += size
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + HOUR_NS))

    dir_times = {}

    def note_dir(d):
        if d not in dir_times:
            st = os.stat(os.path.join(tree, d))
            dir_times[d] = (st.st_atime_ns, st.st_mtime_ns)
        touched_dirs.add(d)

    for rel in removed:
        d = os.path.dirname(rel) or b"."
        note_dir(d)
        writable(os.path.join(tree, d), lambda p=os.path.join(tree, rel): os.unlink(p))
        log.append(b"remove %s" % rel)

    pool = []
    with open(pool_path, "rb") as f:
        for line in f:
            size, path = line.rstrip(b"\n").split(b"\t", 1)
            pool.append(path)
    added_bytes = 0
    if pool:
        dirs_b = [os.fsencode(d) for d in dirs]
        for i, src in enumerate(pool):
            d = rng.choice(dirs_b)
            note_dir(d)
            rel = os.path.normpath(os.path.join(d, b"bench-added-%05d-%s" % (i, os.path.basename(src))))
            dst = os.path.join(tree, rel)

            def cp(src=src, dst=dst):
                with open(src, "rb") as fi, open(dst, "wb") as fo:
                    while True:
                        b = fi.read(1 << 20)
                        if not b:
                            break
                        fo.write(b)
            writable(os.path.join(tree, d), cp)
            st = os.stat(src)
            os.chmod(dst, stat.S_IMODE(st.st_mode))
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            added_bytes += st.st_size
            log.append(b"add %s <- %s" % (rel, src))
    for d in sorted(touched_dirs):
        at, mt = dir_times[d]
        os.utime(os.path.join(tree, d), ns=(at, mt + HOUR_NS))

    with open(manifest, "wb") as f:
        f.write(b"\n".join(log) + b"\n")
    print(json.dumps({"files_before": n, "changed": len(changed), "changed_file_bytes": changed_bytes,
                      "removed": len(removed), "added": len(log) - len(changed) - len(removed),
                      "added_bytes": added_bytes, "folders_touched": len(touched_dirs)}))
    return 0


def cmd_sums(a):
    tree, out = os.fsencode(a[0]), a[1]
    lines = []
    for dirpath, dirnames, filenames in os.walk(tree):
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, tree)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                lines.append((rel, b"link  %s -> %s" % (rel, os.readlink(p))))
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    while True:
                        b = f.read(1 << 20)
                        if not b:
                            break
                        h.update(b)
                lines.append((rel, b"%s  %s" % (h.hexdigest().encode(), rel)))
    lines.sort()
    with open(out, "wb") as f:
        f.write(b"".join(line + b"\n" for _, line in lines))
    return 0


def copy_times(src, dst):
    st = os.lstat(src)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def cmd_apply(a):
    manifest, tree1, live = a[0], os.fsencode(a[1]), os.fsencode(a[2])
    dirs = set()
    n = 0
    with open(manifest, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if not line:
                continue
            op, rest = line.split(b" ", 1)
            if op in (b"append", b"rewrite"):
                rel = rest.split(b" ", 1)[1]
                src, dst = os.path.join(tree1, rel), os.path.join(live, rel)
                with open(src, "rb") as fi:
                    data = fi.read()

                def rw(dst=dst, data=data):
                    with open(dst, "r+b") as fo:
                        fo.write(data)
                        fo.truncate()
                writable(dst, rw)
                copy_times(src, dst)
            elif op == b"remove":
                rel = rest
                dirs.add(os.path.dirname(rel))
                dst = os.path.join(live, rel)
                writable(os.path.dirname(dst) or b".", lambda dst=dst: os.unlink(dst))
            elif op == b"add":
                rel = rest.split(b" <- ", 1)[0]
                dirs.add(os.path.dirname(rel))
                src, dst = os.path.join(tree1, rel), os.path.join(live, rel)

                def cp(src=src, dst=dst):
                    with open(src, "rb") as fi, open(dst, "wb") as fo:
                        fo.write(fi.read())
                writable(os.path.dirname(dst), cp)
                os.chmod(dst, stat.S_IMODE(os.stat(src).st_mode))
                copy_times(src, dst)
            else:
                print("gen_tree: bad manifest line %r" % line, file=sys.stderr)
                return 1
            n += 1
    for d in sorted(dirs):
        copy_times(os.path.join(tree1, d), os.path.join(live, d))
    print(json.dumps({"applied": n, "folders": len(dirs)}))
    return 0


def main():
    cmds = {"select": cmd_select, "modify": cmd_modify, "apply": cmd_apply, "sums": cmd_sums}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
