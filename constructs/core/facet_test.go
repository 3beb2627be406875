package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/funoffshore/homelab/constructs/core"
)

// A facet's value is made once per tree, on first use, and is the
// facet's own: another facet of the same name and type, or another tree,
// has its own.
func TestFacet(t *testing.T) {
	made := 0
	counter := core.NewFacet("test/counter", func() *int { made++; return new(int) })
	other := core.NewFacet("test/counter", func() *int { return new(int) })
	a, b := core.NewApp(nil).Tree(), core.NewApp(nil).Tree()

	_, ok := counter.Peek(a)
	assert.False(t, ok, "Peek makes nothing")
	*counter.Of(a) = 7
	assert.Equal(t, 7, *counter.Of(a), "Of returns the value made first")
	assert.Equal(t, 1, made)
	v, ok := counter.Peek(a)
	assert.True(t, ok)
	assert.Equal(t, 7, *v)
	assert.Equal(t, 0, *other.Of(a), "another facet of the same name has its own value")
	assert.Equal(t, 0, *counter.Of(b), "another tree has its own value")
	assert.Equal(t, 2, made)
}
