package doctest

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// root is the repository's top directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// docs returns README.md and docs/*.md, relative to the repository.
func docs(t *testing.T) []string {
	t.Helper()
	more, err := filepath.Glob(filepath.Join(root(), "docs", "*.md"))
	require.NoError(t, err, "list docs/*.md")
	files := []string{"README.md"}
	for _, m := range more {
		files = append(files, filepath.Join("docs", filepath.Base(m)))
	}
	return files
}

// A block is a fenced code block.
type block struct {
	where string // FILE:LINE of the opening fence
	info  string // the word after the fence: sh, yaml, text …
	lines []string
}

var fence = regexp.MustCompile("^(\\s*)(```+)\\s*(\\S*)")

// blocks returns the fenced code blocks of a Markdown file, their lines
// unindented as far as the fence is (a block may sit in a list item).
func blocks(name string, data []byte) []block {
	var out []block
	var cur *block
	var indent, ticks string
	for i, line := range strings.Split(string(data), "\n") {
		m := fence.FindStringSubmatch(line)
		switch {
		case cur == nil && m != nil:
			indent, ticks = m[1], m[2]
			cur = &block{where: fmt.Sprintf("%s:%d", name, i+1), info: m[3]}
		case cur != nil && m != nil && m[2] == ticks && strings.TrimSpace(line) == ticks:
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, strings.TrimPrefix(line, indent))
		}
	}
	return out
}

// A command is one keyaudit example, a line of shell as a person pastes it.
type command struct {
	where string
	shell string
	want  int      // the exit code the doc promises
	needs []string // "# needs: aws, slack": what it runs against
}

var (
	// keyauditCommand finds keyaudit as a command word: first on the line
	// (after variable assignments) or after a pipe, && or ;.
	keyauditCommand = regexp.MustCompile(`(?:^|[|&;]\s*)(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*keyaudit\s+(?:(?:scan|whois|event|local|rules|risk|apply|undo|help|completion)(?:\s|$)|-)`)
	exitNote        = regexp.MustCompile(`\bexits? (\d+)\b`)
	needsNote       = regexp.MustCompile(`\bneeds: ([a-z]+(?:, [a-z]+)*)`)
	demoScan        = regexp.MustCompile(`keyaudit\s+scan\b.*\s--demo\b`)
)

// shellInfos are the fence words of blocks whose lines are commands; in a
// console block only the lines after "$ " are.
var shellInfos = []string{"", "sh", "shell", "bash", "console"}

// commands returns the keyaudit commands of a block. A trailing comment may
// promise an exit code ("# exit 3"; else 0, or 3 for scan --demo, whose
// organization has an account without the audit role by design) and say
// what the command needs ("needs: aws").
func commands(b block) []command {
	if !slices.Contains(shellInfos, b.info) {
		return nil
	}
	var out []command
	for i := 0; i < len(b.lines); i++ {
		line := b.lines[i]
		if b.info == "console" {
			if !strings.HasPrefix(line, "$ ") {
				continue
			}
			line = strings.TrimPrefix(line, "$ ")
		}
		start := i
		// A line ending in \ or | goes on on the next.
		for (strings.HasSuffix(line, "\\") || strings.HasSuffix(line, "|")) && i+1 < len(b.lines) {
			i++
			line += "\n" + b.lines[i]
		}
		code, note := splitComment(line)
		if !keyauditCommand.MatchString(code) {
			continue
		}
		c := command{where: fmt.Sprintf("%s+%d", b.where, start+1), shell: line}
		if m := needsNote.FindStringSubmatch(note); m != nil {
			c.needs = strings.Split(m[1], ", ")
		}
		if m := exitNote.FindStringSubmatch(note); m != nil {
			c.want, _ = strconv.Atoi(m[1])
		} else if demoScan.MatchString(lastCommand(code)) {
			c.want = 3
		}
		out = append(out, c)
	}
	return out
}

// lastCommand returns the last command of a pipeline, whose exit code the
// shell reports.
func lastCommand(code string) string {
	return code[strings.LastIndex(code, "|")+1:]
}

// splitComment splits a line of shell at its comment: a # that starts a
// word outside quotes.
func splitComment(line string) (code, comment string) {
	var quote rune
	prev := ' '
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (prev == ' ' || prev == '\t' || prev == '\n'):
			return line[:i], line[i:]
		}
		prev = r
	}
	return line, ""
}

