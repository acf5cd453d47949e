package event

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name))
	require.NoError(t, err)
	return data
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseSamples(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Event
	}{
		{"create-access-key.json", Event{ID: "c1f0e2d3-a4b5-4c6d-8e7f-9a0b1c2d3e4f", Kind: KeyCreated, Name: "CreateAccessKey",
			Time: at("2026-03-02T09:00:00Z"), Account: "482917365012", Region: "us-east-1", User: "alice", KeyID: "AKIAXA4A6GUKAXPOYXNF",
			Actor: "arn:aws:iam::482917365012:user/ops-admin", SourceIP: "192.0.2.15"}},
		{"update-access-key-active.json", Event{ID: "d2a1f3e4-b5c6-4d7e-8f90-a1b2c3d4e5f6", Kind: KeyActivated, Name: "UpdateAccessKey",
			Time: at("2026-03-02T10:15:00Z"), Account: "615283947105", Region: "us-east-1", User: "datadog-integration", KeyID: "AKIAY6QOH6ZQSGOMJAGK",
			Actor: "arn:aws:sts::615283947105:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane@acme.example", SourceIP: "198.51.100.23"}},
		{"create-login-profile.json", Event{ID: "e3b2a4f5-c6d7-4e8f-9a01-b2c3d4e5f6a7", Kind: LoginProfileCreated, Name: "CreateLoginProfile",
			Time: at("2026-03-02T11:20:00Z"), Account: "328475610934", Region: "us-east-1", User: "dave",
			Actor: "arn:aws:iam::328475610934:user/carol", SourceIP: "203.0.113.9"}},
		{"deactivate-mfa.json", Event{ID: "f4c3b5a6-d7e8-4f90-a1b2-c3d4e5f6a7b8", Kind: MFARemoved, Name: "DeactivateMFADevice",
			Time: at("2026-03-02T12:05:00Z"), Account: "739104582266", Region: "us-east-1", User: "bob",
			Actor: "arn:aws:iam::739104582266:user/bob", SourceIP: "192.0.2.44"}},
		{"attach-user-policy.json", Event{ID: "a5d4c6b7-e8f9-4a01-b2c3-d4e5f6a7b8c9", Kind: PermissionsChanged, Name: "AttachUserPolicy",
			Time: at("2026-03-02T13:30:00Z"), Account: "739104582266", Region: "us-east-1", User: "terraform",
			Actor: "arn:aws:sts::739104582266:assumed-role/terraform-apply/terraform-run-8812", SourceIP: "203.0.113.60"}},
		{"root-create-access-key.json", Event{ID: "b6e5d7c8-f9a0-4b12-c3d4-e5f6a7b8c9d0", Kind: RootKeyCreated, Name: "CreateAccessKey",
			Time: at("2026-03-02T09:00:00Z"), Account: "615283947105", Region: "us-east-1", Root: true, KeyID: "AKIAY6QOH6ZQQXPOYXNF",
			Actor: "arn:aws:iam::615283947105:root", SourceIP: "192.0.2.77"}},
		{"health-credentials-exposed.json", Event{ID: "cf708192-a3b4-c5d6-e7f8-091a2b3c4d5e-AKIA2YFQQ5J5AXPOYXNF", Kind: KeyExposed,
			Name: "AWS_RISK_CREDENTIALS_EXPOSED", Time: at("2026-03-02T14:02:07Z"), Account: "739104582266", Region: "us-east-1",
			KeyID: "AKIA2YFQQ5J5AXPOYXNF"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Parse(sample(t, tc.file))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, tc.file)
		})
	}
}

