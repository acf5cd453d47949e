package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keyaudit/keyaudit/internal/golden"
	"github.com/keyaudit/keyaudit/report"
	"github.com/keyaudit/keyaudit/rules"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventFixture reads testdata/events/NAME.json with its accounts and keys
// replaced (old → new, in pairs) by the simulated world's.
func eventFixture(t testing.TB, name string, replace ...string) string {
	t.Helper()
	data, err := os.ReadFile(golden.Path("events/" + name + ".json"))
	require.NoError(t, err, "read the event %s", name)
	return strings.NewReplacer(replace...).Replace(string(data))
}

// sqsEvent is an SQS batch of bodies, message IDs m1, m2, ...
func sqsEvent(t testing.TB, bodies ...string) string {
	t.Helper()
	type record struct {
		MessageID   string `json:"messageId"`
		Body        string `json:"body"`
		EventSource string `json:"eventSource"`
		ARN         string `json:"eventSourceARN"`
		Region      string `json:"awsRegion"`
	}
	var recs []record
	for i, b := range bodies {
		recs = append(recs, record{MessageID: fmt.Sprintf("m%d", i+1), Body: b, EventSource: "aws:sqs",
			ARN: "arn:aws:sqs:us-east-1:111111111111:keyaudit-events", Region: "us-east-1"})
	}
	data, err := json.Marshal(map[string]any{"Records": recs})
	require.NoError(t, err)
	return string(data)
}

// retried reads an SQS batch's answer: the message IDs to retry.
func retried(t testing.TB, resp string) []string {
	t.Helper()
	var answer struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	require.NoError(t, json.Unmarshal([]byte(resp), &answer), "response %q", resp)
	var ids []string
	for _, f := range answer.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func readObject(t *testing.T, c *s3.Client, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err, "read %s", key)
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	require.NoError(t, err, "read %s", key)
	return data
}

// The built function, invoked by SQS with a batch of real-shaped events
// after a night: a console user's new key (twice: posted once), a
// malformed event, one of an account outside the organization, an AWS
// Health exposure (judged key-leaked), and one of an account whose
// member role is missing (retried). It answers the one record to retry,
// posts one Slack message per event, imports the keys' findings under the
// nightly IDs, writes the events' records and none of the nightly files.
func TestLambdaEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the Lambda binary")
	}
	w := newWorld(t, nil)
	require.NoError(t, w.Normalize())
	acct := w.Account("222222222222")
	keyOf := func(user string) string {
		for _, u := range acct.Users {
			if u.Name == user {
				return u.Keys[0].ID
			}
		}
		t.Fatalf("no user %s", user)
		return ""
	}
	aliceKey, exposedKey := keyOf("alice"), keyOf("ci-deploy")
	st := startStack(t, w)
	c := reportBucket(t, st)
	rec := &hubRecorder{products: map[string]string{}}
	hub := httptest.NewServer(rec)
	defer hub.Close()
	hubEnv := []string{"KEYAUDIT_SECURITY_HUB=true", "AWS_ENDPOINT_URL_SECURITYHUB=" + hub.URL}

	resp, failure, logs := invoke(t, st, w.Management().ID, `{}`, 2*time.Minute, hubEnv...)
	decodeSummary(t, resp, failure, logs, "the night")
	require.Len(t, st.slack.Posts(), 1, "the night's post")
	latest, announced := readObject(t, c, "keyaudit/latest.json"), readObject(t, c, "keyaudit/announced.json")
	nightImported := len(rec.products)

	created := eventFixture(t, "create-access-key", "482917365012", acct.ID, "AKIAXA4A6GUKAXPOYXNF", aliceKey)
	batch := sqsEvent(t,
		created,
		created, // SQS delivers at least once
		eventFixture(t, "malformed"),
		eventFixture(t, "create-access-key", "482917365012", "999999999999"),
		eventFixture(t, "health-credentials-exposed", "739104582266", acct.ID, "AKIA2YFQQ5J5AXPOYXNF", exposedKey),
		eventFixture(t, "create-access-key", "482917365012", "444444444444", "AKIAXA4A6GUKAXPOYXNF", keyOf("alice")),
	)
	resp, failure, logs = invoke(t, st, w.Management().ID, batch, time.Minute, hubEnv...)
	require.Empty(t, failure, "the batch invocation failed; logs:\n%s", logs)
	assert.Equal(t, []string{"m6"}, retried(t, resp), "only the event of the account without the member role is retried; logs:\n%s", logs)

	posts := st.slack.Posts()[1:]
	require.Len(t, posts, 2, "one post per event judged, the copy none; logs:\n%s", logs)
	var texts []string
	for _, p := range posts {
		msg, err := json.Marshal(p.Blocks)
		require.NoError(t, err)
		texts = append(texts, string(msg))
	}
	// The exposure's message first.
	if strings.Contains(texts[1], "AWS Health") {
		texts[0], texts[1] = texts[1], texts[0]
	}
	exposed, created0 := texts[0], texts[1]
	for _, want := range []string{"access key created", "alice", "normal (222222222222)", aliceKey[:4] + "…", "arn:aws:iam::222222222222:user/ops-admin", "192.0.2.15", "key-without-mfa", "*Rank:* #"} {
		assert.Contains(t, created0, want, "the new key's message")
	}
	assert.NotContains(t, created0, aliceKey, "the key ID is masked")
	assert.Contains(t, exposed, "key-leaked", "the exposed key is judged leaked")
	assert.Contains(t, exposed, "critical", "a leaked key is critical")

	var ids []string
	for id := range rec.products {
		ids = append(ids, id)
	}
	wantIDs := map[string]string{
		"alice's key-without-mfa": report.FindingUID(&rules.Finding{Fingerprint: rules.Fingerprint(rules.KeyWithoutMFA, acct.ID, "alice", aliceKey, 0)}),
		"ci-deploy's key-leaked":  report.FindingUID(&rules.Finding{Fingerprint: rules.Fingerprint(rules.KeyLeaked, acct.ID, "ci-deploy", exposedKey, 0)}),
	}
	for what, id := range wantIDs {
		assert.Contains(t, ids, id, "%s imported under the nightly finding ID", what)
	}
	assert.Greater(t, len(rec.products), nightImported, "the leaked finding is new to Security Hub")

	var records []string
	for _, k := range objects(t, c) {
		if strings.HasPrefix(k, "keyaudit/events/") {
			records = append(records, k)
		}
	}
	assert.Len(t, records, 2, "one record per event delivered: %v", records)
	assert.Equal(t, latest, readObject(t, c, "keyaudit/latest.json"), "latest.json untouched by events")
	assert.Equal(t, announced, readObject(t, c, "keyaudit/announced.json"), "announced.json untouched by events")

	for _, want := range []string{`"event malformed, acknowledged"`, `"event not judged: account outside the organization"`, `"event delivered already"`, `"event failed, retried"`} {
		assert.Contains(t, logs, want, "a log line for each record not posted")
	}
	assert.NotContains(t, logs, aliceKey, "key IDs are masked in logs")
	assert.NotContains(t, logs, slackToken, "the Slack token in the logs")
	assert.NotContains(t, logs, st.sim.Credentials(w.Management().ID).SecretAccessKey, "the secret access key in the logs")
}
