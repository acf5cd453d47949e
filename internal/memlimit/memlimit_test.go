package memlimit

import (
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSoft(t *testing.T) {
	const v2, v1 = "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	tests := []struct {
		name  string
		env   map[string]string
		files map[string]string
		want  int64
	}{
		{"nothing known", nil, nil, 0},
		{"1024 MB function", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}, nil, 1024 << 20 * 9 / 10},
		{"the function's memory before the container's", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}, map[string]string{v2: "536870912\n"}, 1024 << 20 * 9 / 10},
		{"GOMEMLIMIT set", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "GOMEMLIMIT": "500MiB"}, map[string]string{v2: "536870912\n"}, 0},
		{"function memory not a number: the container's", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "lots"}, map[string]string{v2: "1073741824\n"}, 1 << 30 / 10 * 9},
		{"cgroup v2 limit", nil, map[string]string{v2: "2147483648\n"}, 2 << 30 / 10 * 9},
		{"cgroup v2 without a limit", nil, map[string]string{v2: "max\n"}, 0},
		{"cgroup v1 limit", nil, map[string]string{v1: "1073741824\n"}, 1 << 30 / 10 * 9},
		{"cgroup v1 without a limit", nil, map[string]string{v1: "9223372036854771712\n"}, 0},
		{"unreadable value", nil, map[string]string{v2: "lots\n"}, 0},
	}
	for _, tt := range tests {
		read := func(name string) ([]byte, error) {
			if v, ok := tt.files[name]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		}
		got := Soft(func(k string) string { return tt.env[k] }, read)
		assert.Equal(t, tt.want, got, "case %s", tt.name)
	}
}

func TestOfMB(t *testing.T) {
	assert.Equal(t, int64(966367641), OfMB(1024), "a 1024 MB function: 90 %")
}