// edit returns the sample with fn applied to its decoded JSON.
func edit(t *testing.T, name string, fn func(ev map[string]any, detail map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	require.NoError(t, json.Unmarshal(sample(t, name), &ev))
	fn(ev, ev["detail"].(map[string]any))
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	return data
}

// secret is the shape of a secret access key (AWS's documented example),
// which an event must never get echoed.
const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    []byte
		ignored bool
		want    string
	}{
		{"malformed sample", sample(t, "malformed.json"), false, "detail.eventTime is missing or not an RFC 3339 time"},
		{"not JSON", []byte(`{"version": "0", ` + secret), false, "event is not JSON: syntax error at byte"},
		{"no detail", []byte(`{"version":"0","source":"aws.iam"}`), false, "event has no detail"},
		{"other source", edit(t, "create-access-key.json", func(ev, _ map[string]any) { ev["source"] = secret }), false,
			`event is not one keyaudit reads: want source "aws.iam"`},
		{"detail of another type", edit(t, "create-access-key.json", func(ev, _ map[string]any) { ev["detail"] = []int{1} }), false,
			"detail: field  is a JSON array, want event.record"},
		{"another service", edit(t, "create-access-key.json", func(_, d map[string]any) { d["eventSource"] = "s3.amazonaws.com" }), false,
			"detail.eventSource is not iam.amazonaws.com"},
		{"secret for the key ID", edit(t, "create-access-key.json", func(_, d map[string]any) {
			d["responseElements"].(map[string]any)["accessKey"].(map[string]any)["accessKeyId"] = secret
		}), false, "the key CreateAccessKey names is not an access key ID"},
		{"temporary key ID", edit(t, "update-access-key-active.json", func(_, d map[string]any) {
			d["requestParameters"].(map[string]any)["accessKeyId"] = "ASIAY6QOH6ZQSGOMJAGK"
		}), false, "the key UpdateAccessKey names is not an access key ID"},
		{"no response", edit(t, "create-access-key.json", func(_, d map[string]any) { d["responseElements"] = nil }), false,
			"detail.responseElements.accessKey is missing"},
		{"secret for the user", edit(t, "create-login-profile.json", func(_, d map[string]any) {
			d["requestParameters"].(map[string]any)["userName"] = secret
		}), false, "detail.requestParameters.userName is missing or not an IAM user name"},
		{"role names no user", edit(t, "attach-user-policy.json", func(_, d map[string]any) { d["requestParameters"] = map[string]any{} }), false,
			"detail.requestParameters.userName is missing"},
		{"bad event ID", edit(t, "create-access-key.json", func(_, d map[string]any) { d["eventID"] = "../../latest" }), false,
			"detail.eventID is missing or not an event ID"},
		{"bad account", edit(t, "create-access-key.json", func(ev, d map[string]any) { d["recipientAccountId"] = "12345"; ev["account"] = "" }), false,
			"detail.recipientAccountId is missing or not a 12-digit account ID"},
		{"bad status", edit(t, "update-access-key-active.json", func(_, d map[string]any) {
			d["requestParameters"].(map[string]any)["status"] = secret
		}), false, "detail.requestParameters.status is neither Active nor Inactive"},
		{"health entity not a key", edit(t, "health-credentials-exposed.json", func(_, d map[string]any) {
			d["affectedEntities"] = []any{map[string]any{"entityValue": "AKIA2YFQQ5J5AXPOYXNF"}, map[string]any{"entityValue": secret}}
		}), false, "detail.affectedEntities[1].entityValue is not an access key ID"},
		{"health names no key", edit(t, "health-credentials-exposed.json", func(_, d map[string]any) { d["affectedEntities"] = []any{} }), false,
			"detail.affectedEntities is empty"},
		{"too large", append(sample(t, "create-access-key.json"), make([]byte, MaxSize)...), false, "more than the 256 KiB EventBridge delivers"},

		{"key set inactive", edit(t, "update-access-key-active.json", func(_, d map[string]any) {
			d["requestParameters"].(map[string]any)["status"] = "Inactive"
		}), true, "UpdateAccessKey set the key Inactive"},
		{"failed call", edit(t, "create-access-key.json", func(_, d map[string]any) {
			d["errorCode"], d["errorMessage"], d["responseElements"] = "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", nil
		}), true, "CreateAccessKey failed (detail.errorCode is set)"},
		{"call not acted on", edit(t, "create-access-key.json", func(_, d map[string]any) { d["eventName"] = "DeleteAccessKey" }), true,
			"detail.eventName is not a call keyaudit acts on"},
		{"other health event", edit(t, "health-credentials-exposed.json", func(_, d map[string]any) { d["eventTypeCode"] = "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED" }), true,
			"an AWS Health event other than AWS_RISK_CREDENTIALS_EXPOSED"},
		{"virtual MFA deleted by an admin", edit(t, "deactivate-mfa.json", func(_, d map[string]any) {
			d["eventName"] = "DeleteVirtualMFADevice"
			d["requestParameters"] = map[string]any{"serialNumber": "arn:aws:iam::739104582266:mfa/bob-phone"}
			d["userIdentity"] = map[string]any{"type": "AssumedRole", "arn": "arn:aws:sts::739104582266:assumed-role/admin/jane"}
		}), true, "DeleteVirtualMFADevice by another principal names no user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want, tc.name)
			assert.Equal(t, tc.ignored, errors.Is(err, ErrIgnored), "ignored: %v", err)
			assert.NotContains(t, err.Error(), secret, "the error echoes a value that is not a key ID")
			assert.NotContains(t, err.Error(), "wJalr", "the error echoes part of a secret")
		})
	}
}