// build compiles cmd/keyaudit as a person would, into dir.
func build(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "keyaudit"), "./cmd/keyaudit")
	cmd.Dir = root()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/keyaudit:\n%s", out)
}

// externalID is what the simulated member roles require, in $EXTERNAL_ID.
const externalID = "example-external-id"

// simulator serves the demo organization on loopback for the commands that
// need AWS, with the member role in every account (so an organization scan
// is complete, as in a deployed organization), and returns the environment
// that points a person's shell at it: a default and a "prod" profile.
func simulator(t *testing.T, home string) []string {
	t.Helper()
	w, err := awssim.DemoWorld()
	require.NoError(t, err, "load the demo organization")
	mgmt := w.Management().ID
	for i := range w.Accounts {
		// The member role of template.yaml, which requires the external ID.
		w.Accounts[i].Roles = []awssim.Role{{Name: "KeyAuditRole", Trust: []string{mgmt}, ExternalID: externalID}}
	}
	srv := awssim.NewServer(w, awssim.WithReportCalls(0))
	t.Cleanup(srv.Close)
	c := srv.Credentials(mgmt)
	var creds, config strings.Builder
	for _, p := range []string{"default", "prod"} {
		fmt.Fprintf(&creds, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n", p, c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	}
	fmt.Fprintf(&config, "[default]\nregion = us-east-1\n[profile prod]\nregion = us-east-1\n")
	dir := filepath.Join(home, "aws-sim")
	require.NoError(t, os.MkdirAll(dir, 0o700), "create the simulator's AWS files")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "credentials"), []byte(creds.String()), 0o600), "write credentials")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config"), []byte(config.String()), 0o600), "write config")
	return []string{
		"AWS_ENDPOINT_URL=" + srv.URL,
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"EXTERNAL_ID=" + externalID,
	}
}

// fixtures are the files the examples name besides testdata/, written into
// each block's working directory: accounts of the demo organization, a log
// that leaked one of its keys, and a downloaded credential report (a name
// under testdata/ is copied).
var fixtures = map[string]string{
	"accounts.txt": "# acme-prod and acme-staging\n739104582266\n615283947105\n",
	"leaked.log":   "2026-11-20T10:02:11Z deploy: using key AKIA2YFQQ5J5CGOMJAGK for s3 sync\n",
	"report.csv":   "testdata/credential-reports/realistic.csv",
}

// TestCommands runs every keyaudit command of README.md and docs/*.md with
// the built binary, in a temporary directory holding testdata/ and the
// fixtures, with an empty HOME. Commands marked "needs: aws" talk to the
// simulated organization, "needs: slack" to a local webhook; the others
// reach no AWS at all, and other needs are not run. The commands of one
// block run in order in one directory, so an example may use a file the
// one before it wrote.
func TestCommands(t *testing.T) {
	bin := t.TempDir()
	build(t, bin)
	home := t.TempDir()
	offline := []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"TZ=UTC",
		"AWS_EC2_METADATA_DISABLED=true",
		// Nothing listens on port 9: an example that reaches for AWS
		// without its mark fails rather than finds the internet.
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
		"AWS_CONFIG_FILE=" + filepath.Join(home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, ".aws", "credentials"),
	}
	envs := map[string][]string{
		"aws":   simulator(t, home),
		"slack": webhook(t, home),
	}
	total := 0
	for _, file := range docs(t) {
		data, err := os.ReadFile(filepath.Join(root(), file))
		require.NoError(t, err, "read %s", file)
		for _, b := range blocks(file, data) {
			cmds := commands(b)
			if len(cmds) == 0 {
				continue
			}
			total += len(cmds)
			t.Run(strings.TrimPrefix(b.where, "docs/"), func(t *testing.T) {
				t.Parallel()
				dir := workdir(t)
			next:
				for _, c := range cmds {
					env := slices.Clone(offline)
					for _, need := range c.needs {
						extra, ok := envs[need]
						if !ok {
							t.Logf("not run: the example at %s needs %s", c.where, need)
							continue next
						}
						env = append(env, extra...)
					}
					code, stdout, stderr := run(t, dir, env, c.shell)
					assert.Equal(t, c.want, code, "exit code of the example at %s:\n%s\n--- stdout ---\n%s\n--- stderr ---\n%s", c.where, c.shell, tail(stdout), stderr)
				}
			})
		}
	}
	// The README alone has a dozen; fewer means the extraction broke.
	assert.Greater(t, total, 12, "keyaudit commands found in the docs")
}

