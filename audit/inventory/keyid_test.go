package inventory

import (
	"strings"
	"testing"
)

func TestClassifyKeyID(t *testing.T) {
	tests := []struct {
		id      string
		want    KeyKind
		wantErr string
	}{
		{"AKIAIOSFODNN7EXAMPLE", KindLongTerm, ""},
		{"ASIAY34FZKBOKMUTVV7A", KindTemporary, ""},
		{"AROAY34FZKBOKMUTVV7A", KindRole, ""},
		{"AIDAY34FZKBOKMUTVV7A", KindUser, ""},
		{"AKIA123", KindUnknown, "20 characters, got 7"},
		{"akiaiosfodnn7example", KindUnknown, "cannot appear"},
		{"AKIAIOSFODNN7EXAMP1E", KindUnknown, "cannot appear"},
		{"AXYZIOSFODNN7EXAMPLE", KindUnknown, "unknown prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, err := ClassifyKeyID(tt.id)
			if got != tt.want {
				t.Errorf("kind = %q, want %q", got, tt.want)
			}
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestKeyAccount(t *testing.T) {
	// A key published in research on the encoding, with its known account.
	if got, ok := KeyAccount("ASIAY34FZKBOKMUTVV7A"); !ok || got != "609629065308" {
		t.Errorf("KeyAccount = %q, %v; want 609629065308", got, ok)
	}
	if _, ok := KeyAccount("AKIA123"); ok {
		t.Error("a malformed ID decoded to an account")
	}
}

func TestMaskKeyID(t *testing.T) {
	if got := MaskKeyID("AKIAIOSFODNN7EXAMPLE"); got != "AKIA…MPLE" {
		t.Errorf("MaskKeyID = %q", got)
	}
}