func TestParseSelf(t *testing.T) {
	// A user creating its own key (no userName) and root's own MFA.
	self := edit(t, "create-access-key.json", func(_, d map[string]any) {
		d["requestParameters"] = nil
		d["userIdentity"].(map[string]any)["userName"] = "alice"
	})
	ev, err := Parse(self)
	require.NoError(t, err)
	assert.Equal(t, "alice", ev.User, "the user named in the response")

	own := edit(t, "deactivate-mfa.json", func(_, d map[string]any) { d["requestParameters"] = map[string]any{"serialNumber": "x"} })
	ev, err = Parse(own)
	require.NoError(t, err)
	assert.Equal(t, "bob", ev.User, "the caller's own MFA")

	root := edit(t, "deactivate-mfa.json", func(_, d map[string]any) {
		d["requestParameters"] = map[string]any{"serialNumber": "arn:aws:iam::739104582266:mfa/root-account-mfa-device"}
		d["userIdentity"] = map[string]any{"type": "Root", "arn": "arn:aws:iam::739104582266:root", "principalId": "739104582266"}
	})
	ev, err = Parse(root)
	require.NoError(t, err)
	assert.True(t, ev.Root, "root's own MFA")
	assert.Equal(t, MFARemoved, ev.Kind)
	assert.Empty(t, ev.User)
}

func TestParseAllHealthKeys(t *testing.T) {
	data := edit(t, "health-credentials-exposed.json", func(_, d map[string]any) {
		d["affectedEntities"] = []any{
			map[string]any{"entityValue": "AKIA2YFQQ5J5AXPOYXNF"},
			map[string]any{"entityValue": "AKIA2YFQQ5J5BO65RO26"},
			map[string]any{"entityValue": "AKIA2YFQQ5J5AXPOYXNF"},
		}
	})
	evs, err := ParseAll(data)
	require.NoError(t, err)
	require.Len(t, evs, 2, "one event per distinct key")
	assert.Equal(t, "AKIA2YFQQ5J5AXPOYXNF", evs[0].KeyID)
	assert.Equal(t, "AKIA2YFQQ5J5BO65RO26", evs[1].KeyID)
	assert.NotEqual(t, evs[0].ID, evs[1].ID, "each key its own idempotency key")
	_, err = Parse(data)
	assert.ErrorContains(t, err, "names 2 exposed keys")
}

func TestEventString(t *testing.T) {
	ev, err := Parse(sample(t, "create-access-key.json"))
	require.NoError(t, err)
	assert.Equal(t, "key-created: CreateAccessKey of user alice in account 482917365012 at 2026-03-02T09:00:00Z by arn:aws:iam::482917365012:user/ops-admin from 192.0.2.15", ev.String())
	ev, err = Parse(sample(t, "health-credentials-exposed.json"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ev.String(), "key-exposed: AWS_RISK_CREDENTIALS_EXPOSED of key AKIA…YXNF in account 739104582266"), ev.String())
}

func FuzzParseAll(f *testing.F) {
	for _, name := range []string{"create-access-key.json", "health-credentials-exposed.json", "malformed.json"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name))
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ParseAll(data)
		if err != nil {
			return
		}
		for _, ev := range evs {
			require.Regexp(t, `^[A-Za-z0-9-]{1,150}$`, ev.ID)
			require.Regexp(t, `^[0-9]{12}$`, ev.Account)
		}
	})
}
