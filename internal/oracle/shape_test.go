package oracle

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Both report shapes yield the plans to run: today's per-finding plans, and
// the grouped top-level actions (which win when present).
func TestReportShapes(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       []action
	}{
		{
			name: "per-finding plans",
			json: `{"findings":[{"rule":"key-rotation","account_id":"111111111111","principal":"bob","access_key_id":"AKIAEXAMPLE1","rotation_plan":[{"action":"a","command":"c"}]},
				{"rule":"key-without-mfa","account_id":"111111111111","principal":"bob"}]}`,
			want: []action{{AccountID: "111111111111", Principal: "bob", KeyID: "AKIAEXAMPLE1", Plan: []step{{"a", "c"}}}},
		},
		{
			name: "grouped actions",
			json: `{"findings":[{"rule":"key-rotation","account_id":"111111111111","principal":"bob","access_key_id":"AKIAEXAMPLE1","rotation_plan":[{"action":"old","command":"old"}]}],
				"actions":[{"account_id":"111111111111","user_name":"bob","access_key_id":"AKIAEXAMPLE1","plan":[{"action":"a","command":"c"}]}]}`,
			want: []action{{AccountID: "111111111111", Principal: "bob", UserName: "bob", KeyID: "AKIAEXAMPLE1", Plan: []step{{"a", "c"}}}},
		},
	} {
		var r report
		require.NoError(t, json.Unmarshal([]byte(tc.json), &r), "case %s", tc.name)
		got := r.actions()
		for i := range got {
			got[i].label = ""
		}
		assert.Equal(t, tc.want, got, "case %s", tc.name)
	}
}

func TestSkipReason(t *testing.T) {
	for cmd, skipped := range map[string]bool{
		"": true,
		"aws cloudtrail lookup-events --region us-east-1 --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=AKIA": true,
		"sleep 604800": true,
		"aws iam create-access-key --user-name bob":                         false,
		"aws iam delete-access-key --user-name sleepy --access-key-id AKIA": false,
	} {
		assert.Equal(t, skipped, skipReason(cmd) != "", "command %q", cmd)
	}
}
