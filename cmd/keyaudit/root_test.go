package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Issue 22 item 7: help scan's examples ran into their descriptions, one
// past 80 columns. Each example is a command alone on its line, under a
// comment that says what it does.
func TestHelpExamplesOnePerLine(t *testing.T) {
	for _, command := range []string{"scan", "whois", "local", "risk", "rules"} {
		code, stdout, _ := keyaudit(t, "", "help", command)
		assert.Equal(t, exitOK, code, "case %s: exit code", command)
		_, examples, ok := strings.Cut(stdout, "\nExamples:\n")
		if !ok {
			continue
		}
		examples, _, _ = strings.Cut(examples, "\n\n")
		for _, line := range strings.Split(examples, "\n") {
			text := strings.TrimSpace(line)
			assert.LessOrEqual(t, len(line), 80, "case %s: an example past 80 columns: %q", command, line)
			if strings.HasPrefix(text, "#") {
				continue
			}
			assert.True(t, strings.HasPrefix(text, "keyaudit ") || strings.HasPrefix(text, "grep "), "case %s: a line that is not a command: %q", command, line)
			assert.NotContains(t, text, "  ", "case %s: a command runs into its description: %q", command, line)
		}
	}
}
