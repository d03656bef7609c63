package cuda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTree creates files (paths relative to root) and returns root.
func fakeTree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNVRTCCandidates(t *testing.T) {
	root := fakeTree(t,
		"home/cuda/lib64/libnvrtc.so.13",
		"usr/local/cuda/lib64/libnvrtc.so",
		"usr/local/cuda/lib64/libnvrtc.so.12",
		"usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so.12.4.127",
		"usr/local/cuda-12.4/lib64/libnvrtc.so.12",
		"usr/local/cuda-12.4/lib64/libnvrtc.so.12.4.127",
		"usr/local/cuda-12.4/lib64/libnvrtc-builtins.so.12.4", // never NVRTC itself
		"usr/local/cuda-12.4/lib64/libnvrtc_static.a",
		"usr/local/cuda-12.10/lib64/libnvrtc.so.12.10.1", // 12.10 is newer than 12.4
		"usr/local/cuda-11.8/lib64/libnvrtc.so.11.2",
		"usr/local/cuda-11.8/lib64/libnvrtc.so.11.8.89",
		"usr/lib/x86_64-linux-gnu/libnvrtc.so.11.2",
		"opt/cuda/lib64/libnvrtc.so.13",
		"opt/cuda/targets/x86_64-linux/lib/libnvrtc.so.13.0.48",
	)
	env := searchEnv{getenv: envOf(map[string]string{"CUDA_HOME": filepath.Join(root, "home/cuda"), "CUDA_PATH": filepath.Join(root, "missing")}), root: root}
	var got []string
	for _, c := range env.nvrtcCandidates() {
		name := c.name
		if c.path {
			name = "/" + strings.TrimPrefix(name, root+"/")
		}
		got = append(got, name)
	}
	want := []string{
		"libnvrtc.so", "libnvrtc.so.14", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so.11.1", "libnvrtc.so.11.0", "libnvrtc.so.10.2",
		"/home/cuda/lib64/libnvrtc.so.13",
		"/usr/local/cuda/lib64/libnvrtc.so",
		"/usr/local/cuda/lib64/libnvrtc.so.12",
		"/usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so.12.4.127",
		"/usr/local/cuda-12.10/lib64/libnvrtc.so.12.10.1",
		"/usr/local/cuda-12.4/lib64/libnvrtc.so.12.4.127",
		"/usr/local/cuda-12.4/lib64/libnvrtc.so.12",
		"/usr/local/cuda-11.8/lib64/libnvrtc.so.11.8.89",
		"/usr/local/cuda-11.8/lib64/libnvrtc.so.11.2",
		"/usr/lib/x86_64-linux-gnu/libnvrtc.so.11.2",
		"/opt/cuda/lib64/libnvrtc.so.13",
		"/opt/cuda/targets/x86_64-linux/lib/libnvrtc.so.13.0.48",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("candidates:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	t.Run("METALLIC_NVRTC alone", func(t *testing.T) {
		env := searchEnv{getenv: envOf(map[string]string{EnvNVRTC: "/x/libnvrtc.so.13", "CUDA_HOME": filepath.Join(root, "home/cuda")}), root: root}
		c := env.nvrtcCandidates()
		if len(c) != 1 || c[0].name != "/x/libnvrtc.so.13" || !c[0].path {
			t.Fatalf("got %+v, want only /x/libnvrtc.so.13", c)
		}
	})
	t.Run("nothing installed", func(t *testing.T) {
		env := searchEnv{getenv: envOf(nil), root: t.TempDir()}
		c := env.nvrtcCandidates()
		if len(c) != 1+len(nvrtcSonames) {
			t.Fatalf("got %d candidates, want the %d loader names only: %+v", len(c), 1+len(nvrtcSonames), c)
		}
	})
}

func TestIncludeDir(t *testing.T) {
	root := fakeTree(t,
		"usr/local/cuda-12.4/targets/x86_64-linux/lib/libnvrtc.so.12",
		"usr/local/cuda-12.4/targets/x86_64-linux/include/cuda_fp16.h",
		"usr/local/cuda/include/cuda_fp16.h",
		"usr/include/cuda_fp16.h",
	)
	env := searchEnv{getenv: envOf(nil), root: root}
	for _, tc := range []struct{ lib, want string }{
		{filepath.Join(root, "usr/local/cuda-12.4/targets/x86_64-linux/lib/libnvrtc.so.12"), "usr/local/cuda-12.4/targets/x86_64-linux/include"},
		{"", "usr/local/cuda/include"},
		{"/elsewhere/libnvrtc.so", "usr/local/cuda/include"},
	} {
		if got := env.includeDir(tc.lib); got != filepath.Join(root, tc.want) {
			t.Errorf("includeDir(%q) = %q, want %q", tc.lib, got, filepath.Join(root, tc.want))
		}
	}
	cccl := fakeTree(t, "cuda/include/cuda_fp16.h", "cuda/include/cccl/nv/target")
	env = searchEnv{getenv: envOf(map[string]string{"CUDA_HOME": filepath.Join(cccl, "cuda")}), root: cccl}
	if got, want := strings.Join(env.includeDirs(""), " "), filepath.Join(cccl, "cuda/include")+" "+filepath.Join(cccl, "cuda/include/cccl"); got != want {
		t.Errorf("includeDirs = %q, want %q", got, want)
	}
	if got := (searchEnv{getenv: envOf(nil), root: t.TempDir()}).includeDir(""); got != "" && !strings.HasPrefix(got, "/usr/include") {
		t.Errorf("includeDir in an empty tree = %q", got)
	}
}

func TestBuiltinsFor(t *testing.T) {
	root := fakeTree(t, "lib/libnvrtc.so.13", "lib/libnvrtc-builtins.so.13.0", "lib/libnvrtc-builtins.so.12.4", "lib/libnvrtc-builtins.so")
	got := builtinsFor(filepath.Join(root, "lib/libnvrtc.so.13"))
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	want := "libnvrtc-builtins.so.13.0 libnvrtc-builtins.so.12.4 libnvrtc-builtins.so"
	if strings.Join(names, " ") != want {
		t.Errorf("builtins = %v, want %s", names, want)
	}
}

func TestVersionOrder(t *testing.T) {
	names := []string{"9", "12.4", "x", "12", "12.10", "12.4.1", "11.8"}
	sortNewestFirst(names, func(s string) string { return s })
	if got, want := strings.Join(names, " "), "12.10 12.4.1 12.4 12 11.8 9 x"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
}
