package llamacpp

import (
	"fmt"
	"strings"
	"unsafe"
)

// The pinned build: npm @node-llama-cpp/linux-x64@3.22.1, whose
// _nlcBuildMetadata.json names llama.cpp release "v0.5.0". These strings
// come from llama_version(), ggml_version() and ggml_commit().
const (
	PinLlamaVersion = "0.5.0-dev"
	PinGGMLVersion  = "0.25.1"
	PinGGMLCommit   = "0ad4a86"
)

// Sizes of the C structs in the pinned build, in bytes.
const (
	sizeModelParams   = 80
	sizeContextParams = 160
	sizeBatch         = 56
)

// modelParams mirrors struct llama_model_params (80 bytes).
type modelParams struct {
	Devices             unsafe.Pointer // ggml_backend_dev_t *
	TensorBuftOverrides unsafe.Pointer // const struct llama_model_tensor_buft_override *
	NGPULayers          int32
	SplitMode           int32 // enum llama_split_mode
	LoadMode            int32 // enum llama_load_mode
	LazyMode            int32 // enum llama_lazy_mode
	MainGPU             int32
	TensorSplit         unsafe.Pointer // const float *
	ProgressCallback    uintptr        // llama_progress_callback
	ProgressUserData    uintptr
	KVOverrides         unsafe.Pointer // const struct llama_model_kv_override *
	VocabOnly           bool
	CheckTensors        bool
	UseExtraBufts       bool
	NoHost              bool
	NoAlloc             bool
	LoadMTP             bool
}

// contextParams mirrors struct llama_context_params (160 bytes).
type contextParams struct {
	NCtx              uint32
	NBatch            uint32
	NUbatch           uint32
	NSeqMax           uint32
	NRsSeq            uint32
	NOutputsMax       uint32
	NOutputsMaxPerSeq uint32
	NThreads          int32
	NThreadsBatch     int32
	CtxType           int32 // enum llama_context_type
	RopeScalingType   int32 // enum llama_rope_scaling_type
	PoolingType       int32 // enum llama_pooling_type
	AttentionType     int32 // enum llama_attention_type
	FlashAttnType     int32 // enum llama_flash_attn_type (offset 52)
	RopeFreqBase      float32
	RopeFreqScale     float32
	YarnExtFactor     float32
	YarnAttnFactor    float32
	YarnBetaFast      float32
	YarnBetaSlow      float32
	YarnOrigCtx       uint32
	DefragThold       float32
	CbEval            uintptr // ggml_backend_sched_eval_callback (offset 88)
	CbEvalUserData    uintptr
	TypeK             int32 // enum ggml_type
	TypeV             int32
	AbortCallback     uintptr
	AbortCallbackData uintptr
	Embeddings        bool
	OffloadKQV        bool
	NoPerf            bool
	OpOffload         bool
	SwaFull           bool
	KVUnified         bool
	Samplers          unsafe.Pointer // struct llama_sampler_seq_config *
	NSamplers         uint64
	CtxOther          unsafe.Pointer // struct llama_context *
}

// batch mirrors struct llama_batch (56 bytes).
type batch struct {
	NTokens int32
	Token   unsafe.Pointer // llama_token *
	Embd    unsafe.Pointer // float *
	Pos     unsafe.Pointer // llama_pos *
	NSeqID  unsafe.Pointer // int32_t *
	SeqID   unsafe.Pointer // llama_seq_id **
	Logits  unsafe.Pointer // int8_t *
}

// Offsets of the ggml_tensor fields read in the eval callback, checked at
// start-up against a tensor made by ggml_new_tensor_4d.
const (
	offTensorType    = 0   // enum ggml_type
	offTensorBuffer  = 8   // struct ggml_backend_buffer *
	offTensorNe      = 16  // int64_t ne[4]
	offTensorNb      = 48  // size_t nb[4]
	offTensorOp      = 80  // enum ggml_op
	offTensorSrc     = 152 // struct ggml_tensor * src[10]
	offTensorViewSrc = 232 // struct ggml_tensor *
	offTensorData    = 248 // void *
	offTensorName    = 256 // char name[64]
	tensorNameLen    = 64
	tensorSize       = 336 // ggml_tensor_overhead() - GGML_OBJECT_SIZE (32)
)

