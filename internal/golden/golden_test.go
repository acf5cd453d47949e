package golden

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeT records failures instead of failing the test that drives it.
type fakeT struct {
	testing.TB
	failed bool
}

// Assert calls only these.
func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true; panic(f) }

func assertWith(name string, got []byte) (failed bool) {
	f := &fakeT{}
	defer func() {
		if r := recover(); r != nil && r != f {
			panic(r)
		}
		failed = f.failed
	}()
	Assert(f, name, got)
	return f.failed
}

func TestAssertComparesAndUpdates(t *testing.T) {
	name := filepath.Join("golden-selftest", t.Name()+".txt")
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(Path(name))) })

	t.Setenv(UpdateEnv, "")
	assert.True(t, assertWith(name, []byte("one")), "a missing golden file fails")
	t.Setenv(UpdateEnv, "1")
	assert.False(t, assertWith(name, []byte("one")), "UPDATE_GOLDEN writes the file")
	data, err := os.ReadFile(Path(name))
	require.NoError(t, err, "the golden file was written")
	assert.Equal(t, "one", string(data), "golden file content")
	t.Setenv(UpdateEnv, "")
	assert.False(t, assertWith(name, []byte("one")), "equal output passes")
	assert.True(t, assertWith(name, []byte("two")), "different output fails")
}
