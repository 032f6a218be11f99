"""tools/dev/gpu_session.sh dry-run on the CPU, as a device session would run it but
with small sizes: the checks, both step benchmarks (and the compiled one) and a one-run
toy protocol execute,
the log and the packed toy results land in $OUT. (The device has 15 minutes; a script
that first fails there wastes them.)"""
import os
import re
import subprocess
import tarfile

import pytest

from _tools import ROOT


# a developer script (CI has no GPU): make test-all, or before a device session
# `pytest -m slow tests/test_gpu_session.py`
@pytest.mark.slow
def test_gpu_session_dry_run_on_cpu(tmp_path):
    # NO_TIME_LIMITS: no step timeouts and the toy step whatever the budget says, so the
    # outcome does not depend on this machine's speed
    env = dict(os.environ, OUT=str(tmp_path / 'out'), SKIP_WHEELS='1', PYTHON=os.sys.executable,
               NO_TIME_LIMITS='1',
               DEVICE='cpu', BENCH_ARGS='--batch 2 --size 64 --steps 1 --warmup 0',
               TRAIN_STEP_ARGS='--size 128 96 --batch 1 --steps 1 --warmup 0',
               TOY_EPOCHS='1', TOY_JOBS='2', TOY_DATA=str(tmp_path / 'toy'),
               TOY_WORK=str(tmp_path / 'toy_work'), COMPILE_MODE='default',
               COMPILE_BACKEND='aot_eager',  # the plumbing; inductor: test_rbo_step_cost
               TOY_ARGS='--methods react --seeds 0 --num-train 4 --num-test 2')
    proc = subprocess.run(['bash', 'tools/dev/gpu_session.sh', '1'], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    log = (tmp_path / 'out' / 'session.log').read_text()
    assert log.count('[gpu-check] PASS') == 6, log[-3000:]  # 5 conv types + wrapper steps
    assert 'dispatched aten ops, whole step' in log
    assert log.count('ratio to first 1.000') == 1  # fp32 step benchmark (AMP needs CUDA)
    assert "torch.compile(mode='default', backend='aot_eager')" in log
    # eager (in the checks), with the weight math compiled, captured
    assert log.count('RBONN / ReActNet step time') == 3
    assert 'weight math compiled' in log and 'ran compiled in the timed steps' in log
    compiled = re.search(r'ran compiled in the timed steps \((\d+) graphs compiled\)', log)
    assert compiled and int(compiled.group(1)) >= 2, log[-3000:]  # refresh, backward
    assert log.count('weight side RBONN / ReActNet') == 2 and 'per-round ratios' in log
    assert 'toy protocol exit status 0' in log and '== done in' in log
    with tarfile.open(tmp_path / 'out' / 'toy_gpu.tgz') as tar:
        names = tar.getnames()
    assert 'toy_work/results.md' in names and 'toy_work/react_seed0/result.json' in names
    assert not any(n.endswith('.pth') for n in names)
    assert not (ROOT / 'work_dirs' / 'toy_work').exists()
