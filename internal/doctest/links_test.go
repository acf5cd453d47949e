package doctest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// link is a Markdown link's target: [text](target).
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// anchors are the heading anchors GitHub makes for a Markdown file:
// lowercased, spaces to hyphens, punctuation other than - and _ dropped.
func anchors(data []byte) map[string]bool {
	out := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

// Every relative link of README.md and docs/*.md leads to a file of the
// repository, and to a heading of it when it names one.
func TestLinks(t *testing.T) {
	for _, name := range docs(t) {
		data, err := os.ReadFile(filepath.Join(root(), name))
		require.NoError(t, err, "read %s", name)
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := filepath.Join(root(), filepath.Dir(name), file)
			if file == "" {
				path = filepath.Join(root(), name)
			}
			linked, err := os.ReadFile(path)
			if !assert.NoError(t, err, "%s links to %s: no such file", name, target) || anchor == "" || !strings.HasSuffix(path, ".md") {
				continue
			}
			assert.True(t, anchors(linked)[anchor], "%s links to %s: no such heading", name, target)
		}
	}
}
