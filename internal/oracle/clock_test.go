package oracle

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keyaudit/keyaudit/internal/moto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const day = 24 * time.Hour

var (
	waitDaysStep  = regexp.MustCompile(`^Wait (\d+) days`)
	waitUntilStep = regexp.MustCompile(`^Wait until (\d{4}-\d{2}-\d{2})`)
	moveStep      = regexp.MustCompile(`^Move every application (?:that uses the old key |that used the leaked key )?to (the new key|AKIA[A-Z0-9]{16})\b`)
)

// agedKey is a key created ago before the scan, last used used ago (0: never).
type agedKey struct{ ago, used time.Duration }

// TestPlansWithClock is issue 19's oracle with a clock: moto's IAM clock
// is moved so keys have real ages and last uses; an application calls AWS
// with its key whenever time passes; the plans the scan prints are followed
// to their end, waits and idle checks executed by moving the clock. The
// half-done rotation (observation 1): the older key in daily use, the
// newer never used, older than and younger than the rotation limit.
func TestPlansWithClock(t *testing.T) {
	ctx := context.Background()
	srv := moto.StartWithClock(t)
	bin := buildKeyaudit(t)
	admin := iam.NewFromConfig(srv.Config(moto.Management))
	cases := []struct {
		name string
		keys []agedKey
	}{
		{"half-done-past-limit", []agedKey{{200 * day, day}, {60 * day, 0}}},
		{"half-done-within-limit", []agedKey{{80 * day, day}, {50 * day, 0}}},
	}
	appKey := map[string]string{}
	for _, c := range cases {
		_, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(c.name)})
		require.NoError(t, err, "case %s: create user", c.name)
		for i, k := range c.keys {
			srv.SetClock(t, -k.ago)
			out, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(c.name)})
			require.NoError(t, err, "case %s: create key %d", c.name, i+1)
			if k.used > 0 {
				id := aws.ToString(out.AccessKey.AccessKeyId)
				srv.SetClock(t, -k.used)
				use(ctx, t, srv, id)
				appKey[c.name] = id
			}
		}
	}
	srv.SetClock(t, 0)
	config := filepath.Join(t.TempDir(), "keyaudit.yaml")
	require.NoError(t, os.WriteFile(config, []byte("risk:\n  trail_keys: 0\n"), 0o600), "write the config")
	stdout, code := keyaudit(t, srv, moto.Management, bin, "scan", "--format", "json", "--quiet", "--config", config,
		"--as-of", srv.Now().UTC().Format(time.RFC3339))
	require.Equal(t, 0, code, "the scan is complete")
	var rep report
	require.NoError(t, json.Unmarshal(stdout, &rep), "the scan's JSON report parses")

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mine := actionsFor(rep.actions(), moto.ManagementAccount, c.name)
			require.NotEmpty(t, mine, "the scan prints plans for %s", c.name)
			job := &application{srv: srv, key: appKey[c.name], user: c.name}
			for _, a := range mine {
				if !followClocked(ctx, t, srv, a, job) {
					return
				}
			}
			keys := userKeysOf(ctx, t, admin, c.name)
			require.Len(t, keys, 1, "the user ends with one key")
			assert.Equal(t, types.StatusTypeActive, keys[0].Status, "the key left is active")
			assert.Equal(t, job.key, aws.ToString(keys[0].AccessKeyId), "the key left is the one the application uses")
		})
	}
}

// application calls AWS with its key whenever the clock moves.
type application struct {
	srv     *moto.Server
	user    string
	key     string
	movedAt time.Time
}

func (j *application) pass(ctx context.Context, t *testing.T, d time.Duration) {
	t.Helper()
	j.srv.Advance(t, d)
	use(ctx, t, j.srv, j.key)
}

// followClocked runs a plan as written; waits move the clock, moves point
// the application at another key, and the last-use checks do what their
// words say. After every step the application's key must be active.
func followClocked(ctx context.Context, t *testing.T, srv *moto.Server, a action, job *application) bool {
	t.Helper()
	admin := iam.NewFromConfig(srv.Config(moto.Management))
	dir := t.TempDir()
	newKey := ""
	for i, s := range a.Plan {
		cmd := s.Command
		switch {
		case cmd == "":
			if m := waitDaysStep.FindStringSubmatch(s.Action); m != nil {
				n, _ := time.ParseDuration(m[1] + "h")
				job.pass(ctx, t, n*24)
			} else if m := waitUntilStep.FindStringSubmatch(s.Action); m != nil {
				until, err := time.Parse("2006-01-02", m[1])
				require.NoError(t, err)
				if d := until.Sub(srv.Now()); d > 0 {
					job.pass(ctx, t, d)
				}
			} else if m := moveStep.FindStringSubmatch(s.Action); m != nil {
				job.key, job.movedAt = m[1], srv.Now()
				if m[1] == "the new key" {
					job.key = newKey
				}
			}
		case skipReason(cmd) != "":
		default:
			cmd = withNewKey(cmd, newKey)
			var before string
			idle := strings.HasPrefix(s.Action, "Confirm the old key is idle")
			if idle {
				before = srv.Shell(ctx, dir, moto.Management, cmd).Stdout
				job.pass(ctx, t, 7*day)
			}
			if strings.Contains(s.Action, " is in use") {
				job.pass(ctx, t, day)
			}
			res := srv.Shell(ctx, dir, moto.Management, cmd)
			if !assert.NoError(t, res.Err, "%s step %d: %s\n%s\n%s", a.label, i+1, cmd, res.Stdout, redact(res.Stderr)) {
				return false
			}
			if strings.Contains(cmd, "create-access-key") {
				newKey = keyIDPattern.FindString(res.Stdout)
				require.NotEmpty(t, newKey, "%s step %d prints the new key's ID: %s", a.label, i+1, redact(res.Stdout))
			}
			if idle && !assert.Equal(t, before, res.Stdout, "%s step %d: the key is used during the idle check", a.label, i+1) {
				return false
			}
			if strings.Contains(s.Action, " is in use") {
				var out struct {
					AccessKeyLastUsed struct{ LastUsedDate *time.Time }
				}
				require.NoError(t, json.Unmarshal([]byte(res.Stdout), &out), "%s step %d prints JSON", a.label, i+1)
				if !assert.True(t, out.AccessKeyLastUsed.LastUsedDate != nil && !out.AccessKeyLastUsed.LastUsedDate.Before(job.movedAt.Add(-time.Minute)),
					"%s step %d: the key taking over is used since the move: %s", a.label, i+1, res.Stdout) {
					return false
				}
			}
		}
		live := false
		for _, k := range userKeysOf(ctx, t, admin, job.user) {
			live = live || aws.ToString(k.AccessKeyId) == job.key && k.Status == types.StatusTypeActive
		}
		if !assert.True(t, live, "%s step %d (%s): the application's key %s is gone or inactive", a.label, i+1, s.Action, job.key) {
			return false
		}
	}
	return true
}

// use makes one IAM call with a key, which moto records as its last use.
func use(ctx context.Context, t *testing.T, srv *moto.Server, keyID string) {
	t.Helper()
	_, err := iam.NewFromConfig(srv.Config(aws.Credentials{AccessKeyID: keyID, SecretAccessKey: "unused"})).ListUsers(ctx, &iam.ListUsersInput{})
	require.NoError(t, err, "use key %s", keyID)
}

func userKeysOf(ctx context.Context, t *testing.T, client *iam.Client, user string) []types.AccessKeyMetadata {
	t.Helper()
	out, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	require.NoError(t, err, "list the keys of %s", user)
	return out.AccessKeyMetadata
}
