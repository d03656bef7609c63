package reference_test

import (
	"testing"

	"github.com/metallic-go/metallic/model"
)

// BenchmarkDecodeStories260K times one-token forward calls on stories260K.
func BenchmarkDecodeStories260K(b *testing.B) {
	m := stories(b)
	c := open(b, m, model.PathOptions{Ctx: 512})
	pos := 0
	for b.Loop() {
		if pos == 200 {
			c.Reset()
			pos = 0
		}
		if _, err := c.Forward([]int32{1}, pos); err != nil {
			b.Fatal(err)
		}
		pos++
	}
}
