package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// KEYAUDIT_CONCURRENCY unset or 0 leaves the concurrency to be derived
// from the accounts and the invocation's time left; 1-200 sets it.
func TestSettingsConcurrency(t *testing.T) {
	for v, want := range map[string]int{"": 0, "0": 0, "1": 1, "200": 200} {
		env := map[string]string{"KEYAUDIT_BUCKET": "b", "KEYAUDIT_CONCURRENCY": v}
		s, err := settingsFromEnv(func(k string) string { return env[k] })
		require.NoError(t, err, "KEYAUDIT_CONCURRENCY=%q", v)
		assert.Equal(t, want, s.Run.Concurrency, "KEYAUDIT_CONCURRENCY=%q", v)
	}
	for _, v := range []string{"-1", "201", "auto"} {
		env := map[string]string{"KEYAUDIT_BUCKET": "b", "KEYAUDIT_CONCURRENCY": v}
		_, err := settingsFromEnv(func(k string) string { return env[k] })
		if assert.Error(t, err, "KEYAUDIT_CONCURRENCY=%q", v) {
			assert.Contains(t, err.Error(), "from 1 to 200, or 0 (the default) to derive it", "the error for %q says what is allowed", v)
		}
	}
}
