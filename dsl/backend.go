package dsl

import "github.com/metallic-go/metallic/backend"

// Backend returns the backend the executor runs on (model.BackendPath:
// reports name it and print its provenance).
func (e *Executor) Backend() backend.Backend { return e.be }
