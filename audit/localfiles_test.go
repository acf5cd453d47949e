package audit

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

var localSecrets = []string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRETzz", "SECRETvalueTWOdoNotLeak", "SECRETvalueTHREEdoNotLeak", "FwoGZXIvYXdzSESSIONTOKENdoNotLeak"}

func local(name string) string { return filepath.Join("..", "testdata", "local", name) }

func TestScanLocal(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAUY6VMB43AXPOYXNF", "AWS_SECRET_ACCESS_KEY": localSecrets[0]}
	l, err := ScanLocal(local("credentials"), local("config"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id, profile string
		kind        inventory.KeyKind
	}{
		{"AKIAXA4A6GUKAXPOYXNF", "default", inventory.KindLongTerm},
		{"AKIA2YFQQ5J5CGOMJAGK", "legacy", inventory.KindLongTerm},
		{"ASIAY34FZKBOKMUTVV7A", "temporary", inventory.KindTemporary},
		{"AKIAUY6VMB43AXPOYXNF", "", inventory.KindLongTerm},
	}
	if len(l.Sightings) != len(want) {
		t.Fatalf("sightings = %+v", l.Sightings)
	}
	for i, w := range want {
		s := l.Sightings[i]
		if s.AccessKeyID != w.id || s.Profile != w.profile || s.Kind != w.kind || s.Source == "" {
			t.Errorf("sighting %d = %+v, want %+v", i, s, w)
		}
	}
	if !strings.Contains(l.Sightings[0].Source, "credentials [default] line 3") {
		t.Errorf("source = %q", l.Sightings[0].Source)
	}
	if len(l.RoleWithoutMFA) != 1 || l.RoleWithoutMFA[0].Profile != "admin" || l.RoleWithoutMFA[0].SourceProfile != "default" {
		t.Errorf("role profiles without MFA = %+v, want only admin", l.RoleWithoutMFA)
	}
	if fmt.Sprint(l.ShortTerm) != "[admin-mfa sso]" {
		t.Errorf("short-term profiles = %v", l.ShortTerm)
	}
	dump := fmt.Sprintf("%+v %#v", l, l)
	for _, secret := range localSecrets {
		if strings.Contains(dump, secret) {
			t.Errorf("a secret was kept: %s", secret)
		}
	}
}

func TestScanLocalErrorsQuoteNoSecret(t *testing.T) {
	_, err := ScanLocal(local("malformed-credentials"), "", func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "malformed-credentials:3") {
		t.Fatalf("err = %v, want one naming the file and line", err)
	}
	for _, secret := range localSecrets {
		if strings.Contains(err.Error(), secret[:12]) {
			t.Errorf("the error quotes a secret: %v", err)
		}
	}
}

func TestScanLocalMissingFiles(t *testing.T) {
	l, err := ScanLocal(local("nope"), local("nope-either"), func(string) string { return "" })
	if err != nil || len(l.Sightings) != 0 {
		t.Errorf("missing files: %+v, %v", l, err)
	}
}
