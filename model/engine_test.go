package model

import "testing"

// enginePath is a Path that runs an outside engine.
type enginePath struct {
	Path
	e Engine
}

func (p enginePath) Engine() Engine { return p.e }

func TestEngineOf(t *testing.T) {
	e := Engine{Name: "llama.cpp", Build: "0.5.0-dev", CPUVariant: "zen4", KV: "f16", FlashAttn: true, Threads: 1, Ctx: 128, Batch: 128}
	if got := EngineOf(); got != nil {
		t.Errorf("EngineOf() = %v, want nil", got)
	}
	got := EngineOf(nil, enginePath{e: e})
	if got == nil || *got != e {
		t.Fatalf("EngineOf = %v, want %v", got, e)
	}
	want := "llama.cpp 0.5.0-dev: libggml-cpu-zen4, KV f16, flash attention on, 1 thread, ctx 128, batch 128"
	if s := got.String(); s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
}
