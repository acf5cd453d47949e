package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const remediationRole = "keyaudit-remediation"

// remediationWorld is the small organization with a key unused for 200
// days (tape-robot's) and the remediation role in its account.
func remediationWorld(t *testing.T) *awssim.World {
	return newWorld(t, func(w *awssim.World) {
		a := w.Account("222222222222")
		a.Users = append(a.Users, awssim.User{Name: "tape-robot", CreatedDaysAgo: 400,
			Keys: []awssim.Key{{Status: "Active", CreatedDaysAgo: 400, LastUsedDaysAgo: ptr(200.0), LastUsedService: "s3", LastUsedRegion: "us-east-1"}}})
		a.Roles = append(a.Roles, awssim.Role{Name: remediationRole, Trust: []string{w.Management().ID}})
	})
}

// keyStatuses are the statuses of a user's keys, as the simulator holds them.
func keyStatuses(t *testing.T, sim *awssim.Server, account, user string) []string {
	t.Helper()
	cfg, err := sim.AWSConfig(context.Background(), account, "us-east-1")
	require.NoError(t, err, "simulator config")
	out, err := iam.NewFromConfig(cfg).ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	require.NoError(t, err, "list %s's keys", user)
	var statuses []string
	for _, k := range out.AccessKeyMetadata {
		statuses = append(statuses, string(k.Status))
	}
	return statuses
}

// With DeactivateUnusedDays on, the nightly run deactivates the key unused
// past it through the remediation role, journals the change in the reports
// bucket first, and Slack and the summary name the journal and the undo
// command; with the policy off, nothing changes.
func TestLambdaDeactivatesUnusedKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	t.Run("off", func(t *testing.T) {
		w := remediationWorld(t)
		st := startStack(t, w)
		c := reportBucket(t, st)
		resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, 2*time.Minute)
		sum := decodeSummary(t, resp, failure, logs, "policy off")
		assert.Nil(t, sum.Remediation, "no remediation with the policy off")
		assert.Equal(t, []string{"Active"}, keyStatuses(t, st.sim, "222222222222", "tape-robot"), "the unused key is left active")
		for _, k := range objects(t, c) {
			assert.NotContains(t, k, "/journal/", "no journal with the policy off")
		}
		require.Len(t, st.slack.Posts(), 1, "one Slack post")
		msg, err := json.Marshal(st.slack.Posts()[0].Blocks)
		require.NoError(t, err, "marshal the Slack message")
		assert.NotContains(t, string(msg), "keyaudit undo", "no undo command in Slack")
	})

	t.Run("on", func(t *testing.T) {
		w := remediationWorld(t)
		st := startStack(t, w)
		c := reportBucket(t, st)
		resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, 2*time.Minute,
			"KEYAUDIT_DEACTIVATE_UNUSED_DAYS=90", "KEYAUDIT_REMEDIATION_ROLE_NAME="+remediationRole)
		sum := decodeSummary(t, resp, failure, logs, "policy on")
		require.NotNil(t, sum.Remediation, "the summary tells what the policies did; logs:\n%s", logs)
		rem := sum.Remediation
		assert.Equal(t, 1, rem.Changed, "one key deactivated: %+v", rem)
		assert.Empty(t, rem.NotChanged, "nothing refused or failed")
		assert.Equal(t, sum.RunID, rem.JournalID, "the journal is the run's")
		undo := "keyaudit undo " + rem.JournalID + " --journal s3://" + bucket + "/keyaudit"
		assert.Equal(t, undo, rem.Undo, "the exact undo command")
		assert.Equal(t, []string{"Inactive"}, keyStatuses(t, st.sim, "222222222222", "tape-robot"), "the unused key is deactivated")
		assert.Len(t, keyStatuses(t, st.sim, "222222222222", "ci-deploy"), 2, "the keys in use are left alone")
		assert.NotContains(t, keyStatuses(t, st.sim, "222222222222", "ci-deploy"), "Inactive", "the keys in use are left alone")

		var journal []string
		for _, k := range objects(t, c) {
			if strings.HasPrefix(k, "keyaudit/journal/") {
				journal = append(journal, k)
			}
		}
		dir := "keyaudit/journal/" + rem.JournalID + "/"
		assert.Equal(t, []string{dir + "000001-complete.json", dir + "000001-started.json"}, journal, "the change's two records, in the reports bucket")

		posts := st.slack.Posts()
		require.Len(t, posts, 1, "one Slack post")
		msg, err := json.Marshal(posts[0].Blocks)
		require.NoError(t, err, "marshal the Slack message")
		assert.Contains(t, string(msg), "Journal `"+rem.JournalID+"`", "Slack names the journal")
		assert.Contains(t, string(msg), undo, "Slack gives the undo command")
	})
}

func TestPoliciesFromEnv(t *testing.T) {
	env := map[string]string{"KEYAUDIT_DEACTIVATE_UNUSED_DAYS": "90", "KEYAUDIT_REMEDIATION_ROLE_NAME": "r", "KEYAUDIT_DEACTIVATE_LEAKED": "true"}
	p, err := policiesFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err, "valid policies")
	assert.Equal(t, policies{Leaked: true, UnusedDays: 90, RoleName: "r"}, p, "both policies on")
	p, err = policiesFromEnv(func(string) string { return "" })
	require.NoError(t, err, "no policies")
	assert.False(t, p.on(), "off by default")
	for k, v := range map[string]string{"KEYAUDIT_DEACTIVATE_UNUSED_DAYS": "-1", "KEYAUDIT_REMEDIATION_ROLE_NAME": ""} {
		bad := map[string]string{"KEYAUDIT_DEACTIVATE_UNUSED_DAYS": "90", "KEYAUDIT_REMEDIATION_ROLE_NAME": "r"}
		bad[k] = v
		_, err := policiesFromEnv(func(k string) string { return bad[k] })
		if assert.Error(t, err, "%s=%q", k, v) {
			assert.Contains(t, err.Error(), k, "the error names %s", k)
		}
	}
}
