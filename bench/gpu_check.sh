#!/usr/bin/env bash
# GPU check: train on an NVIDIA GPU through Runboard and check what the run recorded.
#
#     bench/gpu_check.sh            # from the checkout; uses .venv/bin/python if present
#
# Trains `gpt` (if registered, else `mlp`) with accelerator=gpu, precision=bf16-mixed, devices=all
# (and strategy=ddp when there are several GPUs) into a fresh SQLite store in a temp folder, then
# checks the run: FINISHED, one train/loss point per step, GPU system metrics
# (system/gpu_0_utilization_percentage, system/gpu_0_memory_usage_megabytes) and tokens/s (gpt)
# or samples/s. Prints a short report; exits non-zero (naming the missing piece) on any failure,
# and exits 2 at once on a machine without a usable CUDA GPU. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"; [ -x "$PY" ] || PY=python3
EPOCHS="${GPU_CHECK_EPOCHS:-2}"

NGPU="$("$PY" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>/dev/null || echo 0)"
if [ "${NGPU:-0}" -lt 1 ]; then
  echo "gpu_check: FAIL: no usable CUDA GPU here (torch.cuda.is_available() is False; nvidia-smi: $(command -v nvidia-smi >/dev/null && echo present || echo absent))" >&2
  exit 2
fi
FAMILY="$("$PY" -c 'from trainers.registry import families; print("gpt" if "gpt" in families() else "mlp")')"
STRATEGY=auto; [ "$NGPU" -gt 1 ] && STRATEGY=ddp

TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
export MLFLOW_TRACKING_URI="sqlite:///$TMP/mlflow.db" RUNBOARD_ARTIFACT_ROOT="file://$TMP/artifacts"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
echo "gpu_check: $NGPU GPU(s): $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | sort | uniq -c | xargs || echo '?')"
echo "gpu_check: training $FAMILY accelerator=gpu precision=bf16-mixed devices=all strategy=$STRATEGY max_epochs=$EPOCHS"
START=$(date +%s)
set +e
"$PY" -m trainers.train "$FAMILY" --set accelerator=gpu --set precision=bf16-mixed --set devices=all \
  --set strategy="$STRATEGY" --set max_epochs="$EPOCHS" >"$TMP/out.txt" 2>"$TMP/err.txt"
RC=$?
set -e
echo "gpu_check: trainer exit $RC after $(( $(date +%s) - START )) s"
if [ "$RC" -ne 0 ]; then tail -n 20 "$TMP/err.txt" >&2; fi
RUN_ID="$(tail -n 1 "$TMP/out.txt")"
"$PY" - "$RUN_ID" "$FAMILY" "$NGPU" <<'PYEOF'
import sys
from trainers import metrics, tracking

run_id, family, ngpu = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = tracking.client()
problems = []
try:
    run = c.get_run(run_id)
except Exception as exc:  # noqa: BLE001
    print(f"gpu_check: FAIL: no run {run_id!r}: {exc}", file=sys.stderr)
    sys.exit(1)
runs = [r for e in c.search_experiments() for r in c.search_runs([e.experiment_id])]
if len(runs) != 1:
    problems.append(f"{len(runs)} runs in the store (DDP must make exactly one)")
if run.info.status != "FINISHED":
    problems.append(f"run ended {run.info.status}: {run.data.tags.get('runboard.error', '')[:300]}")
steps = [m.step for m in c.get_metric_history(run_id, "train/loss")]
if not steps or sorted(steps) != list(range(min(steps), min(steps) + len(steps))) or len(set(steps)) != len(steps):
    problems.append(f"train/loss: {len(steps)} points, not one per step")
keys = sorted(run.data.metrics)
def last(key):
    hist = c.get_metric_history(run_id, key)
    return (max(m.value for m in hist), len(hist)) if hist else (None, 0)
print(f"gpu_check: run {run_id} {run.info.status}, {len(steps)} train/loss points, params devices={run.data.params.get('devices')} precision={run.data.params.get('precision')}")
wanted = [f"system/gpu_{i}_{what}" for i in range(max(ngpu, 1)) for what in ("utilization_percentage", "memory_usage_megabytes")]
for key in wanted:
    peak, n = last(key)
    print(f"  {key:<45} peak {peak if peak is not None else '-'} ({n} points)")
    if peak is None:
        problems.append(f"{key}: missing (system metrics)")
rate = getattr(metrics, "TOKENS_PER_S", "throughput/tokens_per_s") if family == "gpt" else getattr(metrics, "SAMPLES_PER_S", "throughput/samples_per_s")
peak, n = last(rate)
print(f"  {rate:<45} peak {peak if peak is not None else '-'} ({n} points)")
if peak is None:
    problems.append(f"{rate}: missing")
for key in ("val/loss", "val/perplexity"):
    if key in keys:
        print(f"  {key:<45} last {run.data.metrics[key]:.4g}")
if problems:
    for p in problems:
        print(f"gpu_check: FAIL: {p}", file=sys.stderr)
    sys.exit(1)
print("gpu_check: OK")
PYEOF
