#!/bin/sh
# repro-gpu.sh DIR... — on the GPU machine, build and run the CUDA runner of
# each repro folder that `paritycheck repro` wrote (nvcc with the options
# the cuda backend gives NVRTC) and print its figures beside the step
# table's. Exit 0 when every runner reproduced its table's figures
# exactly, 1 when some differ, 2 when some could not be built or run.
#
#   ./paritycheck repro --path dsl@cuda --checkpoint blk.1.ffn_act --out /tmp/repro-pass
#   ./paritycheck repro --path dsl@cuda --checkpoint blk.2.q_rope --perturb dsl:blk.2.q_rope=1e-3 --out /tmp/repro-perturbed
#   scripts/repro-gpu.sh /tmp/repro-pass /tmp/repro-perturbed
#
# NVCC (default nvcc on PATH, else /usr/local/cuda/bin/nvcc) and NVCC_ARCH
# (default: the architecture the repro recorded) are passed to run.sh.
if [ $# -eq 0 ]; then
    echo "usage: scripts/repro-gpu.sh DIR..." >&2
    exit 2
fi
if [ -z "$NVCC" ]; then
    NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
fi
export NVCC
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader
"$NVCC" --version | tail -n 1
worst=0
for dir in "$@"; do
    echo "== $dir"
    if [ ! -x "$dir/run.sh" ]; then
        echo "$dir: not a repro folder (no run.sh)" >&2
        worst=2
        continue
    fi
    "$dir/run.sh" cuda
    rc=$?
    case $rc in
    0) echo "$dir: reproduced the step table's figures exactly" ;;
    1) echo "$dir: figures differ from the step table's"; [ $worst -lt 1 ] && worst=1 ;;
    *) echo "$dir: could not build or run (exit $rc)"; worst=2 ;;
    esac
done
exit $worst
