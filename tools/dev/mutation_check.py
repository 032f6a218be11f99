"""Plant known bugs in copies of the repository; the tests meant to catch each must fail.

    python tools/dev/mutation_check.py                 # every mutation (docs/testing.md: time)
    python tools/dev/mutation_check.py --list          # the mutations and their probes
    python tools/dev/mutation_check.py NAME [NAME ...] # some (names or unique prefixes)
    python tools/dev/mutation_check.py --fast          # those whose probes are unit tests

A mutation (tools/dev/mutations.py) is a named bug: text edits of the code (each ``old``
must occur exactly once where it is applied) and one or more *probes*, pytest selections
that must each fail on their own with the bug planted, so that a probe that is meant to
catch a bug (an end-to-end test, say) is shown to do so without the unit tests beside it.

For each mutation a fresh copy of the checkout (the files git tracks or would track) is
made at one fixed path, the edits applied, and every probe run there with the copy first
on PYTHONPATH (tests/conftest.py passes it to the tools the tests start). Before the
mutations, the union of all selected probes runs once on an unmutated copy: it must pass,
else "caught" would mean nothing. Printed per probe: caught (the tests failed), MISSED
(they passed), STALE (an edit did not apply: the code moved, update the mutation), ERROR
(pytest could not run them). Exit status 0 when every mutation is caught.
Not part of CI (minutes per end-to-end probe); run it before resolving a test issue.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutations import MUTATIONS  # noqa: E402


def tracked_files(root: Path) -> list:
    """The files git tracks or would track (untracked, not ignored) under ``root``."""
    out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    return [f for f in out.split('\0') if f and (root / f).is_file()]


def fresh_copy(dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    for rel in tracked_files(ROOT):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    return dest


def apply_edits(root: Path, edits, write: bool = True) -> list:
    """Apply (path, old, new) edits to the files under ``root``, in order (``write=False``:
    only check that they would apply); returns the problems (empty: all applied)."""
    problems, texts = [], {}
    for path, old, new in edits:
        file = root / path
        if path not in texts:
            texts[path] = file.read_text() if file.is_file() else None
        if texts[path] is None:
            problems.append(f'{path}: no such file')
            continue
        count = texts[path].count(old)
        if count != 1:
            problems.append(f'{path}: {old.strip()[:60]!r} found {count} times (expected 1)')
            continue
        texts[path] = texts[path].replace(old, new)
    if write and not problems:
        for path, text in texts.items():
            (root / path).write_text(text)
    return problems


def run_probe(copy: Path, tests, timeout: int, ext_cache: Path):
    """(outcome, seconds, tail of the output) of pytest on ``tests`` in ``copy``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(copy), os.environ.get('PYTHONPATH', '')]).rstrip(os.pathsep),
               RBONN_EXT_CACHE=str(ext_cache), PYTHONDONTWRITEBYTECODE='1')
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider',
                               *tests], cwd=copy, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return 'ERROR', time.monotonic() - start, f'timed out after {timeout} s'
    seconds = time.monotonic() - start
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    # pytest: 0 all passed, 1 some failed, 2 interrupted (collection error), 5 none collected
    outcome = {0: 'MISSED', 1: 'caught', 2: 'caught'}.get(proc.returncode, 'ERROR')
    return outcome, seconds, '\n'.join(tail)


def select(names, fast: bool) -> list:
    if not names:
        return [m for m in MUTATIONS if not fast or m.get('fast', False)]
    chosen = []
    for name in names:
        found = [m for m in MUTATIONS if m['name'] == name] or \
            [m for m in MUTATIONS if m['name'].startswith(name)]
        if not found:
            sys.exit(f'mutation_check: error: no mutation named {name!r} (--list shows them)')
        chosen += [m for m in found if m not in chosen]
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('names', nargs='*', help='mutations to run (default: all)')
    parser.add_argument('--list', action='store_true', help='list the mutations and stop')
    parser.add_argument('--fast', action='store_true', help='only mutations marked fast')
    parser.add_argument('--no-baseline', action='store_true',
                        help='skip the unmutated run of the probes')
    parser.add_argument('--timeout', type=int, default=1800, help='seconds per probe')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    parser.add_argument('--edits-only', action='store_true',
                        help='only check that every edit applies (no tests run)')
    args = parser.parse_args()
    chosen = select(args.names, args.fast)
    if args.list:
        for m in chosen:
            print(f"{m['name']}: {m['bug']}")
            for path, _, _ in m['edits']:
                print(f'    edits {path}')
            for probe in m['probes']:
                print(f"    probe {' '.join(probe)}")
        return
    if args.edits_only:
        stale = {m['name']: apply_edits(ROOT, m['edits'], write=False) for m in chosen}
        for name, problems in stale.items():
            print(f"{'STALE' if problems else 'ok':5s}   {name}" +
                  (': ' + '; '.join(problems) if problems else ''))
        sys.exit(1 if any(stale.values()) else 0)
    work = Path(tempfile.mkdtemp(prefix='rbonn_mutation_'))
    copy, ext_cache = work / 'checkout', work / 'torch_extensions'
    start, failed = time.monotonic(), []
    print(f'[mutation] {len(chosen)} mutations, '
          f'{sum(len(m["probes"]) for m in chosen)} probes; work dir {work}', flush=True)
    try:
        if not args.no_baseline:
            union = sorted({t for m in chosen for probe in m['probes'] for t in probe})
            outcome, seconds, tail = run_probe(fresh_copy(copy), union, args.timeout, ext_cache)
            ok = outcome == 'MISSED'  # nothing failed
            print(f"[mutation] baseline (no bug planted): {'pass' if ok else 'FAIL'} "
                  f'({len(union)} selections, {seconds:.0f} s)', flush=True)
            if not ok:
                print(tail)
                sys.exit('mutation_check: error: the probes fail without a planted bug; '
                         'fix the tests first')
        for m in chosen:
            problems = apply_edits(fresh_copy(copy), m['edits'])
            if problems:
                failed.append(m['name'])
                print(f"STALE   {m['name']}: " + '; '.join(problems), flush=True)
                continue
            for probe in m['probes']:
                outcome, seconds, tail = run_probe(copy, probe, args.timeout, ext_cache)
                if outcome != 'caught':
                    failed.append(m['name'])
                print(f"{outcome:7s} {m['name']} <- {' '.join(probe)} ({seconds:.0f} s)",
                      flush=True)
                if outcome == 'ERROR':
                    print('        ' + tail.replace('\n', '\n        '))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    total = time.monotonic() - start
    failed = sorted(set(failed))
    print(f'[mutation] {len(chosen) - len(failed)} of {len(chosen)} mutations caught by every '
          f'probe in {total / 60:.1f} min' + (f'; not: {", ".join(failed)}' if failed else ''))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
