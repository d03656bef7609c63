package backend

import (
	"fmt"
	"sort"
	"sync"
)

// Options configure a backend when it is opened.
type Options struct {
	// Threads is the number of worker threads of the cpu backend; 0 means
	// GOMAXPROCS. Results do not depend on it.
	Threads int
	// Wrap, when set, is applied by OpenOptions to the opened backend, and
	// the caller gets what it returns: a layer that observes every call
	// (bench --profile times each dispatch through one) and must keep the
	// backend's behaviour and results unchanged.
	Wrap func(Backend) Backend
}

// Opener creates a backend.
type Opener func(opts Options) (Backend, error)

var (
	regMu   sync.Mutex
	openers = map[string]Opener{}
)

// Register makes a backend available by name. Backend packages call it from
// init; a program links a backend in by importing its package. It panics
// on a duplicate name.
func Register(name string, o Opener) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := openers[name]; dup {
		panic("backend: " + name + " registered twice")
	}
	openers[name] = o
}

// Open opens the named backend with default options ("" means "cpu").
func Open(name string) (Backend, error) { return OpenOptions(name, Options{}) }

// OpenOptions opens the named backend ("" means "cpu").
func OpenOptions(name string, opts Options) (Backend, error) {
	if name == "" {
		name = "cpu"
	}
	regMu.Lock()
	o, ok := openers[name]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("backend: unknown backend %q (linked in: %v)", name, Names())
	}
	b, err := o(opts)
	if err != nil || opts.Wrap == nil {
		return b, err
	}
	return opts.Wrap(b), nil
}

// Names lists the registered backends, sorted.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var n []string
	for k := range openers {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