// workdir returns a directory holding testdata/ and the fixtures.
func workdir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(root(), "testdata"), filepath.Join(dir, "testdata")), "link testdata")
	for name, content := range fixtures {
		if strings.HasPrefix(content, "testdata/") {
			data, err := os.ReadFile(filepath.Join(root(), content))
			require.NoError(t, err, "read %s", content)
			content = string(data)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600), "write %s", name)
	}
	return dir
}

// run runs one line of shell in dir with bash, as a person's terminal would.
func run(t *testing.T, dir string, env []string, shell string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", shell)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	require.NoError(t, err, "run bash for %q", shell)
	return 0, stdout.String(), stderr.String()
}

// webhook is a Slack incoming webhook on loopback: it answers every post
// as Slack does.
func webhook(t *testing.T, home string) []string {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	// A webhook must be https: the command trusts the local server's
	// certificate through SSL_CERT_FILE, which Go reads on Linux.
	cert := filepath.Join(home, "webhook.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600), "write the webhook's certificate")
	return []string{"KEYAUDIT_SLACK_WEBHOOK_URL=" + srv.URL, "SSL_CERT_FILE=" + cert}
}

// tail keeps the end of a long output for a failure message.
func tail(s string) string {
	const keep = 2000
	if len(s) <= keep {
		return s
	}
	return "…" + s[len(s)-keep:]
}

// configKeys are the top-level settings of a keyaudit config: a yaml block
// with one of them is a config (others may show, say, a template).
var configKeys = []string{"cis_version", "thresholds", "suppressions", "risk"}

// TestConfigs reads every keyaudit config in a yaml block of README.md and
// docs/*.md with the loader keyaudit --config uses.
func TestConfigs(t *testing.T) {
	total := 0
	for _, file := range docs(t) {
		data, err := os.ReadFile(filepath.Join(root(), file))
		require.NoError(t, err, "read %s", file)
		for _, b := range blocks(file, data) {
			if b.info != "yaml" && b.info != "yml" {
				continue
			}
			text := strings.Join(b.lines, "\n")
			var top map[string]any
			if err := yaml.Unmarshal([]byte(text), &top); err != nil || !slices.ContainsFunc(configKeys, func(k string) bool { _, ok := top[k]; return ok }) {
				continue
			}
			total++
			_, err := rules.ParseConfig(b.where, []byte(text))
			assert.NoError(t, err, "the config at %s", b.where)
		}
	}
	assert.Positive(t, total, "keyaudit configs found in the docs")
}

func TestBlocksAndCommands(t *testing.T) {
	doc := "text\n" +
		"```\n" +
		"keyaudit scan --demo\n" +
		"```\n" +
		"  ```sh\n" +
		"  keyaudit whois \\\n" +
		"      --demo X   # exit 2\n" +
		"  echo AKIA |\n" +
		"    keyaudit whois --leaked --org   # needs: aws, slack\n" +
		"  aws iam list-users\n" +
		"  ```\n" +
		"```text\n" +
		"keyaudit scan: not a command\n" +
		"```\n" +
		"```console\n" +
		"$ keyaudit rules '#' # exits 0\n" +
		"keyaudit rules output\n" +
		"```\n"
	bs := blocks("X.md", []byte(doc))
	require.Len(t, bs, 4, "blocks")
	var got []command
	for _, b := range bs {
		got = append(got, commands(b)...)
	}
	want := []command{
		{where: "X.md:2+1", shell: "keyaudit scan --demo", want: 3},
		{where: "X.md:5+1", shell: "keyaudit whois \\\n    --demo X   # exit 2", want: 2},
		{where: "X.md:5+3", shell: "echo AKIA |\n  keyaudit whois --leaked --org   # needs: aws, slack", needs: []string{"aws", "slack"}},
		{where: "X.md:15+1", shell: "keyaudit rules '#' # exits 0"},
	}
	assert.Equal(t, want, got, "commands of the sample document")
}

// TestFactorTable holds docs/ranking.md's table of factors and default
// weights to the code's.
func TestFactorTable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root(), "docs", "ranking.md"))
	require.NoError(t, err, "read docs/ranking.md")
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)` \\| (\\d+) \\|")
	got := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		got[m[1]], _ = strconv.Atoi(m[2])
	}
	want := map[string]int{}
	for _, f := range rules.Factors() {
		want[f.ID] = f.Weight
	}
	assert.Equal(t, want, got, "factor ids and default weights in docs/ranking.md against rules.Factors()")
}
