#!/usr/bin/env bash
# gpu-acceptance.sh — every issue-13 acceptance command of paritycheck on
# the GPU machine, each one's output saved, never stopping at a failure,
# bounded in time, with a pass/fail summary at the end.
#
# Usage: scripts/gpu-acceptance.sh OUTDIR [PARITYCHECK]
#
#   OUTDIR       folder for the outputs (created): NN-name.json (stdout,
#                --json where the command has it), NN-name.txt (text
#                tables), NN-name.err (stderr), synth/ (the synth logs),
#                the goldens, summary.txt and summary.json. Models are not
#                written there (see MODELS): OUTDIR stays small.
#   PARITYCHECK  the built binary (default ./paritycheck; build it with
#                CGO_ENABLED=0 go build -o paritycheck ./cmd/paritycheck).
#
# Environment:
#   BACKEND   the GPU backend under test (default cuda). BACKEND=fake with a
#             binary built with -tags fakegpu rehearses the script on a
#             machine without a GPU.
#   BUDGET    seconds the whole script may take (default 340): a command
#             that would start later is recorded as skipped, and each
#             command is killed at its own timeout.
#   THREADS   cpu workers of the cpu paths (default: nproc).
#   BIG=0     leave out synth qwen2.5-0.5b (steps, tokens and bench on it).
#   MODELS    folder for the synth models (default $TMPDIR or /tmp, in
#             metallic-acceptance-models; qwen2.5-0.5b takes 1.6 GB).
#
# Exit status: 0 when every command passed, 1 otherwise (2 for bad usage).
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 OUTDIR [PARITYCHECK]" >&2
	exit 2
fi
OUT=$1
PC=${2:-./paritycheck}
B=${BACKEND:-cuda}
BUDGET=${BUDGET:-340}
THREADS=${THREADS:-$(nproc 2>/dev/null || echo 4)}
BIG=${BIG:-1}
if [ ! -x "$PC" ]; then
	echo "$0: $PC is not an executable paritycheck (build it: CGO_ENABLED=0 go build -o paritycheck ./cmd/paritycheck)" >&2
	exit 2
fi
PC=$(cd "$(dirname "$PC")" && pwd)/$(basename "$PC")
M=${MODELS:-${TMPDIR:-/tmp}/metallic-acceptance-models}
mkdir -p "$OUT/synth" "$M" || exit 2
OUT=$(cd "$OUT" && pwd)
L=$OUT/synth
rm -f "$M/.done"
START=$(date +%s)
N=0
RESULTS=$OUT/.results.tsv
: >"$RESULTS"
PY=$(command -v python3 || true)

# stories260K's 48 greedy ids from BOS (DESIGN.md, ground truth).
GOLDEN_IDS="403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352 266 268 388 426 338 391 266 267"

elapsed() { echo $(($(date +%s) - START)); }

# record NAME STATUS SECONDS EXIT WHY
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RESULTS"; }

# run NAME TIMEOUT EXPECT CHECK -- ARGS…: runs paritycheck ARGS with a
# timeout, stdout to NN-NAME.json (or .txt when ARGS has no --json), and
# judges it: the exit code must be EXPECT, and CHECK (a function name or
# "-") must accept the stdout file.
run() {
	local name=$1 limit=$2 expect=$3 check=$4
	shift 5
	N=$((N + 1))
	local id
	id=$(printf '%02d-%s' "$N" "$name")
	local ext=txt
	case " $* " in *" --json "*) ext=json ;; esac
	local left=$((BUDGET - $(elapsed)))
	if [ "$left" -le 5 ]; then
		record "$id" skipped 0 - "time budget of ${BUDGET}s spent"
		echo "[$(elapsed)s] $id: skipped (budget)"
		return
	fi
	[ "$limit" -gt "$left" ] && limit=$left
	echo "[$(elapsed)s] $id: paritycheck $*" | tee "$OUT/$id.cmd"
	local t0=$(date +%s)
	(cd "$OUT" && timeout -k 5 "$limit" "$PC" "$@") >"$OUT/$id.$ext" 2>"$OUT/$id.err"
	local code=$? secs=$(($(date +%s) - t0))
	local status=pass why=""
	if [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
		status=FAIL why="timed out after ${limit}s"
	elif [ "$code" != "$expect" ]; then
		status=FAIL why="exit $code, want $expect: $(grep -m1 'paritycheck:' "$OUT/$id.err" | cut -c1-300)"
	elif [ "$check" != "-" ]; then
		why=$("$check" "$OUT/$id.$ext" 2>&1) || status=FAIL
	fi
	record "$id" "$status" "$secs" "$code" "$why"
	echo "[$(elapsed)s] $id: $status ($secs s, exit $code) $why"
}

