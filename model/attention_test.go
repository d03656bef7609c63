package model

import (
	"strings"
	"testing"
)

func TestKVDTypeOf(t *testing.T) {
	for _, c := range []struct {
		o    PathOptions
		want string
	}{
		{PathOptions{}, "f32"},
		{PathOptions{ActDType: "f16"}, "f16"},
		{PathOptions{ActDType: "f16", KVDType: "f32"}, "f32"},
		{PathOptions{KVDType: "f16"}, "f16"},
	} {
		if got := KVDTypeOf(c.o); got != c.want {
			t.Errorf("KVDTypeOf(%+v) = %q, want %q", c.o, got, c.want)
		}
	}
}

// TestCheckFlashAttn: flash attention applies to llamacpp and reference;
// elsewhere it is an error, and OpenPath applies the rule before the
// path's opener runs.
func TestCheckFlashAttn(t *testing.T) {
	on := PathOptions{FlashAttn: true}
	for _, c := range []struct {
		path string
		o    PathOptions
		ok   bool
	}{
		{"llamacpp", on, true}, {"reference", on, true}, {"dsl", on, false}, {"other", on, false}, {"dsl", PathOptions{}, true},
		// The reference path's flash kernel is ggml-cpu's: plain (asked
		// for, or the default of a GPU backend) refuses it.
		{"reference", PathOptions{FlashAttn: true, Numerics: "ggml-cpu"}, true},
		{"reference", PathOptions{FlashAttn: true, Backend: "cpu"}, true},
		{"reference", PathOptions{FlashAttn: true, Numerics: "plain"}, false},
		{"reference", PathOptions{FlashAttn: true, Backend: "cuda"}, false},
		{"reference", PathOptions{FlashAttn: true, Backend: "metal"}, false},
		{"reference", PathOptions{Numerics: "plain"}, true},
		{"llamacpp", PathOptions{FlashAttn: true, Numerics: "plain"}, true},
	} {
		err := CheckFlashAttn(c.path, c.o)
		if (err == nil) != c.ok {
			t.Errorf("CheckFlashAttn(%s, %+v) = %v, want ok %v", c.path, c.o, err, c.ok)
		}
	}
	opened := false
	RegisterPath("flashless-test", func(*Model, PathOptions) (Path, error) { opened = true; return nil, nil })
	defer delete(openers, "flashless-test")
	if _, err := OpenPath("flashless-test", nil, on); err == nil || !strings.Contains(err.Error(), "flash attention does not apply") || opened {
		t.Errorf("OpenPath with flash attention on a path without it: err = %v, opener ran: %v", err, opened)
	}
}