// ggml_type values used here.
const (
	ggmlTypeF32 = 0
	ggmlTypeF16 = 1
)

// enum values of the pinned build.
const (
	flashAttnDisabled = 0
	flashAttnEnabled  = 1
	splitModeNone     = 0
)

// checkMirrors verifies the Go mirrors against the pinned C sizes and the
// documented offsets.
func checkMirrors() error {
	var errs []string
	check := func(what string, got, want uintptr) {
		if got != want {
			errs = append(errs, fmt.Sprintf("%s = %d, want %d", what, got, want))
		}
	}
	var mp modelParams
	var cp contextParams
	var b batch
	check("sizeof(llama_model_params)", unsafe.Sizeof(mp), sizeModelParams)
	check("sizeof(llama_context_params)", unsafe.Sizeof(cp), sizeContextParams)
	check("sizeof(llama_batch)", unsafe.Sizeof(b), sizeBatch)
	check("offsetof(llama_context_params.flash_attn_type)", unsafe.Offsetof(cp.FlashAttnType), 52)
	check("offsetof(llama_context_params.cb_eval)", unsafe.Offsetof(cp.CbEval), 88)
	check("offsetof(llama_model_params.vocab_only)", unsafe.Offsetof(mp.VocabOnly), 72)
	if len(errs) > 0 {
		return fmt.Errorf("llamacpp: Go mirrors do not match the pinned ABI: %s", strings.Join(errs, "; "))
	}
	return nil
}

// checkModelDefaults compares llama_model_default_params() of the loaded
// library with the pinned build's values.
func checkModelDefaults(mp modelParams) error {
	var errs []string
	want := func(what string, ok bool) {
		if !ok {
			errs = append(errs, what)
		}
	}
	want(fmt.Sprintf("n_gpu_layers %d (want -1)", mp.NGPULayers), mp.NGPULayers == -1)
	want(fmt.Sprintf("split_mode %d (want 1)", mp.SplitMode), mp.SplitMode == 1)
	want(fmt.Sprintf("load_mode %d (want -1)", mp.LoadMode), mp.LoadMode == -1)
	want(fmt.Sprintf("lazy_mode %d (want 1)", mp.LazyMode), mp.LazyMode == 1)
	want(fmt.Sprintf("main_gpu %d (want 0)", mp.MainGPU), mp.MainGPU == 0)
	want("pointer fields not NULL", mp.Devices == nil && mp.TensorBuftOverrides == nil && mp.TensorSplit == nil &&
		mp.ProgressCallback == 0 && mp.ProgressUserData == 0 && mp.KVOverrides == nil)
	want(fmt.Sprintf("bools vocab_only..load_mtp = %v %v %v %v %v %v (want false false true false false false)",
		mp.VocabOnly, mp.CheckTensors, mp.UseExtraBufts, mp.NoHost, mp.NoAlloc, mp.LoadMTP),
		!mp.VocabOnly && !mp.CheckTensors && mp.UseExtraBufts && !mp.NoHost && !mp.NoAlloc && !mp.LoadMTP)
	if len(errs) > 0 {
		return fmt.Errorf("llamacpp: llama_model_default_params differs from the pinned build (ABI mismatch): %s", strings.Join(errs, "; "))
	}
	return nil
}