# pyjson FILE EXPR: evaluates a Python expression over the JSON object d.
pyjson() {
	if [ -z "$PY" ]; then
		echo "unchecked (no python3)"
		return 0
	fi
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ok, why = eval(sys.argv[2])
print(why)
sys.exit(0 if ok else 1)
EOF
}

check_golden_ids() { # streams of every recorded path are the 48 golden ids
	pyjson "$1" "(all(' '.join(map(str, s)) == '$GOLDEN_IDS' for s in d['streams'].values()), 'streams ' + ', '.join(k + (' = golden ids' if ' '.join(map(str, s)) == '$GOLDEN_IDS' else ' differ: ' + str(s)) for k, s in d['streams'].items()))"
}
check_bisect() { # bisect names blk.3.ffn_act
	pyjson "$1" "(d.get('checkpoint') == 'blk.3.ffn_act' and d.get('layer') == 3, 'named ' + str(d.get('checkpoint')) + ' (' + str(d.get('op')) + ', layer ' + str(d.get('layer')) + ')')"
}
check_steps() { # rows present, none failing
	pyjson "$1" "(len(d['rows']) > 0 and d['first_failure'] is None, str(len(d['rows'])) + ' rows, first failure ' + str(d['first_failure'] and d['first_failure']['checkpoint']))"
}
check_tokens() { # token parity verdicts, tie flips classified
	pyjson "$1" "(all(p['verdict'] == 'pass' for p in d['pairs']), '; '.join(p['a'] + ' vs ' + p['b'] + ': ' + p['class'] + ' at ' + str(p['first_divergence']) + ', kld_max %.3g' % p['kld_max'] for p in d['pairs']))"
}
check_fidelity() { # judged, every op within bounds (or bit-identical)
	pyjson "$1" "(d['first_failure'] is None, ('judged' if d['judged'] else 'bit for bit') + ', ' + str(len(d['rows'])) + ' rows, max ulp ' + str(max(r['max_ulp'] for r in d['rows'])) + ', first out of bounds ' + str(d['first_failure'] and d['first_failure']['checkpoint']))"
}
check_bench() { # speeds, reported
	pyjson "$1" "(d['decode_tok_s'] > 0, '%s@%s: prefill %.0f tok/s, decode %.1f tok/s' % (d['path'], d['backend'], d['prefill_tok_s'], d['decode_tok_s']) + (', profile: kernels %.3f ms of %.3f ms/token (gap %.0f%%), top %s %.3f ms' % (d['profile']['kernel_ms'], d['profile']['token_ms'], 100*d['profile']['gap_share'], d['profile']['kernels'][0]['kernel'], d['profile']['kernels'][0]['ms_per_token']) if d.get('profile') else ''))"
}
check_prefill() { # a prefill speed, reported as the time of the whole prompt
	pyjson "$1" "(d['prefill_tok_s'] > 0, '%s@%s: prefill of %d tokens %.1f ms (%.0f tok/s)' % (d['path'], d['backend'], d['prompt_len'], 1000 * d['prompt_len'] / d['prefill_tok_s'], d['prefill_tok_s']))"
}
check_report() {
	pyjson "$1" "(d['pass'], 'pass' if d['pass'] else 'first failure ' + str(d['steps']['first_failure'] and d['steps']['first_failure']['checkpoint']))"
}

# --- synth models, generated in the background while the GPU works -----
TINY="tiny-qwen2 tiny-qwen3 tiny-llama"
DTYPES="f16 q8_0 q4_0"
synth_all() {
	for p in $TINY; do
		for dt in $DTYPES; do
			"$PC" synth --preset "$p" --dtype "$dt" --seed 1 --out "$M/$p-$dt.gguf" >"$L/$p-$dt.log" 2>&1
		done
	done
	# llama-quantize's Q4_K_M mix, with its fallbacks for rows that are
	# not a multiple of 256 (d 384 and d 896: Q5_0, Q8_0, …).
	"$PC" synth --preset tiny-qwen2-d384 --mix q4_k_m --seed 1 --out "$M/tiny-qwen2-d384-q4_k_m.gguf" >"$L/tiny-qwen2-d384-q4_k_m.log" 2>&1
	if [ "$BIG" = 1 ]; then
		for dt in $DTYPES; do
			"$PC" synth --preset qwen2.5-0.5b --dtype "$dt" --seed 1 --out "$M/qwen2.5-0.5b-$dt.gguf" >"$L/qwen2.5-0.5b-$dt.log" 2>&1
		done
		"$PC" synth --preset qwen2.5-0.5b --mix q4_k_m --seed 1 --out "$M/qwen2.5-0.5b-q4_k_m.gguf" >"$L/qwen2.5-0.5b-q4_k_m.log" 2>&1
	fi
	touch "$M/.done"
}
synth_all &
SYNTH=$!

