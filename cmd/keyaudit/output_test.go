//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal of cols columns: the terminal end for a
// program's output, and the end that reads what it shows.
func openPTY(t *testing.T, cols int) (screen, term *os.File) {
	t.Helper()
	screen, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err, "open /dev/ptmx")
	t.Cleanup(func() { screen.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(screen.Fd()), unix.TIOCSPTLCK, 0), "unlock the pseudo-terminal")
	n, err := unix.IoctlGetUint32(int(screen.Fd()), unix.TIOCGPTN)
	require.NoError(t, err, "number of the pseudo-terminal")
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err, "open the terminal end")
	t.Cleanup(func() { term.Close() })
	require.NoError(t, unix.IoctlSetWinsize(int(term.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: uint16(cols)}), "set the width")
	return screen, term
}

var ansi = regexp.MustCompile("\033\\[[0-9;]*[A-Za-z]")

// screenLines splits what a terminal shows into lines: a carriage return
// (the progress bar redrawn) starts a line again, as on the screen.
func screenLines(out string) []string {
	return regexp.MustCompile("\r\n|\n|\r").Split(ansi.ReplaceAllString(out, ""), -1)
}

// Issue 22.3: on an 80-column terminal, the demo (progress bar, report and
// all) prints no line longer than 80 characters.
func TestBinaryDemoFitsEightyColumns(t *testing.T) {
	t.Parallel()
	bin, err := binary()
	require.NoError(t, err, "build keyaudit")
	screen, term := openPTY(t, 80)
	home := t.TempDir()
	cmd := exec.Command(bin, "scan", "--demo")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TERM=xterm", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials")}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term, term, term
	require.NoError(t, cmd.Start(), "start keyaudit")
	var shown bytes.Buffer
	read := make(chan struct{})
	go func() {
		// Ends with EIO once the program and the test let go of the terminal end.
		_, _ = io.Copy(&shown, screen)
		close(read)
	}()
	waitErr := cmd.Wait()
	term.Close()
	<-read
	var exit *exec.ExitError
	require.ErrorAs(t, waitErr, &exit, "the demo has an account it cannot audit")
	assert.Equal(t, exitIncomplete, exit.ExitCode(), "exit code")

	out := shown.String()
	require.Contains(t, out, "Kill first", "the report reached the terminal:\n%s", out)
	require.Contains(t, out, "accounts · ", "the progress bar reached the terminal")
	for _, line := range screenLines(out) {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), 80, "line longer than the terminal: %q", line)
	}
	assert.NotContains(t, out, "at a time", "the scheduler's plan only with --verbose")
	assert.Contains(t, out, "most severe first", "stacked, a block per key")
}

// Not a terminal: COLUMNS, else 80 columns.
func TestBinaryTableWidthWithoutTerminal(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env   []string
		width int
	}{{nil, 80}, {[]string{"COLUMNS=60"}, 60}, {[]string{"COLUMNS=250"}, 250}} {
		_, stdout, stderr := exe(t, tt.env, "scan", "--demo", "--format", "table", "--as-of", asOf)
		require.Contains(t, stdout, "Kill first", "env %v: the report; stderr: %s", tt.env, stderr)
		widest := 0
		for _, line := range strings.Split(stdout, "\n") {
			widest = max(widest, utf8.RuneCountInString(line))
		}
		assert.LessOrEqual(t, widest, tt.width, "env %v: the widest line", tt.env)
		assert.Greater(t, widest, tt.width-20, "env %v: the widest line uses the width", tt.env)
		for _, sect := range []string{"  SEVERITY", "most severe first"} {
			if tt.width >= 200 == (sect == "  SEVERITY") {
				assert.Contains(t, stdout, sect, "env %v: layout", tt.env)
			}
		}
	}
}

// Issue 22.3: `keyaudit rules` fits the width too, and notes what CIS 2.9
// and 2.11 do not cover.
func TestRulesFitTheWidth(t *testing.T) {
	for _, width := range []int{60, 80, 120, 250} {
		t.Setenv("COLUMNS", fmt.Sprint(width))
		code, stdout, stderr := keyaudit(t, "", "rules")
		require.Equal(t, exitOK, code, "width %d: exit code; stderr: %s", width, stderr)
		for _, line := range strings.Split(stdout, "\n") {
			assert.LessOrEqual(t, utf8.RuneCountInString(line), width, "width %d: line too wide: %q", width, line)
		}
		assert.Contains(t, stdout, "key-two-active", "width %d", width)
		assert.Contains(t, strings.Join(strings.Fields(stdout), " "), "CIS v6.0.0 2.9 and 2.11 are checked for access keys only", "width %d: coverage note", width)
		if width >= 120 {
			assert.Contains(t, stdout, "RULE ", "width %d: columns", width)
		} else {
			assert.Contains(t, stdout, "key-unused · medium · CIS v6.0.0 2.11 · unused_days=45\n", "width %d: stacked", width)
		}
	}
}