// checkContextDefaults compares llama_context_default_params() of the
// loaded library with the pinned build's values.
func checkContextDefaults(cp contextParams) error {
	var errs []string
	want := func(what string, ok bool) {
		if !ok {
			errs = append(errs, what)
		}
	}
	want(fmt.Sprintf("n_ctx/n_batch/n_ubatch/n_seq_max = %d/%d/%d/%d (want 512/2048/512/1)", cp.NCtx, cp.NBatch, cp.NUbatch, cp.NSeqMax),
		cp.NCtx == 512 && cp.NBatch == 2048 && cp.NUbatch == 512 && cp.NSeqMax == 1)
	want(fmt.Sprintf("n_rs_seq/n_outputs_max/n_outputs_max_per_seq = %d/%d/%d (want 0/0/1)", cp.NRsSeq, cp.NOutputsMax, cp.NOutputsMaxPerSeq),
		cp.NRsSeq == 0 && cp.NOutputsMax == 0 && cp.NOutputsMaxPerSeq == 1)
	want(fmt.Sprintf("n_threads/n_threads_batch = %d/%d (want 4/4)", cp.NThreads, cp.NThreadsBatch), cp.NThreads == 4 && cp.NThreadsBatch == 4)
	want(fmt.Sprintf("ctx_type..flash_attn_type = %d %d %d %d %d (want 0 -1 -1 -1 -1)", cp.CtxType, cp.RopeScalingType, cp.PoolingType, cp.AttentionType, cp.FlashAttnType),
		cp.CtxType == 0 && cp.RopeScalingType == -1 && cp.PoolingType == -1 && cp.AttentionType == -1 && cp.FlashAttnType == -1)
	want(fmt.Sprintf("rope/yarn floats = %g %g %g %g %g %g %d %g (want 0 0 -1 -1 -1 -1 0 -1)", cp.RopeFreqBase, cp.RopeFreqScale,
		cp.YarnExtFactor, cp.YarnAttnFactor, cp.YarnBetaFast, cp.YarnBetaSlow, cp.YarnOrigCtx, cp.DefragThold),
		cp.RopeFreqBase == 0 && cp.RopeFreqScale == 0 && cp.YarnExtFactor == -1 && cp.YarnAttnFactor == -1 &&
			cp.YarnBetaFast == -1 && cp.YarnBetaSlow == -1 && cp.YarnOrigCtx == 0 && cp.DefragThold == -1)
	want("callback fields not NULL", cp.CbEval == 0 && cp.CbEvalUserData == 0 && cp.AbortCallback == 0 && cp.AbortCallbackData == 0)
	want(fmt.Sprintf("type_k/type_v = %d/%d (want 1/1)", cp.TypeK, cp.TypeV), cp.TypeK == 1 && cp.TypeV == 1)
	want(fmt.Sprintf("bools embeddings..kv_unified = %v %v %v %v %v %v (want false true true true true false)",
		cp.Embeddings, cp.OffloadKQV, cp.NoPerf, cp.OpOffload, cp.SwaFull, cp.KVUnified),
		!cp.Embeddings && cp.OffloadKQV && cp.NoPerf && cp.OpOffload && cp.SwaFull && !cp.KVUnified)
	want("samplers/n_samplers/ctx_other not empty", cp.Samplers == nil && cp.NSamplers == 0 && cp.CtxOther == nil)
	if len(errs) > 0 {
		return fmt.Errorf("llamacpp: llama_context_default_params differs from the pinned build (ABI mismatch): %s", strings.Join(errs, "; "))
	}
	return nil
}

// checkVersions compares the loaded build's version strings with the pin.
func checkVersions(llama, ggml, commit string) error {
	if llama != PinLlamaVersion || ggml != PinGGMLVersion || commit != PinGGMLCommit {
		return fmt.Errorf("llamacpp: wrong llama.cpp build: llama_version %q, ggml_version %q, ggml_commit %q; this package is pinned to %q, %q, %q (npm @node-llama-cpp/linux-x64@3.22.1)",
			llama, ggml, commit, PinLlamaVersion, PinGGMLVersion, PinGGMLCommit)
	}
	return nil
}