# model NAME: waits (bounded by the budget) for a synth model and prints
# its path; prints nothing when it never came.
model() {
	local f=$M/$1.gguf
	while [ ! -f "$M/.done" ] && [ ! -f "$f" ] && [ "$(elapsed)" -lt "$BUDGET" ]; do sleep 1; done
	while [ ! -f "$M/.done" ] && ! grep -q '^wrote' "$L/$1.log" 2>/dev/null && [ "$(elapsed)" -lt "$BUDGET" ]; do sleep 1; done
	[ -f "$f" ] && echo "$f"
}

# need NAME: the model's path, or a recorded failure (synth did not write it).
need() {
	local f
	f=$(model "$1")
	if [ -z "$f" ]; then # (in a subshell: the failure goes to the results file)
		record "synth-$1" FAIL 0 - "synth did not write $1 ($(tail -n1 "$L/$1.log" 2>/dev/null))"
		return 1
	fi
	echo "$f"
}

if command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/00-gpu.txt" 2>&1
else
	echo "no nvidia-smi" >"$OUT/00-gpu.txt"
fi
echo "GPU: $(cat "$OUT/00-gpu.txt"); backend $B; budget ${BUDGET}s; $THREADS cpu threads" | tee "$OUT/00-setup.txt"
"$PC" help >"$OUT/00-help.txt" 2>&1

PATHS3="reference@cpu,reference@$B,dsl@$B"

# --- stories260K (embedded): report, goldens, bisect, fidelity ---------
run provenance 60 0 - -- generate --path "reference@$B" --tokens 1 -n 1 --json
run report-embedded 90 0 check_report -- --backend "$B" --json
for act in f32 f16; do
	run "golden-record-$act" 60 0 check_golden_ids -- golden record --out "golden-$B-$act.gguf" --paths "reference@$B,dsl@$B" --tokens 1 -n 48 --act "$act" --json
	run "golden-verify-$act" 60 0 - -- golden verify "golden-$B-$act.gguf" --json
done
run steps-stories 60 0 check_steps -- steps --paths "$PATHS3" --threads "$THREADS" --json
run tokens-stories 60 0 check_tokens -- tokens --paths "$PATHS3" --threads "$THREADS" -n 32 --json
run tokens-stories-sampled 60 0 check_tokens -- tokens --paths "$PATHS3" --numerics plain --threads "$THREADS" -n 32 --temp 0.8 --seed 1 --json
run bisect-stories 60 1 check_bisect -- bisect --paths "reference@$B,dsl@$B" --perturb "dsl@$B:blk.3.ffn_act=1e-3" --json
run fidelity-reference-stories 60 0 check_fidelity -- fidelity --paths "reference@$B,reference@cpu" --threads "$THREADS" --json
run fidelity-reference-stories-table 60 0 - -- fidelity --paths "reference@$B,reference@cpu" --threads "$THREADS"
run fidelity-dsl-stories 60 0 check_fidelity -- fidelity --paths "dsl@$B,dsl@cpu" --numerics plain --threads "$THREADS" --json
run ops 120 0 - -- ops --backend "$B" --json

# --- synth tiny models: steps and seeded token parity ------------------
# steps with each backend's default numerics (ggml-cpu on the cpu, plain on
# the GPU: the judge allows for the rounding difference); token parity under
# --numerics plain on both, greedy and sampled, so that a divergence is the
# kernels', not the profiles' (ggml-cpu's 8-bit activations move quantized
# models' logits by ~1e-2, past the tie threshold).
for p in $TINY; do
	for dt in $DTYPES; do
		f=$(need "$p-$dt") || continue
		run "steps-$p-$dt" 60 0 check_steps -- steps "$f" --paths "$PATHS3" --threads "$THREADS" --json
		run "tokens-$p-$dt" 60 0 check_tokens -- tokens "$f" --paths "$PATHS3" --numerics plain --threads "$THREADS" -n 24 --json
		run "tokens-$p-$dt-sampled" 60 0 check_tokens -- tokens "$f" --paths "$PATHS3" --numerics plain --threads "$THREADS" -n 24 --temp 0.8 --seed 1 --json
	done
