package metal

import (
	"strings"
	"testing"
	"time"
)

// fakeBackend opens the real Backend on a fake runtime. When the test
// ends it closes the backend and fails on any protocol violation the fake
// recorded, on an autorelease pool left pushed, and on Metal objects the
// backend leaked (buffers, command buffers, queues).
func fakeBackend(t testing.TB, f *fakeRT, cfg ...config) *Backend {
	t.Helper()
	d, err := openDevice(f)
	if err != nil {
		t.Fatalf("openDevice: %v", err)
	}
	c := config{timeout: 10 * time.Second}
	if len(cfg) > 0 {
		c = cfg[0]
	}
	b, err := newBackend(d, c)
	if err != nil {
		t.Fatalf("newBackend: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil && !f.hang {
			t.Errorf("Close: %v", err)
		}
		checkFake(t, f)
		if f.hang {
			return
		}
		for _, c := range []string{"MTLBuffer", "MTLCommandBuffer", "MTLCommandQueue", "MTLComputeCommandEncoder", "NSString"} {
			if n := f.live(c); n > 0 {
				t.Errorf("%d %s object(s) leaked", n, c)
			}
		}
	})
	return b
}

// checkFake fails the test on the fake's violations and pushed pools.
func checkFake(t testing.TB, f *fakeRT) {
	t.Helper()
	for _, v := range f.violations {
		t.Errorf("objc protocol violation: %s", v)
	}
	f.violations = nil
	if len(f.pools) != 0 {
		t.Errorf("%d autorelease pool(s) left pushed", len(f.pools))
	}
}

// count is how many times the backend sent selector s.
func (f *fakeRT) count(s string) int {
	n := 0
	for _, x := range f.sent {
		if x == s {
			n++
		}
	}
	return n
}

func TestOpenDevice(t *testing.T) {
	f := newFakeRT()
	b := fakeBackend(t, f)
	p := b.Provenance()
	if p.Device != "Fake Apple M0" || p.LanguageVersion != "3.0" || p.MathMode != "mathMode=safe" || p.Numerics != "plain" ||
		!p.UnifiedMemory || p.WorkingSetMiB != 16<<10 || strings.Join(p.Families, ",") != "apple7,apple8,apple9,metal3" || p.OS != "Version 15.1 (fake)" {
		t.Errorf("provenance %+v", p)
	}
	if s := b.Describe(); !strings.Contains(s, "metal: Fake Apple M0 (apple7 apple8 apple9 metal3") || !strings.Contains(s, "MSL 3.0, mathMode=safe, numerics plain") {
		t.Errorf("Describe() = %q", s)
	}
	if b.Name() != "metal" || len(b.Numerics()) != 1 || b.Numerics()[0] != "plain" {
		t.Errorf("Name %q Numerics %v", b.Name(), b.Numerics())
	}

	// Before macOS 15 MTLCompileOptions has no mathMode: fast math is
	// turned off the old way, and provenance says so.
	f = newFakeRT()
	f.noMathMode = true
	if b := fakeBackend(t, f); b.Provenance().MathMode != "fastMathEnabled=NO" {
		t.Errorf("math mode %q, want fastMathEnabled=NO", b.Provenance().MathMode)
	}
	if f.count("setFastMathEnabled:") != 1 || f.count("setMathMode:") != 0 {
		t.Errorf("sent %v", f.sent)
	}

	for _, c := range []struct {
		name string
		set  func(*fakeRT)
		want string
	}{
		{"no device", func(f *fakeRT) { f.noDevice = true }, "metal: unavailable: MTLCreateSystemDefaultDevice returned nil"},
		{"not Apple silicon", func(f *fakeRT) { f.family = 1006 }, "metal: unavailable: Fake Apple M0 is not an Apple silicon GPU"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeRT()
			c.set(f)
			_, err := openDevice(f)
			if err == nil || !strings.Contains(err.Error(), c.want) || !isUnavailable(err) {
				t.Fatalf("openDevice: %v, want an ErrUnavailable error containing %q", err, c.want)
			}
			checkFake(t, f)
		})
	}
}

func TestConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	c, err := parseConfig(env())
	if err != nil || c.sync || c.timeout != defaultTimeout {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c, err = parseConfig(env(EnvSync, "1", EnvTimeout, "90s"))
	if err != nil || !c.sync || c.timeout != 90*time.Second {
		t.Errorf("set: %+v, %v", c, err)
	}
	for _, kv := range [][]string{{EnvSync, "yes"}, {EnvTimeout, "soon"}, {EnvTimeout, "-1s"}, {EnvTimeout, "0"}} {
		if _, err := parseConfig(env(kv...)); err == nil || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("%s=%s: %v, want an error naming the variable", kv[0], kv[1], err)
		}
	}
}