done
f=$(need tiny-qwen2-d384-q4_k_m) && run steps-tiny-qwen2-d384-q4_k_m 60 0 check_steps -- steps "$f" --paths "$PATHS3" --threads "$THREADS" --json
f=$(need tiny-qwen2-q8_0) && run fidelity-reference-tiny-qwen2-q8_0 60 0 check_fidelity -- fidelity "$f" --paths "reference@$B,reference@cpu" --threads "$THREADS" --json
f=$(need tiny-qwen3-q4_0) && run fidelity-dsl-tiny-qwen3-q4_0 60 0 check_fidelity -- fidelity "$f" --paths "dsl@$B,dsl@cpu" --numerics plain --threads "$THREADS" --json

# --- qwen2.5-0.5b: performance, profile, then parity --------------------
if [ "$BIG" = 1 ]; then
	if f=$(need qwen2.5-0.5b-f16); then
		run bench-dsl-f16 90 0 check_bench -- bench "$f" --backend "$B" --path dsl --prompt-len 64 -n 128 --json
		run bench-reference-f16 90 0 check_bench -- bench "$f" --backend "$B" --path reference --prompt-len 64 -n 128 --json
		run bench-dsl-f16-prefill512 90 0 check_prefill -- bench "$f" --backend "$B" --path dsl --prompt-len 512 -n 2 --json
		run bench-profile-dsl-f16 90 0 check_bench -- bench "$f" --backend "$B" --path dsl --prompt-len 64 -n 128 --reps 1 --profile --json
		run bench-profile-dsl-f16-table 90 0 - -- bench "$f" --backend "$B" --path dsl --prompt-len 64 -n 128 --reps 1 --profile
		run bench-profile-reference-f16 90 0 check_bench -- bench "$f" --backend "$B" --path reference --prompt-len 64 -n 64 --reps 1 --profile --json
	fi
	for dt in q8_0 q4_0 q4_k_m; do
		f=$(need "qwen2.5-0.5b-$dt") && run "bench-dsl-$dt" 90 0 check_bench -- bench "$f" --backend "$B" --path dsl --prompt-len 64 -n 128 --json
	done
	for dt in $DTYPES q4_k_m; do
		f=$(need "qwen2.5-0.5b-$dt") && run "steps-qwen2.5-0.5b-$dt" 150 0 check_steps -- steps "$f" --paths "$PATHS3" --tokens 1,2,3,4 --decode 1 --threads "$THREADS" --json
	done
	f=$(need qwen2.5-0.5b-f16) && run tokens-qwen2.5-0.5b-f16 120 0 check_tokens -- tokens "$f" --paths "$PATHS3" --numerics plain --tokens 1,2,3,4 -n 16 --threads "$THREADS" --json
fi

kill "$SYNTH" 2>/dev/null
wait "$SYNTH" 2>/dev/null

# --- summary ---------------------------------------------------------------
{
	printf '%-44s %-8s %6s %5s  %s\n' command status secs exit note
	while IFS=$'\t' read -r id status secs code why; do
		printf '%-44s %-8s %6s %5s  %s\n' "$id" "$status" "$secs" "$code" "$why"
	done <"$RESULTS"
	pass=$(grep -c $'\tpass\t' "$RESULTS")
	fail=$(grep -c $'\tFAIL\t' "$RESULTS")
	skip=$(grep -c $'\tskipped\t' "$RESULTS")
	echo "$pass pass, $fail FAIL, $skip skipped in $(elapsed) s (backend $B, $(cat "$OUT/00-gpu.txt" | head -n1))"
} | tee "$OUT/summary.txt"
if [ -n "$PY" ]; then
	"$PY" - "$RESULTS" "$OUT/summary.json" <<'EOF'
import json, sys
rows = [dict(zip(["command", "status", "seconds", "exit", "note"], l.rstrip("\n").split("\t"))) for l in open(sys.argv[1])]
json.dump({"commands": rows, "pass": all(r["status"] == "pass" for r in rows)}, open(sys.argv[2], "w"), indent=1)
EOF
fi
grep -q $'\tFAIL\t\|\tskipped\t' "$RESULTS" && exit 1
exit 0
